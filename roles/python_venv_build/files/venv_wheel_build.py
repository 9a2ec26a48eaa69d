# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the complete, pinned wheel set of one venv on a build host.

Run by the wheelhouse.venv.python_venv_build role with ansible.builtin.script (collection roles
cannot embed modules), with the standard library only:

    WHEELHOUSE_WHEEL_BUILD_PARAMETERS=BASE64_JSON python3 venv_wheel_build.py
    python3 venv_wheel_build.py BASE64_JSON

It prints one JSON object (changed, status, wheels, install_requirements, install_constraints,
commands, msg on failure) and exits 0, or 1 on failure.

What it does, deciding from files first:
- the inputs (requirements, both constraint lists, resolver, build arguments, builder Python,
  platform) are fingerprinted; when NAME-build.json under requirements_path records the same
  fingerprint and every wheel it lists is in wheel_path, nothing runs and nothing changes;
- otherwise, holding a lock file in requirements_path (concurrent plays wait), the requirements are
  resolved into a complete pinned set (pip-compile, or uv pip compile), every wheel of that set is
  built with pip wheel into a temporary folder beside wheel_path, then moved in; the files that
  define the build, NAME-constraints.txt (exact pins) and NAME-hashes.txt (pins with the sha256 of
  every wheel) are written, and NAME-build.json last: an interrupted build is redone next time and
  never leaves a half wheel set that a target would use;
- a recorded wheel whose content changed since the build fails the run (unless rebuild).
"""

import base64
import contextlib
import errno
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

STATE_VERSION = 1


class WheelBuildError(Exception):
    """Raised with a message for the user; main() turns it into fail_json."""


# ---------------------------------------------------------------------------
# Pure helpers (unit tested)


def canonical_name(name):
    return re.sub(r"[-_.]+", "-", str(name)).lower()


_CREDENTIALS_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s:]+):([^@/\s]+)@")


def mask(text):
    """Hide the password of every URL in text (scheme://user:secret@host -> scheme://user:********@host).

    The files under requirements_path are served by the wheel repository, and results end up in logs.
    """
    return _CREDENTIALS_RE.sub(r"\1\2:********@", text)


def clean_lines(lines):
    return [str(x).strip() for x in (lines or []) if str(x).strip() and not str(x).strip().startswith("#")]


def build_inputs(requirements, constraints, global_constraints, tool, build_args, python_version, platform,
                 tool_wheels=()):
    """Everything a wheel set depends on, normalised, as one dict.

    Recorded (and fingerprinted) without passwords: the build files are served by the wheel
    repository, and a new password alone is no new build.
    """
    return {
        "tool_wheels": clean_lines(tool_wheels),
        "version": STATE_VERSION,
        "requirements": [mask(x) for x in clean_lines(requirements)],
        "constraints": [mask(x) for x in clean_lines(constraints)],
        "global_constraints": [mask(x) for x in clean_lines(global_constraints)],
        "tool": tool,
        "build_args": [mask(x) for x in shlex.split(build_args or "")],
        "python_version": python_version,
        "platform": platform,
    }


def fingerprint(inputs):
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8")).hexdigest()


_WHEEL_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-(?P<build>\d[^-]*))?-[^-]+-[^-]+-[^-]+\.whl$")


def parse_wheel_filename(filename):
    """Return (canonical name, version) of a wheel file name (PEP 427)."""
    m = _WHEEL_RE.match(os.path.basename(filename))
    if not m:
        raise WheelBuildError("%s is not a wheel file name" % filename)
    return canonical_name(m.group("name")), m.group("version").replace("_", "-")


def parse_compiled(text):
    """Return the canonical names of the requirements a resolver output pins, in order.

    Lines are 'name==version', 'name @ url' or 'url#egg=name'; option lines (--index-url,
    --find-links...) and comments are skipped; editable lines cannot become wheels.
    """
    names = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-e ") or line.startswith("--editable"):
            raise WheelBuildError("editable requirement %r cannot be built into a wheel" % line)
        if line.startswith("-"):
            continue
        if "://" in line and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@", line):
            m = re.search(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)", line)
            if not m:
                raise WheelBuildError("resolver output line %r names no package (add #egg=NAME)" % line)
            names.append(canonical_name(m.group(1)))
            continue
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if not m:
            raise WheelBuildError("resolver output line %r names no package" % line)
        names.append(canonical_name(m.group(1)))
    return names


def render_hashes(wheels):
    """'name==version --hash=sha256:...' per wheel, sorted by name: an install with --require-hashes."""
    return ["%s==%s --hash=sha256:%s" % (w["name"], w["version"], w["sha256"]) for w in sort_wheels(wheels)]


def render_constraints(wheels):
    """'name==version' per wheel, sorted by name: the install-time constraints."""
    return ["%s==%s" % (w["name"], w["version"]) for w in sort_wheels(wheels)]


def sort_wheels(wheels):
    return sorted(wheels, key=lambda w: (w["name"], w["version"], w["filename"]))


def check_wheel_set(names, wheels):
    """Every resolved name has exactly one wheel and no wheel is extra: return the problem or ''."""
    by_name = {}
    for wheel in wheels:
        by_name.setdefault(wheel["name"], []).append(wheel["filename"])
    problems = []
    for name in sorted(set(names) - set(by_name)):
        problems.append("no wheel for %s" % name)
    for name in sorted(set(by_name) - set(names)):
        problems.append("unexpected wheel(s) %s" % ", ".join(by_name[name]))
    for name, files in sorted(by_name.items()):
        if len(files) > 1:
            problems.append("several wheels for %s: %s" % (name, ", ".join(sorted(files))))
    return "; ".join(problems)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assess(state, want_fingerprint, wheel_path):
    """Return (status, problem): what the recorded build says about the wanted one.

    status: 'current' (nothing to do), 'new', 'inputs changed', 'wheels missing', or
    'tampered' (a recorded wheel's content differs from its recorded hash).
    """
    if not state:
        return "new", ""
    if state.get("fingerprint") != want_fingerprint:
        return "inputs changed", ""
    missing = []
    for wheel in state.get("wheels", []) + state.get("tool_wheels", []):
        path = os.path.join(wheel_path, wheel["filename"])
        if not os.path.isfile(path):
            missing.append(wheel["filename"])
        elif sha256_file(path) != wheel["sha256"]:
            return "tampered", (
                "wheel %s differs from the one built (sha256 %s recorded); it was altered after the "
                "build: rebuild the wheels with venv_wheels_rebuild=true" % (path, wheel["sha256"])
            )
    if missing:
        return "wheels missing", ", ".join(missing)
    return "current", ""


# pip options that uv pip compile takes too (same meaning), with the number of values each takes.
_UV_SAME = {"--index-url": 1, "-i": 1, "--extra-index-url": 1, "--find-links": 1, "-f": 1, "--no-index": 0}


def uv_index_args(pip_args):
    """The index options among pip's arguments, spelled for uv pip compile; other options are pip's own."""
    result = []
    i = 0
    while i < len(pip_args):
        arg = pip_args[i]
        name, sep, value = arg.partition("=")
        if name in _UV_SAME:
            if sep or _UV_SAME[name] == 0:
                result.append(arg)
            elif i + 1 < len(pip_args):
                result += [arg, pip_args[i + 1]]
                i += 1
        elif name == "--trusted-host":
            if sep:
                result.append("--allow-insecure-host=" + value)
            elif i + 1 < len(pip_args):
                result += ["--allow-insecure-host", pip_args[i + 1]]
                i += 1
        i += 1
    return result


def installed_version(builder_venv, name):
    """The version of a distribution installed in the builder venv, or '' when it is not there."""
    lib = os.path.join(builder_venv, "lib")
    want = canonical_name(name)
    for python in sorted(os.listdir(lib)) if os.path.isdir(lib) else []:
        site = os.path.join(lib, python, "site-packages")
        for entry in sorted(os.listdir(site)) if os.path.isdir(site) else []:
            if entry.endswith(".dist-info") and "-" in entry:
                dist, version = entry[: -len(".dist-info")].rsplit("-", 1)
                if canonical_name(dist) == want:
                    return version
    return ""


def tool_pins(builder_venv, names):
    """Pin each tool to the version the builder runs (uv resolves: targets install with the same uv)."""
    pins = []
    for name in clean_lines(names):
        version = installed_version(builder_venv, name)
        pins.append("%s==%s" % (name, version) if version else name)
    return pins


def resolver_command(tool, builder_venv, infile, outfile, build_args, rebuild):
    """The command line that resolves infile into the complete pinned outfile."""
    args = shlex.split(build_args or "")
    isolation = ["--no-build-isolation"] if "--no-build-isolation" in args else []
    pip_args = [a for a in args if a != "--no-build-isolation"]
    if tool == "uv":
        cmd = [os.path.join(builder_venv, "bin", "uv"), "pip", "compile", "--quiet", "--no-header",
               "--no-annotate", "--python", os.path.join(builder_venv, "bin", "python"),
               "--output-file", outfile] + isolation + uv_index_args(pip_args)
        if rebuild:
            cmd.append("--no-cache")
        return cmd + [infile]
    cmd = [os.path.join(builder_venv, "bin", "pip-compile"), "--quiet", "--no-header", "--no-annotate",
           "--allow-unsafe", "--strip-extras", "--no-emit-index-url", "--no-emit-trusted-host",
           "--no-emit-find-links", "--output-file", outfile] + isolation
    if rebuild:
        cmd.append("--rebuild")
    if pip_args:
        cmd += ["--pip-args", " ".join(shlex.quote(a) for a in pip_args)]
    return cmd + [infile]


def wheel_command(builder_venv, compiled, wheel_dir, build_args, reuse_dir, rebuild):
    """The command line that builds (or fetches) one wheel per line of the pinned set."""
    cmd = [os.path.join(builder_venv, "bin", "python"), "-m", "pip", "wheel", "--no-deps",
           "--disable-pip-version-check", "--wheel-dir", wheel_dir, "-r", compiled]
    if rebuild:
        cmd.append("--no-cache-dir")
    elif reuse_dir and os.path.isdir(reuse_dir):
        cmd += ["--find-links", reuse_dir]
    return cmd + shlex.split(build_args or "")


# ---------------------------------------------------------------------------
# Files and locks


@contextlib.contextmanager
def file_lock(path, timeout):
    """Hold an exclusive flock on path; fail after timeout seconds."""
    handle = open(path, "a")
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise WheelBuildError(
                        "another wheel build holds %s for more than %d s; try again later "
                        "or raise the lock timeout" % (path, timeout)
                    )
                time.sleep(1)
        yield
    finally:
        handle.close()


def write_atomic(path, text):
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def move_into(src, dest):
    """Move a file into place atomically, also across file systems."""
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        part = dest + ".part"
        shutil.copy2(src, part)
        os.replace(part, dest)
        os.unlink(src)


def read_state(path):
    try:
        with open(path) as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else None


def lines_text(lines):
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------
# The build


class WheelBuilder(object):
    def __init__(self, params, check_mode=False):
        self.p = params
        self.check_mode = check_mode
        self.commands = []
        self.name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.p["name"])
        self.req_path = self.p["requirements_path"]
        self.wheel_path = self.p["wheel_path"]
        self.state_file = os.path.join(self.req_path, "%s-build.json" % self.name)
        self.log_started = False

    def builder_python_version(self):
        cfg = os.path.join(self.p["builder_venv"], "pyvenv.cfg")
        try:
            with open(cfg) as handle:
                for line in handle:
                    key, _sep, value = line.partition("=")
                    if key.strip() in ("version", "version_info"):
                        return ".".join(value.strip().split(".")[:2])
        except OSError:
            pass
        if self.check_mode:
            return ""
        raise WheelBuildError("the builder venv %s does not exist (no pyvenv.cfg)" % self.p["builder_venv"])

    def log(self, text):
        """Append to the build log (credentials masked); check mode writes nothing."""
        if not self.p["log_file"] or self.check_mode:
            return
        os.makedirs(os.path.dirname(self.p["log_file"]) or ".", exist_ok=True)
        with open(self.p["log_file"], "a") as handle:
            if not self.log_started:
                started = time.strftime("%Y-%m-%d %H:%M:%S")
                handle.write("\n=== %s wheel build %s for %s\n" % (started, self.name, self.p["platform"]))
                self.log_started = True
            handle.write(mask(text).rstrip("\n") + "\n")

    def run(self, cmd, what):
        shown = mask(" ".join(shlex.quote(c) for c in cmd))
        self.commands.append(shown)
        self.log("$ " + shown)
        env = dict(os.environ)
        env.update(self.env_update())
        proc = subprocess.run(cmd, env=env, cwd=self.req_path, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
        self.log(out or "")
        self.log(err or "")
        if rc != 0:
            tail = failure_summary(err or out or "")
            where = " The whole output is in %s." % self.p["log_file"] if self.p["log_file"] else ""
            raise WheelBuildError(mask("%s failed (rc=%d): %s\n%s\n%s" % (what, rc, " ".join(cmd), tail, where)))
        return out

    def env_update(self):
        update = {str(k): str(v) for k, v in (self.p["environment"] or {}).items()}
        update["PIP_NO_INPUT"] = "1"
        return update

    def chown(self, path):
        uid = pwd.getpwnam(self.p["owner"]).pw_uid if self.p.get("owner") else -1
        gid = grp.getgrnam(self.p["group"]).gr_gid if self.p.get("group") else -1
        if uid != -1 or gid != -1:
            os.chown(path, uid, gid)

    def ensure_dir(self, path):
        if not os.path.isdir(path):
            os.makedirs(path, 0o755)
            self.chown(path)

    def execute(self):
        inputs = build_inputs(self.p["requirements"], self.p["constraints"], self.p["global_constraints"],
                              self.p["tool"], self.p["build_args"], self.builder_python_version(),
                              self.p["platform"], tool_pins(self.p["builder_venv"], self.p["tool_wheels"]))
        want = fingerprint(inputs)
        if not clean_lines(self.p["requirements"]):
            raise WheelBuildError("no requirements to build wheels for")
        if self.check_mode:
            state = read_state(self.state_file)
            status, problem = assess(state, want, self.wheel_path)
            return self.result(status, problem, state, want, check=True)
        self.ensure_dir(self.req_path)
        self.ensure_dir(self.wheel_path)
        with file_lock(os.path.join(self.req_path, ".wheel-build.lock"), self.p["lock_timeout"]):
            state = read_state(self.state_file)
            status, problem = assess(state, want, self.wheel_path)
            if self.p["rebuild"]:
                status = "rebuild"
            elif status == "tampered":
                raise WheelBuildError(problem)
            if status != "current":
                state = self.build(inputs, want)
            return self.result(status, problem, state, want)

    def result(self, status, problem, state, want, check=False):
        wheels = sort_wheels(state.get("wheels", [])) if state else []
        tools = sort_wheels(state.get("tool_wheels", [])) if state else []
        changed = status != "current"
        if check and status == "tampered":
            changed = True
        return {
            "changed": changed,
            "status": status,
            "problem": problem,
            "fingerprint": want,
            "wheels": wheels,
            "tool_wheels": tools,
            "install_requirements": render_hashes(wheels) if (wheels and not (check and changed)) else [],
            "install_constraints": render_constraints(wheels) if (wheels and not (check and changed)) else [],
            "commands": self.commands,
            "state_file": self.state_file,
        }

    def clean_stale(self, parent):
        # Temporary folders of an interrupted build: no other build runs while we hold the lock.
        for entry in os.listdir(parent):
            if entry.startswith(".build-%s-" % self.name):
                shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)

    def build(self, inputs, want):
        parent = os.path.dirname(self.wheel_path.rstrip("/")) or "/"
        self.clean_stale(parent)
        tmp = tempfile.mkdtemp(prefix=".build-%s-" % self.name, dir=parent)
        try:
            return self.build_in(tmp, inputs, want)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def build_in(self, tmp, inputs, want):
        rebuild = self.p["rebuild"]
        # The temporary files hold the lines as given (with any credentials); the recorded ones are masked.
        write_atomic(os.path.join(tmp, "global-constraints.txt"), lines_text(clean_lines(self.p["global_constraints"])))
        write_atomic(os.path.join(tmp, "constraints.txt"), lines_text(clean_lines(self.p["constraints"])))
        infile = os.path.join(tmp, "requirements.in")
        write_atomic(infile, lines_text(["-c global-constraints.txt", "-c constraints.txt"] + clean_lines(self.p["requirements"])))
        compiled = os.path.join(tmp, "compiled.txt")
        self.run(resolver_command(self.p["tool"], self.p["builder_venv"], infile, compiled,
                                  self.p["build_args"], rebuild), "resolving the requirements")
        with open(compiled) as handle:
            compiled_text = handle.read()
        names = parse_compiled(compiled_text)
        wheel_dir = os.path.join(tmp, "wheels")
        os.mkdir(wheel_dir)
        self.run(wheel_command(self.p["builder_venv"], compiled, wheel_dir, self.p["build_args"],
                               self.wheel_path, rebuild), "building the wheels")
        built = []
        for filename in sorted(os.listdir(wheel_dir)):
            if filename.endswith(".whl"):
                name, version = parse_wheel_filename(filename)
                built.append({"name": name, "version": version, "filename": filename,
                              "sha256": sha256_file(os.path.join(wheel_dir, filename))})
        problem = check_wheel_set(names, built)
        if problem:
            raise WheelBuildError("the wheel build does not match the resolved set: %s" % problem)
        tools = self.build_tool_wheels(tmp, inputs["tool_wheels"], rebuild)
        wheels = self.move_wheels(wheel_dir, built, rebuild)
        tools = self.move_wheels(os.path.join(tmp, "tools"), tools, rebuild) if tools else []
        state = {"version": STATE_VERSION, "fingerprint": want, "inputs": inputs, "wheels": wheels, "tool_wheels": tools,
                 "compiled": mask(compiled_text).splitlines(), "built_at": int(time.time())}
        # The files that define the build, then the state file last: an interrupted run builds again.
        files = {
            "requirements.txt": lines_text(inputs["requirements"]),
            "source-constraints.txt": lines_text(inputs["constraints"]),
            "global-constraints.txt": lines_text(inputs["global_constraints"]),
            "compiled.txt": mask(compiled_text),
            "constraints.txt": lines_text(render_constraints(wheels)),
            "hashes.txt": lines_text(render_hashes(wheels)),
        }
        for suffix, text in files.items():
            path = os.path.join(self.req_path, "%s-%s" % (self.name, suffix))
            write_atomic(path, text)
            self.chown(path)
        write_atomic(self.state_file, json.dumps(state, indent=1, sort_keys=True) + "\n")
        self.chown(self.state_file)
        return state

    def build_tool_wheels(self, tmp, pins, rebuild):
        """Wheels of the installer itself (uv), beside the set: a target without uv installs it from them."""
        if not pins:
            return []
        tools_dir = os.path.join(tmp, "tools")
        os.mkdir(tools_dir)
        tools_file = os.path.join(tmp, "tools.txt")
        write_atomic(tools_file, lines_text(pins))
        cmd = wheel_command(self.p["builder_venv"], tools_file, tools_dir, self.p["build_args"], self.wheel_path, rebuild)
        self.run(cmd + ["--only-binary", ":all:"], "fetching the wheels of %s" % ", ".join(pins))
        tools = []
        for filename in sorted(os.listdir(tools_dir)):
            if filename.endswith(".whl"):
                name, version = parse_wheel_filename(filename)
                tools.append({"name": name, "version": version, "filename": filename,
                              "sha256": sha256_file(os.path.join(tools_dir, filename))})
        return tools

    def move_wheels(self, wheel_dir, built, rebuild):
        wheels = []
        replaced = {}
        for wheel in built:
            src = os.path.join(wheel_dir, wheel["filename"])
            dest = os.path.join(self.wheel_path, wheel["filename"])
            if os.path.isfile(dest):
                existing = sha256_file(dest)
                if existing == wheel["sha256"]:
                    wheels.append(wheel)
                    continue
                if not rebuild:
                    # Another venv's build put this very wheel file here first: keep it, it is what their hashes name.
                    wheels.append(dict(wheel, sha256=existing))
                    continue
                replaced[wheel["filename"]] = wheel["sha256"]
            move_into(src, dest)
            os.chmod(dest, 0o644)
            self.chown(dest)
            wheels.append(wheel)
        if replaced:
            self.update_other_states(replaced)
        return wheels

    def update_other_states(self, replaced):
        """A rebuild replaced wheel files other venvs' sets also name: record the new hashes there too."""
        for entry in sorted(os.listdir(self.req_path)):
            path = os.path.join(self.req_path, entry)
            if not entry.endswith("-build.json") or path == self.state_file:
                continue
            state = read_state(path)
            if not state:
                continue
            touched = False
            for wheel in state.get("wheels", []) + state.get("tool_wheels", []):
                if wheel["filename"] in replaced:
                    wheel["sha256"] = replaced[wheel["filename"]]
                    touched = True
            if touched:
                prefix = entry[: -len("-build.json")]
                write_atomic(os.path.join(self.req_path, prefix + "-hashes.txt"), lines_text(render_hashes(state["wheels"])))
                write_atomic(path, json.dumps(state, indent=1, sort_keys=True) + "\n")


_CAUSE = re.compile(r"^(?:ERROR|error|Error|Could not|No matching distribution|Requirements conflict|"
                    r"Because |And because |  \u2570|\S+Error: |\S+Impossible)")


def failure_summary(output, tail_lines=25):
    """The lines that name a failure's cause (pip's ERROR lines, the resolver's verdict), then the last lines."""
    lines = output.strip().splitlines()
    causes = [line for line in lines if _CAUSE.match(line)][-15:]
    tail = [line for line in lines[-tail_lines:] if line not in causes]
    return "\n".join(causes + (["..."] if causes and tail else []) + tail)


PARAMETERS = {
    # name: (type, default); None as default means required.
    "name": (str, None),
    "builder_venv": (str, None),
    "requirements": (list, None),
    "constraints": (list, []),
    "global_constraints": (list, []),
    "requirements_path": (str, None),
    "wheel_path": (str, None),
    "tool": (str, "pip"),
    "build_args": (str, ""),
    "environment": (dict, {}),
    "rebuild": (bool, False),
    "platform": (str, ""),
    "tool_wheels": (list, []),
    "owner": (str, ""),
    "group": (str, ""),
    "lock_timeout": (int, 3600),
    "check_mode": (bool, False),
    "log_file": (str, ""),
}


def parse_parameters(raw):
    """Check the decoded parameters against PARAMETERS; return them with defaults filled in."""
    if not isinstance(raw, dict):
        raise WheelBuildError("parameters must be a JSON object")
    unknown = sorted(set(raw) - set(PARAMETERS))
    if unknown:
        raise WheelBuildError("unknown parameters: %s" % ", ".join(unknown))
    params = {}
    for key, (kind, default) in PARAMETERS.items():
        value = raw.get(key, default)
        if value is None:
            if default is None:
                raise WheelBuildError("parameter %s is required" % key)
            value = default
        if kind is bool and isinstance(value, str):
            value = value.strip().lower() in ("1", "true", "yes", "on")
        elif kind is int and isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise WheelBuildError("parameter %s must be a %s, got %r" % (key, kind.__name__, value))
        params[key] = value
    if params["tool"] not in ("pip", "uv"):
        raise WheelBuildError("parameter tool must be pip or uv, got %r" % params["tool"])
    for key in ("builder_venv", "requirements_path", "wheel_path"):
        params[key] = os.path.abspath(os.path.expanduser(params[key]))
    return params


PARAMETERS_VARIABLE = "WHEELHOUSE_WHEEL_BUILD_PARAMETERS"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    builder = None
    try:
        # From the environment (the role's way: not on a command line that ps or a task result shows)
        # or from the one argument; the variable is not handed on to pip.
        encoded = os.environ.pop(PARAMETERS_VARIABLE, None) if not argv else (argv[0] if len(argv) == 1 else None)
        if not encoded:
            raise WheelBuildError("usage: %s=BASE64_JSON venv_wheel_build.py, or venv_wheel_build.py BASE64_JSON"
                                  % PARAMETERS_VARIABLE)
        params = parse_parameters(json.loads(base64.b64decode(encoded).decode("utf-8")))
        builder = WheelBuilder(params, check_mode=params["check_mode"])
        result = builder.execute()
    except (WheelBuildError, OSError, ValueError) as exc:
        print(json.dumps({"failed": True, "changed": False, "msg": str(exc),
                          "commands": builder.commands if builder else []}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

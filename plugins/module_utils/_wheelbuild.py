# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the complete, pinned wheel set of one venv on a build host (the venv_wheel_build module).

Deciding from files first:
- the inputs (requirements, both constraint lists, resolver, build arguments, builder Python,
  platform, tool wheels) are fingerprinted; when NAME-build.json under requirements_path records the
  same fingerprint and every wheel it lists is in wheel_path with its recorded sha256, nothing runs
  and nothing changes;
- otherwise, holding a lock file in requirements_path (concurrent plays wait), the requirements are
  resolved into a complete pinned set (pip-compile, or uv pip compile), every wheel of that set is
  built with pip wheel into a temporary folder beside wheel_path, then moved in; the files that
  define the build, NAME-constraints.txt (exact pins) and NAME-hashes.txt (pins with the sha256 of
  every wheel) are written, and NAME-build.json last: an interrupted build is redone next time and
  never leaves a half wheel set that a target would use;
- beside the wheels, pylock.NAME.toml (PEP 751, _pylock.py) lists the set's wheels with their sha256;
  it is compared with the state on every run and written only when it differs (a missing or altered
  lock of a current set is written again, without a build);
- a recorded wheel whose content changed since the build fails the run (unless rebuild).

Commands run through a function given by the caller, run(argv, env, cwd) -> (rc, stdout, stderr):
the module passes AnsibleModule.run_command, tests may pass their own.
"""

from __future__ import annotations

import errno
import grp
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import tempfile
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands, _masking as masking, _pep508 as pep508
from ansible_collections.wheelhouse.venv.plugins.module_utils import _constraintfiles as cfiles, _pylock as pylock
from ansible_collections.wheelhouse.venv.plugins.module_utils import _publish as publish
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import path_lock
from ansible_collections.wheelhouse.venv.plugins.module_utils._hostfiles import MaskedLog, write_atomic
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import normalize_lines, render_lines
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    cfg_python_version,
    installed_distributions,
    minor_version,
    read_pyvenv_cfg,
    read_state_file,
    site_packages_dir,
    state_text,
    venv_python,
)

STATE_VERSION = 1
LOCK_FILE = ".wheel-build.lock"

# ---------------------------------------------------------------------------
# Pure helpers


def build_inputs(requirements, constraints, global_constraints, tool, build_args, python_version, platform,
                 tool_wheels=(), build_tools=(), referenced=None):
    """Everything a wheel set depends on, normalised, as one dict.

    Recorded (and fingerprinted) without passwords: the build files are served by the wheel
    repository, and a new password alone is no new build. A referenced constraints file
    (referenced: {key: cfiles.load of that list}) counts with its location and content's sha256.
    """
    mask = masking.mask_text
    referenced = referenced or {}
    inputs = {
        "tool_wheels": normalize_lines(tool_wheels),
        "version": STATE_VERSION,
        "requirements": [mask(x) for x in normalize_lines(requirements)],
        "constraints": [mask(x) for x in cfiles.expand(normalize_lines(constraints), referenced.get("constraints", {}),
                                                       inline=False)],
        "global_constraints": [mask(x) for x in cfiles.expand(normalize_lines(global_constraints),
                                                              referenced.get("global_constraints", {}), inline=False)],
        "tool": tool,
        "build_args": [mask(x) for x in shlex.split(build_args or "")],
        "python_version": python_version,
        "platform": platform,
    }
    # Only when given: the sets built before build tools existed keep their fingerprint.
    if build_tools:
        inputs["build_tools"] = [[mask(line), version] for line, version in build_tools]
    return inputs


def fingerprint(inputs):
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode("utf-8")).hexdigest()


_WHEEL_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-(?P<build>\d[^-]*))?-[^-]+-[^-]+-[^-]+\.whl$")


def parse_wheel_filename(filename):
    """Return (canonical name, version) of a wheel file name (PEP 427)."""
    m = _WHEEL_RE.match(os.path.basename(filename))
    if not m:
        raise VenvBuildError("%s is not a wheel file name" % filename)
    return pep508.canonical_name(m.group("name")), m.group("version").replace("_", "-")


def parse_compiled(text):
    """Return the canonical names of the requirements a resolver output pins, in order.

    Lines are 'name==version', 'name @ url' or 'url#egg=name'; option lines (--index-url,
    --find-links...) and comments are skipped; editable lines cannot become wheels.
    """
    names = []
    for raw in text.splitlines():
        line = pep508.strip_comment(raw)
        if not line:
            continue
        if line.startswith("-") and not line.startswith(("-e ", "-e=", "--editable")):
            continue
        try:
            requirement = pep508.parse_requirement(line)
        except ValueError as exc:
            raise VenvBuildError("resolver output line %r names no package: %s" % (masking.mask_text(line), exc))
        if requirement.editable:
            raise VenvBuildError("editable requirement %r cannot be built into a wheel" % masking.mask_text(line))
        if not requirement.name:
            raise VenvBuildError("resolver output line %r names no package (add #egg=NAME)" % masking.mask_text(line))
        names.append(requirement.name)
    return names


def sort_wheels(wheels):
    return sorted(wheels, key=lambda w: (w["name"], w["version"], w["filename"]))


def render_hashes(wheels):
    """'name==version --hash=sha256:...' per wheel, sorted by name: an install with --require-hashes."""
    return ["%s==%s --hash=sha256:%s" % (w["name"], w["version"], w["sha256"]) for w in sort_wheels(wheels)]


def render_constraints(wheels):
    """'name==version' per wheel, sorted by name: the install-time constraints."""
    return ["%s==%s" % (w["name"], w["version"]) for w in sort_wheels(wheels)]


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


def wheel_records(folder):
    """name, version, filename and sha256 of every wheel in folder, by file name."""
    records = []
    for filename in sorted(os.listdir(folder)):
        if filename.endswith(".whl"):
            name, version = parse_wheel_filename(filename)
            records.append({"name": name, "version": version, "filename": filename,
                            "sha256": sha256_file(os.path.join(folder, filename))})
    return records


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


def trusted_hosts(build_args):
    """The hosts build_args names with --trusted-host: their certificates are not checked, as pip does."""
    args = shlex.split(build_args or "")
    hosts = [a.partition("=")[2] for a in args if a.startswith("--trusted-host=")]
    hosts += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--trusted-host"]
    return hosts


def builder_python_version(builder_venv):
    """X.Y of the builder venv's Python from its pyvenv.cfg, or None when it has none."""
    return minor_version(cfg_python_version(read_pyvenv_cfg(builder_venv)))


def installed_version(builder_venv, name):
    """The version of a distribution installed in the builder venv, or '' when it is not there."""
    version = cfg_python_version(read_pyvenv_cfg(builder_venv))
    if not version:
        return ""
    dist = installed_distributions(site_packages_dir(builder_venv, version)).get(pep508.canonical_name(name))
    return dist.version if dist else ""


def tool_pins(builder_venv, names):
    """Pin each tool to the version the builder runs (uv resolves: targets install with the same uv)."""
    pins = []
    for name in normalize_lines(names):
        version = installed_version(builder_venv, name)
        pins.append("%s==%s" % (name, version) if version else name)
    return pins


def build_tool_versions(builder_venv, lines):
    """[line, version the builder venv has ('' when none)] of each build tool: a new version builds again."""
    result = []
    for line in normalize_lines(lines):
        try:
            name = pep508.parse_requirement(line).name
        except ValueError:
            name = None
        result.append([line, installed_version(builder_venv, name) if name else ""])
    return result


def isolation_warning(build_tools, build_args, environment):
    """A warning when build tools are given to builds that run isolated (their Python cannot import them)."""
    if not normalize_lines(build_tools) or "--no-build-isolation" in shlex.split(build_args or ""):
        return None
    if set(environment or {}) & {"PIP_NO_BUILD_ISOLATION", "UV_NO_BUILD_ISOLATION"}:
        return None
    return ("build_tools are given but build_args lack --no-build-isolation: sdists are then built in isolated "
            "environments, where a Python console script of the builder venv (cython, for example) cannot "
            "import its own package; binary tools (maturin) still work")


def resolver_command(tool, builder_venv, infile, outfile, build_args, rebuild):
    """The command line that resolves infile into the complete pinned outfile."""
    args = shlex.split(build_args or "")
    isolation = ["--no-build-isolation"] if "--no-build-isolation" in args else []
    pip_args = [a for a in args if a != "--no-build-isolation"]
    if tool == "uv":
        cmd = [os.path.join(builder_venv, "bin", "uv"), "pip", "compile", "--quiet", "--no-header",
               "--no-annotate", "--python", venv_python(builder_venv),
               "--output-file", outfile] + isolation + uv_index_args(pip_args)
        if rebuild:
            cmd.append("--no-cache")
        return commands.hide_credentials(cmd + [infile], "uv")
    cmd = [os.path.join(builder_venv, "bin", "pip-compile"), "--quiet", "--no-header", "--no-annotate",
           "--allow-unsafe", "--strip-extras", "--no-emit-index-url", "--no-emit-trusted-host",
           "--no-emit-find-links", "--output-file", outfile] + isolation
    if rebuild:
        cmd.append("--rebuild")
    # credentialed index locations reach pip-compile's pip through PIP_* variables, not --pip-args
    hidden = commands.hide_credentials(pip_args, "pip")
    if hidden:
        cmd += ["--pip-args", " ".join(shlex.quote(a) for a in hidden)]
    return commands.Command(cmd + [infile], hidden.env)


def wheel_command(builder_venv, compiled, wheel_dir, build_args, reuse_dir, rebuild):
    """The command line that builds (or fetches) one wheel per line of the pinned set."""
    cmd = [venv_python(builder_venv), "-m", "pip", "wheel", "--no-deps",
           "--disable-pip-version-check", "--wheel-dir", wheel_dir, "-r", compiled]
    if rebuild:
        cmd.append("--no-cache-dir")
    elif reuse_dir and os.path.isdir(reuse_dir):
        cmd += ["--find-links", reuse_dir]
    return commands.hide_credentials(cmd + shlex.split(build_args or ""), "pip")


# pip indents what a build subprocess prints (pip >= 26 its ERROR lines too), uv its verdict: any indent
_CAUSE = re.compile(r"^\s*(?:ERROR|error|Error|Could not|No matching distribution|Requirements conflict|"
                    r"Because |And because |\u2570|\S+Error: |\S+Impossible)")


def failure_summary(output, tail_lines=25):
    """The lines that name a failure's cause (pip's ERROR lines, the resolver's verdict), then the last lines."""
    lines = output.strip().splitlines()
    causes = [line for line in lines if _CAUSE.match(line)][-15:]
    tail = [line for line in lines[-tail_lines:] if line not in causes]
    return "\n".join(causes + (["..."] if causes and tail else []) + tail)


# ---------------------------------------------------------------------------
# Files and locks


def file_lock(path, timeout):
    """Hold the exclusive lock on path that venv_build takes too (fsops.path_lock); fail after timeout seconds."""
    return path_lock(path, timeout, "another wheel build holds %s for more than %d s; try again later "
                                    "or raise the lock timeout" % (path, timeout))


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


def read_text(path):
    """The text of a file, or None when it does not exist."""
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _build_state_problem(state):
    if not isinstance(state, dict):
        return "not a JSON object"
    return None if state.get("version") == STATE_VERSION else "of another version than %s" % STATE_VERSION


def read_state(path):
    """The build state file, or None when missing, damaged or of another version (the build is then redone)."""
    return read_state_file(path, _build_state_problem)[0]


def owner_ids(owner, group):
    """(uid, gid) of owner and group (names or numbers); -1 for an empty one."""
    try:
        uid = (int(owner) if str(owner).isdigit() else pwd.getpwnam(owner).pw_uid) if owner else -1
        gid = (int(group) if str(group).isdigit() else grp.getgrnam(group).gr_gid) if group else -1
    except KeyError as exc:
        raise VenvBuildError("owner/group does not exist on this host: %s" % exc)
    return uid, gid


# ---------------------------------------------------------------------------
# The build


class WheelBuilder(object):
    """One run: params are the module's options (see plugins/modules/venv_wheel_build.py)."""

    def __init__(self, params, run, check_mode=False):
        self.p = dict(params)
        for key in ("builder_venv", "requirements_path", "wheel_path"):
            self.p[key] = os.path.abspath(os.path.expanduser(self.p[key]))
        self.check_mode = check_mode
        self.warnings = []  # for the module to show (module.warn)
        self.runner = commands.Runner(run, self.log)
        self.commands = self.runner.commands
        self.name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.p["name"])
        self.req_path = self.p["requirements_path"]
        self.wheel_path = self.p["wheel_path"]
        self.state_file = os.path.join(self.req_path, "%s-build.json" % self.name)
        self.lock_file = os.path.join(self.wheel_path, pylock.lock_file_name(self.name))
        self.log_file = self.p.get("log_file") or ""
        self._log = MaskedLog(self.log_file, "wheel build %s for %s" % (self.name, self.p.get("platform") or ""))
        self._ids = None
        self._referenced = None

    def constraint_files(self):
        """The constraints files that '-c <x>' lines of both lists reference, read once per run."""
        if self._referenced is None:
            self._referenced = dict(
                (key, cfiles.load(normalize_lines(self.p.get(key)), key, trusted_hosts(self.p.get("build_args")),
                                  self.p.get("environment")))
                for key in ("constraints", "global_constraints"))
        return self._referenced

    def constraint_lines(self, key):
        """The lines of a constraint list as the resolver reads them: referenced files inlined."""
        return cfiles.expand(normalize_lines(self.p.get(key)), self.constraint_files()[key])

    def python_version(self):
        version = builder_python_version(self.p["builder_venv"])
        if version:
            return version
        if self.check_mode:  # the builder venv is made by a task that check mode skips too
            return ""
        if read_pyvenv_cfg(self.p["builder_venv"]) is not None:
            raise VenvBuildError("the builder venv %s names no Python version in its pyvenv.cfg (version = X.Y.Z): a "
                                 "broken venv; make it again" % self.p["builder_venv"])
        raise VenvBuildError("the builder venv %s does not exist (no pyvenv.cfg)" % self.p["builder_venv"])

    def log(self, text):
        """Append to the build log (credentials masked); check mode writes nothing."""
        if not self.log_file or self.check_mode:
            return
        self._log.write(text)

    def run(self, cmd, what):
        rc, out, err = self.runner(cmd, self.env_update(), self.req_path)
        if rc != 0:
            tail = failure_summary(err or out or "")
            where = " The whole output is in %s." % self.log_file if self.log_file else ""
            raise VenvBuildError(masking.mask_text("%s failed (rc=%d): %s\n%s\n%s"
                                                   % (what, rc, self.commands[-1], tail, where)),
                                 rc=rc, commands=list(self.commands))
        return out

    def env_update(self):
        update = dict((str(k), str(v)) for k, v in (self.p.get("environment") or {}).items())
        update["PIP_NO_INPUT"] = "1"
        # the builder's tools (build_tools, console scripts of its requirements) are found as commands
        return commands.bin_first_on_path(self.p["builder_venv"], update)

    def chown(self, path):
        if self._ids is None:
            self._ids = owner_ids(self.p.get("owner"), self.p.get("group"))
        if self._ids != (-1, -1):
            os.chown(path, self._ids[0], self._ids[1])

    def ensure_dir(self, path):
        if not os.path.isdir(path):
            os.makedirs(path, 0o755)
            self.chown(path)

    def execute(self):
        inputs = build_inputs(self.p["requirements"], self.p.get("constraints"), self.p.get("global_constraints"),
                              self.p.get("tool") or "pip", self.p.get("build_args"), self.python_version(),
                              self.p.get("platform") or "", tool_pins(self.p["builder_venv"], self.p.get("tool_wheels")),
                              build_tool_versions(self.p["builder_venv"], self.p.get("build_tools")),
                              self.constraint_files())
        want = fingerprint(inputs)
        if not normalize_lines(self.p["requirements"]):
            raise VenvBuildError("no requirements to build wheels for")
        if self.check_mode:
            state = read_state(self.state_file)
            status, problem = assess(state, want, self.wheel_path)
            self.check_lock_owner()
            # a build would make another set: what it would upload is not known, the build's change says enough
            published = self.unpublished(state) if state and status == "current" else []
            return self.result(status, problem, state, want, check=True,
                               lock_changed=bool(state) and read_text(self.lock_file) != self.lock_text(state),
                               published=published)
        self.ensure_dir(self.req_path)
        self.ensure_dir(self.wheel_path)
        with file_lock(os.path.join(self.req_path, LOCK_FILE), self.p.get("lock_timeout", 3600)):
            state = read_state(self.state_file)
            status, problem = assess(state, want, self.wheel_path)
            if self.p.get("rebuild"):
                status = "rebuild"
            elif status == "tampered":
                raise VenvBuildError(problem, status=status, state_file=self.state_file)
            self.check_lock_owner()
            if status != "current":
                state = self.build(inputs, want)
            lock_changed = self.write_lock(self.lock_file, state, self.name)
            published = self.unpublished(state)
            if published:
                uploaded, warnings = self.publisher().upload(self.wheel_path, published)
                self.warnings += warnings
                # files another build uploaded at the same time are not this run's change
                published = [w for w in published if w["filename"] in uploaded]
            return self.result(status, problem, state, want, lock_changed=lock_changed, published=published)

    def publisher(self):
        return publish.Publisher(self.p["publish"], self.p["builder_venv"], self.p.get("environment"),
                                 trusted_hosts(self.p.get("build_args")), self.runner, self.log_file, self.wheel_path)

    def unpublished(self, state):
        """The wheels and tool wheels of the set that the package index of the publish option lacks."""
        if not self.p.get("publish"):
            return []
        return self.publisher().missing(sort_wheels(state.get("wheels", [])) + sort_wheels(state.get("tool_wheels", [])))

    def lock_text(self, state, name=None):
        """The pylock text of a recorded wheel set (this one unless name says another)."""
        inputs = state.get("inputs") or {}
        return pylock.render(state.get("wheels", []), inputs.get("python_version"), name or self.name,
                             inputs.get("platform"))

    def check_lock_owner(self):
        """Two set names may give one lock file name (dots become '-'): never overwrite another set's lock."""
        other = pylock.wheel_set_of(read_text(self.lock_file) or "")
        if other and other != self.name:
            raise VenvBuildError("%s is the lock of the wheel set %s, whose name gives the same lock file name as %s "
                                 "(a dot in a name becomes '-'): rename one of the venvs, or give them different "
                                 "wheel paths" % (self.lock_file, other, self.name))

    def write_lock(self, path, state, name=None):
        """Write the lock of state when the file differs (or is missing); return whether it was written."""
        text = self.lock_text(state, name)
        if read_text(path) == text:
            return False
        write_atomic(path, text)
        self.chown(path)
        self.log("wrote %s" % path)
        return True

    def result(self, status, problem, state, want, check=False, lock_changed=False, published=()):
        wheels = sort_wheels(state.get("wheels", [])) if state else []
        tools = sort_wheels(state.get("tool_wheels", [])) if state else []
        changed = status != "current" or lock_changed or bool(published)
        # Check mode cannot know the set a build would make: no install lines from the old one.
        known = wheels and not (check and changed)
        # the lock as it is (or, in check mode, would be) written; unknown before a build
        lock_text = self.lock_text(state) if state and not (check and status != "current") else ""
        return {
            "changed": changed,
            "status": status,
            "problem": problem,
            "fingerprint": want,
            "wheels": wheels,
            "tool_wheels": tools,
            "install_requirements": render_hashes(wheels) if known else [],
            "install_constraints": render_constraints(wheels) if known else [],
            "commands": self.commands,
            # the files uploaded to the package index of the publish option (in check mode, that would be)
            "published": [w["filename"] for w in published],
            "state_file": self.state_file,
            "lock": self.lock_file,
            "lock_sha256": hashlib.sha256(lock_text.encode("utf-8")).hexdigest() if lock_text else "",
            # its text, for targets that cannot read the file (they install from a package index)
            "lock_content": lock_text,
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
        rebuild = bool(self.p.get("rebuild"))
        build_args = self.p.get("build_args")
        # The temporary files hold the lines as given (with any credentials); the recorded ones are masked.
        # a referenced constraints file is inlined: the resolver reads what was fingerprinted, and no URL of it
        write_atomic(os.path.join(tmp, "global-constraints.txt"), render_lines(self.constraint_lines("global_constraints")))
        write_atomic(os.path.join(tmp, "constraints.txt"), render_lines(self.constraint_lines("constraints")))
        infile = os.path.join(tmp, "requirements.in")
        write_atomic(infile, render_lines(["-c global-constraints.txt", "-c constraints.txt"]
                                          + normalize_lines(self.p["requirements"])))
        compiled = os.path.join(tmp, "compiled.txt")
        self.run(resolver_command(self.p.get("tool") or "pip", self.p["builder_venv"], infile, compiled,
                                  build_args, rebuild), "resolving the requirements")
        with open(compiled) as handle:
            compiled_text = handle.read()
        names = parse_compiled(compiled_text)
        wheel_dir = os.path.join(tmp, "wheels")
        os.mkdir(wheel_dir)
        self.run(wheel_command(self.p["builder_venv"], compiled, wheel_dir, build_args, self.wheel_path, rebuild),
                 "building the wheels")
        built = wheel_records(wheel_dir)
        problem = check_wheel_set(names, built)
        if problem:
            raise VenvBuildError("the wheel build does not match the resolved set: %s" % problem,
                                 commands=list(self.commands))
        tools = self.build_tool_wheels(tmp, inputs["tool_wheels"], rebuild)
        wheels = self.move_wheels(wheel_dir, built, rebuild)
        tools = self.move_wheels(os.path.join(tmp, "tools"), tools, rebuild) if tools else []
        state = {"version": STATE_VERSION, "fingerprint": want, "inputs": inputs, "wheels": wheels, "tool_wheels": tools,
                 "compiled": masking.mask_text(compiled_text).splitlines(), "built_at": int(time.time())}
        # The files that define the build, then the state file last: an interrupted run builds again.
        files = {
            "requirements.txt": render_lines(inputs["requirements"]),
            "source-constraints.txt": render_lines(masking.mask_text(x) for x in self.constraint_lines("constraints")),
            "global-constraints.txt": render_lines(masking.mask_text(x) for x in self.constraint_lines("global_constraints")),
            "compiled.txt": masking.mask_text(compiled_text),
            "constraints.txt": render_lines(render_constraints(wheels)),
            "hashes.txt": render_lines(render_hashes(wheels)),
        }
        for suffix, text in files.items():
            path = os.path.join(self.req_path, "%s-%s" % (self.name, suffix))
            write_atomic(path, text)
            self.chown(path)
        write_atomic(self.state_file, state_text(state))
        self.chown(self.state_file)
        return state

    def build_tool_wheels(self, tmp, pins, rebuild):
        """Wheels of the installer itself (uv), beside the set: a target without uv installs it from them."""
        if not pins:
            return []
        tools_dir = os.path.join(tmp, "tools")
        os.mkdir(tools_dir)
        tools_file = os.path.join(tmp, "tools.txt")
        write_atomic(tools_file, render_lines(pins))
        cmd = wheel_command(self.p["builder_venv"], tools_file, tools_dir, self.p.get("build_args"), self.wheel_path,
                            rebuild)
        self.run(cmd + ["--only-binary", ":all:"], "fetching the wheels of %s" % ", ".join(pins))
        return wheel_records(tools_dir)

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
                write_atomic(os.path.join(self.req_path, prefix + "-hashes.txt"), render_lines(render_hashes(state["wheels"])))
                write_atomic(path, state_text(state))
                lock_file = os.path.join(self.wheel_path, pylock.lock_file_name(prefix))
                if pylock.wheel_set_of(read_text(lock_file) or "") == prefix:  # its lock, beside these wheels
                    self.write_lock(lock_file, state, prefix)


def ensure_builder(params, check_mode, run):
    """Make the builder venv match params["builder"] (python, requirements, environment) with venv_build's sync.

    Returns (summary, warnings): summary holds changed, reasons, commands and packages of the builder
    venv, or is None when params has no builder (the builder venv is then made elsewhere). One module
    call on the build host thus keeps the builder and the wheel set; on a no-op it runs no command.
    """
    wanted = params.get("builder")
    if not wanted:
        return None, []
    # imported here: only a build host that keeps its builder needs venv_build's machinery
    from ansible_collections.wheelhouse.venv.plugins.module_utils._commands import run_with_timeout
    from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec
    from ansible_collections.wheelhouse.venv.plugins.module_utils._sync import sync
    spec = VenvSpec({"path": os.path.abspath(os.path.expanduser(params["builder_venv"])),
                     "python": wanted.get("python") or "python3",
                     "requirements": list(wanted.get("requirements") or []) + list(params.get("build_tools") or []),
                     "environment": wanted.get("environment") or {},
                     "owner": params.get("owner"), "group": params.get("group")})

    def builder_run(argv, env, timeout=None):  # the verifications of the builder venv come with a timeout
        return run(argv, env, None) if timeout is None else run_with_timeout(argv, env, timeout)

    try:
        result, warnings = sync(spec, check_mode, builder_run)
    except VenvBuildError as exc:
        raise VenvBuildError("builder venv %s: %s" % (spec.path, exc.msg), **exc.details)
    summary = dict((key, result.get(key)) for key in ("changed", "reasons", "commands", "packages", "python_version"))
    return summary, ["builder venv %s: %s" % (spec.path, w) for w in warnings]

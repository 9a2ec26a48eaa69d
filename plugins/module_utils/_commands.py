# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every command line the module runs is built here, and only here."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking as masking
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import UV_TOOL_DIR, venv_python

PYTHON_VERSION_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


def python_version_command(python):
    return [python, "-c", PYTHON_VERSION_PROBE]


# The folders of sys.path outside the venv named site-packages or dist-packages: the system's, which a venv made with
# system_site_packages imports from too (after its own), in the order Python searches them.
SYSTEM_SITE_PROBE = ("import json, os, sys; venv = os.path.join(sys.prefix, ''); print(json.dumps([p for p in sys.path "
                     "if os.path.basename(p) in ('site-packages', 'dist-packages') and not p.startswith(venv)]))")


def system_site_command(venv):
    """The venv's own Python telling its system site-packages folders (isolated: no PYTHONPATH, no user site)."""
    return [venv_python(venv), "-I", "-c", SYSTEM_SITE_PROBE]


def create_venv_command(spec, python, dest, virtualenv_executable=None, seed_pip=True):
    """python -m venv, or virtualenv -p python, making dest; without pip when uv does the installing."""
    if spec.virtualenv_command == "virtualenv":
        head = [virtualenv_executable] if virtualenv_executable else [python, "-m", "virtualenv"]
        argv = head + ["--python", python]
        if not seed_pip:
            argv.append("--no-seed")
        if spec.system_site_packages:
            argv.append("--system-site-packages")
        return argv + [dest]
    argv = [python, "-m", "venv"]
    if not seed_pip:
        argv.append("--without-pip")
    if spec.system_site_packages:
        argv.append("--system-site-packages")
    return argv + [dest]


# How a command killed at its timeout ends its error output (run_with_timeout), so a caller can tell.
TIMEOUT_NOTE = "(killed with its process group after %d s: its timeout)"


def run_with_timeout(argv, env, timeout):
    """(rc, out, err) of argv run with env on top of this process's environment, in a session of its own.

    After timeout seconds the whole process group is killed (SIGKILL) and rc is -9, err ending with
    TIMEOUT_NOTE; the output it wrote until then is kept. A command that cannot start gives 127.
    """
    full = dict(os.environ)
    full.update(env or {})
    try:
        # AnsibleModule.run_command has no timeout and does not start a session of its own, whose whole
        # process group can then be killed: hence Popen here, for the verifications only.
        proc = subprocess.Popen(argv, env=full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # pylint: disable=ansible-bad-function
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return 127, "", "%s: %s" % (argv[0], exc.strerror or exc)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:  # a process that left the group may hold the pipes: wait a little, not for ever
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = b"", b""
    out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if timed_out:
        return -9, out, (err + "\n" + TIMEOUT_NOTE % timeout).strip()
    return proc.returncode, out, err


class Command(list):
    """An argv and the environment variables it needs on top of the installer environment.

    Index locations that carry a credential are passed in the environment, not on the command line:
    /proc/PID/cmdline is readable by every local user, /proc/PID/environ by the process's own user only.
    """

    def __init__(self, argv, env=None):
        list.__init__(self, argv)
        self.env = dict(env or {})


# Index options that take a location: pip's long name, its short aliases, the variables pip and uv read
# instead, and how uv separates the items of a list variable (pip always splits on white space).
_LOCATIONS = (
    ("--index-url", ("-i",), "PIP_INDEX_URL", "UV_INDEX_URL", " "),
    ("--extra-index-url", (), "PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL", " "),
    ("--find-links", ("-f",), "PIP_FIND_LINKS", "UV_FIND_LINKS", ","),
)


def _split_locations(args):
    """args as items (option long name or None, the tokens, the value) - location options recognised in both spellings."""
    names = dict((alias, long_name) for long_name, aliases, _pip, _uv, _sep in _LOCATIONS
                 for alias in (long_name,) + aliases)
    items = []
    i = 0
    while i < len(args):
        name, sep, value = args[i].partition("=") if args[i].startswith("--") else (args[i], "", "")
        if name in names and (sep or i + 1 < len(args)):
            tokens = args[i:i + 1] if sep else args[i:i + 2]
            items.append((names[name], tokens, value if sep else args[i + 1]))
            i += len(tokens)
        else:
            items.append((None, args[i:i + 1], None))
            i += 1
    return items


def hide_credentials(args, tool):
    """Command(args) with every location option of a kind that holds a credential moved into the environment.

    All values of that kind move, in their order (on the command line they would replace the variable's).
    """
    items = _split_locations(list(args))
    env = {}
    for long_name, _aliases, pip_var, uv_var, uv_sep in _LOCATIONS:
        values = [value for name, _tokens, value in items if name == long_name]
        if not any(masking.find_secrets(v) for v in values):
            continue
        if tool == "uv" and uv_sep == "," and any("," in v for v in values):
            raise VenvBuildError("%s: uv reads these locations from %s, separated by commas; a location must not "
                                 "contain a comma when one of them carries a credential: %s"
                                 % (long_name, uv_var, masking.mask_text(" ".join(values))))
        env[uv_var if tool == "uv" else pip_var] = (uv_sep if tool == "uv" else " ").join(values)
    moved = [long_name for long_name, _a, pip_var, uv_var, _s in _LOCATIONS if pip_var in env or uv_var in env]
    return Command([token for name, tokens, _v in items if name not in moved for token in tokens], env)


def _index_args(spec, tool):
    args = []
    if tool == "uv" and any(location.lower().startswith(("http://", "https://")) for location in spec.find_links):
        # uv keeps a wheel of a flat (find_links) page by its URL and never asks again: a wheel set built again
        # (venv_wheels_rebuild) has other bytes under the same names, which --require-hashes then refuses as a
        # hash mismatch. --refresh revalidates the cached files with the server (unchanged ones stay cached).
        args.append("--refresh")
    if spec.no_index:
        args.append("--no-index")
    if spec.index_url:
        args += ["--index-url", spec.index_url]
    for url in spec.extra_index_urls:
        args += ["--extra-index-url", url]
    for location in spec.find_links:
        args += ["--find-links", location]
    for host in spec.trusted_hosts:
        args += ["--trusted-host" if tool == "pip" else "--allow-insecure-host", host]
    return args


def install_command(spec, venv, files, uv=None, pins_file=None, upgrade=False, dry_run_report=None):
    """The installer run: the requirements files of files (build requirements, requirements) with both
    constraint files (and recorded pins when repairing)."""
    constraint_files = [files["constraints"], files["global_constraints"]]
    if pins_file:
        constraint_files.append(pins_file)
    if spec.install_tool == "uv":
        argv = [uv, "pip", "install", "--python", venv_python(venv)]
    else:
        argv = [venv_python(venv), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    for key in ("build_requirements", "requirements"):
        if key in files:
            argv += ["-r", files[key]]
    for path in constraint_files:
        argv += ["-c", path]
    argv += _index_args(spec, spec.install_tool)
    if spec.require_hashes:
        argv.append("--require-hashes")
    if upgrade:
        argv.append("--upgrade")
        if spec.install_tool == "pip":
            argv += ["--upgrade-strategy", "only-if-needed"]
    if dry_run_report:
        argv += ["--dry-run", "--quiet", "--report", dry_run_report]
    return hide_credentials(argv + list(spec.extra_args), spec.install_tool)


def pip_upgrade_command(spec, venv, files):
    """pip brought to the newest version the index and the constraint files allow (option upgrade_pip)."""
    argv = [venv_python(venv), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--upgrade", "pip"]
    for key in ("constraints", "global_constraints"):
        argv += ["-c", files[key]]
    argv += _index_args(spec, "pip")
    return hide_credentials(argv + list(spec.extra_args), "pip")


def build_requirements_command(spec, venv, files, build_file, **options):
    """The installer run of the build requirements (build_file) alone, before the requirements: same options."""
    files = dict((key, path) for key, path in files.items() if key != "requirements")
    return install_command(spec, venv, dict(files, build_requirements=build_file), **options)


def repair_command(spec, venv, files, repair, uv=None):
    """Reinstall damaged distributions at their installed versions (pip --force-reinstall, uv --reinstall-package)."""
    if spec.require_hashes:  # pins without hashes are refused: reinstall from the requirements
        argv = install_command(spec, venv, files, uv=uv)
        flags = ["--force-reinstall"] if spec.install_tool == "pip" else \
            [a for n in sorted(repair) for a in ("--reinstall-package", n)]
        return argv + flags
    if spec.install_tool == "uv":
        argv = [uv, "pip", "install", "--python", venv_python(venv), "--no-deps"]
        argv += [a for n in sorted(repair) for a in ("--reinstall-package", n)]
    else:
        argv = [venv_python(venv), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                "--force-reinstall", "--no-deps"]
    argv += [("%s==%s" % (n, v)) if v else n for n, v in sorted(repair.items())]
    return argv + _index_args(spec, spec.install_tool) + list(spec.extra_args)


def uninstall_command(spec, venv, names, uv=None):
    if spec.install_tool == "uv":
        return [uv, "pip", "uninstall", "--python", venv_python(venv)] + sorted(names)
    return [venv_python(venv), "-m", "pip", "uninstall", "--yes", "--disable-pip-version-check"] + sorted(names)


def uv_bootstrap_command(spec, venv, files):
    """uv itself, fetched with the venv's pip from the same index options (and constraints) into venv/.uv."""
    argv = [venv_python(venv), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
            "--target", os.path.join(venv, UV_TOOL_DIR), "-c", files["constraints"], "-c", files["global_constraints"]]
    return hide_credentials(argv + _index_args(spec, "pip") + ["uv"], "pip")


# What the verifications of a venv are called in results and errors.
DEPENDENCY_CHECK = "the dependency check"
# Imports each module named after it; a failing one ends with its traceback.
IMPORT_PROBE = "import importlib, sys; [importlib.import_module(name) for name in sys.argv[1:]]"


def verify_commands(spec, venv, uv=None):
    """The verifications of venv after the installer ran, in order: [(argv, what)].

    The installer's consistency check (pip check / uv pip check), then verify_imports (with the venv's
    Python, isolated from the user's site and the working directory), then verify_command.
    """
    checks = []
    if spec.check_dependencies:
        if spec.install_tool == "uv":
            argv = [uv, "pip", "check", "--python", venv_python(venv)]
        else:
            argv = [venv_python(venv), "-m", "pip", "check", "--disable-pip-version-check"]
        checks.append((argv, DEPENDENCY_CHECK))
    if spec.verify_imports:
        checks.append(([venv_python(venv), "-I", "-c", IMPORT_PROBE] + list(spec.verify_imports), "verify_imports"))
    if spec.verify_command:
        checks.append((list(spec.verify_command), "verify_command"))
    return checks


def verify_environment(spec, venv):
    """The variables of environment, with venv's bin first on PATH and VIRTUAL_ENV set, as an activated venv has."""
    return bin_first_on_path(venv, dict(spec.environment, VIRTUAL_ENV=venv))


# How each package manager lists the files of one installed package (read-only).
_LIST_FILES = {"dpkg-query": ["--listfiles"], "rpm": ["--query", "--list"]}


def package_files_command(manager, executable, package):
    """dpkg-query --listfiles PACKAGE, or rpm --query --list PACKAGE."""
    return [executable] + _LIST_FILES[manager] + [package]


def installer_environment(spec, venv=None):
    """The installer's variables, with venv's bin first on PATH when given (see bin_first_on_path)."""
    env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PYTHONWARNINGS": "ignore"}
    env.update(spec.environment)
    return bin_first_on_path(venv, env) if venv else env


def bin_first_on_path(venv, env):
    """env with venv/bin first on PATH (env's PATH, else this process's), unless it is first already.

    Build backends run tools such as cython or maturin as commands, and without build isolation
    neither pip nor uv puts the venv's bin on PATH for them.
    """
    bin_dir = os.path.join(venv, "bin")
    path = env.get("PATH") or os.environ.get("PATH") or os.defpath
    if path.split(os.pathsep)[0] != bin_dir:
        path = os.pathsep.join([bin_dir, path])
    return dict(env, PATH=path)


def run_environment(argv, env):
    """The environment a command runs with: env, and the variables of a Command on top."""
    return dict(env, **getattr(argv, "env", {}))


class Runner(object):
    """The one command runner of both modules: every command shown masked in `commands` and in the log
    before it starts, with its output logged after it; the caller decides what a failure means.

    run(argv, env, *extra) is the module's runner (AnsibleModule.run_command underneath), log(text) the
    module's masked log.
    """

    def __init__(self, run, log):
        self._run = run
        self._log = log
        self.commands = []

    def __call__(self, argv, env, *extra):
        shown = display(argv)
        self.commands.append(shown)
        self._log("$ " + shown)
        started = time.monotonic()
        rc, out, err = self._run(argv, run_environment(argv, env), *extra)
        self._log(out or "")
        self._log(err or "")
        # where a slow run spends its time, for the operator reading the log
        self._log("# exit code %s after %.2f s" % (rc, time.monotonic() - started))
        return rc, out, err


def _quoted(text):
    text = masking.mask_text(text)
    if not text or any(c in text for c in " \t\"'$`\\;&|<>*?()[]{}"):
        return "'" + text.replace("'", "'\"'\"'") + "'"
    return text


def display(argv):
    """A command line as a user reads it in results and logs: quoted where needed, secrets masked.

    The variables of a Command come first, as a shell takes them (VAR=value command ...).
    """
    assignments = ["%s=%s" % (name, _quoted(value)) for name, value in sorted(getattr(argv, "env", {}).items())]
    return " ".join(assignments + [_quoted(arg) for arg in argv])

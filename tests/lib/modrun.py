"""Runs a module of this collection on localhost without a controller, as ansible-core's own debug mode does.

A one-task ansible-playbook costs about 0.85 s of controller CPU before the module starts (imports, the
inventory, the AnsiballZ wrapper), five times a no-op of venv_build itself: most integration and fault tests
ran more controller than module. A test that is about what the module does to a venv runs the module's own
file with the target's Python instead: the module's arguments in a JSON file (`ANSIBLE_MODULE_ARGS`, with the
`_ansible_check_mode` / `_ansible_diff` flags the controller would add) given as its first argument, which
ansible-core's `basic._load_params` reads when no AnsiballZ wrapper handed them over (the way Ansible's
developer guide runs a module by hand). The module, its module_utils and ansible-core's module_utils are the
real ones, imported from this checkout and from the venv that runs the tests; what is left out is what the
controller adds around a module, which the tests marked `controller` (and the role's tests, the packaged
collection's, molecule) still run through ansible-playbook. `WH_MODULE_VIA=playbook` runs every test through
ansible-playbook (tests/integration/conftest.py, tests/faults/harness.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")
TARGET_PYTHON = os.environ.get("WH_TARGET_PYTHON", "/usr/bin/python3")

# What the AnsiballZ wrapper does once the module's arguments are in place: the module's package runs as
# __main__. The first entry of sys.path (the working directory under -c) is replaced by the import roots.
_BOOT = ("import runpy, sys; sys.path[0:1] = %r; "
         "runpy.run_module(%r, run_name='__main__', alter_sys=True)")


def via_playbook():
    """True when WH_MODULE_VIA=playbook asks every test to run its modules through ansible-playbook."""
    return os.environ.get("WH_MODULE_VIA", "direct") == "playbook"


def _ansible_package():
    import ansible  # the ansible-core of the venv running the tests (.venv, or .venv-core-<X.Y> in stage cores)
    return os.path.dirname(os.path.abspath(ansible.__file__))


def module_utils_root():
    """A folder holding `ansible/module_utils` of the running ansible-core and nothing else of it.

    As in the AnsiballZ payload, the target imports only module_utils of ansible-core: the controller's
    package needs a newer Python than the targets have. Made once per ansible-core (a folder of its own per
    path), by a rename so that parallel workers never see it half made.
    """
    package = _ansible_package()
    key = hashlib.sha256(package.encode()).hexdigest()[:12]
    root = os.path.join(ROOT, ".tmp", "modrun", key)
    if os.path.isdir(os.path.join(root, "ansible")):
        return root
    os.makedirs(os.path.dirname(root), exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".%s-" % key, dir=os.path.dirname(root))
    os.mkdir(os.path.join(scratch, "ansible"))
    open(os.path.join(scratch, "ansible", "__init__.py"), "w").close()
    os.symlink(os.path.join(package, "module_utils"), os.path.join(scratch, "ansible", "module_utils"))
    try:
        os.rename(scratch, root)
    except OSError:  # another worker made it first
        shutil.rmtree(scratch, ignore_errors=True)
    return root


def prepare(module, args, workdir, name, check=False, diff=False, python=TARGET_PYTHON):
    """argv that runs wheelhouse.venv.<module> with args (written to <workdir>/<name>.json)."""
    tmpdir = os.path.join(workdir, name + ".tmp")
    os.makedirs(tmpdir, exist_ok=True)
    params = dict(args, _ansible_check_mode=bool(check), _ansible_diff=bool(diff), _ansible_no_log=False,
                  _ansible_module_name="wheelhouse.venv.%s" % module, _ansible_tmpdir=tmpdir,
                  _ansible_keep_remote_files=False, _ansible_verbosity=0)
    args_file = os.path.join(workdir, name + ".json")
    with open(args_file, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": params}, handle)
    boot = _BOOT % ([module_utils_root(), COLLECTIONS], "ansible_collections.wheelhouse.venv.plugins.modules.%s" % module)
    return [python, "-c", boot, args_file]


def _message(item):
    """A warning as the controller shows it: ansible-core 2.19 and newer send a summary object, its event's msg."""
    if isinstance(item, dict) and item.get("__ansible_type") == "WarningSummary":
        return item.get("event", {}).get("msg", "")
    return item


def result_of(stdout, stderr, returncode):
    """The module's result as the json callback would show it.

    A module that printed no JSON object (killed, or a crash before its result) gets the result the controller
    makes of it: failed, "MODULE FAILURE", with its output and exit status.
    """
    try:
        result = json.loads(stdout)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        result = {"failed": True, "msg": "MODULE FAILURE\nSee stdout/stderr for the exact error",
                  "module_stdout": stdout, "module_stderr": stderr, "rc": returncode}
    result.setdefault("changed", False)
    if "warnings" in result:
        result["warnings"] = [_message(item) for item in result["warnings"]]
    result["rc_run"] = returncode
    result["raw_output"] = stdout + stderr
    return result

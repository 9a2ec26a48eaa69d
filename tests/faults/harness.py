"""The fault-injection harness: runs of venv_build (and venv_wheel_build) that can be killed.

A run is the module's own process (tests/lib/modrun.py: the module file run with the target's Python, as
ansible-core's debug mode runs it), or a one-task ansible-playbook with WH_MODULE_VIA=playbook; either way
it starts in a session of its own, so that its whole tree (the module, the installer) can be killed.

Real processes and files only: a run is killed with SIGKILL (its whole process tree, or the installer
or twine alone) at a moment seen from outside (a process or a directory entry appearing), or kills itself
at a named step (WHEELHOUSE_VENV_FAULT_AT, plugins/module_utils/_faults.py).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import time

import yaml

from modrun import prepare, result_of, via_playbook
from playenv import plain_pip_environment

TARGET_PYTHON = os.environ.get("WH_TARGET_PYTHON", "/usr/bin/python3")
FAULT_VARIABLE = "WHEELHOUSE_VENV_FAULT_AT"


# --- processes -----------------------------------------------------------------------------

def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().decode("utf-8", "replace").split("\0")
    except (IOError, OSError):
        return []


def _parent(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (IOError, OSError, IndexError, ValueError):
        return None


def descendants(pid):
    """Every process below pid (children, their children, ...), read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            children.setdefault(_parent(int(entry)), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def installer_pid(root_pid, path_part):
    """The pip process below root_pid installing into a venv whose path contains path_part, or None."""
    for pid in descendants(root_pid):
        argv = _cmdline(pid)
        if "pip" in argv and "install" in argv and any(path_part in a for a in argv):
            return pid
    return None


def uploader_pid(root_pid):
    """The `twine upload` process below root_pid (venv_wheel_build's publish), or None."""
    for pid in descendants(root_pid):
        argv = _cmdline(pid)
        if "upload" in argv and any(os.path.basename(a) == "twine" for a in argv[:2]):
            return pid
    return None


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


class Running(object):
    """One run (the module, or ansible-playbook) in its own session, so that its whole tree can be killed."""

    def __init__(self, argv, env, playbook=True):
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     universal_newlines=True, start_new_session=True)
        self.playbook = playbook
        self.killed = False

    def kill_tree(self):
        self.killed = True
        for pid in [self.proc.pid] + descendants(self.proc.pid):
            kill(pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def wait_for(self, moment, timeout=60):
        """Poll until moment(self) returns a true value (returned) or the run ends (None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = moment(self)
            if found:
                return found
            if self.proc.poll() is not None:
                return None
            time.sleep(0.005)
        return None

    def result(self):
        """The task's result, or None when the run was killed before it printed one.

        A module that died of a signal of its own (a fault step) gets the failed result the controller would
        make of it; one whose tree the test killed got no controller either, so no result.
        """
        out, err = self.proc.communicate()
        if not self.playbook:
            return None if self.killed else result_of(out, err, self.proc.returncode)
        try:
            data = json.loads(out)
            result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            return None
        result["raw_output"] = out + err
        return result


class Player(object):
    """Starts one-task plays of a module (venv_build unless told) on localhost (the json callback gives the result)."""

    def __init__(self, workdir, module="venv_build"):
        self.workdir = workdir
        self.module = module
        self.count = 0

    def start(self, args, fault_at=None):
        self.count += 1
        env = dict(plain_pip_environment(), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        env.pop(FAULT_VARIABLE, None)
        if fault_at:
            env[FAULT_VARIABLE] = fault_at
        if not via_playbook():
            return Running(prepare(self.module, args, self.workdir, "fault-run%d" % self.count), env, playbook=False)
        playbook = os.path.join(self.workdir, "fault-play%d.yml" % self.count)
        task = {"name": self.module, "wheelhouse.venv.%s" % self.module: args, "register": "r"}
        play = {"hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": TARGET_PYTHON},
                "tasks": [task]}
        with open(playbook, "w") as handle:
            yaml.safe_dump([play], handle)
        return Running(["ansible-playbook", "-i", "localhost,", "-c", "local", playbook], env)

    def run(self, args, fault_at=None):
        result = self.start(args, fault_at).result()
        if result is None:
            raise AssertionError("the run printed no result for %s" % args)
        return result


# --- moments seen from outside -----------------------------------------------------------------

def pip_started(path_part):
    return lambda run: installer_pid(run.proc.pid, path_part)


def entry_appears(pattern):
    """A file or directory matching the glob pattern exists (for example a stash of the installer)."""
    return lambda run: glob.glob(pattern)


# --- the venv and the files around it ----------------------------------------------------------

def venv_version(path, module="alpha_mod"):
    """VERSION of module as the venv's own Python imports it, or None when the venv cannot import it."""
    try:
        proc = subprocess.run([os.path.join(path, "bin", "python"), "-c", "import %s; print(%s.VERSION)" % (module, module)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def leftovers(path):
    """What killed runs leave: staging dirs and *.old beside path, installer stashes (~*) in site-packages."""
    parent, name = os.path.split(path)
    found = [e for e in os.listdir(parent) if e.startswith(".%s.venv_build-" % name) or e == name + ".old"]
    found += [os.path.relpath(e, parent) for e in glob.glob(os.path.join(path, "lib", "python*", "site-packages", "~*"))]
    return sorted(found)


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def copy_tree(source, dest):
    if os.path.lexists(dest):
        shutil.rmtree(dest)
    shutil.copytree(source, dest, symlinks=True)

"""Integration tier: ansible-playbook runs the module for real on localhost.

Wheels come from a wheelhouse the session makes (tests/lib/wheelfactory.py), so nothing here needs
a network. pip's machine-wide configuration is switched off so that pip behaves as it does for users.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import io

import pytest
import yaml

from collection_tarball import build, install, tool_environment
from modrun import prepare, result_of, via_playbook
from playenv import plain_pip_environment
from wheelfactory import make_wheel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET_PYTHON = os.environ.get("WH_TARGET_PYTHON", "/usr/bin/python3")


def _sdist_that_fails(folder):
    """brokenpkg-1.0.tar.gz: an sdist whose build always fails, as a real install failure."""
    path = os.path.join(folder, "brokenpkg-1.0.tar.gz")
    files = {
        "brokenpkg-1.0/setup.py": "raise SystemExit('brokenpkg: this build fails on purpose')\n",
        "brokenpkg-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: brokenpkg\nVersion: 1.0\n",
    }
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("wheelhouse"))
    make_wheel(folder, "alpha", "1.0", ["beta>=1"], console_script=True)
    make_wheel(folder, "alpha", "1.1", ["beta>=1"], console_script=True)
    make_wheel(folder, "beta", "1.0")
    make_wheel(folder, "beta", "2.0")
    make_wheel(folder, "gamma", "1.0", ["delta"], extra_files={"gamma_mod/deep.py": "DEEP = True\n"})
    make_wheel(folder, "delta", "1.0")
    make_wheel(folder, "extra-tool", "0.5")
    _sdist_that_fails(folder)
    return folder


class Ansible(object):
    """Runs the collection's modules on localhost and returns the task result.

    module() runs venv_build as ansible-core's debug mode does, without a controller (tests/lib/modrun.py),
    unless the test is marked `controller` or WH_MODULE_VIA=playbook: then, and for play(), a one-task play
    through ansible-playbook (json callback).
    """

    def __init__(self, workdir, controller=False):
        self.workdir = workdir
        self.env = plain_pip_environment()
        self.count = 0
        self.controller = controller or via_playbook()

    def play(self, tasks, check=False, diff=False, extra_args=(), callback="ansible.posix.json", play_keys=None):
        """Run one play of tasks on localhost; play_keys adds play keywords (module_defaults, ...)."""
        self.count += 1
        playbook = os.path.join(self.workdir, "play%d.yml" % self.count)
        play = {"hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": TARGET_PYTHON},
                "tasks": tasks}
        play.update(play_keys or {})
        with open(playbook, "w") as handle:
            yaml.safe_dump([play], handle)
        argv = ["ansible-playbook", "-i", "localhost,", "-c", "local", playbook] + list(extra_args)
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        env = dict(self.env, ANSIBLE_STDOUT_CALLBACK=callback)
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        return proc

    def module(self, check=False, diff=False, **args):
        """Run venv_build once; return its result dict (with 'rc_run', the exit status of the run)."""
        return self.run_module("venv_build", args, check, diff)

    def run_module(self, module, args, check=False, diff=False):
        """Run wheelhouse.venv.<module> once with args; return its result dict (with 'rc_run' and 'raw_output')."""
        if self.controller:
            proc = self.play([{"name": module, "wheelhouse.venv.%s" % module: args, "register": "r"}], check, diff)
            try:
                result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
            except (ValueError, KeyError, IndexError):
                raise AssertionError("ansible-playbook printed no task result:\n%s\n%s" % (proc.stdout, proc.stderr))
            result["rc_run"] = proc.returncode
            result["raw_output"] = proc.stdout + proc.stderr
            return result
        self.count += 1
        argv = prepare(module, args, self.workdir, "module%d" % self.count, check=check, diff=diff)
        proc = subprocess.run(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        return result_of(proc.stdout, proc.stderr, proc.returncode)


@pytest.fixture
def ansible(request, tmp_path):
    """Runs modules and plays; through ansible-playbook for a test marked `controller` (pytest.ini)."""
    return Ansible(str(tmp_path), controller=request.node.get_closest_marker("controller") is not None)


@pytest.fixture
def venv_args(tmp_path, wheelhouse):
    """Arguments every test starts from: a venv in tmp, the session wheelhouse, no index."""
    return {
        "path": str(tmp_path / "venvs" / "app"),
        "python": TARGET_PYTHON,
        "find_links": [wheelhouse],
        "no_index": True,
        "log_file": str(tmp_path / "venv_build.log"),
        "facts_dir": str(tmp_path / "facts.d"),
    }


def venv_run(path, code):
    """Run code with the venv's own Python, as a service would (a Python that cannot start fails with 127)."""
    argv = [os.path.join(path, "bin", "python"), "-c", code]
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    except OSError as exc:
        return subprocess.CompletedProcess(argv, 127, "", str(exc))


def imports(path, *modules):
    proc = venv_run(path, "; ".join("import %s_mod" % m.replace("-", "_") for m in modules))
    return proc.returncode == 0


def tree_snapshot(path):
    """Every file of a tree with its content, for 'exactly as before' comparisons."""
    snapshot = {}
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            full = os.path.join(root, name)
            if os.path.islink(full):
                snapshot[full] = "-> " + os.readlink(full)
            else:
                with open(full, "rb") as handle:
                    snapshot[full] = handle.read()
    return snapshot


@pytest.fixture(scope="session")
def other_python():
    """An interpreter of another minor version than TARGET_PYTHON, with venv and ensurepip."""
    probe = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"
    mine = subprocess.run([TARGET_PYTHON, "-c", probe], stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout.strip()
    candidates = ["/usr/bin/python3.13", "/usr/bin/python3.12"]
    pyenv = os.path.expanduser("~/.pyenv/versions")
    if os.path.isdir(pyenv):
        for version in sorted(os.listdir(pyenv), reverse=True):
            candidates.append(os.path.join(pyenv, version, "bin", "python3"))
    for path in candidates:
        if not os.access(path, os.X_OK):
            continue
        proc = subprocess.run([path, "-c", probe], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        minor = proc.stdout.strip()
        if proc.returncode == 0 and minor != mine and tuple(map(int, minor.split("."))) >= (3, 8):
            return {"path": path, "minor": minor}
    pytest.skip("no second Python (3.8+, other than %s) with venv on this host: looked at %s" % (mine, candidates))


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    """The release tarball, built once a session from the checkout (tests/lib/collection_tarball.py)."""
    folder = str(tmp_path_factory.mktemp("tarball"))
    return build(ROOT, os.path.join(folder, "release"), tool_environment(os.path.join(folder, "no-collections")))


@pytest.fixture(scope="session")
def installed_collection(tmp_path_factory, collection_tarball):
    """A collections path holding only the release tarball, installed offline (ansible_collections/wheelhouse/venv)."""
    path = os.path.join(str(tmp_path_factory.mktemp("installed")), "collections")
    return install(collection_tarball, path, tool_environment(path))

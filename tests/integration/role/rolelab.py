"""The lab of the role's tests on localhost (tests/integration/role/test_*.py): wheels made here, a git
repository, the playbook, and how a run of the role is made and read. Each test file gets its own lab (module
scope), so that the files run on different workers (pytest-xdist --dist loadfile)."""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import subprocess
import uuid

import pytest
import yaml

from playenv import plain_pip_environment
from wheelfactory import make_wheel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PYTHON = os.environ.get("WH_TARGET_PYTHON", "/usr/bin/python3")
FACTS_DIR = "/etc/ansible/facts.d"
# The uploader's password of the index-mode test: '@', '/' and ':' test the quoting.
INDEX_SECRET = "Idx-s3cr@t/pw:x"


def environment(dev_tools_on_path=True):
    return plain_pip_environment(dev_tools_on_path)


def make_git_package(folder, name, version):
    """A git repository holding a setuptools project, tagged v<version>."""
    os.makedirs(os.path.join(folder, name + "_mod"))
    with open(os.path.join(folder, "setup.py"), "w") as handle:
        handle.write("from setuptools import setup\nsetup(name=%r, version=%r, packages=[%r])\n"
                     % (name, version, name + "_mod"))
    with open(os.path.join(folder, name + "_mod", "__init__.py"), "w") as handle:
        handle.write("VERSION = %r\n" % version)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "init.defaultBranch=main"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "v" + version], ["tag", "v" + version]):
        subprocess.run(git + cmd, cwd=folder, check=True)


class RoleRun(object):
    """One ansible-playbook run of the role: return code, output, recap counts."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout + proc.stderr
        m = re.search(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout, re.M)
        self.changed = int(m.group(3)) if m else None
        self.failed = int(m.group(5)) if m else None

    def __repr__(self):
        failures = "\n".join(line[:3000] for line in self.out.splitlines() if line.startswith(("fatal:", "failed:")))
        return "RoleRun(rc=%s, changed=%s)\n%s" % (self.rc, self.changed, failures or self.out[-3000:])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("role")
    wheels = work / "wheelhouse"
    wheels.mkdir()
    make_wheel(str(wheels), "alpha", "1.0", ["beta>=1"])
    make_wheel(str(wheels), "alpha", "1.1", ["beta>=1"])
    make_wheel(str(wheels), "beta", "1.0")
    make_wheel(str(wheels), "beta", "2.0")
    make_wheel(str(wheels), "gamma", "1.0")
    make_git_package(str(work / "tinyrepo"), "tinypkg", "0.3")
    lab = {
        "work": str(work),
        "venv": str(work / "venvs" / "app"),
        "repo": str(work / "repo"),
        "marker": str(work / "handler-ran"),
        "facts": "wheelhouse_role_test_%s" % uuid.uuid4().hex[:8],
        # The builder venv outlives the test module's folder only within this session.
        "builder": str(tmp_path_factory.getbasetemp() / "wheel-builder"),
        "wheelhouse": str(wheels),
    }
    playbook = work / "site.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Venv through the role",
        "hosts": "targets",
        "gather_facts": True,
        "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": "wheelhouse.venv.python_venv_build"}}],
        "handlers": [{"name": "Record that the venv changed", "listen": "venv changed",
                      "ansible.builtin.copy": {"content": "{{ run_id }}\n", "dest": lab["marker"], "mode": "0644"}}],
    }], sort_keys=False))
    lab["playbook"] = str(playbook)
    yield lab
    path = os.path.join(FACTS_DIR, lab["facts"] + ".fact")
    if os.path.exists(path):
        os.unlink(path)


def base_vars(lab):
    return {
        "ansible_python_interpreter": PYTHON,
        "venv_python_executable": PYTHON,
        "venv_install_destination_path": lab["venv"],
        # file://localhost/...: the pip Debian 12's venvs start with (23.0) rejects git+file:///... URLs.
        "venv_pip_packages": ["alpha", "tinypkg @ git+file://localhost%s/tinyrepo@v0.3" % lab["work"]],
        "venv_build_global_constraints": ["beta<2"],
        "venv_build_constraints": [],
        "venv_pip_build_args": "--no-index --find-links %s" % lab["wheelhouse"],
        "venv_wheel_repo_path": lab["repo"],
        "venv_build_host_venv_path": lab["builder"],
        "venv_wheel_build_enable": True,
        "venv_build_base_distro_package_list": [],
        "venv_install_base_distro_package_list": [],
        "venv_distro_package_state": "present",
        "venv_facts_when_changed": [{"section": "app", "option": "run", "value": "{{ run_id }}"}],
        "venv_facts_dest": lab["facts"],
        # python3-apt is installed on Debian hosts running Ansible's apt module: its system files get linked.
        "venv_packages_to_symlink": ["python3-apt"],
        "venv_install_log_file": os.path.join(lab["work"], "logs", "install.log"),
        "venv_build_log_file": os.path.join(lab["work"], "logs", "wheel-build.log"),
    }


def run_role(lab, run_id, inventory=None, check=False, dev_tools_on_path=True, stdout_callback=None, **overrides):
    variables = base_vars(lab)
    variables.update(overrides)
    # None removes an extra var, so that inventory host vars apply.
    variables = {k: v for k, v in variables.items() if v is not None}
    variables["run_id"] = run_id
    vars_file = os.path.join(lab["work"], "vars-%s.json" % run_id)
    with open(vars_file, "w") as handle:
        json.dump(variables, handle)
    inventory_file = os.path.join(lab["work"], "inventory-%s.yml" % run_id)
    with open(inventory_file, "w") as handle:
        yaml.safe_dump(inventory or {"all": {"children": {"targets": {"hosts": {
            "localhost": {"ansible_connection": "local"}}}}}}, handle)
    cmd = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", inventory_file, "-e", "@" + vars_file, lab["playbook"]]
    if check:
        cmd.append("--check")
    env = environment(dev_tools_on_path)
    if stdout_callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = stdout_callback
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=900, check=False)
    return RoleRun(proc)


def platform_dir(lab):
    return platform_dir_of(lab["repo"])


def platform_dir_of(repo):
    base = os.path.join(repo, "wheelhouse", "main")
    entries = os.listdir(base)
    assert len(entries) == 1, entries
    return os.path.join(base, entries[0])


def venv_freeze(lab):
    """The venv's distributions but pip, setuptools and python-apt (linked from the system)."""
    out = subprocess.run([os.path.join(lab["venv"], "bin", "python"), "-c",
                          "import importlib.metadata as m; print('\\n'.join(sorted('%s==%s' % (d.metadata['Name'].lower(), d.version)"
                          " for d in m.distributions() if d.metadata['Name'].lower() not in ('pip', 'setuptools', 'python-apt'))))"],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return out.split()


def sha256_of(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def recorded_lock(venv):
    """The lock file the venv's state file records (venv_build option lock)."""
    with open(os.path.join(venv, "wheelhouse-venv.json")) as handle:
        return json.load(handle).get("lock")


def read_fact(lab):
    parser = configparser.ConfigParser()
    parser.read(os.path.join(FACTS_DIR, lab["facts"] + ".fact"))
    return parser.get("app", "run", fallback=None)


def marker(lab):
    try:
        with open(lab["marker"]) as handle:
            return handle.read().strip()
    except OSError:
        return None

"""tests/lib/playenv.py: the venv whose ansible-playbook runs the integration tests' plays."""

from __future__ import annotations

import os
import shutil
import subprocess

from playenv import ROOT, plain_pip_environment


def _fake_venv(tmp_path, name):
    """A venv folder whose bin/ansible-playbook only says which venv it belongs to."""
    bin_dir = tmp_path / name / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "ansible-playbook"
    script.write_text("#!/bin/sh\necho %s\n" % name)
    script.chmod(0o755)
    return str(tmp_path / name)


def test_dot_venv_by_default(monkeypatch):
    monkeypatch.delenv("WH_ANSIBLE_VENV", raising=False)
    env = plain_pip_environment()
    assert env["PATH"].split(os.pathsep)[0] == os.path.join(ROOT, ".venv", "bin")


def test_wh_ansible_venv_runs_the_plays(monkeypatch, tmp_path):
    venv = _fake_venv(tmp_path, "venv-core-x")
    monkeypatch.setenv("WH_ANSIBLE_VENV", venv)
    env = plain_pip_environment()
    assert env["PATH"].split(os.pathsep)[0] == os.path.join(venv, "bin")
    proc = subprocess.run(["ansible-playbook"], env=env, stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert proc.stdout == "venv-core-x\n"
    # Without the dev tools, that venv is off PATH as .venv would be.
    bare = plain_pip_environment(dev_tools_on_path=False)
    assert os.path.join(venv, "bin") not in bare["PATH"].split(os.pathsep)
    assert shutil.which("ansible-playbook", path=bare["PATH"]) != os.path.join(venv, "bin", "ansible-playbook")

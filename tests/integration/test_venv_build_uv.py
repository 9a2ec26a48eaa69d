"""install_tool: uv, for the cases where the installer matters: install, no-op, changes, drift, prune, failure, check mode."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import ROOT, imports, tree_snapshot

UV = os.path.join(ROOT, ".venv", "bin", "uv")


@pytest.fixture
def uv_args(venv_args):
    assert os.access(UV, os.X_OK), "uv is a pinned dev dependency: run scripts/bootstrap.sh"
    return dict(venv_args, install_tool="uv", uv_executable=UV)


def test_uv_create_noop_change_prune(ansible, uv_args):
    path = uv_args["path"]
    created = ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **uv_args)
    assert created["changed"] is True, created["raw_output"]
    assert any(c.startswith(UV + " pip install --python") for c in created["commands"])
    assert created["packages"]["alpha"] == "1.0"
    assert any(" -m venv --without-pip " in c for c in created["commands"]), "uv needs no pip seeded"
    assert "pip" not in created["packages"]
    assert imports(path, "alpha", "beta")
    assert open(os.path.join(path, "bin", "alpha-version")).readline() == "#!%s/bin/python\n" % path

    noop = ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **uv_args)
    assert noop["changed"] is False and noop["commands"] == []

    changed = ansible.module(requirements=["alpha", "gamma"], constraints=["alpha==1.1"], **uv_args)
    assert changed["added"] == {"gamma": "1.0", "delta": "1.0"}
    assert changed["upgraded"] == {"alpha": {"before": "1.0", "after": "1.1"}}

    pruned = ansible.module(requirements=["alpha"], constraints=["alpha==1.1"], prune=True, **uv_args)
    assert pruned["removed"] == {"gamma": "1.0", "delta": "1.0"}
    assert any(c.startswith(UV + " pip uninstall") for c in pruned["commands"])
    assert ansible.module(requirements=["alpha"], constraints=["alpha==1.1"], prune=True, **uv_args)["changed"] is False


def test_uv_found_on_path_and_drift_repaired(ansible, uv_args):
    args = dict(uv_args, requirements=["alpha"], constraints=["alpha==1.0", "beta==1.0"])
    del args["uv_executable"]  # ansible's environment has the dev venv's bin on PATH
    ansible.module(**args)
    path = uv_args["path"]
    subprocess.run([UV, "pip", "install", "--python", os.path.join(path, "bin", "python"), "--no-index", "-f",
                    uv_args["find_links"][0], "beta==2.0"], check=True, env=ansible.env, stderr=subprocess.DEVNULL)
    repaired = ansible.module(**args)
    assert repaired["upgraded"] == {"beta": {"before": "2.0", "after": "1.0"}}
    assert any(c.startswith(shutil.which("uv", path=ansible.env["PATH"]) + " pip install") for c in repaired["commands"])
    assert ansible.module(**args)["changed"] is False


def test_uv_failure_keeps_the_venv_and_check_mode_predicts(ansible, uv_args):
    path = uv_args["path"]
    ansible.module(requirements=["alpha"], **uv_args)
    before = tree_snapshot(path)
    failed = ansible.module(requirements=["alpha", "brokenpkg"], **uv_args)
    assert failed["failed"] is True and "uv install failed" in failed["msg"]
    assert tree_snapshot(path) == before and imports(path, "alpha")
    rebuild_failed = ansible.module(requirements=["alpha", "brokenpkg"], rebuild=True, **uv_args)
    assert rebuild_failed["failed"] is True
    assert tree_snapshot(path) == before and imports(path, "alpha")

    predicted = ansible.module(check=True, requirements=["alpha", "gamma"], **uv_args)
    assert predicted["changed"] is True and predicted["added"] == {"gamma": "1.0", "delta": "1.0"}
    assert tree_snapshot(path) == before
    assert ansible.module(check=True, requirements=["alpha"], **uv_args)["changed"] is False


def test_switching_installer_keeps_the_packages(ansible, uv_args, venv_args):
    ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **venv_args)
    switched = ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **uv_args)
    assert switched["changed"] is False, "same packages, same files: switching the installer changes nothing"
    assert switched["commands"], "but the installer did check"
    assert ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **uv_args)["commands"] == []

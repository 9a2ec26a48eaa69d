"""build_requirements: installed by an installer run of their own before the requirements, with pip and with uv."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import ROOT, imports, tree_snapshot
from wheelfactory import make_sdist_running, make_wheel

UV = os.path.join(ROOT, ".venv", "bin", "uv")


@pytest.fixture
def tools(tmp_path):
    """needstool's setup.py runs wh-buildtool-version, a console script of wh-buildtool: found only on PATH."""
    folder = tmp_path / "tools"
    folder.mkdir()
    make_wheel(str(folder), "wh-buildtool", "1.0", console_script=True)
    make_sdist_running(str(folder), "needstool", "1.0", ["wh-buildtool-version"])
    return str(folder)


def test_build_requirements_are_installed_first_kept_and_part_of_the_inputs(ansible, venv_args, tools):
    args = dict(venv_args, find_links=venv_args["find_links"] + [tools], extra_args="--no-build-isolation",
                requirements=["needstool"], prune=True)
    created = ansible.module(build_requirements=["wh-buildtool"], **args)
    assert created["changed"] is True, created.get("msg", created["raw_output"])
    build, install = [c for c in created["commands"] if " -m pip install " in c]
    assert "/build-requirements.txt -c " in build and " -r %s/" % os.path.dirname(args["path"]) in build
    assert "needstool" not in build and "/requirements.txt" in install.replace("build-requirements", "")
    assert created["packages"]["needstool"] == "1.0" and created["packages"]["wh-buildtool"] == "1.0", "prune kept it"
    assert imports(args["path"], "needstool")
    assert sorted(os.listdir(os.path.dirname(args["path"])))[-1] == "app", "no files directory is left"

    noop = ansible.module(build_requirements=["wh-buildtool"], **args)
    assert noop["changed"] is False and noop["commands"] == []

    before = tree_snapshot(args["path"])
    predicted = ansible.module(check=True, build_requirements=["wh-buildtool", "extra-tool"], **args)
    assert predicted["changed"] is True and predicted["reasons"] == ["the inputs changed"]
    assert "/build-requirements.txt -c " in predicted["commands"][0]
    assert predicted["packages"]["extra-tool"] == "0.5"
    assert tree_snapshot(args["path"]) == before
    changed = ansible.module(build_requirements=["wh-buildtool", "extra-tool"], **args)
    assert changed["changed"] is True and changed["added"] == {"extra-tool": "0.5"}, changed.get("msg")
    installs = [c for c in changed["commands"] if " -m pip install " in c]
    assert len(installs) == 2, "an install in place: build requirements, then the requirements"
    assert changed["commands"][-1].endswith(" -m pip check --disable-pip-version-check"), changed["commands"]


def test_uv_installs_the_build_requirements_first(ansible, venv_args):
    # (a venv made for uv has no setuptools for an sdist: the sdist case is the pip test's)
    assert os.access(UV, os.X_OK), "uv is a pinned dev dependency: run scripts/bootstrap.sh"
    args = dict(venv_args, install_tool="uv", uv_executable=UV, requirements=["alpha"], constraints=["alpha==1.0"],
                build_requirements=["extra-tool"], prune=True)
    created = ansible.module(**args)
    assert created["changed"] is True, created.get("msg", created["raw_output"])
    build, install = [c for c in created["commands"] if c.startswith(UV + " pip install ")]
    assert "/build-requirements.txt -c " in build and "alpha" not in build and "/requirements.txt" in install
    assert created["packages"] == {"alpha": "1.0", "beta": "2.0", "extra-tool": "0.5"}, "prune kept extra-tool"
    noop = ansible.module(**args)
    assert noop["changed"] is False and noop["commands"] == []


@pytest.fixture(scope="module")
def newer_pip(tmp_path_factory):
    """A folder holding pip 24.2's wheel from PyPI: newer than the pip Debian 12's venvs start with (23.0.1)."""
    folder = str(tmp_path_factory.mktemp("pip-wheel"))
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull)
    subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary", ":all:", "--dest", folder, "pip==24.2"], env=env, check=True)
    return folder


def pip_version(venv):
    proc = subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "--version"], stdout=subprocess.PIPE,
                          universal_newlines=True, check=True)
    return proc.stdout.split()[1]


def test_upgrade_pip_brings_the_venv_s_pip_current_before_it_installs(ansible, venv_args, newer_pip):
    """As upstream upgrades its install tool first: before the requirements, only when they are installed."""
    args = dict(venv_args, find_links=venv_args["find_links"] + [newer_pip], requirements=["alpha"], upgrade_pip=True)
    seeded = subprocess.run([venv_args["python"], "-c", "import ensurepip; print(ensurepip.version())"],
                            stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    assert seeded != "24.2"
    predicted = ansible.module(check=True, **args)
    assert " -m pip install --disable-pip-version-check --no-input --upgrade pip -c " in predicted["commands"][1]
    created = ansible.module(**args)
    assert created["changed"] is True, created.get("msg", created["raw_output"])
    upgrade, install = [c for c in created["commands"] if " -m pip install " in c]
    assert " --upgrade pip -c " in upgrade and "/constraints.txt" in upgrade and " alpha" not in upgrade
    assert pip_version(args["path"]) == "24.2" and imports(args["path"], "alpha")
    assert predicted["commands"] == [c.replace(created["commands"][0].split()[-1], args["path"])
                                     for c in created["commands"]][:len(predicted["commands"])]
    noop = ansible.module(**args)
    assert noop["changed"] is False and noop["commands"] == []
    refused = ansible.module(**dict(args, require_hashes=True))
    assert refused["failed"] is True and "upgrade_pip cannot be used with require_hashes" in refused["msg"]

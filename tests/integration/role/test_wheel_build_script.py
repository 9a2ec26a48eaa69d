"""roles/python_venv_build/files/venv_wheel_build.py for real: pip-compile and pip wheel from .venv.

The dev venv (.venv) has pip and pip-tools, so it serves as the builder venv; the packages come from
a wheelhouse made here. Covers what a play cannot easily provoke: an interrupted build, a build that
another build is holding the lock for, and check mode.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from wheelfactory import make_wheel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "roles", "python_venv_build", "files", "venv_wheel_build.py")
BUILDER = os.path.join(ROOT, ".venv")


@pytest.fixture()
def tree(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    make_wheel(str(wheelhouse), "alpha", "1.0", ["beta>=1"])
    make_wheel(str(wheelhouse), "beta", "1.0")
    return tmp_path


def build(tree, **changes):
    params = {"name": "app", "builder_venv": BUILDER, "requirements": ["alpha"],
              "requirements_path": str(tree / "platform" / "requirements"),
              "wheel_path": str(tree / "platform" / "wheels"),
              "build_args": "--no-index --find-links %s" % (tree / "wheelhouse"), "lock_timeout": 5}
    params.update(changes)
    env = dict(os.environ, PIP_CONFIG_FILE="/dev/null")
    env.pop("PIP_FIND_LINKS", None)
    proc = subprocess.run([sys.executable, SCRIPT, base64.b64encode(json.dumps(params).encode()).decode()],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
                          timeout=300, check=False)
    return proc.returncode, json.loads(proc.stdout)


def test_check_mode_builds_nothing_then_a_build_then_a_no_op(tree):
    rc, result = build(tree, check_mode=True, log_file=str(tree / "logs" / "build.log"))
    assert rc == 0 and result["changed"] and result["status"] == "new"
    assert not (tree / "platform").exists() and not (tree / "logs").exists()
    rc, result = build(tree)
    assert rc == 0 and result["changed"], result
    assert [w["filename"] for w in result["wheels"]] == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"]
    assert result["install_constraints"] == ["alpha==1.0", "beta==1.0"]
    assert len(result["commands"]) == 2 and "pip-compile" in result["commands"][0]
    rc, result = build(tree)
    assert rc == 0 and not result["changed"] and result["commands"] == [] and result["status"] == "current"
    rc, result = build(tree, check_mode=True)
    assert rc == 0 and not result["changed"]


def test_an_interrupted_build_is_finished_by_the_next_run(tree):
    assert build(tree)[0] == 0
    requirements = tree / "platform" / "requirements"
    # As if killed mid-build: the record not written, a temporary folder left behind.
    (requirements / "app-build.json").unlink()
    stale = tree / "platform" / ".build-app-killed"
    (stale / "wheels").mkdir(parents=True)
    rc, result = build(tree)
    assert rc == 0 and result["changed"] and result["status"] == "new"
    assert not stale.exists()
    assert (requirements / "app-build.json").exists()
    assert sorted(os.listdir(tree / "platform" / "wheels")) == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"]


def test_a_missing_wheel_is_built_again(tree):
    assert build(tree)[0] == 0
    (tree / "platform" / "wheels" / "beta-1.0-py3-none-any.whl").unlink()
    rc, result = build(tree)
    assert rc == 0 and result["changed"] and result["status"] == "wheels missing"
    assert (tree / "platform" / "wheels" / "beta-1.0-py3-none-any.whl").exists()


def test_a_build_waits_for_the_lock_and_says_so(tree):
    assert build(tree)[0] == 0
    lock = tree / "platform" / "requirements" / ".wheel-build.lock"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX);"
                               " print('locked', flush=True); time.sleep(30)", str(lock)],
                              stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc, result = build(tree, requirements=["alpha", "beta"], lock_timeout=2)
        assert rc == 1 and "another wheel build holds" in result["msg"]
    finally:
        holder.kill()
        holder.wait()
    rc, result = build(tree, requirements=["alpha", "beta"], lock_timeout=2)
    assert rc == 0 and result["changed"]


def test_tool_wheels_are_fetched_pinned_to_the_builder_and_kept_beside_the_set(tree):
    import importlib.util
    spec = importlib.util.spec_from_file_location("venv_wheel_build", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    version = script.installed_version(BUILDER, "uv")
    assert version, "the dev venv has uv"
    # A stand-in uv wheel of the builder's version: the mechanism, without a 20 MB download.
    make_wheel(str(tree / "wheelhouse"), "uv", version)
    rc, result = build(tree, tool_wheels=["uv"])
    assert rc == 0, result
    assert [w["filename"] for w in result["tool_wheels"]] == ["uv-%s-py3-none-any.whl" % version]
    assert result["install_constraints"] == ["alpha==1.0", "beta==1.0"], "uv is not one of the venv's packages"
    assert (tree / "platform" / "wheels" / ("uv-%s-py3-none-any.whl" % version)).exists()
    (tree / "platform" / "wheels" / ("uv-%s-py3-none-any.whl" % version)).unlink()
    rc, result = build(tree, tool_wheels=["uv"])
    assert rc == 0 and result["status"] == "wheels missing", result


def test_an_unresolvable_requirement_fails_with_the_resolver_message(tree):
    log_file = tree / "logs" / "wheel-build-app.log"
    rc, result = build(tree, requirements=["alpha", "nosuchpkg"], log_file=str(log_file))
    assert rc == 1 and "resolving the requirements failed" in result["msg"] and "nosuchpkg" in result["msg"]
    assert "The whole output is in %s." % log_file in result["msg"]
    log = log_file.read_text()
    assert "wheel build app" in log and "$ " in log and "nosuchpkg" in log
    assert not (tree / "platform" / "requirements" / "app-build.json").exists()

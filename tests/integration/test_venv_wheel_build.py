"""venv_wheel_build for real through ansible-playbook: pip-compile and pip wheel of the builder venv (.venv).

The dev venv (.venv) has pip, pip-tools and uv, so it serves as the builder venv; the packages come
from a wheelhouse made here. Covers what a play of the role cannot easily provoke: check mode, an
interrupted build, a missing or altered wheel, a build another build holds the lock for, failures
and credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, _sdist_that_fails
from wheelfactory import make_sdist_running, make_wheel

from ansible_collections.wheelhouse.venv.plugins.module_utils._wheelbuild import installed_version

BUILDER = os.path.join(ROOT, ".venv")
SECRET = "s3cr3t-t0ken"


@pytest.fixture()
def tree(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    make_wheel(str(wheelhouse), "alpha", "1.0", ["beta>=1"])
    make_wheel(str(wheelhouse), "beta", "1.0")
    return tmp_path


def build(ansible, tree, check=False, **changes):
    """Run the module once on localhost; return its result (with rc_run and raw_output)."""
    args = {"name": "app", "builder_venv": BUILDER, "requirements": ["alpha"],
            "requirements_path": str(tree / "platform" / "requirements"),
            "wheel_path": str(tree / "platform" / "wheels"),
            "build_args": "--no-index --find-links %s" % (tree / "wheelhouse"), "lock_timeout": 5}
    args.update(changes)
    return ansible.run_module("venv_wheel_build", args, check=check)


def test_check_mode_builds_nothing_then_a_build_then_a_no_op(ansible, tree):
    log_file = str(tree / "logs" / "build.log")
    result = build(ansible, tree, check=True, log_file=log_file)
    assert result["rc_run"] == 0 and result["changed"] and result["status"] == "new", result["raw_output"]
    assert result["commands"] == [] and result["install_requirements"] == []
    assert not (tree / "platform").exists() and not (tree / "logs").exists()
    result = build(ansible, tree, log_file=log_file)
    assert result["rc_run"] == 0 and result["changed"], result["raw_output"]
    assert [w["filename"] for w in result["wheels"]] == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"]
    assert result["install_constraints"] == ["alpha==1.0", "beta==1.0"]
    assert result["install_requirements"][0].startswith("alpha==1.0 --hash=sha256:")
    assert len(result["commands"]) == 2 and "pip-compile" in result["commands"][0]
    requirements = tree / "platform" / "requirements"
    assert result["state_file"] == str(requirements / "app-build.json")
    assert json.loads((requirements / "app-build.json").read_text())["fingerprint"] == result["fingerprint"]
    assert (requirements / "app-hashes.txt").read_text().splitlines() == result["install_requirements"]
    assert "wheel build app" in open(log_file).read()
    again = build(ansible, tree, log_file=log_file)
    assert again["rc_run"] == 0 and not again["changed"] and again["commands"] == [] and again["status"] == "current"
    assert again["install_requirements"] == result["install_requirements"]
    checked = build(ansible, tree, check=True)
    assert checked["rc_run"] == 0 and not checked["changed"]
    assert checked["install_requirements"] == result["install_requirements"]


def test_an_interrupted_build_is_finished_by_the_next_run(ansible, tree):
    assert build(ansible, tree)["rc_run"] == 0
    requirements = tree / "platform" / "requirements"
    # As if killed mid-build: the record not written, a temporary folder left behind.
    (requirements / "app-build.json").unlink()
    stale = tree / "platform" / ".build-app-killed"
    (stale / "wheels").mkdir(parents=True)
    result = build(ansible, tree)
    assert result["rc_run"] == 0 and result["changed"] and result["status"] == "new"
    assert not stale.exists()
    assert (requirements / "app-build.json").exists()
    assert sorted(os.listdir(tree / "platform" / "wheels")) == [
        "alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl", "pylock.app.toml"]


def test_a_missing_wheel_is_built_again_and_an_altered_one_fails_until_rebuilt(ansible, tree):
    assert build(ansible, tree)["rc_run"] == 0
    beta = tree / "platform" / "wheels" / "beta-1.0-py3-none-any.whl"
    beta.unlink()
    result = build(ansible, tree)
    assert result["rc_run"] == 0 and result["changed"] and result["status"] == "wheels missing"
    assert result["problem"] == "beta-1.0-py3-none-any.whl" and beta.exists()
    beta.write_bytes(beta.read_bytes() + b"\0")
    assert build(ansible, tree, check=True)["status"] == "tampered"
    failed = build(ansible, tree)
    assert failed["rc_run"] != 0 and failed["failed"] and "venv_wheels_rebuild=true" in failed["msg"]
    rebuilt = build(ansible, tree, rebuild=True)
    assert rebuilt["rc_run"] == 0 and rebuilt["changed"] and rebuilt["status"] == "rebuild", rebuilt["raw_output"]
    assert "--no-cache-dir" in rebuilt["commands"][1]
    assert build(ansible, tree)["status"] == "current"


def test_a_build_waits_for_the_lock_and_says_so(ansible, tree):
    assert build(ansible, tree)["rc_run"] == 0
    lock = tree / "platform" / "requirements" / ".wheel-build.lock"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX);"
                               " print('locked', flush=True); time.sleep(60)", str(lock)],
                              stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = build(ansible, tree, requirements=["alpha", "beta"], lock_timeout=2)
        assert result["rc_run"] != 0 and "another wheel build holds" in result["msg"]
    finally:
        holder.kill()
        holder.wait()
    result = build(ansible, tree, requirements=["alpha", "beta"], lock_timeout=2)
    assert result["rc_run"] == 0 and result["changed"]


def test_tool_wheels_are_fetched_pinned_to_the_builder_and_kept_beside_the_set(ansible, tree):
    version = installed_version(BUILDER, "uv")
    assert version, "the dev venv has uv"
    # A stand-in uv wheel of the builder's version: the mechanism, without a 20 MB download.
    make_wheel(str(tree / "wheelhouse"), "uv", version)
    result = build(ansible, tree, tool_wheels=["uv"])
    assert result["rc_run"] == 0, result["raw_output"]
    assert [w["filename"] for w in result["tool_wheels"]] == ["uv-%s-py3-none-any.whl" % version]
    assert result["install_constraints"] == ["alpha==1.0", "beta==1.0"], "uv is not one of the venv's packages"
    tool_wheel = tree / "platform" / "wheels" / ("uv-%s-py3-none-any.whl" % version)
    assert tool_wheel.exists()
    tool_wheel.unlink()
    result = build(ansible, tree, tool_wheels=["uv"])
    assert result["rc_run"] == 0 and result["status"] == "wheels missing", result


def test_uv_resolves_the_set(ansible, tree):
    result = build(ansible, tree, tool="uv")
    assert result["rc_run"] == 0, result["raw_output"]
    assert "uv pip compile" in result["commands"][0] and result["install_constraints"] == ["alpha==1.0", "beta==1.0"]


def test_an_unresolvable_requirement_fails_with_the_resolver_message(ansible, tree):
    log_file = tree / "logs" / "wheel-build-app.log"
    result = build(ansible, tree, requirements=["alpha", "nosuchpkg"], log_file=str(log_file))
    assert result["rc_run"] != 0 and "resolving the requirements failed" in result["msg"]
    assert "nosuchpkg" in result["msg"] and "The whole output is in %s." % log_file in result["msg"]
    assert len(result["commands"]) == 1
    log = log_file.read_text()
    assert "wheel build app" in log and "$ " in log and "nosuchpkg" in log
    assert not (tree / "platform" / "requirements" / "app-build.json").exists()


def test_a_failing_sdist_build_leads_with_its_error(ansible, tree):
    _sdist_that_fails(str(tree / "wheelhouse"))
    log_file = tree / "build.log"
    result = build(ansible, tree, requirements=["alpha", "brokenpkg"], log_file=str(log_file))
    assert result["rc_run"] != 0 and "resolving the requirements failed (rc=" in result["msg"], result["raw_output"]
    summary = result["msg"].split("\n", 1)[1]
    # The cause first, before pip's traceback; the whole output in the log.
    assert summary.splitlines()[0].startswith(("ERROR", "error", "Error")), summary
    assert "brokenpkg: this build fails on purpose" in log_file.read_text()
    assert not (tree / "platform" / "requirements" / "app-build.json").exists()


def test_credentials_never_show_in_the_result_the_files_or_the_log(ansible, tree):
    log_file = tree / "logs" / "build.log"
    # --no-index: the credentialed indexes are never contacted, but they are inputs of the build.
    result = build(ansible, tree, log_file=str(log_file),
                   build_args="--no-index --find-links %s --extra-index-url https://deploy:%s@127.0.0.1:9/simple"
                   % (tree / "wheelhouse", SECRET),
                   environment={"PIP_EXTRA_INDEX_URL": "https://ci:%s-env@127.0.0.1:9/simple" % SECRET,
                                "UV_INDEX_PRIVATE_PASSWORD": "pw-%s" % SECRET, "PIP_NO_CACHE_DIR": "1"})
    assert result["rc_run"] == 0 and result["changed"], result["raw_output"]
    assert SECRET not in result["raw_output"]
    if "invocation" in result:  # ansible-core 2.21 leaves it out of task results
        assert result["invocation"]["module_args"]["environment"]["PIP_NO_CACHE_DIR"] == "1"
    for folder, _dirs, files in os.walk(str(tree / "platform")):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                assert SECRET.encode() not in handle.read(), os.path.join(folder, name)
    assert SECRET not in log_file.read_text()
    build_json = json.loads((tree / "platform" / "requirements" / "app-build.json").read_text())
    assert "https://deploy:********@127.0.0.1:9/simple" in build_json["inputs"]["build_args"]


def test_the_builder_option_keeps_the_builder_venv_in_the_same_call(ansible, tree):
    builder = tree / "builder"
    options = {"builder_venv": str(builder), "builder": {"python": "/usr/bin/python3",
                                                         "requirements": ["pip-tools>=7.4", "setuptools>=77"]}}
    checked = build(ansible, tree, check=True, **options)
    assert checked["rc_run"] == 0 and checked["changed"], checked["raw_output"]
    assert checked["builder"]["changed"] and checked["builder"]["commands"], checked["builder"]
    assert not builder.exists() and not (tree / "platform").exists()
    made = build(ansible, tree, **options)
    assert made["rc_run"] == 0 and made["changed"], made["raw_output"]
    assert made["builder"]["changed"] and "pip-tools" in made["builder"]["packages"]
    assert installed_version(str(builder), "pip-tools") and made["status"] == "new"
    assert [w["filename"] for w in made["wheels"]] == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"]
    again = build(ansible, tree, **options)
    assert again["rc_run"] == 0 and not again["changed"], again["raw_output"]
    assert not again["builder"]["changed"] and again["builder"]["commands"] == [] and again["commands"] == []


def test_a_builder_that_cannot_be_made_fails_before_any_build(ansible, tree):
    builder = tree / "builder"
    result = build(ansible, tree, builder_venv=str(builder),
                   builder={"requirements": ["wheelhouse-venv-no-such-distribution==9.9"]})
    assert result["rc_run"] != 0 and result.get("failed"), result["raw_output"]
    assert result["msg"].startswith("builder venv %s: " % builder), result["msg"]
    assert "wheelhouse-venv-no-such-distribution" in result["msg"]
    assert not builder.exists() and not (tree / "platform" / "wheels").exists()


def test_build_tools_go_into_the_builder_and_its_bin_is_on_path_for_the_build(ansible, tree):
    # needstool's setup.py runs wh-buildtool-version, a console script of wh-buildtool: found only on PATH.
    make_wheel(str(tree / "wheelhouse"), "wh-buildtool", "1.0", console_script=True)
    make_sdist_running(str(tree / "wheelhouse"), "needstool", "1.0", ["wh-buildtool-version"])
    # pip's isolated build environments hide the builder's packages from the Python processes a build
    # runs (pip >= 25.3 builds every sdist that way), so build tools go with --no-build-isolation, as in
    # the role's defaults.
    builder = tree / "builder"
    options = {"requirements": ["needstool"], "builder_venv": str(builder),
               "build_args": "--no-index --find-links %s --no-build-isolation" % (tree / "wheelhouse"),
               "builder": {"python": "/usr/bin/python3", "requirements": ["pip-tools>=7.4", "setuptools>=77"],
                           "environment": {"PIP_FIND_LINKS": str(tree / "wheelhouse")}}}
    without = build(ansible, tree, **options)
    assert without["rc_run"] != 0 and "wh-buildtool-version" in without["msg"], without["raw_output"]
    made = build(ansible, tree, build_tools=["wh-buildtool"], **options)
    assert made["rc_run"] == 0 and made["changed"], made["raw_output"]
    assert made["builder"]["packages"]["wh-buildtool"] == "1.0"
    assert [w["filename"] for w in made["wheels"]] == ["needstool-1.0-py3-none-any.whl"]
    again = build(ansible, tree, build_tools=["wh-buildtool"], **options)
    assert again["rc_run"] == 0 and not again["changed"] and again["commands"] == [], again["raw_output"]

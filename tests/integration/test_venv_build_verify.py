"""Verified before it goes live: check_dependencies, verify_imports, verify_command on staged and in-place changes."""

from __future__ import annotations

import os

from conftest import ROOT, imports, tree_snapshot

UV = os.path.join(ROOT, ".venv", "bin", "uv")


def beside(path):
    """The entries beside the venv made by a run of ours (staging directories of a build among them)."""
    return sorted(n for n in os.listdir(os.path.dirname(path)) if n != os.path.basename(path) and not n.endswith(".lock"))


def test_a_failing_import_on_a_rebuild_keeps_the_old_venv_untouched(ansible, venv_args):
    path = venv_args["path"]
    created = ansible.module(requirements=["alpha"], verify_imports=["alpha_mod"], verify_command=["alpha-version"],
                             **venv_args)
    assert created["changed"] is True, created["raw_output"]
    assert any(c.endswith(" -m pip check --disable-pip-version-check") for c in created["commands"])
    assert any(" -I -c " in c and c.endswith(" alpha_mod") for c in created["commands"])
    assert created["commands"][-1] == "alpha-version", "the console script is found by name in the staged venv"
    before = tree_snapshot(path)

    failed = ansible.module(requirements=["alpha"], verify_imports=["alpha_mod", "nosuch_mod"], rebuild=True, **venv_args)
    assert failed["failed"] is True and failed["changed"] is False, failed
    assert "verification failed: verify_imports exited with code 1" in failed["msg"]
    assert "No module named 'nosuch_mod'" in failed["msg"]
    assert "the new venv was not swapped in and is removed: the venv at %s is as it was before this run" % path \
        in failed["msg"]
    assert tree_snapshot(path) == before and imports(path, "alpha")
    assert beside(path) == [], "the staging directory is removed"

    new_path = os.path.join(os.path.dirname(path), "new")
    refused = ansible.module(**dict(venv_args, path=new_path, requirements=["alpha"], verify_command=["false"]))
    assert "verification failed: verify_command exited with code 1" in refused["msg"]
    assert not os.path.lexists(new_path), "a new venv that fails its checks is never put in place"


def test_a_failing_verify_command_in_place_fails_clearly_and_the_next_run_tries_again(ansible, venv_args, tmp_path):
    path = venv_args["path"]
    ready = tmp_path / "ready"
    check = ["sh", "-c", "echo app not ready >&2; test -e %s" % ready]
    ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **venv_args)

    failed = ansible.module(requirements=["alpha"], constraints=["alpha==1.1"], verify_command=check, **venv_args)
    assert failed["failed"] is True and failed["changed"] is True, "packages did change"
    assert "verification failed: verify_command exited with code 1" in failed["msg"]
    assert "the venv at %s changed (alpha 1.0->1.1) and is marked unverified: the next run installs and verifies " \
           "again" % path in failed["msg"]
    assert failed["msg"].endswith("Output:\napp not ready"), failed["msg"]

    again = ansible.module(requirements=["alpha"], constraints=["alpha==1.1"], verify_command=check, **venv_args)
    assert again["failed"] is True and again["changed"] is False and "did not change" in again["msg"]

    ready.write_text("")
    passed = ansible.module(requirements=["alpha"], constraints=["alpha==1.1"], verify_command=check, **venv_args)
    assert passed["changed"] is True, "the change of the failed run is complete now"
    assert any("the verification after an earlier install failed (verify_command failed" in r for r in passed["reasons"])
    assert any(" -m pip install " in c for c in passed["commands"]) and passed["commands"][-1].startswith("sh -c ")
    noop = ansible.module(requirements=["alpha"], constraints=["alpha==1.1"], verify_command=check, **venv_args)
    assert noop["changed"] is False and noop["commands"] == []


def test_unmet_dependencies_fail_the_dependency_check_with_pip_and_uv(ansible, venv_args):
    path = venv_args["path"]
    for tool in ({}, {"install_tool": "uv", "uv_executable": UV}):
        failed = ansible.module(requirements=["alpha"], extra_args="--no-deps", **dict(venv_args, **tool))
        assert failed["failed"] is True, failed["raw_output"]
        assert "verification failed: the dependency check exited with code 1" in failed["msg"]
        assert "beta" in failed["msg"].split("Output:")[1]
        assert not os.path.lexists(path) and beside(path) == []
    unchecked = ansible.module(requirements=["alpha"], extra_args="--no-deps", check_dependencies=False, **venv_args)
    assert unchecked["changed"] is True and unchecked["packages"].get("beta") is None
    assert not any(" check" in c for c in unchecked["commands"])


def test_check_mode_lists_the_verifications_and_a_no_op_runs_none(ansible, venv_args):
    path = venv_args["path"]
    args = dict(venv_args, requirements=["alpha"], verify_imports=["alpha_mod"], verify_command=["alpha-version"])
    predicted = ansible.module(check=True, **args)
    assert predicted["changed"] is True and not os.path.lexists(path)
    assert [c for c in predicted["commands"] if "pip check" in c or "alpha_mod" in c or c == "alpha-version"] == \
        predicted["commands"][-3:]
    ansible.module(constraints=["alpha==1.0"], **args)
    before = tree_snapshot(path)
    assert ansible.module(constraints=["alpha==1.0"], **args)["commands"] == []
    assert ansible.module(check=True, constraints=["alpha==1.0"], **args)["commands"] == []
    upgrade = ansible.module(check=True, constraints=["alpha==1.1"], **args)
    assert upgrade["changed"] is True and upgrade["commands"][-1] == "alpha-version"
    assert any(c.endswith("-m pip check --disable-pip-version-check") for c in upgrade["commands"])
    assert tree_snapshot(path) == before


def test_a_verification_that_hangs_is_killed_at_verify_timeout_and_the_old_venv_stays_live(ansible, venv_args, tmp_path):
    """A verify_command that never ends (and leaves a child behind) is killed with its process group."""
    path = venv_args["path"]
    assert ansible.module(requirements=["alpha"], **venv_args)["changed"] is True
    before = tree_snapshot(path)
    marker = str(tmp_path / "child-alive")
    hang = ["sh", "-c", "(sleep 30; touch %s) & sleep 600" % marker]
    failed = ansible.module(requirements=["alpha"], rebuild=True, verify_command=hang, verify_timeout=2, **venv_args)
    assert failed["failed"] is True and failed["changed"] is False, failed["raw_output"]
    assert "verification failed: verify_command timed out after 2 s (verify_timeout) and was killed" in failed["msg"]
    assert "the new venv was not swapped in and is removed: the venv at %s is as it was before this run" % path \
        in failed["msg"]
    assert tree_snapshot(path) == before and imports(path, "alpha")
    assert beside(path) == []
    with open(venv_args["log_file"]) as handle:
        assert "verification failed: verify_command timed out after 2 s" in handle.read()
    # the child of the command went with it: nothing is left to touch the marker later
    procs = [p for p in os.listdir("/proc") if p.isdigit()]
    alive = []
    for pid in procs:
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                if marker.encode() in handle.read():
                    alive.append(pid)
        except OSError:
            pass
    assert alive == [], "the verification's children outlived its timeout"
    bad = ansible.module(requirements=["alpha"], verify_timeout=0, **venv_args)
    assert bad["failed"] is True and "verify_timeout must be a whole number of seconds of 1 or more, got 0" in bad["msg"]

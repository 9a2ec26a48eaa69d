"""Kept releases (keep_previous, rollback): the releases folder read, pruned and repaired on real directories."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _releases as releases
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import STATE_FILE

# managed: a fixture of test_plan
from test_plan import INSTALLED, managed, params, plan_for, record_state  # noqa: F401 pylint: disable=unused-import


def write_state(folder, **state):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "pyvenv.cfg"), "w") as handle:
        handle.write("version = 3.11.2\n")
    with open(os.path.join(folder, STATE_FILE), "w") as handle:
        json.dump(dict({"format": 1}, **state), handle)


@pytest.fixture
def site(tmp_path):
    """A live venv (release 3) with releases 1 and 2 kept; 1 was live last (a rollback from 2 to 1, then a build)."""
    path = str(tmp_path / "app")
    write_state(path, release="3-20250101T000003")
    folder = releases.releases_dir(path)
    write_state(os.path.join(folder, "1-20250101T000001"), release="1-20250101T000001", retired="200.0")
    write_state(os.path.join(folder, "2-20250101T000002"), release="2-20250101T000002", retired="100.0")
    return path


def test_releases_are_read_and_ordered_by_when_they_were_live(site):
    kept = releases.Releases(site, {"release": "3-20250101T000003"})
    assert kept.folder == os.path.join(os.path.dirname(site), ".app.releases")
    assert kept.newest_first() == ["1-20250101T000001", "2-20250101T000002"]
    assert kept.to_prune(1) == ["2-20250101T000002"] and kept.next_number() == 4
    # a rollback goes to the newest release older than the live one, by number
    assert kept.rollback_target() == "2-20250101T000002"
    assert releases.Releases(site, {"release": "2-20250101T000002"}).rollback_target() == "1-20250101T000001"
    assert releases.Releases(site, {"release": "1-20250101T000001"}).rollback_target() is None
    kept.check("a test")  # nothing foreign: no error


def test_entries_that_are_not_our_releases_are_refused_and_never_removed(site):
    folder = releases.releases_dir(site)
    with open(os.path.join(folder, "notes.txt"), "w") as handle:
        handle.write("mine\n")
    os.makedirs(os.path.join(folder, "backup"))
    with open(os.path.join(folder, "1-20250101T000001", "mine.cfg"), "w") as handle:
        handle.write("x\n")
    kept = releases.Releases(site, {"release": "3-20250101T000003"})
    assert kept.foreign == ["1-20250101T000001/mine.cfg", "backup", "notes.txt"]
    with pytest.raises(VenvBuildError) as error:
        kept.check("a test")
    assert "backup, notes.txt" in error.value.msg and "move these out" in error.value.msg


def test_prune_removes_only_the_oldest_beyond_keep(site):
    kept = releases.Releases(site, {"release": "3-20250101T000003"})
    logged = []
    assert releases.prune(kept, 1, logged.append) == ["2-20250101T000002"]
    assert os.listdir(kept.folder) == ["1-20250101T000001"] and len(logged) == 1
    assert releases.prune(kept, 0, logged.append) == ["1-20250101T000001"]
    assert not os.path.exists(kept.folder)  # an empty releases folder goes too


def test_prune_keeps_a_release_holding_a_user_file_deep_inside(site):
    """The check before the run reads the top level of kept releases only; prune walks the one it removes."""
    kept = releases.Releases(site, {"release": "3-20250101T000003"})
    deep = os.path.join(kept.folder, "2-20250101T000002", "lib", "python3.11", "site-packages", "notes.txt")
    os.makedirs(os.path.dirname(deep))
    with open(deep, "w") as handle:
        handle.write("mine\n")
    assert releases.Releases(site, {"release": "3-20250101T000003"}).foreign == []
    logged, warned = [], []
    assert releases.prune(kept, 1, logged.append, warned.append) == []
    assert os.path.exists(deep) and len(warned) == 1 and "lib/python3.11/site-packages/notes.txt" in warned[0]
    assert releases.prune(kept, 0, logged.append, warned.append) == ["1-20250101T000001"]
    assert os.path.exists(deep)


def test_repair_after_killed_runs(site):
    folder = releases.releases_dir(site)
    # a rollback killed between its swap and its rename: the venv that was live is under the target's name
    write_state(os.path.join(folder, "2-20250101T000002"), release="4-20250101T000004")
    # a prune killed while removing, and a build killed between its swap and keeping the replaced venv
    write_state(os.path.join(folder, releases.REMOVING + "1-20250101T000001"), release="1-20250101T000001")
    replaced = os.path.join(os.path.dirname(site), ".app.venv_build-abcd1234")
    write_state(replaced, release="2-20250101T000002")
    # the staging directory of a build killed before its swap: a newer id than the live one, not kept
    staged = os.path.join(os.path.dirname(site), ".app.venv_build-efgh5678")
    write_state(staged, release="5-20250101T000005")
    before = sorted(os.listdir(folder)) + sorted(os.listdir(os.path.dirname(site)))
    steps = releases.repair_steps(site)  # what check mode reports: the same steps, nothing done
    assert [kind for kind, dummy, dummy2 in steps] == ["remove", "move", "keep"], steps
    assert sorted(os.listdir(folder)) + sorted(os.listdir(os.path.dirname(site))) == before
    moved = releases.repair(site)
    assert moved == [releases.step_text(*step) for step in steps]
    assert len(moved) == 3, moved
    assert sorted(os.listdir(folder)) == ["1-20250101T000001", "2-20250101T000002", "4-20250101T000004"]
    assert os.path.isdir(staged) and not os.path.exists(replaced)


def test_held_inputs_plan_nothing_and_warn(managed):  # noqa: F811
    other = VenvSpec(params(managed.path, requirements=["alpha", "gamma"]))
    assert plan_for(other).action == "install"
    with open(os.path.join(managed.path, STATE_FILE)) as handle:
        state = json.load(handle)
    interp_version = state["python"]["version"]
    state["rolled_back_from"] = {"release": "2-20250101T000002", "at": "now",
                                 "fingerprint": "0" * 64 + " " + other.fingerprint(interp_version)}
    with open(os.path.join(managed.path, STATE_FILE), "w") as handle:
        json.dump(state, handle)
    plan = plan_for(other)
    assert plan.action is None and "rolled back" in plan.held and "rebuild=true" in plan.held
    third = VenvSpec(params(managed.path, requirements=["alpha", "delta"]))
    assert plan_for(third).action == "install" and plan_for(third).held is None


def test_keep_previous_builds_every_change_beside(managed):  # noqa: F811
    changed = VenvSpec(params(managed.path, requirements=["alpha", "gamma"], keep_previous=2))
    plan = plan_for(changed)
    assert plan.action == "rebuild" and "keep_previous=2" in plan.reasons[-1]
    assert plan_for(VenvSpec(params(managed.path, keep_previous=2))).action is None
    latest = VenvSpec(params(managed.path, keep_previous=2, package_state="latest"))
    record_state(managed.path, latest, INSTALLED)
    assert plan_for(latest).action == "install" and plan_for(latest).looks_for_newer  # the dry run decides


@pytest.mark.parametrize("extra, message", [
    ({"keep_previous": -1}, "keep_previous must be a number"),
    ({"rollback": True, "rebuild": True}, "cannot go with rebuild=true"),
    ({"rollback": True, "state": "absent"}, "cannot go with state=absent"),
])
def test_release_options_are_checked(tmp_path, extra, message):
    with pytest.raises(VenvBuildError) as error:
        VenvSpec(params(tmp_path / "venv", **extra))
    assert message in error.value.msg

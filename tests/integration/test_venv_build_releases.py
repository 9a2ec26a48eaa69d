"""Releases and rollback: keep_previous keeps earlier venvs beside the live one, rollback switches back to them."""

from __future__ import annotations

import json
import os
import subprocess
import time

from conftest import imports, tree_snapshot, venv_run

A = ["alpha==1.0"]
B = ["alpha==1.1"]
C = ["alpha==1.0", "beta==1.0"]
D = ["gamma"]


def releases_folder(path):
    return os.path.join(os.path.dirname(path), ".%s.releases" % os.path.basename(path))


def state(path):
    with open(os.path.join(path, "wheelhouse-venv.json")) as handle:
        return json.load(handle)


def alpha(path):
    proc = venv_run(path, "import alpha_mod; print(alpha_mod.VERSION)")
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_keep_previous_keeps_the_last_n_and_removes_older(ansible, venv_args):
    path = venv_args["path"]
    results = []
    for requirements in (A, B, C):
        results.append(ansible.module(requirements=requirements, keep_previous=2, **venv_args))
        assert results[-1]["changed"] is True, results[-1]["raw_output"]
    first, second, third = (r["release"] for r in results)
    assert state(path)["release"] == third
    assert [r.split("-")[0] for r in (first, second, third)] == ["1", "2", "3"]
    assert results[-1]["releases"] == [second, first]
    # the change from A to B is built beside (a new release), not installed in place
    assert any("keep_previous=2" in reason for reason in results[1]["reasons"]), results[1]["reasons"]
    kept = releases_folder(path)
    assert sorted(os.listdir(kept)) == sorted([first, second])
    assert state(os.path.join(kept, first))["release"] == first and alpha(path) == "1.0"
    assert state(os.path.join(kept, second))["packages"]["alpha"] == "1.1"

    again = ansible.module(requirements=C, keep_previous=2, **venv_args)
    assert again["changed"] is False and again["release"] == third and again["releases"] == [second, first]

    fourth = ansible.module(requirements=D, keep_previous=2, **venv_args)
    assert fourth["changed"] is True and fourth["releases"] == [third, second], fourth["raw_output"]
    assert sorted(os.listdir(kept)) == sorted([second, third])  # the oldest was removed
    assert imports(path, "gamma", "delta") and not imports(path, "alpha")
    assert sorted(e for e in os.listdir(os.path.dirname(path)) if not e.startswith(".app.venv_build")) == \
        [".app.releases", "app"]


def test_rollback_switches_back_and_does_not_flap(ansible, venv_args):
    path = venv_args["path"]
    facts = [{"section": "app", "option": "deployed", "value": "yes"}]
    one = ansible.module(requirements=A, keep_previous=1, facts=facts, **venv_args)
    two = ansible.module(requirements=B, keep_previous=1, facts=facts, **venv_args)
    assert alpha(path) == "1.1" and two["releases"] == [one["release"]], two["raw_output"]
    before = tree_snapshot(os.path.dirname(path))

    predicted = ansible.module(check=True, rollback=True, keep_previous=1, requirements=B, **venv_args)
    assert predicted["changed"] is True and predicted["release"] == one["release"], predicted["raw_output"]
    assert predicted["packages"]["alpha"] == "1.0" and predicted["releases"] == [two["release"]]
    assert tree_snapshot(os.path.dirname(path)) == before

    back = ansible.module(rollback=True, keep_previous=1, requirements=B, facts=facts, **venv_args)
    assert back["changed"] is True, back["raw_output"]
    assert back["release"] == one["release"] and back["releases"] == [two["release"]]
    assert back["upgraded"] == {"alpha": {"before": "1.1", "after": "1.0"}}
    assert alpha(path) == "1.0" and state(path)["rolled_back_from"]["release"] == two["release"]
    with open(os.path.join(venv_args["facts_dir"], "app.fact")) as handle:
        fact = handle.read()
    assert "live = %s" % one["release"] in fact and "kept = %s" % two["release"] in fact, fact

    # the inputs rolled back from: kept as it is, with a warning naming the way forward
    held = ansible.module(requirements=B, keep_previous=1, **venv_args)
    assert held["changed"] is False and alpha(path) == "1.0", held["raw_output"]
    assert any("rolled back" in w and "rebuild=true" in w for w in held.get("warnings", [])), held.get("warnings")
    # a second rollback has nothing older than the live release: it fails before any change
    further = ansible.module(rollback=True, requirements=B, **venv_args)
    assert further["failed"] is True and "nothing to switch back to" in further["msg"], further["msg"]
    assert alpha(path) == "1.0"
    # other inputs move forward again
    forward = ansible.module(requirements=C, keep_previous=1, **venv_args)
    assert forward["changed"] is True and alpha(path) == "1.0" and imports(path, "beta"), forward["raw_output"]
    assert forward["releases"] == [one["release"]] and "rolled_back_from" not in state(path)


def test_rollback_with_nothing_kept_fails_before_any_change(ansible, venv_args):
    path = venv_args["path"]
    made = ansible.module(requirements=A, **venv_args)
    assert made["changed"] is True and made["releases"] == [], made["raw_output"]
    before = tree_snapshot(os.path.dirname(path))
    for check in (True, False):
        failed = ansible.module(check=check, rollback=True, **venv_args)
        assert failed["failed"] is True, failed["raw_output"]
        assert "nothing to switch back to" in failed["msg"] and "keep_previous" in failed["msg"], failed["msg"]
    assert tree_snapshot(os.path.dirname(path)) == before


def test_rollback_while_a_process_runs_from_the_venv(ansible, venv_args, tmp_path):
    path = venv_args["path"]
    ansible.module(requirements=A, keep_previous=1, **venv_args)
    ansible.module(requirements=B, keep_previous=1, **venv_args)
    ready, go = str(tmp_path / "ready"), str(tmp_path / "go")
    code = ("import alpha_mod, os, sys, time\n"
            "open(%r, 'w').close()\n"
            "while not os.path.exists(%r):\n    time.sleep(0.05)\n"
            "import beta_mod\n"  # imported after the rollback, from the path the process started with
            "print(alpha_mod.VERSION, beta_mod.VERSION)\n" % (ready, go))
    proc = subprocess.Popen([os.path.join(path, "bin", "python"), "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    try:
        deadline = time.time() + 30
        while not os.path.exists(ready) and time.time() < deadline:
            time.sleep(0.05)
        back = ansible.module(rollback=True, **venv_args)
        assert back["changed"] is True, back["raw_output"]
        assert proc.poll() is None, "the process from the venv rolled back from stopped"
        open(go, "w").close()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.split() == ["1.1", "2.0"]  # it runs on with alpha 1.1 loaded, and imports from the live venv
    assert alpha(path) == "1.0"


def test_foreign_entry_in_the_releases_folder_is_refused(ansible, venv_args):
    path = venv_args["path"]
    ansible.module(requirements=A, keep_previous=1, **venv_args)
    ansible.module(requirements=B, keep_previous=1, **venv_args)
    notes = os.path.join(releases_folder(path), "notes.txt")
    with open(notes, "w") as handle:
        handle.write("mine\n")
    before = tree_snapshot(os.path.dirname(path))
    for args in ({"requirements": C, "keep_previous": 1}, {"rollback": True}):
        refused = ansible.module(**dict(venv_args, **args))
        assert refused["failed"] is True, refused["raw_output"]
        assert "notes.txt" in refused["msg"] and "not venvs this module kept" in refused["msg"], refused["msg"]
    assert tree_snapshot(os.path.dirname(path)) == before and alpha(path) == "1.1"


def test_keep_previous_check_mode_touches_nothing(ansible, venv_args):
    path = venv_args["path"]
    ansible.module(requirements=A, keep_previous=1, **venv_args)
    before = tree_snapshot(os.path.dirname(path))
    predicted = ansible.module(check=True, requirements=B, keep_previous=1, **venv_args)
    assert predicted["changed"] is True and any("keep_previous=1" in r for r in predicted["reasons"])
    assert tree_snapshot(os.path.dirname(path)) == before
    real = ansible.module(requirements=B, keep_previous=1, **venv_args)
    assert real["changed"] is True and len(real["releases"]) == 1, real["raw_output"]


def test_release_id_planted_in_the_state_file_steers_nothing(ansible, venv_args):
    """The venv's owner may write its state file: a release id that is a path moves nothing outside the releases
    folder, and the kept release is not lost (issue: what another user can write never steers root)."""
    path = venv_args["path"]
    first = ansible.module(requirements=A, keep_previous=1, **venv_args)
    second = ansible.module(requirements=B, keep_previous=1, **venv_args)
    assert second["changed"] is True and second["releases"] == [first["release"]], second["raw_output"]
    escaped = "wh-escaped-%d" % os.getpid()
    outside = os.path.join(os.path.dirname(os.path.dirname(path)), escaped)
    planted = dict(state(path), release="../../%s" % escaped)
    with open(os.path.join(path, "wheelhouse-venv.json"), "w") as handle:
        json.dump(planted, handle)

    third = ansible.module(requirements=C, keep_previous=1, **venv_args)
    try:
        assert not os.path.lexists(outside), "the replaced venv was moved out of the releases folder"
    finally:
        subprocess.run(["rm", "-rf", outside], check=False)
    assert third["changed"] is True, third["raw_output"]
    assert any("its field release " in w and "treated as missing" in w for w in third.get("warnings", [])), third
    kept = third["releases"]
    assert len(kept) == 1 and kept[0] != first["release"]
    # the replaced venv (B) is the kept release, inside the releases folder, whole
    assert os.listdir(releases_folder(path)) == kept
    assert state(os.path.join(releases_folder(path), kept[0]))["packages"]["alpha"] == "1.1"
    assert imports(path, "alpha", "beta") and state(path)["release"] != planted["release"]


def test_check_mode_after_an_interrupted_rollback_predicts_the_release_the_real_run_keeps(ansible, venv_args):
    """A rollback killed between its swap and the rename leaves the replaced venv in the releases folder under the
    wrong name; the next run keeps it under its own id, and check mode says so instead of "would be removed"."""
    path = venv_args["path"]
    one = ansible.module(requirements=A, keep_previous=1, **venv_args)
    two = ansible.module(requirements=B, keep_previous=1, **venv_args)
    ansible.env["WHEELHOUSE_VENV_FAULT_AT"] = "rollback-swapped"
    try:
        killed = ansible.module(rollback=True, keep_previous=1, requirements=B, **venv_args)
    finally:
        del ansible.env["WHEELHOUSE_VENV_FAULT_AT"]
    assert killed.get("failed") is True and alpha(path) == "1.0", killed["raw_output"]
    kept = releases_folder(path)
    assert os.listdir(kept) == [one["release"]] and state(os.path.join(kept, one["release"]))["release"] == two["release"]
    before = tree_snapshot(os.path.dirname(path))

    predicted = ansible.module(check=True, requirements=B, keep_previous=1, **venv_args)
    assert tree_snapshot(os.path.dirname(path)) == before
    said = " ".join(predicted["reasons"])
    assert "removed" not in said and "%s would be moved to %s" % (os.path.join(kept, one["release"]),
                                                                  os.path.join(kept, two["release"])) in said, said
    finished = ansible.module(requirements=B, keep_previous=1, **venv_args)
    assert alpha(path) == "1.0" and sorted(os.listdir(kept)) == [two["release"]], finished["raw_output"]
    assert state(os.path.join(kept, two["release"]))["packages"]["alpha"] == "1.1"
    assert any("moved %s to %s" % (os.path.join(kept, one["release"]), os.path.join(kept, two["release"])) in w
               for w in finished.get("warnings", [])), finished.get("warnings")


def test_a_rollback_whose_carry_cannot_be_made_is_refused_before_any_change_in_check_mode_too(ansible, venv_args):
    path = venv_args["path"]
    ansible.module(requirements=A, keep_previous=1, **venv_args)
    two = ansible.module(requirements=D, keep_previous=1, **venv_args)
    site = os.path.join(path, "lib", "python%s" % ".".join(two["python_version"].split(".")[:2]), "site-packages")
    with open(os.path.join(site, "gamma_mod", "user.txt"), "w") as handle:
        handle.write("the user's, in a package folder the release rolled back to does not have\n")
    before = tree_snapshot(os.path.dirname(path))
    for check in (True, False):
        refused = ansible.module(check=check, rollback=True, keep_previous=1, foreign_files="carry", requirements=D,
                                 **venv_args)
        assert refused.get("failed") is True and "cannot carry lib/" in refused["msg"], (check, refused["raw_output"])
        assert tree_snapshot(os.path.dirname(path)) == before

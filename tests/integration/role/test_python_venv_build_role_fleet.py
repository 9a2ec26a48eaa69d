"""The python_venv_build role for real on localhost, the second half: several venvs and hosts in one play, the
early failures, build requirements on the build host, what a no-op converge asks of each host, a converge after a
rollback. A lab of its own (tests/integration/role/rolelab.py), so that it runs beside the first half's
sequence (test_python_venv_build_role.py) on another worker."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from wheelfactory import make_sdist_running, make_wheel

from rolelab import (  # noqa: F401 pylint: disable=unused-import
    PYTHON, lab, platform_dir, run_role, venv_freeze,
)


def two_venvs_playbook(lab, second_packages):
    """Two include_role of the role in one play: venv one, then venv two."""
    path = os.path.join(lab["work"], "two-venvs.yml")
    with open(path, "w") as handle:
        yaml.safe_dump([{
            "name": "Two venvs through the role", "hosts": "targets", "gather_facts": True,
            "tasks": [
                {"name": "Venv one", "ansible.builtin.include_role": {"name": "wheelhouse.venv.python_venv_build"},
                 "vars": {"venv_install_destination_path": "{{ venv_base }}/one", "venv_pip_packages": ["alpha"]}},
                {"name": "Venv two", "ansible.builtin.include_role": {"name": "wheelhouse.venv.python_venv_build"},
                 "vars": {"venv_install_destination_path": "{{ venv_base }}/two", "venv_pip_packages": second_packages}},
            ]}], handle, sort_keys=False)
    return path


def test_two_venvs_in_one_play_then_a_failed_build_stops_its_targets(lab):
    hosts = {name: {"ansible_connection": "local", "venv_base": os.path.join(lab["work"], "venvs", name)}
             for name in ("h1", "h2")}
    inventory = {"all": {"children": {"targets": {"hosts": hosts}}}}
    original = lab["playbook"]
    try:
        lab["playbook"] = two_venvs_playbook(lab, ["gamma"])
        options = dict(venv_install_destination_path=None, venv_pip_packages=None,
                       venv_wheel_push_controller_path=os.path.join(lab["work"], "controller-two"),
                       venv_wheel_push_target_path=os.path.join(lab["work"], "push-two"))
        run = run_role(lab, "two", inventory=inventory, **options)
        assert run.rc == 0, run
        for host in ("h1", "h2"):
            assert "gamma==1.0" in open(os.path.join(lab["work"], "venvs", host, "two", "requirements.txt")).read()
            assert "alpha==1.1" in open(os.path.join(lab["work"], "venvs", host, "one", "requirements.txt")).read()
        again = run_role(lab, "two-again", inventory=inventory, **options)
        assert again.rc == 0 and again.changed == 0, again
        # Venv two's build now fails on h1 (its build host): h2 must not get venv one's wheel set as venv two.
        lab["playbook"] = two_venvs_playbook(lab, ["gamma", "nosuchpkg"])
        failed = run_role(lab, "two-failed", inventory=inventory, **options)
        assert failed.rc != 0, failed
        assert "resolving the requirements failed" in failed.out and "were not built" in failed.out, failed
        assert "gamma==1.0" in open(os.path.join(lab["work"], "venvs", "h2", "two", "requirements.txt")).read()
        assert "alpha" not in open(os.path.join(lab["work"], "venvs", "h2", "two", "requirements.txt")).read()
    finally:
        lab["playbook"] = original


def three_local_hosts(lab, **host_vars):
    hosts = {}
    for name in ("t1", "t2", "t3"):
        hosts[name] = dict({"ansible_connection": "local",
                            "venv_install_destination_path": os.path.join(lab["work"], "venvs", name)}, **host_vars)
    return {"all": {"children": {"targets": {"hosts": hosts}}}}


def test_more_than_two_index_installs_fail_before_any_change(lab):
    inventory = three_local_hosts(lab)
    run = run_role(lab, "index3", inventory=inventory, venv_wheel_build_enable=False)
    assert run.rc != 0, run
    assert "3 targets have wheel building disabled" in run.out and "venv_allow_index_installs=true" in run.out, run
    assert not any(os.path.exists(os.path.join(lab["work"], "venvs", n)) for n in ("t1", "t2", "t3"))


def test_a_wrong_variable_type_on_one_host_stops_every_host_before_any_change(lab):
    inventory = {"all": {"children": {"targets": {"hosts": {
        "good": {"ansible_connection": "local", "venv_install_destination_path": os.path.join(lab["work"], "venvs", "good")},
        "bad": {"ansible_connection": "local", "venv_install_destination_path": os.path.join(lab["work"], "venvs", "bad"),
                "venv_wheels_rebuild": "maybe"},
    }}}}}
    run = run_role(lab, "wrongtype", inventory=inventory, venv_install_destination_path=None)
    assert run.rc != 0, run
    assert "venv_wheels_rebuild" in run.out and "not a valid boolean" in run.out, run
    assert "hosts bad failed before the plan" in run.out, run
    assert not os.path.exists(os.path.join(lab["work"], "venvs", "good"))


def test_a_string_or_a_number_for_a_list_fails_at_the_start_naming_the_variable(lab):
    # Ansible's argument check turns "flask" into ["flask"] for itself only: the role would go on with the string.
    def host(name, **host_vars):
        return dict({"ansible_connection": "local",
                     "venv_install_destination_path": os.path.join(lab["work"], "venvs", name)}, **host_vars)
    inventory = {"all": {"children": {"targets": {"hosts": {
        "good": host("good", venv_pip_packages=["alpha"]),
        "onestring": host("onestring", venv_pip_packages="flask"),
        "onenumber": host("onenumber", venv_pip_packages=5),
    }}}}}
    run = run_role(lab, "listtypes", inventory=inventory, venv_install_destination_path=None, venv_pip_packages=None)
    assert run.rc != 0, run
    assert re.search(r"fatal: \[onestring\]: FAILED!.*venv_pip_packages must be a list of strings, got a string", run.out), run
    assert re.search(r"fatal: \[onenumber\]: FAILED!.*venv_pip_packages must be a list of strings, got a number", run.out), run
    # They fail in the role's first task, then the plan stops the good host too.
    assert "TASK [wheelhouse.venv.python_venv_build : Check the types of the role's variables]" in run.out, run
    assert re.search(r"hosts (onestring, onenumber|onenumber, onestring) failed before the plan", run.out), run
    assert not any(os.path.exists(os.path.join(lab["work"], "venvs", n)) for n in ("good", "onestring", "onenumber"))


@pytest.mark.skipif(not os.path.exists("/root/.pyenv/versions/3.13.0/bin/python3"), reason="needs a second Python")
def test_a_build_host_of_another_platform_fails_before_any_change(lab):
    inventory = {"all": {"children": {
        # t1 names its Python: the default "python3" would be found on the PATH the tests run with, the
        # controller venv's (3.13) first.
        "targets": {"hosts": {"t1": {"ansible_connection": "local", "venv_python_executable": PYTHON,
                                     "venv_install_destination_path": os.path.join(lab["work"], "venvs", "t1")}}},
        # In no build group: the role asks a given venv_build_host for its platform too.
        "others": {"hosts": {"repo313": {"ansible_connection": "local",
                                         "venv_python_executable": "/root/.pyenv/versions/3.13.0/bin/python3"}}},
    }}}
    run = run_role(lab, "otherplatform", inventory=inventory, venv_build_host="repo313", venv_python_executable=None)
    assert run.rc != 0, run
    assert re.search(r"no build host can serve platform debian-\d+-x86_64-py3\.11 \(hosts: t1\)", run.out), run
    assert "repo313 (debian-" in run.out and "py3.13)" in run.out, run
    assert not os.path.exists(os.path.join(lab["work"], "venvs", "t1"))


def test_a_build_host_that_does_not_answer_fails_the_plan_naming_it(lab):
    # The build group's only host is outside the play and refuses connections (ssh to port 1).
    inventory = {"all": {"children": {
        "targets": {"hosts": {"t1": {"ansible_connection": "local",
                                     "venv_install_destination_path": os.path.join(lab["work"], "venvs", "t1")}}},
        "repo_all": {"hosts": {"downhost": {"ansible_connection": "ssh", "ansible_host": "127.0.0.1",
                                            "ansible_port": 1, "ansible_user": "nobody"}}},
    }}}
    run = run_role(lab, "buildhostdown", inventory=inventory, venv_install_destination_path=None,
                   venv_build_host_wait_timeout=3)
    assert run.rc != 0, run
    # The target fails (it does not silently leave the play) and the message names the host and the cause.
    assert run.failed == 1, run
    assert "build host downhost did not answer within 3 s" in run.out and "Connection refused" in run.out, run
    assert not os.path.exists(os.path.join(lab["work"], "venvs", "t1"))


def test_a_play_without_facts_gets_its_venv(lab):
    # The argument check templates defaults that depend on ansible_facts before the role gathers any.
    playbook = os.path.join(lab["work"], "nofacts.yml")
    with open(playbook, "w") as handle:
        yaml.safe_dump([{"name": "Venv through the role without facts", "hosts": "targets", "gather_facts": False,
                         "tasks": [{"name": "Apply the role",
                                    "ansible.builtin.include_role": {"name": "wheelhouse.venv.python_venv_build"}}]}],
                       handle, sort_keys=False)
    original = lab["playbook"]
    try:
        lab["playbook"] = playbook
        run = run_role(lab, "nofacts", venv_install_destination_path=os.path.join(lab["work"], "venvs", "nofacts"))
    finally:
        lab["playbook"] = original
    assert run.rc == 0, run
    assert os.path.isfile(os.path.join(lab["work"], "venvs", "nofacts", "wheelhouse-venv.json"))


def test_build_requirements_extra_go_into_the_builder_and_are_found_on_path_by_the_build(lab):
    # needstool's setup.py runs wh-buildtool-version, a console script of wh-buildtool: found only on PATH.
    make_wheel(lab["wheelhouse"], "wh-buildtool", "1.0", console_script=True)
    make_sdist_running(lab["wheelhouse"], "needstool", "1.0", ["wh-buildtool-version"])
    builder = os.path.join(lab["work"], "tool-builder")
    tooled = os.path.join(lab["work"], "venvs", "tooled")
    options = dict(venv_install_destination_path=tooled, venv_pip_packages=["needstool"], venv_build_global_constraints=[],
                   venv_build_host_venv_path=builder, venv_pip_build_env={"PIP_FIND_LINKS": lab["wheelhouse"]},
                   venv_build_requirements_extra=["wh-buildtool"])
    run = run_role(lab, "extra", **options)
    assert run.rc == 0, run
    assert os.path.isfile(os.path.join(builder, "bin", "wh-buildtool-version"))
    assert "needstool==1.0" in venv_freeze(dict(lab, venv=tooled))
    assert "wh-buildtool==1.0" not in venv_freeze(dict(lab, venv=tooled)), "a build tool went into the venv"
    again = run_role(lab, "extra2", **options)
    assert again.rc == 0 and again.changed == 0, again


# Actions that run on the controller only: every other task result is a module call on a host.
CONTROLLER_ACTIONS = {"ansible.builtin.set_fact", "set_fact", "ansible.builtin.assert", "assert", "ansible.builtin.debug",
                      "debug", "ansible.builtin.fail", "fail", "ansible.builtin.include_tasks", "include_tasks",
                      "ansible.builtin.include_role", "include_role", "ansible.builtin.meta", "meta",
                      "ansible.builtin.validate_argument_spec", "validate_argument_spec"}


def remote_calls(run):
    """[(play host, action, task name)] of the module calls of a run with the json callback, gather_facts' setup left out.

    A call delegated to a build host counts under the play host that drove it (its task name names the build host).
    """
    report = json.loads(run.out[run.out.index("{"):run.out.rindex("}") + 1])
    calls = []
    for play in report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == "Gathering Facts":
                continue
            for host, result in task["hosts"].items():
                if result.get("action") in CONTROLLER_ACTIONS:
                    continue
                for item in result.get("results") or [result]:
                    if item.get("skipped"):
                        continue
                    calls.append((host, result.get("action"), task["task"]["name"]))
    return calls, report["stats"]


def test_a_no_op_converge_calls_each_target_once_and_no_build_host(lab):
    # Push mode from a build host outside the play: what a converge asks of it shows by its name.
    inventory = {"all": {"children": {
        "repo_all": {"hosts": {"buildbox": {"ansible_connection": "local"}}},
        "targets": {"hosts": dict((name, {"ansible_connection": "local",
                                          "venv_install_destination_path": os.path.join(lab["work"], "venvs", "lock-" + name)})
                                  for name in ("c1", "c2"))},
    }}}
    options = dict(venv_install_destination_path=None, venv_pip_packages=["alpha"],
                   venv_wheel_push_controller_path=os.path.join(lab["work"], "controller-lock"),
                   venv_wheel_push_target_path=os.path.join(lab["work"], "push-lock"))
    first = run_role(lab, "lock1", inventory=inventory, **options)
    assert first.rc == 0, first
    noop = run_role(lab, "lock2", inventory=inventory, stdout_callback="ansible.posix.json", **options)
    assert noop.rc == 0, noop.out[-3000:]
    calls, stats = remote_calls(noop)
    assert sorted(host for host, _action, _name in calls) == ["c1", "c2"], calls
    assert all(action.endswith("venv_host_info") for _host, action, _name in calls), calls
    assert all(s["changed"] == 0 for s in stats.values()), stats
    # One requirement more: the build host is used again, and builds only the new wheel.
    wheel_dir = os.path.join(platform_dir(lab), "wheels")

    def wheels():  # the wheels and their times (the set's pylock file is rewritten: the set changes)
        return dict((w, os.stat(os.path.join(wheel_dir, w)).st_mtime_ns) for w in os.listdir(wheel_dir) if w.endswith(".whl"))

    before = wheels()
    # A distribution no other test of this lab builds: its wheel is the one new file.
    make_wheel(lab["wheelhouse"], "lockonly", "1.0")
    one_more = dict(options)
    one_more["venv_pip_packages"] = ["alpha", "lockonly"]
    changed = run_role(lab, "lock3", inventory=inventory, stdout_callback="ansible.posix.json", **one_more)
    assert changed.rc == 0, changed.out[-3000:]
    calls, stats = remote_calls(changed)
    assert any(action.endswith("venv_wheel_build") and name.endswith(" on buildbox") for _host, action, name in calls), calls
    after = wheels()
    assert [w for w in after if w not in before] == ["lockonly-1.0-py3-none-any.whl"], after
    assert all(after[w] == before[w] for w in before), "a wheel that did not change was built again"
    for name in ("c1", "c2"):
        assert "lockonly==1.0 --hash=sha256:" in open(os.path.join(lab["work"], "venvs", "lock-" + name, "requirements.txt")).read()


def test_a_converge_after_a_rollback_keeps_the_venv_rolled_back_to_and_asks_no_build_host(lab):
    inventory = {"all": {"children": {
        "repo_all": {"hosts": {"buildbox": {"ansible_connection": "local"}}},
        "targets": {"hosts": {"r1": {"ansible_connection": "local",
                                     "venv_install_destination_path": os.path.join(lab["work"], "venvs", "rollback-r1")}}},
    }}}
    venv = os.path.join(lab["work"], "venvs", "rollback-r1")
    options = dict(venv_install_destination_path=None, venv_pip_packages=["alpha"], venv_keep_previous=1,
                   venv_wheel_push_controller_path=os.path.join(lab["work"], "controller-rollback"),
                   venv_wheel_push_target_path=os.path.join(lab["work"], "push-rollback"))

    def alpha():
        return [p for p in venv_freeze(dict(lab, venv=venv)) if p.startswith("alpha==")]
    assert run_role(lab, "rb1", inventory=inventory, venv_build_constraints=["alpha==1.0"], **options).rc == 0
    assert run_role(lab, "rb2", inventory=inventory, venv_build_constraints=["alpha==1.1"], **options).rc == 0
    assert alpha() == ["alpha==1.1"]
    back = run_role(lab, "rb3", inventory=inventory, venv_build_constraints=["alpha==1.1"], venv_rollback=True, **options)
    assert back.rc == 0 and back.changed > 0, back
    assert alpha() == ["alpha==1.0"]
    # The inputs of the venv rolled back from: kept as it is, without a call to the build host (no flapping back).
    held = run_role(lab, "rb4", inventory=inventory, venv_build_constraints=["alpha==1.1"],
                    stdout_callback="ansible.posix.json", **options)
    assert held.rc == 0, held.out[-3000:]
    calls, stats = remote_calls(held)
    assert [(host, action.split(".")[-1]) for host, action, _name in calls] == [("r1", "venv_host_info")], calls
    assert all(s["changed"] == 0 for s in stats.values()), stats
    assert "was rolled back" in held.out and "venv_rebuild=true" in held.out, held.out[-3000:]
    assert alpha() == ["alpha==1.0"]
    # venv_rebuild builds those inputs again
    forward = run_role(lab, "rb5", inventory=inventory, venv_build_constraints=["alpha==1.1"], venv_rebuild=True, **options)
    assert forward.rc == 0 and forward.changed > 0, forward
    assert alpha() == ["alpha==1.1"]

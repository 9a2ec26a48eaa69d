"""The python_venv_build role's logic: platform keys, the build plan, requirement reduction, URLs."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.wheelhouse.venv.plugins.filter import venv_build as f

DEBIAN12 = {"distribution": "Debian", "distribution_version": "12.9", "distribution_major_version": "12",
            "distribution_release": "bookworm", "architecture": "x86_64"}


# --- platform keys

def test_platform_key_holds_distribution_major_version_arch_and_python():
    assert f.venv_platform(DEBIAN12, "3.11") == "debian-12-x86_64-py3.11"


def test_platform_key_differs_by_python_version_alone():
    assert f.venv_platform(DEBIAN12, "3.11") != f.venv_platform(DEBIAN12, "3.12")


def test_debian_point_releases_share_a_platform():
    other = dict(DEBIAN12, distribution_version="12.5")
    assert f.venv_platform(other, "3.11") == f.venv_platform(DEBIAN12, "3.11")


def test_ubuntu_keeps_its_full_version():
    jammy = {"distribution": "Ubuntu", "distribution_version": "22.04", "distribution_major_version": "22",
             "architecture": "x86_64"}
    kinetic = dict(jammy, distribution_version="22.10")
    assert f.venv_platform(jammy, "3.10") == "ubuntu-22.04-x86_64-py3.10"
    assert f.venv_platform(jammy, "3.10") != f.venv_platform(kinetic, "3.10")


def test_testing_release_without_number_uses_release_name():
    sid = dict(DEBIAN12, distribution_version="n/a", distribution_major_version="n/a", distribution_release="trixie")
    assert f.venv_platform(sid, "3.13") == "debian-trixie-x86_64-py3.13"


def test_architecture_aliases_are_one_platform():
    assert f.venv_platform(dict(DEBIAN12, architecture="amd64"), "3.11") == "debian-12-x86_64-py3.11"
    assert f.venv_platform(dict(DEBIAN12, architecture="arm64"), "3.11") == "debian-12-aarch64-py3.11"


def test_platform_key_refuses_missing_facts_and_bad_python_version():
    with pytest.raises(f.VenvFilterError, match="gather facts"):
        f.venv_platform({"distribution": "Debian"}, "3.11")
    with pytest.raises(f.VenvFilterError, match="MAJOR.MINOR"):
        f.venv_platform(DEBIAN12, "")
    with pytest.raises(f.VenvFilterError, match="MAJOR.MINOR") as missing:
        f.venv_platform(DEBIAN12, None)  # an interpreter whose version was not found out
    assert "None" not in str(missing.value) and "no python version was given" in str(missing.value)
    with pytest.raises(f.VenvFilterError, match=r"python version '3' is not MAJOR.MINOR"):
        f.venv_platform(DEBIAN12, "3")


def test_platforms_of_skips_hosts_without_a_platform():
    hostvars = {"a": {"_venv_platform": "p1"}, "b": {}, "c": {"_venv_platform": ""}}
    assert f.venv_platforms_of(hostvars, ["a", "b", "c", "missing"]) == {"a": "p1"}


# --- build hosts per platform

def test_build_group_host_of_the_same_platform_builds():
    platforms = {"repo1": "deb12", "repo2": "el9", "t1": "deb12", "t2": "el9", "t3": "deb13"}
    targets = f.venv_build_targets(platforms, ["repo1", "repo2"], ["t1", "t2", "t3"])
    assert targets == {"deb12": "repo1", "el9": "repo2", "deb13": "t3"}


def test_first_play_host_builds_when_no_build_host_fits():
    platforms = {"t1": "deb12", "t2": "deb12"}
    assert f.venv_build_targets(platforms, [], ["t2", "t1"]) == {"deb12": "t2"}


def test_single_target_builds_for_itself():
    assert f.venv_build_targets({"localhost": "deb12"}, [], ["localhost"]) == {"deb12": "localhost"}


def test_first_listed_build_host_of_a_platform_wins():
    platforms = {"repo1": "deb12", "repo2": "deb12", "t1": "deb12"}
    assert f.venv_build_targets(platforms, ["repo2", "repo1"], ["t1"]) == {"deb12": "repo2"}


# --- the plan

def plan(host, platform="deb12", wheels=True, build_host="repo1", build_host_platform="deb12", python_ok=True):
    return {"host": host, "platform": platform, "python_ok": python_ok, "python_error": "not found",
            "wheels": wheels, "build_host": build_host, "build_host_platform": build_host_platform}


def test_plan_elects_one_leader_per_build_host_and_platform():
    result = f.venv_build_plan([plan("t1"), plan("t2"), plan("t3", "el9", build_host="repo2", build_host_platform="el9")])
    assert result["errors"] == []
    assert result["leaders"] == {"t1": "repo1", "t3": "repo2"}
    assert result["leader_of"] == {"t1": "t1", "t2": "t1", "t3": "t3"}
    assert result["led"] == {"t1": ["t1", "t2"], "t3": ["t3"]}


def test_plan_fails_when_build_host_is_on_another_platform():
    result = f.venv_build_plan([plan("t1", "deb13", build_host="repo1", build_host_platform="deb12")],
                               build_group="repo_all")
    assert len(result["errors"]) == 1
    message = result["errors"][0]
    assert "no build host can serve platform deb13" in message
    assert "repo1 (deb12)" in message and "repo_all" in message and "venv_wheel_build_enable=false" in message
    assert result["leaders"] == {}


def test_plan_fails_when_build_host_is_unknown():
    result = f.venv_build_plan([plan("t1", build_host="gone", build_host_platform="")])
    assert "gone (platform unknown)" in result["errors"][0]


def test_plan_allows_two_index_installs_but_not_three():
    two = f.venv_build_plan([plan("a", wheels=False), plan("b", wheels=False)])
    assert two["errors"] == [] and two["index_hosts"] == ["a", "b"]
    three = f.venv_build_plan([plan(h, wheels="False") for h in "abc"])
    assert len(three["errors"]) == 1 and "venv_allow_index_installs=true" in three["errors"][0]


def test_plan_override_accepts_many_index_installs():
    result = f.venv_build_plan([plan(h, wheels=False) for h in "abcd"], allow_index_installs="true")
    assert result["errors"] == []


def test_plan_reads_the_index_override_as_ansible_does():
    # Ansible's argument check accepts "t" and "on" as true: the plan must not read them as false.
    for value in ("t", "on", "1", 1, True):
        assert f.venv_build_plan([plan(h, wheels=False) for h in "abcd"], allow_index_installs=value)["errors"] == []
    assert f.venv_build_plan([plan(h, wheels=False) for h in "abcd"], allow_index_installs="f")["errors"]


def test_plan_names_a_missing_interpreter():
    result = f.venv_build_plan([plan("t1", python_ok=False)])
    assert "t1" in result["errors"][0] and "venv_python_executable" in result["errors"][0]


# --- requirement reduction

@pytest.mark.parametrize("line, reduced", [
    ("git+https://example.org/repo.git@v1.2#egg=tinypkg", "tinypkg"),
    ("git+https://example.org/repo.git@abc123#egg=Tiny_Pkg&subdirectory=src", "Tiny_Pkg"),
    ("tinypkg @ git+https://example.org/repo.git@v1", "tinypkg"),
    ("tinypkg[extra1,extra2] @ https://example.org/tinypkg-1.0.tar.gz", "tinypkg[extra1,extra2]"),
    ("tinypkg @ https://example.org/t.tar.gz ; python_version >= '3.8'", "tinypkg; python_version >= '3.8'"),
    ("requests>=2.31", "requests>=2.31"),
    ("six", "six"),
])
def test_reduce_requirement(line, reduced):
    assert f.reduce_requirement(line) == reduced


def test_reduce_requirement_without_a_name_says_how_to_fix_it():
    with pytest.raises(f.VenvFilterError, match="#egg=NAME"):
        f.reduce_requirement("git+https://example.org/repo.git@v1")


def test_reduce_requirements_skips_blank_lines_and_comments():
    assert f.venv_reduce_requirements(["# c", "", "a @ file:///x/a.tar.gz", "b"]) == ["a", "b"]


# --- wheel URL

def test_wheel_url_maps_the_wheel_path_under_the_served_root():
    url = f.venv_wheel_url("/var/www/repo/wheelhouse/main/deb12/wheels", "/var/www/repo", "http://repo:8181")
    assert url == "http://repo:8181/wheelhouse/main/deb12/wheels/"


def test_wheel_url_keeps_a_path_prefix_of_the_repo_url():
    assert f.venv_wheel_url("/srv/r/w", "/srv/r/", "https://lb/repo/") == "https://lb/repo/w/"


def test_wheel_url_refuses_a_wheel_path_outside_the_served_root():
    with pytest.raises(f.VenvFilterError, match="not under venv_wheel_repo_path"):
        f.venv_wheel_url("/srv/elsewhere/wheels", "/var/www/repo", "http://repo")
    with pytest.raises(f.VenvFilterError, match="not under"):
        f.venv_wheel_url("/var/www/repository/wheels", "/var/www/repo", "http://repo")


def test_wheel_url_refuses_an_empty_or_odd_url():
    with pytest.raises(f.VenvFilterError, match="empty"):
        f.venv_wheel_url("/var/www/repo/w", "/var/www/repo", "")
    with pytest.raises(f.VenvFilterError, match="http"):
        f.venv_wheel_url("/var/www/repo/w", "/var/www/repo", "ftp://repo")


def test_filters_are_registered():
    names = set(f.FilterModule().filters())
    assert {"venv_platform", "venv_build_targets", "venv_build_plan", "venv_reduce_requirements",
            "venv_wheel_url"} <= names
    # the links of venv_packages_to_symlink are made by the module (tests/unit/module_utils/test_links.py)
    assert "venv_site_packages_links" not in names


# --- whether a package task would change anything (venv_package_task_needed)

def _info(installed, missing=(), outdated=(), cache_age=60, manager="dpkg-query"):
    return {"distro_packages": {"manager": manager, "installed": list(installed), "missing": list(missing),
                                "outdated": None if outdated is None else list(outdated), "cache_age": cache_age}}


def test_package_task_runs_when_a_package_is_missing():
    info = _info(["git"], missing=["build-essential"])
    assert f.venv_package_task_needed(info, ["git", "build-essential"], "present", 600) is True


def test_package_task_is_skipped_when_everything_is_installed_and_state_is_present():
    info = _info(["git", "python3-dev"], outdated=None, cache_age=None, manager="rpm")
    assert f.venv_package_task_needed(info, ["git", "python3-dev"], "present", 600) is False


def test_no_packages_need_no_task():
    assert f.venv_package_task_needed({}, [], "latest", 600) is False


def test_latest_is_skipped_only_with_fresh_lists_and_nothing_to_upgrade():
    info = _info(["git"], outdated=[], cache_age=60)
    assert f.venv_package_task_needed(info, ["git"], "latest", 600) is False


def test_latest_runs_when_apt_would_upgrade_a_package():
    info = _info(["git", "gcc"], outdated=["gcc"], cache_age=60)
    assert f.venv_package_task_needed(info, ["git", "gcc"], "latest", 600) is True
    # an outdated package the task does not name does not matter
    assert f.venv_package_task_needed(info, ["git"], "latest", 600) is False


def test_latest_runs_when_the_lists_are_as_old_as_cache_valid_time_or_older():
    assert f.venv_package_task_needed(_info(["git"], cache_age=600), ["git"], "latest", 600) is True
    assert f.venv_package_task_needed(_info(["git"], cache_age=None), ["git"], "latest", 600) is True
    # cache_valid_time 0: the task updates the lists on every run
    assert f.venv_package_task_needed(_info(["git"], cache_age=1), ["git"], "latest", 0) is True


def test_latest_runs_when_upgrades_cannot_be_told():
    info = _info(["git"], outdated=None, cache_age=None, manager="rpm")
    assert f.venv_package_task_needed(info, ["git"], "latest", 600) is True


def test_package_task_runs_without_a_host_info():
    assert f.venv_package_task_needed({}, ["git"], "present", 600) is True
    assert f.venv_package_task_needed(None, ["git"], "present", 600) is True


# --- variable types against meta/argument_specs.yml

ROLE_SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..",
                         "roles", "python_venv_build", "meta", "argument_specs.yml")


def role_options():
    with open(ROLE_SPEC) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_a_string_or_a_number_for_a_list_is_named_with_both_types():
    errors = f.venv_argument_errors({"venv_pip_packages": "flask"}, role_options())
    assert errors == ["venv_pip_packages must be a list of strings, got a string: write it as a YAML list, "
                      "one '- item' a line (a single item too)"]
    errors = f.venv_argument_errors({"venv_pip_packages": 5}, role_options())
    assert len(errors) == 1 and errors[0].startswith("venv_pip_packages must be a list of strings, got a number")


def test_every_list_and_mapping_variable_of_the_role_is_checked():
    # Driven by the spec: a variable added to meta/argument_specs.yml is covered without a change here.
    options = role_options()
    containers = sorted(n for n, o in options.items() if o.get("type") in ("list", "dict"))
    assert "venv_pip_packages" in containers and "venv_pip_build_env" in containers
    errors = f.venv_argument_errors({n: "A=b" for n in containers}, options)
    assert [e.split(" ")[0] for e in errors] == containers


def test_the_role_defaults_pass():
    options = role_options()
    with open(os.path.join(os.path.dirname(ROLE_SPEC), "..", "defaults", "main.yml")) as handle:
        # Templated defaults are checked once templated (the role's plays in tests/integration/role).
        values = {k: v for k, v in yaml.safe_load(handle).items() if not (isinstance(v, str) and "{{" in v)}
    values["venv_install_destination_path"] = "/opt/venvs/app"
    assert f.venv_argument_errors(values, options) == []


def test_right_types_pass_including_those_ansible_reads_from_strings():
    values = {"venv_pip_packages": ["flask", "mylib @ git+https://h/r@v1"], "venv_build_constraints": [],
              "venv_pip_build_env": {"A": "b"}, "venv_pip_build_args": "--no-index", "venv_wheel_release": 2024,
              "venv_rebuild": "yes", "venv_wheels_rebuild": False, "venv_allow_index_installs": "t",
              "venv_distro_cache_valid_time": "600", "venv_build_lock_timeout": 10,
              "venv_facts_when_changed": [{"section": "s", "option": "o", "value": {"any": "thing"}}]}
    assert f.venv_argument_errors(values, role_options()) == []


def test_mappings_strings_numbers_and_booleans_of_the_wrong_type_are_named():
    values = {"venv_pip_build_env": "HTTP_PROXY=http://p", "venv_pip_install_env": ["A=b"],
              "venv_pip_build_args": ["--no-index"], "venv_wheel_repo_url": None,
              "venv_build_lock_timeout": True, "venv_distro_cache_valid_time": "ten",
              "venv_rebuild": None, "venv_pip_packages": ["ok", {"name": "x"}, None]}
    errors = f.venv_argument_errors(values, role_options())
    assert errors == [
        "venv_build_lock_timeout must be a whole number, got a boolean",
        "venv_distro_cache_valid_time must be a whole number, got a string",
        "venv_pip_build_args must be a string, got a list",
        "venv_pip_build_env must be a mapping, got a string: write it as a YAML mapping, one 'KEY: value' a line",
        "venv_pip_install_env must be a mapping, got a list: write it as a YAML mapping, one 'KEY: value' a line",
        "venv_pip_packages[1] must be a string, got a mapping",
        "venv_pip_packages[2] must be a string, got null (no value)",
        "venv_rebuild must be true or false, got null (no value)",
        "venv_wheel_repo_url must be a string, got null (no value)",
    ]
    # Values never show: an environment or an index URL may hold credentials.
    assert "http://p" not in " ".join(errors)


def test_list_items_are_checked_against_their_suboptions():
    values = {"venv_facts_when_changed": ["section=a,option=b,value=c",
                                          {"section": ["x"], "option": "o", "value": None}]}
    assert f.venv_argument_errors(values, role_options()) == [
        "venv_facts_when_changed[0] must be a mapping, got a string: write it as a YAML mapping, one 'KEY: value' a line",
        "venv_facts_when_changed[1].section must be a string, got a list",
    ]


def test_variables_not_given_are_left_to_ansible_check():
    assert f.venv_argument_errors({}, role_options()) == []
    assert f.venv_argument_errors({"other": "x"}, {}) == []


# --- the role's plan (venv_role_plan)

def _probe(python="3.11", venv=None, facts=None):
    absent = {"exists": False, "intact": False, "inputs_id": "", "problems": ["/opt/app does not exist"]}
    return {"platform_facts": dict(facts or DEBIAN12),
            "python": {"version": python, "error": "" if python else "no such file"},
            "distro_packages": {"installed": [], "missing": []},
            "venv": venv if venv is not None else absent}


def _ask(host, **kw):
    ask = {"host": host, "probe": _probe(), "wheels": True, "build_host": "", "build_group": "repo_all",
           "allow_index_installs": False, "rebuild": False, "wheels_rebuild": False,
           "wheel_path": "/var/www/repo/wheelhouse/main/p/wheels", "repo_path": "/var/www/repo", "repo_url": "",
           "push_path": "/var/cache/wheelhouse-venv/main/p", "inputs": {"requirements": ["alpha"]}}
    ask.update(kw)
    return ask


def _installed(ask, inputs_id=None):
    """The ask of a target whose venv is intact and records the inputs of the plan that installed it."""
    if inputs_id is None:
        inputs_id = f.venv_role_plan([ask], {"all": [ask["host"]]})["hosts"][ask["host"]]["inputs_id"]
    return dict(ask, probe=_probe(venv={"exists": True, "intact": True, "inputs_id": inputs_id, "problems": []}))


GROUPS = {"all": ["repo1", "t1", "t2"], "repo_all": ["repo1"]}
REPO1 = {"item": "repo1", "platform_facts": dict(DEBIAN12), "python": {"version": "3.11", "error": ""},
         "distro_packages": {"installed": ["gcc"], "missing": []}}


def test_role_plan_asks_for_the_build_host_outside_the_play_only_when_a_target_needs_wheels():
    new = f.venv_role_plan([_ask("t1"), _ask("t2")], GROUPS)
    assert new["probe_build_hosts"] == ["repo1"] and new["hosts"]["t1"]["needs"]
    done = f.venv_role_plan([_installed(_ask("t1")), _installed(_ask("t2"))], GROUPS)
    assert done["probe_build_hosts"] == [] and done["errors"] == []
    assert not done["hosts"]["t1"]["needs"] and not done["hosts"]["t1"]["leads"] and done["builds"] == {}


def test_role_plan_a_referenced_constraints_file_is_read_on_every_run():
    """Its content is an input the probe does not see: the target runs the modules, which install only on a change."""
    for line in ("--constraint https://example.org/upper.txt", "-c /srv/upper.txt", "--constraint=/srv/upper.txt"):
        ask = _ask("t1", inputs={"requirements": ["alpha"], "global_constraints": [line]})
        assert f.venv_role_plan([_installed(ask)], GROUPS)["hosts"]["t1"]["reasons"] == [
            "a constraints file referenced with -c/--constraint is read on every run"], line
    plain = _ask("t1", inputs={"requirements": ["alpha"], "constraints": ["beta<2", "constraint-tools==1"]})
    assert f.venv_role_plan([_installed(plain)], GROUPS)["hosts"]["t1"]["reasons"] == []


def test_role_plan_with_the_build_host_probed_picks_a_leader_among_the_targets_that_need_wheels():
    plan = f.venv_role_plan([_installed(_ask("t1")), _ask("t2")], GROUPS, [{"item": "repo1"}], [REPO1])
    assert plan["errors"] == [] and plan["probe_build_hosts"] == []
    t1, t2 = plan["hosts"]["t1"], plan["hosts"]["t2"]
    assert t2["leads"] and t2["leader"] == "t2" and t2["build_host"] == "repo1" and t2["source"] == "push"
    assert t2["push_needed"] and t2["build_host_info"]["distro_packages"]["installed"] == ["gcc"]
    assert t2["find_links"] == ["/var/cache/wheelhouse-venv/main/p"] and t2["trusted_hosts"] == []
    assert not t1["needs"] and not t1["leads"] and t1["build_key"] == ""
    assert list(plan["builds"]) == ["repo1|debian-12-x86_64-py3.11"]


def test_role_plan_pull_source_gets_the_wheel_url_and_trusts_a_plain_http_host():
    ask = _ask("t1", repo_url="http://repo.example:8181")
    plan = f.venv_role_plan([ask], GROUPS, [{"item": "repo1"}], [REPO1])
    host = plan["hosts"]["t1"]
    assert host["source"] == "pull"
    assert host["find_links"] == ["http://repo.example:8181/wheelhouse/main/p/wheels/"]
    assert host["trusted_hosts"] == ["repo.example"]


def test_role_plan_without_a_build_group_the_first_play_host_builds_for_its_platform():
    plan = f.venv_role_plan([_ask("t1"), _ask("t2")], {"all": ["t1", "t2"]})
    assert plan["probe_build_hosts"] == [] and plan["errors"] == []
    assert plan["hosts"]["t1"]["source"] == "local" and plan["hosts"]["t1"]["leads"]
    assert plan["hosts"]["t2"]["source"] == "push" and plan["hosts"]["t2"]["leader"] == "t1"
    assert plan["hosts"]["t1"]["find_links"] == ["/var/www/repo/wheelhouse/main/p/wheels"]


def test_role_plan_inputs_changed_rebuild_flags_and_a_drifted_venv_make_a_target_need_its_build_host():
    ask = _installed(_ask("t1"))
    assert not f.venv_role_plan([ask], GROUPS)["hosts"]["t1"]["needs"]
    changed = dict(ask, inputs={"requirements": ["alpha", "gamma"]})
    assert f.venv_role_plan([changed], GROUPS)["hosts"]["t1"]["reasons"] == ["the inputs changed since the venv was installed"]
    for flag in ("rebuild", "wheels_rebuild"):
        assert f.venv_role_plan([dict(ask, **{flag: True})], GROUPS)["probe_build_hosts"] == ["repo1"]
    drifted = dict(ask, probe=_probe(venv={"exists": True, "intact": False, "inputs_id": "x",
                                           "problems": ["its packages differ from those recorded"]}))
    assert f.venv_role_plan([drifted], GROUPS)["hosts"]["t1"]["reasons"] == ["its packages differ from those recorded"]


def test_role_plan_inputs_id_leaves_credentials_out():
    one = _ask("t1", inputs={"build_args": "--extra-index-url https://u:old@idx.example/simple"})
    two = _ask("t1", inputs={"build_args": "--extra-index-url https://u:new@idx.example/simple"})
    three = _ask("t1", inputs={"build_args": "--extra-index-url https://other.example/simple"})
    ids = [f.venv_role_plan([a], GROUPS)["hosts"]["t1"]["inputs_id"] for a in (one, two, three)]
    assert ids[0] == ids[1] != ids[2]


def test_role_plan_names_silent_build_hosts_bad_interpreters_and_wrong_platforms():
    plan = f.venv_role_plan([_ask("t1")], GROUPS, [{"item": "repo1", "msg": "Connection refused"}], [], 3)
    assert "build host repo1 did not answer within 3 s (Connection refused)" in plan["errors"][0]
    broken = f.venv_role_plan([_ask("t1", probe=_probe(python=""))], GROUPS)
    assert "the interpreter for the venv cannot be run (no such file)" in broken["errors"][0]
    other = dict(REPO1, python={"version": "3.13", "error": ""})
    assert f.venv_role_plan([_ask("t1")], GROUPS, [{"item": "repo1"}], [other])["hosts"]["t1"]["build_host"] == "t1"
    wrong = f.venv_role_plan([_ask("t1", build_host="repo1")], GROUPS, [{"item": "repo1"}], [other])
    assert "no build host can serve platform debian-12-x86_64-py3.11 (hosts: t1)" in wrong["errors"][0]


def test_role_plan_counts_index_installs_of_every_target():
    asks = [_installed(_ask(h, wheels=False)) for h in ("a", "b", "c")]
    assert "3 targets have wheel building disabled" in f.venv_role_plan(asks, GROUPS)["errors"][0]
    assert f.venv_role_plan([dict(a, allow_index_installs=True) for a in asks], GROUPS)["errors"] == []
    assert f.venv_role_plan(asks, GROUPS)["hosts"]["a"]["source"] == "none"


def test_role_plan_a_rollback_asks_no_build_host_even_with_changed_inputs():
    """-e venv_rollback=true switches to a kept venv: no wheels, no build host, the rollback task runs."""
    changed = _installed(_ask("t1", rollback=True), inputs_id="the inputs of an earlier converge")
    plan = f.venv_role_plan([changed, _installed(_ask("t2"))], GROUPS)
    assert plan["probe_build_hosts"] == [] and plan["errors"] == [] and plan["builds"] == {}
    assert plan["hosts"]["t1"]["rollback"] is True and plan["hosts"]["t1"]["needs"] is False
    assert plan["hosts"]["t2"]["rollback"] is False
    without = f.venv_role_plan([_installed(_ask("t1"), inputs_id="the inputs of an earlier converge")], GROUPS)
    assert without["probe_build_hosts"] == ["repo1"] and without["hosts"]["t1"]["needs"]


def test_role_plan_keeps_a_venv_rolled_back_away_from_the_current_inputs():
    """After -e venv_rollback=true, a converge with the inputs rolled back from keeps the venv: no build host."""
    current = f.venv_role_plan([_ask("t1")], {"all": ["t1"]})["hosts"]["t1"]["inputs_id"]
    rolled_back = _installed(_ask("t1"), inputs_id="the inputs of the venv rolled back to")
    rolled_back["probe"]["venv"].update(path="/opt/venvs/app", rolled_back_from={
        "inputs_ids": ["older", current], "at": "2026-12-02T03:00:00+0000", "release": "2-20261202T025900"})
    plan = f.venv_role_plan([rolled_back], GROUPS)
    assert plan["hosts"]["t1"]["needs"] is False and plan["probe_build_hosts"] == [] and plan["builds"] == {}
    assert plan["hosts"]["t1"]["held"].startswith("the venv at /opt/venvs/app was rolled back (at 2026-12-02T03:00:00+0000, "
                                                  "from the release 2-20261202T025900)")
    # other inputs, a rebuild, or a venv that is not intact: installed as always
    other = dict(rolled_back, inputs=dict(rolled_back.get("inputs") or {}, requirements=["alpha", "beta"]))
    for ask in (other, dict(rolled_back, rebuild=True)):
        assert f.venv_role_plan([ask], GROUPS)["hosts"]["t1"]["needs"] is True
    broken = _installed(_ask("t1"), inputs_id="x")
    broken["probe"]["venv"].update(intact=False, problems=["its bin/python no longer runs"],
                                   rolled_back_from={"inputs_ids": [current], "at": "", "release": ""})
    assert f.venv_role_plan([broken], GROUPS)["hosts"]["t1"]["needs"] is True
    # a probe of an older collection (no rolled_back_from) or of the wrong shape holds nothing
    for value in (None, "x", {"inputs_ids": "not a list"}):
        odd = _installed(_ask("t1"), inputs_id="x")
        odd["probe"]["venv"]["rolled_back_from"] = value
        assert f.venv_role_plan([odd], GROUPS)["hosts"]["t1"]["needs"] is True


INDEX = {"index_url": "http://pypi.example:8080/simple/", "publish_url": "http://pypi.example:8080/",
         "index_username": "uploader", "index_password_set": True}


def test_role_plan_index_source_installs_from_the_index_and_the_leader_publishes():
    plan = f.venv_role_plan([_ask("t1", **INDEX), _ask("t2", **INDEX)], GROUPS, [{"item": "repo1"}], [REPO1])
    assert plan["errors"] == []
    t1, t2 = plan["hosts"]["t1"], plan["hosts"]["t2"]
    assert t1["source"] == t2["source"] == "index" and t1["build_host"] == "repo1"
    assert t1["find_links"] == [] and t1["trusted_hosts"] == ["pypi.example"]
    assert t1["leads"] and t1["publish"] and not t1["push_needed"] and not t2["leads"] and not t2["publish"]
    https = f.venv_role_plan([_ask("t1", **{**INDEX, "index_url": "https://pypi.example/simple/"})], GROUPS,
                             [{"item": "repo1"}], [REPO1])
    assert https["hosts"]["t1"]["trusted_hosts"] == [] and https["hosts"]["t1"]["source"] == "index"
    # a build host that is its own target installs from the index too: the index's files are what it gets
    alone = f.venv_role_plan([_ask("t1", **INDEX)], {"all": ["t1"]})
    assert alone["hosts"]["t1"]["source"] == "index" and alone["hosts"]["t1"]["publish"]


def test_role_plan_index_urls_are_inputs_but_the_credentials_are_not():
    ids = [f.venv_role_plan([_ask("t1", **kw)], GROUPS)["hosts"]["t1"]["inputs_id"]
           for kw in ({}, INDEX, dict(INDEX, index_username="other"),
                      dict(INDEX, index_url="http://other.example/simple/"))]
    assert ids[0] != ids[1] == ids[2] != ids[3]
    # without an index the inputs are those of 0.2.0: no venv installed then is installed again for it
    ask = _ask("t1")
    before = f.venv_inputs_id(dict(ask["inputs"], platform="debian-12-x86_64-py3.11", wheels=True, build_host="",
                                   build_group="repo_all", repo_url="", wheel_path=ask["wheel_path"],
                                   push_path=ask["push_path"]))
    assert ids[0] == before


def test_role_plan_refuses_conflicting_index_settings_before_any_change():
    cases = [
        (dict(INDEX, publish_url=""), "venv_wheel_index_url and venv_wheel_index_publish_url go together"),
        (dict(INDEX, index_url=""), "venv_wheel_index_url and venv_wheel_index_publish_url go together"),
        (dict(INDEX, repo_url="http://repo1:8181"), "venv_wheel_index_url and venv_wheel_repo_url are both set"),
        (dict(INDEX, wheels=False), "venv_wheel_index_url is set, but wheel building is disabled"),
        (dict(INDEX, index_password_set=False), "venv_wheel_index_username and venv_wheel_index_password go together"),
        (dict(INDEX, index_username=""), "venv_wheel_index_username and venv_wheel_index_password go together"),
        (dict(INDEX, index_url="ftp://u:secret@pypi.example/simple/"),
         "venv_wheel_index_url 'ftp://pypi.example/simple/' must be an http:// or https:// URL"),
    ]
    for kw, message in cases:
        plan = f.venv_role_plan([_ask("t1", **kw)], GROUPS, [{"item": "repo1"}], [REPO1])
        assert any(e.startswith("t1: ") and message in e for e in plan["errors"]), (kw, plan["errors"])
        assert "secret" not in str(plan["errors"])
    fine = {**INDEX, "index_username": "", "index_password_set": False}  # an index open for upload
    assert f.venv_role_plan([_ask("t1", **fine)], GROUPS, [{"item": "repo1"}], [REPO1])["errors"] == []


def test_index_url_gets_quoted_credentials_and_is_left_alone_without_a_username():
    assert f.venv_index_url("https://pypi.example/simple/", "deploy", "p@s:s/w") == \
        "https://deploy:p%40s%3As%2Fw@pypi.example/simple/"
    assert f.venv_index_url("http://old:x@pypi.example:8080/simple/", "new", "y") == "http://new:y@pypi.example:8080/simple/"
    assert f.venv_index_url("https://pypi.example/simple/", "", "ignored") == "https://pypi.example/simple/"

"""Scenario no_wheels: every target built its own venv from the package index and the git sources."""

import json

import venv_checks

testinfra_hosts = venv_checks.hosts_of("venv_targets")


def test_target_got_the_build_packages_from_the_role(host):
    # Without a build host the role installs the compilers on the targets themselves.
    seen = venv_checks.state(host, commands=["gcc"], packages=["python3-dev"])
    assert seen["commands"]["gcc"]
    assert seen["packages"]["python3-dev"]


def test_no_wheel_repository_was_used(host):
    seen = venv_checks.state(host, files=["/var/cache/wheelhouse-venv", "/var/www/repo"])["files"]
    assert not seen["/var/cache/wheelhouse-venv"]["exists"]
    assert not seen["/var/www/repo"]["exists"]


def test_venv_imports_its_packages_at_the_pinned_versions(host):
    # Without a build there are no generated pins: the constraints are venv_build_constraints (converge.yml).
    venv_checks.assert_imports_and_pins(host, pinned=("six", "idna", "markupsafe"))


def test_facts_file_records_the_venv(host):
    venv_checks.assert_facts(host)


def test_venv_changed_handler_ran_once(host):
    assert venv_checks.handler_runs(host) == 1


def test_the_referenced_constraints_file_was_read_and_inlined(host):
    # venv_build_constraints references /srv/constraints/upper-constraints.txt (vars/overrides.yml, prepare.yml).
    constraints, venv_state = f"{venv_checks.VENV}/constraints.txt", f"{venv_checks.VENV}/wheelhouse-venv.json"
    files = venv_checks.state(host, read=[constraints, venv_state])["files"]
    text = files[constraints]["content"]
    assert "# -c file:///srv/constraints/upper-constraints.txt (sha256:" in text
    assert "six==1.17.0\n" in text and "idna==3.10\n" in text and "--constraint" not in text
    state = json.loads(files[venv_state]["content"])
    assert list(state["constraint_files"]) == ["file:///srv/constraints/upper-constraints.txt"]

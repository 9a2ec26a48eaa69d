"""Scenario no_wheels: every target built its own venv from the package index and the git sources."""

import json

import venv_checks

testinfra_hosts = venv_checks.hosts_of("venv_targets")


def test_target_got_the_build_packages_from_the_role(host):
    # Without a build host the role installs the compilers on the targets themselves.
    assert host.exists("gcc")
    assert host.package("python3-dev").is_installed


def test_no_wheel_repository_was_used(host):
    assert not host.file("/var/cache/wheelhouse-venv").exists
    assert not host.file("/var/www/repo").exists


def test_venv_imports_its_packages_at_the_pinned_versions(host):
    # Without a build there are no generated pins: the constraints are venv_build_constraints (converge.yml).
    venv_checks.assert_imports_and_pins(host, pinned=("six", "idna", "markupsafe"))


def test_facts_file_records_the_venv(host):
    venv_checks.assert_facts(host)


def test_venv_changed_handler_ran_once(host):
    assert venv_checks.handler_runs(host) == 1


def test_the_referenced_constraints_file_was_read_and_inlined(host):
    # venv_build_constraints references /srv/constraints/upper-constraints.txt (vars/overrides.yml, prepare.yml).
    text = host.file(f"{venv_checks.VENV}/constraints.txt").content_string
    assert "# -c file:///srv/constraints/upper-constraints.txt (sha256:" in text
    assert "six==1.17.0\n" in text and "idna==3.10\n" in text and "--constraint" not in text
    state = json.loads(host.file(f"{venv_checks.VENV}/wheelhouse-venv.json").content_string)
    assert list(state["constraint_files"]) == ["file:///srv/constraints/upper-constraints.txt"]

"""Scenario no_wheels: every target built its own venv from the package index and the git sources."""

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

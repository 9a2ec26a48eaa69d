"""Scenario multi_distro, targets: each venv runs wheels of its own Python, and no other wheel ever arrived."""

import platforms
import venv_checks

testinfra_hosts = venv_checks.hosts_of("venv_targets")


def test_target_has_no_compiler(host):
    venv_checks.assert_no_compiler(host)


def test_venv_imports_its_packages_at_the_pinned_versions(host):
    seen = venv_checks.assert_imports_and_pins(host)
    abi = "cpython-%s-" % platforms.PYTHON[platforms.suite_of(host)].replace(".", "")
    assert abi in seen["modules"]["markupsafe._speedups"]["file"]


def test_no_wheel_of_the_other_python(host):
    # The pushed wheels stay in the target's wheel folder: exactly the ones it was sent.
    wrong, markupsafe = platforms.wrong_and_checked_wheels(host)
    assert markupsafe
    assert not wrong, wrong


def test_facts_file_records_the_venv(host):
    venv_checks.assert_facts(host)


def test_venv_changed_handler_ran_once(host):
    assert venv_checks.handler_runs(host) == 1

"""Scenario multi_distro, build hosts: each built for its own platform only."""

import platforms
import venv_checks

testinfra_hosts = venv_checks.hosts_of("repo_all")


def test_wheel_folders_are_of_this_platform_only(host):
    assert host.check_output("ls /var/www/repo/wheelhouse/main").split() == [platforms.PLATFORM[platforms.suite_of(host)]]


def test_no_wheel_of_the_other_python(host):
    wrong, markupsafe = platforms.wrong_and_checked_wheels(host)
    # Without markupsafe's compiled wheel here the check below would prove nothing.
    assert markupsafe
    assert not wrong, wrong

"""Scenario default: the plays reached every host over SSH with this run's key, not with podman exec."""

import venv_checks

testinfra_hosts = venv_checks.hosts_of("all")


def test_plays_logged_in_over_ssh_with_the_runs_key(host):
    venv_checks.assert_ssh_logins(host)

"""Scenario failure: after the faulty runs and the recovering converge, the venv is the good one.

side_effect.yml asserts the failures themselves and the state right after each of them."""

import venv_checks

testinfra_hosts = venv_checks.hosts_of("venv_targets")


def test_venv_imports_its_packages_at_the_pinned_versions(host):
    seen = venv_checks.assert_imports_and_pins(host)
    # The unsatisfiable pin of the failed run never reached the venv's constraints.
    assert venv_checks.parse_pins(seen["constraints"]).get("six") != "0.0.1"


def test_facts_file_keeps_the_good_value(host):
    assert "written-by-a-failed-run" not in venv_checks.assert_facts(host)


def test_venv_changed_handler_ran_only_for_the_good_converge(host):
    assert venv_checks.handler_runs(host) == 1

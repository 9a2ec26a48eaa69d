"""Scenario default: repo1 builds the wheels and serves them with nginx; target1 installs from them with pip,
target-uv1 and target-uv2 with uv (each target's venv_install_tool in the inventory). Its side effect rebuilds
the wheels and the venvs, then rolls back (tests/test_rebuild.py)."""

import venv_checks

testinfra_hosts = venv_checks.hosts_of("venv_targets")


def test_target_has_no_compiler(host):
    venv_checks.assert_no_compiler(host)


def test_venv_imports_its_packages_at_the_pinned_versions(host):
    venv_checks.assert_imports_and_pins(host)


def test_facts_file_records_the_venv(host):
    venv_checks.assert_facts(host)


def test_uv_came_from_the_wheel_set(host):
    # No uv on the targets' PATH: a uv target's venv_build installed it from the build host's set into <venv>/.uv.
    path = f"{venv_checks.VENV}/.uv/bin/uv"
    seen = venv_checks.state(host, files=[path], commands=["uv"])
    uv = seen["files"][path]
    if venv_checks.inventory_var(host, "venv_install_tool") == "uv":
        assert not seen["commands"]["uv"]
        assert uv["is_file"] and uv["mode"] & 0o111
    else:
        assert not uv["exists"]

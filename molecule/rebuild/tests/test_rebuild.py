"""Scenario rebuild: after `venv_rebuild` and `venv_wheels_rebuild`, venvs and wheels are new, and a
process started from the old venv before the rebuild still runs."""

import venv_checks

testinfra_hosts = venv_checks.hosts_of("venv_targets")


def test_venv_is_a_new_directory(host):
    old_inode = int(host.file("/var/tmp/wh-old-venv.inode").content_string)
    assert host.file("/opt/venvs/demo").is_directory
    assert int(host.check_output("stat -c %s %s", "%i", "/opt/venvs/demo")) != old_inode
    assert not host.file("/opt/venvs/demo/lib/wh-old-venv-marker").exists


def test_process_from_the_old_venv_still_runs(host):
    pid = host.file("/var/tmp/wh-old-venv.pid").content_string.strip()
    cmdline = host.file(f"/proc/{pid}/cmdline")
    assert cmdline.exists, f"process {pid} started from the old venv is gone"
    assert cmdline.content.split(b"\0")[0] == b"/opt/venvs/demo/bin/python"


def test_new_venv_imports_its_packages_at_the_pinned_versions(host):
    venv_checks.assert_imports_and_pins(host)


def test_facts_file_records_the_venv(host):
    venv_checks.assert_facts(host)


def test_venv_changed_handler_ran_for_converge_and_rebuild(host):
    assert venv_checks.handler_runs(host) == 2


def test_no_compiler_on_the_target(host):
    venv_checks.assert_no_compiler(host)

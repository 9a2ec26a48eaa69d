"""Scenario default, its side effect: `venv_rebuild` and `venv_wheels_rebuild` make new venvs and wheels, keeping the
replaced venv (venv_keep_previous: 1); `venv_rollback` then puts that very directory back and keeps the rebuilt one. A
process started from the first venv before the rebuild runs through both switches."""

import venv_checks

testinfra_hosts = venv_checks.hosts_of("venv_targets")


def test_the_rollback_put_back_the_very_venv_the_rebuild_replaced(host):
    old_inode = int(host.file("/var/tmp/wh-old-venv.inode").content_string)
    assert host.file("/opt/venvs/demo").is_directory
    # the directory's inode tells the venvs apart (a file of the user's inside the venv would make the rebuild
    # refuse, or carry it along)
    assert int(host.check_output("stat -c %s %s", "%i", "/opt/venvs/demo")) == old_inode


def test_the_rebuilt_venv_is_kept_as_the_one_release(host):
    new_inode = int(host.file("/var/tmp/wh-new-venv.inode").content_string)
    releases = host.file("/opt/venvs/.demo.releases")
    assert releases.is_directory
    kept = releases.listdir()
    assert len(kept) == 1, kept
    release = "/opt/venvs/.demo.releases/" + kept[0]
    assert int(host.check_output("stat -c %s %s", "%i", release)) == new_inode


def test_process_from_the_old_venv_still_runs(host):
    pid = host.file("/var/tmp/wh-old-venv.pid").content_string.strip()
    cmdline = host.file(f"/proc/{pid}/cmdline")
    assert cmdline.exists, f"process {pid} started from the old venv is gone"
    assert cmdline.content.split(b"\0")[0] == b"/opt/venvs/demo/bin/python"


def test_live_venv_imports_its_packages_at_the_pinned_versions(host):
    venv_checks.assert_imports_and_pins(host)


def test_facts_file_records_the_venv(host):
    venv_checks.assert_facts(host)


def test_venv_changed_handler_ran_for_converge_rebuild_and_rollback(host):
    # and not for the idempotence run between them (that would make 4)
    assert venv_checks.handler_runs(host) == 3


def test_no_compiler_on_the_target(host):
    venv_checks.assert_no_compiler(host)

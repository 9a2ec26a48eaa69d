"""Scenario default, its side effect: `venv_rebuild` and `venv_wheels_rebuild` make new venvs and wheels, keeping the
replaced venv (venv_keep_previous: 1); `venv_rollback` then puts that very directory back and keeps the rebuilt one. A
process started from the first venv before the rebuild runs through both switches.

verify runs once, after the side effect: test_default.py's checks of the live venv (imports at the pinned versions,
INSTALLER, facts file, no compiler) are made on the venv the rollback put back; they are not made twice here."""

import venv_checks

testinfra_hosts = venv_checks.hosts_of("venv_targets")


RELEASES = "/opt/venvs/.demo.releases"


def test_the_rollback_put_back_the_very_venv_the_rebuild_replaced(host):
    seen = venv_checks.state(host, files=[venv_checks.VENV], read=["/var/tmp/wh-old-venv.inode"])["files"]
    old_inode = int(seen["/var/tmp/wh-old-venv.inode"]["content"])
    assert seen[venv_checks.VENV]["is_directory"]
    # the directory's inode tells the venvs apart (a file of the user's inside the venv would make the rebuild
    # refuse, or carry it along)
    assert seen[venv_checks.VENV]["inode"] == old_inode


def test_the_rebuilt_venv_is_kept_as_the_one_release(host):
    seen = venv_checks.state(host, files=[RELEASES], read=["/var/tmp/wh-new-venv.inode"])["files"]
    new_inode = int(seen["/var/tmp/wh-new-venv.inode"]["content"])
    assert seen[RELEASES]["is_directory"]
    kept = seen[RELEASES]["entries"]
    assert len(kept) == 1, kept
    release = f"{RELEASES}/{kept[0]}"
    assert venv_checks.state(host, files=[release])["files"][release]["inode"] == new_inode


def test_process_from_the_old_venv_still_runs(host):
    pid_file = "/var/tmp/wh-old-venv.pid"
    pid = venv_checks.state(host, read=[pid_file])["files"][pid_file]["content"].strip()
    cmdline = venv_checks.state(host, read=[f"/proc/{pid}/cmdline"])["files"][f"/proc/{pid}/cmdline"]
    assert cmdline["exists"], f"process {pid} started from the old venv is gone"
    assert cmdline["content"].split("\0")[0] == "/opt/venvs/demo/bin/python"


def test_venv_changed_handler_ran_for_converge_rebuild_and_rollback(host):
    # and not for the idempotence run between them (that would make 4)
    assert venv_checks.handler_runs(host) == 3

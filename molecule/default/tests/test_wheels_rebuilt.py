"""Scenario default, its side effect, build host: venv_wheels_rebuild built every wheel again."""

import venv_checks

testinfra_hosts = venv_checks.hosts_of("repo_all")


def test_every_wheel_is_newer_than_before_the_rebuild(host):
    before = {}
    for line in host.file("/var/tmp/wh-wheels-before.txt").content_string.splitlines():
        path, mtime = line.rsplit(" ", 1)
        before[path] = int(mtime)
    markupsafe = [p for p in before if "/markupsafe-" in p.lower()]
    assert markupsafe, before
    for path in markupsafe + [p for p in before if "/wh_alpha-" in p or "/wh_beta-" in p]:
        assert int(host.check_output("stat -c %%Y %s", path)) > before[path], path

"""Scenario default, its side effect, build host: venv_wheels_rebuild built every wheel again."""

import venv_checks

testinfra_hosts = venv_checks.hosts_of("repo_all")


def test_every_wheel_is_newer_than_before_the_rebuild(host):
    record = "/var/tmp/wh-wheels-before.txt"
    before = {}
    for line in venv_checks.state(host, read=[record])["files"][record]["content"].splitlines():
        path, mtime = line.rsplit(" ", 1)
        before[path] = int(mtime)
    markupsafe = [p for p in before if "/markupsafe-" in p.lower()]
    assert markupsafe, before
    checked = markupsafe + [p for p in before if "/wh_alpha-" in p or "/wh_beta-" in p]
    now = venv_checks.state(host, files=checked)["files"]
    for path in checked:
        assert now[path]["exists"] and now[path]["mtime"] > before[path], path

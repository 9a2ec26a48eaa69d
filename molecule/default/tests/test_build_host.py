"""Scenario default, build host side: repo1 compiled the C extension itself and served the wheels to the targets."""

import venv_checks

testinfra_hosts = venv_checks.hosts_of("repo_all")

WHEELS = "/var/www/repo/wheelhouse/main/debian-12-x86_64-py3.11/wheels"


def test_build_host_has_the_compiler(host):
    # The counterpart of the targets' check: the test bed tells the two apart by this.
    assert host.exists("gcc")


def test_markupsafe_wheel_was_built_here_from_its_sdist(host):
    # A wheel built locally is tagged linux_x86_64; one downloaded from PyPI would be manylinux.
    names = host.check_output("ls %s", WHEELS).split()
    built = [n for n in names if n.lower().startswith("markupsafe-") and n.endswith("-cp311-cp311-linux_x86_64.whl")]
    assert built, names
    assert not [n for n in names if n.lower().startswith("markupsafe-") and "manylinux" in n], names


def test_git_sources_became_wheels(host):
    names = host.check_output("ls %s", WHEELS).split()
    for project in ("wh_alpha", "wh_beta"):
        assert [n for n in names if n.startswith(f"{project}-0.3.1-")], (project, names)


def test_targets_downloaded_the_wheels_over_http(host):
    # nginx's access log names every wheel a target fetched: both targets pulled markupsafe from here.
    log = host.check_output("cat /var/log/nginx/access.log")
    fetches = [line for line in log.splitlines() if "GET " in line and "markupsafe-" in line.lower() and '" 200 ' in line]
    clients = {line.split()[0] for line in fetches}
    assert len(clients) == 2, log[-2000:]

"""Scenario default, build host side: repo1 compiled the C extension itself and served the wheels to the targets."""

import json

import venv_checks

testinfra_hosts = venv_checks.hosts_of("repo_all")

WHEELS = "/var/www/repo/wheelhouse/main/debian-12-x86_64-py3.11/wheels"
BUILD_RECORD = "/var/www/repo/wheelhouse/main/debian-12-x86_64-py3.11/requirements/demo-build.json"


def _wheels(host):
    """The names in the wheel folder of the build host, as `ls` lists them."""
    return venv_checks.state(host, files=[WHEELS])["files"][WHEELS]["entries"]


def test_build_host_has_the_compiler(host):
    # The counterpart of the targets' check: the test bed tells the two apart by this.
    assert venv_checks.state(host, commands=["gcc"])["commands"]["gcc"]


def test_markupsafe_wheel_was_built_here_from_its_sdist(host):
    # A wheel built locally is tagged linux_x86_64; one downloaded from PyPI would be manylinux.
    names = _wheels(host)
    built = [n for n in names if n.lower().startswith("markupsafe-") and n.endswith("-cp311-cp311-linux_x86_64.whl")]
    assert built, names
    assert not [n for n in names if n.lower().startswith("markupsafe-") and "manylinux" in n], names


def test_git_sources_became_wheels(host):
    names = _wheels(host)
    for project in ("wh_alpha", "wh_beta"):
        assert [n for n in names if n.startswith(f"{project}-0.3.1-")], (project, names)


def test_the_set_was_resolved_with_uv_and_carries_uv(host):
    # The build takes the installer of its first target, a uv target (molecule.yml): uv resolved, and uv's
    # own wheel went into the set for the uv targets, which have no uv of their own.
    record = json.loads(venv_checks.state(host, read=[BUILD_RECORD])["files"][BUILD_RECORD]["content"])
    assert record["inputs"]["tool"] == "uv", record["inputs"]
    uv_wheels = [w["filename"] for w in record["tool_wheels"] if w["name"] == "uv"]
    assert uv_wheels, record["tool_wheels"]
    uv_wheel = f"{WHEELS}/{uv_wheels[0]}"
    assert venv_checks.state(host, files=[uv_wheel])["files"][uv_wheel]["is_file"]


def test_targets_downloaded_the_wheels_over_http(host):
    # nginx's access log names every wheel a target fetched: every target, pip's and uv's, pulled markupsafe from here.
    log = host.check_output("cat /var/log/nginx/access.log")
    fetches = [line for line in log.splitlines() if "GET " in line and "markupsafe-" in line.lower() and '" 200 ' in line]
    clients = {line.split()[0] for line in fetches}
    targets = venv_checks.host_names("venv_targets")
    assert len(targets) == 3, targets
    assert len(clients) == len(targets), log[-2000:]


def test_the_targets_use_both_installers():
    # Targets of both installers (molecule.yml: group_vars pip, host_vars uv), so the checks of test_default.py
    # run for both: a host_vars value lost on the way would make every target a pip one.
    tools = {name: venv_checks.inventory_var(name, "venv_install_tool") for name in venv_checks.host_names("venv_targets")}
    assert sorted(tools.values()) == ["pip", "uv", "uv"], tools

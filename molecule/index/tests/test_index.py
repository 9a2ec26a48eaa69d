"""Scenario index: index-repo1 built the wheels and uploaded them to pypiserver on index-pypi1; index-target1
installed from that index, every wheel pinned by its sha256."""

import json
import re

import testinfra

import venv_checks

testinfra_hosts = venv_checks.hosts_of("venv_targets")

MODULES = ("six", "idna", "markupsafe", "markupsafe._speedups")
REQUIREMENTS = "/var/www/repo/wheelhouse/main/debian-12-x86_64-py3.11/requirements"
WHEELS = "/var/www/repo/wheelhouse/main/debian-12-x86_64-py3.11/wheels"
VENV_STATE = venv_checks.VENV + "/wheelhouse-venv.json"
SBOM = venv_checks.VENV + "/sbom.cdx.json"


def _other(group):
    return testinfra.get_host(venv_checks.hosts_of(group)[0])


def _hashed_set():
    """{normalized name: sha256} of the wheel set, from the build host's demo-hashes.txt."""
    text = _other("repo_all").file(REQUIREMENTS + "/demo-hashes.txt").content_string
    found = dict((venv_checks.normalize(m.group(1)), m.group(2))
                 for m in re.finditer(r"^([A-Za-z0-9._-]+)==\S+ --hash=sha256:([0-9a-f]{64})$", text, re.M))
    assert set(found) == {"six", "idna", "markupsafe"}, text
    return found


def test_the_venv_imports_the_workload_at_the_pinned_versions(host):
    seen = venv_checks.probe(host, modules=MODULES)
    assert seen["modules"]["markupsafe._speedups"]["file"].endswith(".so")
    # built on the build host from the sdist (PyPI's would be manylinux), so it came from the index, not PyPI
    assert all(t.endswith("-linux_x86_64") for t in seen["tags"]["markupsafe"]), seen["tags"]
    for name, version in venv_checks.parse_pins(seen["constraints"]).items():
        assert seen["dists"].get(name) == version, (name, seen["dists"].get(name), version)


def test_the_target_got_no_wheel_folder_and_ran_no_compiler(host):
    venv_checks.assert_no_compiler(host)
    assert not host.file("/var/cache/wheelhouse-venv").exists  # push mode's folder


def test_the_index_holds_every_wheel_of_the_set_with_its_hash():
    index = _other("index_servers")
    # sha256sum on the index host: the bytes the index serves are those the build made
    held = dict((venv_checks.normalize(path.rsplit("/", 1)[1].split("-")[0]), digest) for digest, path in
                (line.split() for line in index.check_output("sha256sum /srv/pypi/*").splitlines()))
    assert held == _hashed_set()


def test_the_venv_records_the_lock_on_the_build_host_and_its_sbom_has_the_wheel_hashes(host):
    # the index holds no lock: its text came with the install, the state names it on the build host
    files = venv_checks.state(host, read=[VENV_STATE, SBOM])["files"]
    state = json.loads(files[VENV_STATE]["content"])
    build = _other("repo_all")
    lock = "%s/pylock.demo.toml" % WHEELS
    assert state["lock"] == {"location": "%s:%s" % (build.backend.name, lock),
                             "sha256": build.check_output("sha256sum %s", lock).split()[0]}, state["lock"]
    sbom = json.loads(files[SBOM]["content"])
    stated = dict((venv_checks.normalize(c["name"]), [h["content"] for h in c.get("hashes") or [] if h["alg"] == "SHA-256"])
                  for c in sbom["components"])
    for name, digest in _hashed_set().items():
        assert stated.get(name) == [digest], (name, stated.get(name), digest)


def test_the_password_is_in_no_file_the_role_wrote(host):
    # the part of the password that its plain and its percent-quoted spelling share
    marker = "Zq8v7Kp"
    assert marker in venv_checks.inventory_var(host, "wh_index_password")
    for machine, folders in ((host, "/opt/venvs /etc/ansible/facts.d /var/log/wheelhouse-venv"),
                             (_other("repo_all"), "/var/www/repo /var/log/wheelhouse-venv /var/lib/wheelhouse")):
        found = machine.run("grep -rlsF -- %s " + folders, marker)
        assert found.stdout == "" and found.rc != 0, found.stdout  # no file names a match


def test_venv_changed_handler_ran_once(host):
    # Once for the converge; the idempotence run changed nothing, so it did not run again.
    assert venv_checks.handler_runs(host) == 1

"""venv_build for real on localhost: create, no-op, changes, drift, prune, rebuild, failures, check and diff mode."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import imports, tree_snapshot, venv_run
from wheelfactory import make_sdist_running, make_wheel

STATE = "wheelhouse-venv.json"


@pytest.mark.controller
def test_create_then_noop(ansible, venv_args):
    first = ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **venv_args)
    assert first["changed"] is True, first["raw_output"]
    assert first["packages"]["alpha"] == "1.0" and first["packages"]["beta"] == "2.0"
    assert first["added"]["alpha"] == "1.0"
    assert any(" -m venv " in c for c in first["commands"])
    assert imports(venv_args["path"], "alpha", "beta")
    path = venv_args["path"]
    assert open(os.path.join(path, "requirements.txt")).read() == "alpha\n"
    assert open(os.path.join(path, "constraints.txt")).read() == "alpha==1.0\n"
    assert os.path.isfile(os.path.join(path, "global-constraints.txt"))
    # console scripts point at the final path, not at the directory the venv was built in
    script = open(os.path.join(path, "bin", "alpha-version")).readline()
    assert script == "#!%s/bin/python\n" % path
    assert subprocess.run([os.path.join(path, "bin", "alpha-version")], stdout=subprocess.PIPE, check=True).stdout == b"1.0\n"
    assert sorted(os.listdir(os.path.dirname(path))) == [".app.venv_build.lock", "app"]

    second = ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **venv_args)
    assert second["changed"] is False
    assert second["commands"] == []
    assert second["packages"] == first["packages"]
    assert second["fingerprint"] == first["fingerprint"]
    assert not set(second) & {"uid", "gid", "owner", "size", "state"}, "no file stat fields in the result"


def test_add_upgrade_remove_requirements(ansible, venv_args):
    ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **venv_args)
    added = ansible.module(requirements=["alpha", "gamma"], constraints=["alpha==1.0"], **venv_args)
    assert added["changed"] is True
    assert added["added"] == {"gamma": "1.0", "delta": "1.0"}
    assert not any(" -m venv " in c for c in added["commands"]), "a changed input must not rebuild"

    upgraded = ansible.module(requirements=["alpha", "gamma"], constraints=["alpha==1.1"], **venv_args)
    assert upgraded["upgraded"] == {"alpha": {"before": "1.0", "after": "1.1"}}
    assert imports(venv_args["path"], "alpha", "gamma")

    removed = ansible.module(requirements=["alpha"], constraints=["alpha==1.1"], prune=True, **venv_args)
    assert removed["changed"] is True
    assert removed["removed"] == {"gamma": "1.0", "delta": "1.0"}
    assert "beta" in removed["packages"] and "pip" in removed["packages"]
    again = ansible.module(requirements=["alpha"], constraints=["alpha==1.1"], prune=True, **venv_args)
    assert again["changed"] is False and again["commands"] == []


def test_drift_is_repaired(ansible, venv_args):
    path = venv_args["path"]
    args = dict(requirements=["alpha"], constraints=["alpha==1.0", "beta==1.0"], **venv_args)
    ansible.module(**args)
    pip = [os.path.join(path, "bin", "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    env = ansible.env
    subprocess.run(pip + ["install", "--no-index", "-f", venv_args["find_links"][0], "beta==2.0"], check=True, env=env)
    repaired = ansible.module(**args)
    assert repaired["changed"] is True
    assert repaired["upgraded"] == {"beta": {"before": "2.0", "after": "1.0"}}
    assert "drifted" in repaired["reasons"][0]

    subprocess.run(pip + ["uninstall", "-y", "alpha"], check=True, env=env)
    reinstalled = ansible.module(**args)
    assert reinstalled["added"] == {"alpha": "1.0"}
    assert imports(path, "alpha")
    assert ansible.module(**args)["changed"] is False


def test_hand_added_package_is_kept_without_prune_and_removed_with_it(ansible, venv_args):
    path = venv_args["path"]
    ansible.module(requirements=["alpha"], **venv_args)
    subprocess.run([os.path.join(path, "bin", "python"), "-m", "pip", "-q", "install", "--no-index", "-f",
                    venv_args["find_links"][0], "extra-tool"], check=True, env=ansible.env)
    kept = ansible.module(requirements=["alpha"], **venv_args)
    assert kept["changed"] is False and "extra-tool" in kept["packages"]
    pruned = ansible.module(requirements=["alpha"], prune=True, **venv_args)
    assert pruned["removed"] == {"extra-tool": "0.5"}
    assert ansible.module(requirements=["alpha"], prune=True, **venv_args)["changed"] is False


def test_prune_keeps_a_package_whose_wildcard_marker_pip_took(ansible, venv_args):
    """`python_version == "X.Y.*"` holds for pip: the package is installed, and prune must not remove it."""
    minor = subprocess.run([venv_args["python"], "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    requirements = ["alpha", 'extra-tool; python_version == "%s.*"' % minor]
    first = ansible.module(requirements=requirements, prune=True, **venv_args)
    assert first["changed"] is True and first["packages"].get("extra-tool") == "0.5", first["raw_output"]
    assert not first.get("removed") and imports(venv_args["path"], "extra-tool")
    again = ansible.module(requirements=requirements, prune=True, **venv_args)
    assert again["changed"] is False and not again.get("removed") and imports(venv_args["path"], "extra-tool")


def test_rebuild_keeps_the_old_venv_serving_until_the_swap(ansible, venv_args, tmp_path):
    path = venv_args["path"]
    args = dict(requirements=["alpha"], constraints=["alpha==1.0"], **venv_args)
    ansible.module(**args)
    old_state = json.load(open(os.path.join(path, STATE)))
    sleeper = subprocess.Popen([os.path.join(path, "bin", "python"), "-c", "import alpha_mod, time; time.sleep(120)"])
    playbook = subprocess.Popen(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", str(tmp_path / "rebuild.yml")],
        env=dict(ansible.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"), stdout=subprocess.PIPE,
        universal_newlines=True) if _write_play(tmp_path / "rebuild.yml", dict(args, rebuild=True)) else None
    failures, probes = 0, 0
    while playbook.poll() is None:
        probes += 1
        if venv_run(path, "import alpha_mod, beta_mod").returncode != 0:
            failures += 1
        time.sleep(0.05)
    result = json.loads(playbook.stdout.read())["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["changed"] is True and result["reasons"] == ["rebuild requested"]
    assert probes > 5 and failures == 0, "the venv stopped importing during the rebuild"
    assert sleeper.poll() is None, "a process started from the old venv died during the rebuild"
    sleeper.kill()
    new_state = json.load(open(os.path.join(path, STATE)))
    assert new_state["written"] >= old_state["written"]
    assert imports(path, "alpha", "beta")
    assert sorted(os.listdir(os.path.dirname(path))) == [".app.venv_build.lock", "app"]
    assert ansible.module(**args)["changed"] is False


def _write_play(path, args):
    import yaml
    from conftest import TARGET_PYTHON
    with open(str(path), "w") as handle:
        yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": TARGET_PYTHON},
                         "tasks": [{"wheelhouse.venv.venv_build": args}]}], handle)
    return True


@pytest.mark.parametrize("rebuild", [False, True], ids=["in-place", "rebuild"])
def test_failed_install_keeps_the_previous_venv(ansible, venv_args, rebuild):
    path = venv_args["path"]
    good = dict(requirements=["alpha"], facts=[{"section": "app", "option": "tag", "value": "1"}], **venv_args)
    ansible.module(**good)
    before = tree_snapshot(path)
    facts_before = tree_snapshot(venv_args["facts_dir"])
    bad = dict(good, requirements=["alpha", "gamma", "brokenpkg"], rebuild=rebuild,
               facts=[{"section": "app", "option": "tag", "value": "2"}])
    failed = ansible.module(**bad)
    assert failed.get("failed") is True and failed["changed"] is False
    assert "failed" in failed["msg"] and "is as it was before this run" in failed["msg"]
    assert venv_args["log_file"] in failed["msg"]
    assert "brokenpkg" in open(venv_args["log_file"]).read()
    assert tree_snapshot(path) == before
    assert tree_snapshot(venv_args["facts_dir"]) == facts_before
    assert imports(path, "alpha", "beta")
    assert sorted(os.listdir(os.path.dirname(path))) == [".app.venv_build.lock", "app"]
    # once the fault is gone the next run succeeds
    assert ansible.module(**dict(good, requirements=["alpha", "gamma"]))["added"] == {"gamma": "1.0", "delta": "1.0"}


@pytest.mark.parametrize("bad, message", [
    ({"requirements": ["alpha", "beta>="]}, "requirements line 2 'beta>='"),
    ({"constraints": ["alpha==1.0"], "requirements": ["alpha>=1.1"]}, "conflicts with constraints line 'alpha==1.0'"),
    ({"find_links": ["/nonexistent/wheels"]}, "find_links location /nonexistent/wheels cannot be reached"),
    ({"python": "/nonexistent/python3.99"}, "python interpreter /nonexistent/python3.99 does not exist"),
    ({"find_links": ["http://127.0.0.1:9/simple"], "requirements": ["alpha", "gamma"]}, "http://127.0.0.1:9/simple cannot be reached"),
])
@pytest.mark.controller
def test_bad_input_fails_before_anything_changes(ansible, venv_args, bad, message):
    ansible.module(requirements=["alpha"], **venv_args)
    before = tree_snapshot(venv_args["path"])
    args = dict(venv_args, requirements=["alpha", "gamma"])
    args.update(bad)
    failed = ansible.module(**args)
    assert failed.get("failed") is True
    assert message in failed["msg"]
    assert tree_snapshot(venv_args["path"]) == before
    assert imports(venv_args["path"], "alpha")


def test_python_version_change_rebuilds(ansible, venv_args, other_python):
    first = ansible.module(requirements=["alpha"], **venv_args)
    other = ansible.module(requirements=["alpha"], **dict(venv_args, python=other_python["path"]))
    assert other["changed"] is True
    assert other["python_version"].startswith(other_python["minor"])
    assert other["python_version"] != first["python_version"]
    assert "was made from Python" in other["reasons"][0]
    assert venv_run(venv_args["path"], "import sys, alpha_mod; assert sys.version.startswith(%r)"
                    % other_python["minor"]).returncode == 0
    assert ansible.module(requirements=["alpha"], **dict(venv_args, python=other_python["path"]))["changed"] is False


def test_deleted_interpreter_is_repaired(ansible, venv_args, tmp_path):
    # The venv links to the interpreter it was made from; make that a link we can delete.
    base = tmp_path / "base" / "bin"
    base.mkdir(parents=True)
    os.symlink(os.path.realpath(venv_args["python"]), str(base / "python3"))
    ansible.module(requirements=["alpha"], **dict(venv_args, python=str(base / "python3")))
    os.unlink(str(base / "python3"))
    assert venv_run(venv_args["path"], "pass").returncode != 0
    repaired = ansible.module(requirements=["alpha"], **venv_args)
    assert repaired["changed"] is True and "no longer runs" in repaired["reasons"][0]
    assert imports(venv_args["path"], "alpha")
    assert ansible.module(requirements=["alpha"], **venv_args)["changed"] is False


@pytest.mark.controller
def test_check_mode_creates_nothing_and_predicts(ansible, venv_args, tmp_path):
    args = dict(requirements=["alpha"], facts=[{"section": "app", "option": "tag", "value": "1"}], **venv_args)
    checked = ansible.module(check=True, **args)
    assert checked["changed"] is True
    assert checked["commands"] and any(" -m venv " in c for c in checked["commands"])
    assert not os.path.exists(os.path.dirname(venv_args["path"]))
    assert not os.path.exists(venv_args["facts_dir"]) and not os.path.exists(venv_args["log_file"])

    ansible.module(**args)
    before = tree_snapshot(venv_args["path"])
    assert ansible.module(check=True, **args)["changed"] is False
    predicted = ansible.module(check=True, diff=True, **dict(args, requirements=["alpha", "gamma"]))
    assert predicted["changed"] is True
    assert predicted["added"] == {"gamma": "1.0", "delta": "1.0"}
    assert tree_snapshot(venv_args["path"]) == before
    # package_state=latest consults the installer; when it finds nothing newer, that is no change in either mode
    pinned = dict(args, constraints=["alpha==1.1", "beta==2.0"])
    ansible.module(**pinned)
    latest = ansible.module(check=True, **dict(pinned, package_state="latest"))
    assert latest["commands"], "latest consults the installer"
    assert latest["changed"] is False
    assert ansible.module(**dict(pinned, package_state="latest"))["changed"] is False


def test_latest_reports_changed_only_when_a_version_changed(ansible, venv_args):
    args = dict(requirements=["alpha"], constraints=["alpha<1.1"], **venv_args)
    ansible.module(**args)
    latest = dict(args, constraints=[], package_state="latest")
    upgraded = ansible.module(**latest)
    assert upgraded["changed"] is True and upgraded["upgraded"]["alpha"] == {"before": "1.0", "after": "1.1"}
    again = ansible.module(**latest)
    assert again["changed"] is False and again["commands"], "latest runs the installer, but nothing changed"


@pytest.mark.controller
def test_diff_shows_files_and_versions(ansible, venv_args):
    ansible.module(requirements=["alpha"], constraints=["alpha==1.0"], **venv_args)
    proc = ansible.play([{"wheelhouse.venv.venv_build": dict(requirements=["alpha"], constraints=["alpha==1.1"], **venv_args)}],
                        diff=True, callback="ansible.builtin.default")
    assert proc.returncode == 0, proc.stdout
    assert "-alpha==1.0\n+alpha==1.1" in proc.stdout
    assert "constraints.txt" in proc.stdout and "installed packages" in proc.stdout


@pytest.mark.controller
def test_facts_written_only_on_change_and_read_by_setup(ansible, venv_args, tmp_path):
    facts_dir = venv_args["facts_dir"]
    os.makedirs(facts_dir)
    with open(os.path.join(facts_dir, "app.fact"), "w") as handle:
        handle.write("[other]\nkept = yes\n")
    args = dict(requirements=["alpha"], facts=[{"section": "app", "option": "tag", "value": "v1"}], **venv_args)
    assert ansible.module(**args)["facts_written"] is True
    fact_file = os.path.join(facts_dir, "app.fact")
    assert oct(os.stat(fact_file).st_mode & 0o777) == "0o644"
    no_change = ansible.module(**dict(args, facts=[{"section": "app", "option": "tag", "value": "v2"}]))
    assert no_change["changed"] is False and no_change["facts_written"] is False
    proc = ansible.play([{"ansible.builtin.setup": {"fact_path": facts_dir, "gather_subset": ["!all", "local"]}}])
    local = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["ansible_facts"]["ansible_local"]
    assert local["app"] == {"other": {"kept": "yes"}, "app": {"tag": "v1", "sbom": venv_args["path"] + "/sbom.cdx.json"}}


@pytest.mark.controller
def test_credentials_never_show(ansible, venv_args, wheelhouse, tmp_path):
    server = subprocess.Popen(["python3", "-m", "http.server", "--bind", "127.0.0.1", "0", "--directory", wheelhouse],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    try:
        port = int(server.stdout.readline().split(" port ")[1].split()[0])
        secret = "s3cr3t-Pa55"
        url = "http://deploy:%s@127.0.0.1:%d/" % (secret, port)
        args = dict(venv_args, find_links=[url], index_url="https://tok:%s@127.0.0.1:9/simple" % secret,
                    requirements=["alpha"], facts=[{"section": "app", "option": "repo", "value": url}])
        ok = ansible.module(**args)
        assert ok["changed"] is True, ok["raw_output"]
        proc = ansible.play([{"wheelhouse.venv.venv_build": dict(args, requirements=["alpha", "gamma"]), "register": "r"},
                             {"ansible.builtin.debug": {"var": "r"}}], extra_args=["-vvv"], callback="ansible.builtin.default")
        assert proc.returncode == 0, proc.stdout
        failed = ansible.module(**dict(args, requirements=["alpha", "brokenpkg"]))
        assert failed["failed"] is True
        # a verification that prints the password alone (not in a URL): Ansible masks it in the result, the
        # module in its log
        told = ansible.module(**dict(args, requirements=["alpha", "delta"],
                                     verify_command=["sh", "-c", "echo the password is %s; exit 1" % secret]))
        assert told["failed"] is True and "the password is ********" in told["msg"], told["raw_output"]
        everything = ok["raw_output"] + proc.stdout + proc.stderr + failed["raw_output"] + told["raw_output"]
        everything += open(venv_args["log_file"]).read()
        for root, dummy, files in os.walk(venv_args["facts_dir"]):
            everything += "".join(open(os.path.join(root, f)).read() for f in files)
        everything += open(os.path.join(venv_args["path"], "wheelhouse-venv.json")).read()
        assert "deploy:********@" in everything
        assert secret not in everything
    finally:
        server.kill()


def test_state_absent(ansible, venv_args, tmp_path):
    ansible.module(requirements=["alpha"], **venv_args)
    assert ansible.module(state="absent", check=True, **venv_args)["changed"] is True
    assert os.path.isdir(venv_args["path"])
    assert ansible.module(state="absent", **venv_args)["changed"] is True
    assert not os.path.exists(venv_args["path"])
    assert ansible.module(state="absent", **venv_args)["changed"] is False
    not_a_venv = tmp_path / "data"
    not_a_venv.mkdir()
    (not_a_venv / "important").write_text("x")
    refused = ansible.module(state="absent", **dict(venv_args, path=str(not_a_venv)))
    assert refused["failed"] is True and "not a venv" in refused["msg"]
    assert (not_a_venv / "important").exists()


@pytest.mark.controller
def test_owner_group_mode(ansible, venv_args):
    args = dict(requirements=["alpha"], owner="nobody", group="nogroup", mode="0750", **venv_args)
    assert ansible.module(**args)["changed"] is True
    path = venv_args["path"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o750"
    uids = set(os.lstat(os.path.join(r, n)).st_uid for r, ds, fs in os.walk(path) for n in ds + fs)
    assert uids == {65534}
    assert ansible.module(**args)["changed"] is False
    os.chown(os.path.join(path, "requirements.txt"), 0, 0)
    repaired = ansible.module(**args)
    assert repaired["changed"] is True and "owner, group or mode" in repaired["reasons"][0]
    assert repaired["commands"] == []
    assert ansible.module(**args)["changed"] is False


def test_an_sdist_built_in_the_venv_finds_the_venvs_build_tool_on_path(ansible, venv_args, tmp_path):
    # needstool's setup.py runs wh-buildtool-version, a console script of wh-buildtool in the venv.
    tools = tmp_path / "tools"
    tools.mkdir()
    make_wheel(str(tools), "wh-buildtool", "1.0", console_script=True)
    make_sdist_running(str(tools), "needstool", "1.0", ["wh-buildtool-version"])
    args = dict(venv_args, find_links=venv_args["find_links"] + [str(tools)], extra_args="--no-build-isolation")
    first = ansible.module(requirements=["wh-buildtool"], **args)
    assert first["changed"] and first["packages"]["wh-buildtool"] == "1.0", first["raw_output"]
    added = ansible.module(requirements=["wh-buildtool", "needstool"], **args)
    assert added["changed"] and added["packages"]["needstool"] == "1.0", added.get("msg", added["raw_output"])
    assert imports(args["path"], "needstool")

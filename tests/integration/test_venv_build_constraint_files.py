"""Referenced constraints files ('--constraint <path or URL>' lines, as upstream's upper-constraints) for real."""

from __future__ import annotations

import json
import os

import pytest

from conftest import ROOT, tree_snapshot
from httpserve import basic_auth, serve
from wheelfactory import make_wheel

from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import STATE_FILE

SECRET = "upp3r-c0nstr4ints-pw"


@pytest.fixture
def served(tmp_path):
    """(folder, its URL with the credentials) of a local HTTP server behind basic auth."""
    folder = tmp_path / "served"
    folder.mkdir()
    with serve(basic_auth("deploy", SECRET), folder) as url:
        yield folder, url.replace("http://", "http://deploy:%s@" % SECRET)


def _versions(result):
    return dict((name, result["packages"][name]) for name in ("alpha", "beta"))


def test_a_local_constraints_file_constrains_the_install_and_a_change_of_its_content_reinstalls(
        ansible, venv_args, tmp_path):
    upper = tmp_path / "upper-constraints.txt"
    upper.write_text("# the global upper constraints\nbeta===1.0\n")
    args = dict(venv_args, requirements=["alpha"], global_constraints=["--constraint %s" % upper])
    first = ansible.module(**args)
    assert first["changed"] and _versions(first) == {"alpha": "1.1", "beta": "1.0"}, first["raw_output"]
    assert "beta===1.0\n" in (tmp_path / "venvs" / "app" / "global-constraints.txt").read_text()
    assert ansible.module(**args)["changed"] is False

    upper.write_text("beta===2.0\n")
    before = tree_snapshot(args["path"])
    predicted = ansible.module(check=True, diff=True, **args)
    assert predicted["changed"] is True and tree_snapshot(args["path"]) == before
    reason = "the inputs changed: the content of the constraints file %s changed" % upper
    assert predicted["reasons"] == [reason]
    changed = ansible.module(**args)
    assert changed["changed"] and changed["reasons"] == [reason] and _versions(changed) == {"alpha": "1.1", "beta": "2.0"}
    assert ansible.module(**args)["changed"] is False


def test_a_credentialed_url_is_read_by_the_module_and_never_shown(ansible, venv_args, tmp_path, served):
    folder, url = served
    (folder / "upper.txt").write_text("beta===1.0\nalpha===1.0\n")
    facts = [{"section": "app", "option": "constraints", "value": url + "upper.txt"}]
    args = dict(venv_args, requirements=["alpha"], constraints=["-c %supper.txt" % url], facts=facts)
    first = ansible.module(diff=True, **args)
    assert first["changed"] and _versions(first) == {"alpha": "1.0", "beta": "1.0"}, first["raw_output"]
    venv = tmp_path / "venvs" / "app"
    shown = url.replace("deploy:%s@" % SECRET, "") + "upper.txt"
    assert "# -c %s (sha256:" % shown in (venv / "constraints.txt").read_text()
    recorded = json.loads((venv / STATE_FILE).read_text())["constraint_files"]
    assert list(recorded) == [shown] and len(recorded[shown]) == 64
    everything = [first["raw_output"], open(venv_args["log_file"]).read()]
    everything += [(venv / name).read_text() for name in ("constraints.txt", "global-constraints.txt",
                                                          "requirements.txt", STATE_FILE)]
    everything += [(tmp_path / "facts.d" / "app.fact").read_text()]
    assert not [text for text in everything if SECRET in text]
    assert ansible.module(**args)["changed"] is False


@pytest.mark.parametrize("target, message", [
    ("http://127.0.0.1:9/upper.txt", "constraints: the constraints file http://127.0.0.1:9/upper.txt cannot be read"),
    ("{tmp}", "constraints: the constraints file {tmp} is not a regular file (it is a directory)"),
    ("{tmp}/missing.txt", "constraints: the constraints file {tmp}/missing.txt cannot be read: No such file"),
    ("upper.txt", "the path of a referenced constraints file must be absolute"),
])
def test_an_unreadable_constraints_file_fails_before_any_change(ansible, venv_args, tmp_path, target, message):
    ansible.module(requirements=["alpha"], **venv_args)
    before = tree_snapshot(venv_args["path"])
    failed = ansible.module(**dict(venv_args, requirements=["alpha"],
                                   constraints=["--constraint=" + target.format(tmp=tmp_path)]))
    assert failed.get("failed") is True and message.format(tmp=tmp_path) in failed["msg"], failed["msg"]
    assert tree_snapshot(venv_args["path"]) == before


def test_the_wheel_build_resolves_with_a_referenced_constraints_file_and_rebuilds_when_it_changes(ansible, tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    for name, version, requires in (("alpha", "1.0", ["beta>=1"]), ("beta", "1.0", []), ("beta", "2.0", [])):
        make_wheel(str(wheelhouse), name, version, requires)
    upper = tmp_path / "upper.txt"
    upper.write_text("beta===1.0\n")
    args = {"name": "app", "builder_venv": os.path.join(ROOT, ".venv"), "requirements": ["alpha"],
            "global_constraints": ["--constraint %s" % upper], "requirements_path": str(tmp_path / "requirements"),
            "wheel_path": str(tmp_path / "wheels"), "build_args": "--no-index --find-links %s" % wheelhouse}

    def build():
        proc = ansible.play([{"name": "wheels", "wheelhouse.venv.venv_wheel_build": args}])
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return result

    first = build()
    assert first["changed"] and first["install_constraints"] == ["alpha==1.0", "beta==1.0"]
    assert "beta===1.0" in (tmp_path / "requirements" / "app-global-constraints.txt").read_text()
    assert build()["changed"] is False
    upper.write_text("beta===2.0\n")
    again = build()
    assert again["status"] == "inputs changed" and again["install_constraints"] == ["alpha==1.0", "beta==2.0"]

"""Pure parts of roles/python_venv_build/files/venv_wheel_build.py (the build host's wheel build)."""

from __future__ import annotations

import base64
import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCRIPT = os.path.join(ROOT, "roles", "python_venv_build", "files", "venv_wheel_build.py")
_spec = importlib.util.spec_from_file_location("venv_wheel_build", SCRIPT)
wb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wb)

SHA_A = "a" * 64
SHA_B = "b" * 64


def wheel(name, version, sha=SHA_A, filename=None):
    return {"name": name, "version": version, "sha256": sha,
            "filename": filename or "%s-%s-py3-none-any.whl" % (name.replace("-", "_"), version)}


def test_parse_wheel_filename_normalises_name_and_version():
    assert wb.parse_wheel_filename("Tiny_Pkg-1.0.post1-py3-none-any.whl") == ("tiny-pkg", "1.0.post1")
    assert wb.parse_wheel_filename("cffi-1.17.1-1-cp311-cp311-manylinux_2_17_x86_64.whl") == ("cffi", "1.17.1")
    with pytest.raises(wb.WheelBuildError):
        wb.parse_wheel_filename("tiny-1.0.tar.gz")


def test_parse_compiled_reads_pins_direct_references_and_vcs_lines():
    text = "\n".join([
        "--index-url https://pypi.org/simple", "# comment", "",
        "Beta_Pkg==2.0", "    # via alpha", "tiny @ git+file:///srv/tiny@v1",
        "git+https://h/r.git@abc#egg=Other.Pkg", "gamma==1.0 ; python_version >= '3.8'",
    ])
    assert wb.parse_compiled(text) == ["beta-pkg", "tiny", "other-pkg", "gamma"]


def test_parse_compiled_refuses_editables_and_nameless_urls():
    with pytest.raises(wb.WheelBuildError, match="editable"):
        wb.parse_compiled("-e file:///srv/tiny#egg=tiny")
    with pytest.raises(wb.WheelBuildError, match="egg=NAME"):
        wb.parse_compiled("git+https://h/r.git@abc")


def test_render_hash_and_constraint_lines_sorted_by_name():
    wheels = [wheel("six", "1.17.0", SHA_B), wheel("idna", "3.10")]
    assert wb.render_hashes(wheels) == ["idna==3.10 --hash=sha256:" + SHA_A, "six==1.17.0 --hash=sha256:" + SHA_B]
    assert wb.render_constraints(wheels) == ["idna==3.10", "six==1.17.0"]


def test_check_wheel_set_names_missing_extra_and_double_wheels():
    assert wb.check_wheel_set(["a", "b"], [wheel("a", "1"), wheel("b", "1")]) == ""
    problem = wb.check_wheel_set(["a", "b"], [wheel("a", "1"), wheel("a", "2"), wheel("c", "1")])
    assert "no wheel for b" in problem and "unexpected wheel(s) c-1" in problem and "several wheels for a" in problem


def inputs(**changes):
    base = dict(requirements=["six"], constraints=[], global_constraints=[], tool="pip",
                build_args="--no-build-isolation", python_version="3.11", platform="deb12")
    base.update(changes)
    return wb.build_inputs(**base)


def test_fingerprint_ignores_comments_and_blank_lines_but_not_inputs():
    same = wb.fingerprint(inputs(requirements=["# note", "six", ""]))
    assert same == wb.fingerprint(inputs())
    for change in (dict(requirements=["six==1.16.0"]), dict(constraints=["six<2"]), dict(global_constraints=["x==1"]),
                   dict(tool="uv"), dict(build_args=""), dict(python_version="3.12"), dict(platform="deb13")):
        assert wb.fingerprint(inputs(**change)) != same, change


def test_assess_from_files(tmp_path):
    wheels_dir = tmp_path / "wheels"
    wheels_dir.mkdir()
    data = b"wheel bytes"
    import hashlib
    sha = hashlib.sha256(data).hexdigest()
    (wheels_dir / "six-1.17.0-py3-none-any.whl").write_bytes(data)
    state = {"fingerprint": "F", "wheels": [wheel("six", "1.17.0", sha, "six-1.17.0-py3-none-any.whl")]}
    assert wb.assess(None, "F", str(wheels_dir))[0] == "new"
    assert wb.assess(state, "G", str(wheels_dir))[0] == "inputs changed"
    assert wb.assess(state, "F", str(wheels_dir)) == ("current", "")
    (wheels_dir / "six-1.17.0-py3-none-any.whl").write_bytes(b"altered")
    status, problem = wb.assess(state, "F", str(wheels_dir))
    assert status == "tampered" and "venv_wheels_rebuild=true" in problem
    os.unlink(str(wheels_dir / "six-1.17.0-py3-none-any.whl"))
    assert wb.assess(state, "F", str(wheels_dir)) == ("wheels missing", "six-1.17.0-py3-none-any.whl")


def test_tool_pins_follow_the_builder_venv(tmp_path):
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "uv-0.9.5.dist-info").mkdir(parents=True)
    (site / "pip_tools-7.5.0.dist-info").mkdir()
    assert wb.installed_version(str(tmp_path), "UV") == "0.9.5"
    assert wb.installed_version(str(tmp_path), "pip-tools") == "7.5.0"
    assert wb.tool_pins(str(tmp_path), ["uv", "ruff"]) == ["uv==0.9.5", "ruff"]


def test_tool_wheels_are_part_of_the_fingerprint():
    assert wb.fingerprint(inputs(tool_wheels=["uv==0.9.5"])) != wb.fingerprint(inputs())
    assert wb.fingerprint(inputs(tool_wheels=["uv==0.9.5"])) != wb.fingerprint(inputs(tool_wheels=["uv==0.9.6"]))


def test_passwords_in_urls_are_masked_in_recorded_inputs():
    secret = "https://deploy:s3cr3t@pypi.example.org/simple"
    recorded = inputs(requirements=["pkg @ https://deploy:s3cr3t@files.example.org/pkg-1.0.tar.gz"],
                      constraints=["git+https://tok:s3cr3t@git.example.org/r.git@abc#egg=r"],
                      build_args="--extra-index-url %s" % secret)
    assert "s3cr3t" not in json.dumps(recorded)
    assert recorded["build_args"] == ["--extra-index-url", "https://deploy:********@pypi.example.org/simple"]
    assert wb.mask("git+ssh://git@host/r.git and " + secret) == (
        "git+ssh://git@host/r.git and https://deploy:********@pypi.example.org/simple")
    # Only the password changed: the same build.
    assert wb.fingerprint(inputs(build_args="--extra-index-url https://deploy:other@pypi.example.org/simple")) == \
        wb.fingerprint(inputs(build_args="--extra-index-url %s" % secret))


def test_resolver_commands_for_pip_tools_and_uv():
    cmd = wb.resolver_command("pip", "/b", "/t/in", "/t/out", "--no-build-isolation --index-url http://i/simple", False)
    assert cmd[0] == "/b/bin/pip-compile" and "--no-build-isolation" in cmd and cmd[-1] == "/t/in"
    assert cmd[cmd.index("--pip-args") + 1] == "--index-url http://i/simple"
    assert "--rebuild" in wb.resolver_command("pip", "/b", "i", "o", "", True)
    uv = wb.resolver_command("uv", "/b", "/t/in", "/t/out", "", True)
    assert uv[:3] == ["/b/bin/uv", "pip", "compile"] and "--no-cache" in uv


def test_uv_gets_the_index_options_of_the_build_arguments():
    args = ["--index-url", "http://i/simple", "--find-links=/w", "--no-index", "--prefer-binary",
            "--trusted-host", "i", "--extra-index-url", "http://j/simple"]
    assert wb.uv_index_args(args) == ["--index-url", "http://i/simple", "--find-links=/w", "--no-index",
                                      "--allow-insecure-host", "i", "--extra-index-url", "http://j/simple"]
    uv = wb.resolver_command("uv", "/b", "in", "out", "--no-build-isolation -f /w --no-index", False)
    assert uv[-4:] == ["-f", "/w", "--no-index", "in"] and "--no-build-isolation" in uv


def test_wheel_command_reuses_built_wheels_unless_rebuilding(tmp_path):
    cmd = wb.wheel_command("/b", "/t/c.txt", "/t/w", "--no-build-isolation", str(tmp_path), False)
    assert cmd[:4] == ["/b/bin/python", "-m", "pip", "wheel"] and "--no-deps" in cmd
    assert cmd[cmd.index("--find-links") + 1] == str(tmp_path) and cmd[-1] == "--no-build-isolation"
    rebuild = wb.wheel_command("/b", "/t/c.txt", "/t/w", "", str(tmp_path), True)
    assert "--no-cache-dir" in rebuild and "--find-links" not in rebuild


def test_parameters_are_checked_and_defaulted():
    params = wb.parse_parameters({"name": "v", "builder_venv": "/b", "requirements": ["six"],
                                  "requirements_path": "/r", "wheel_path": "/w", "rebuild": "True",
                                  "lock_timeout": "5"})
    assert params["rebuild"] is True and params["lock_timeout"] == 5 and params["tool"] == "pip"
    with pytest.raises(wb.WheelBuildError, match="requirements_path is required"):
        wb.parse_parameters({"name": "v", "builder_venv": "/b", "requirements": [], "wheel_path": "/w"})
    with pytest.raises(wb.WheelBuildError, match="unknown parameters: bogus"):
        wb.parse_parameters({"bogus": 1})
    with pytest.raises(wb.WheelBuildError, match="tool must be pip or uv"):
        wb.parse_parameters({"name": "v", "builder_venv": "/b", "requirements": [], "requirements_path": "/r",
                             "wheel_path": "/w", "tool": "conda"})


def test_main_prints_a_json_failure_for_bad_parameters(capsys, monkeypatch):
    assert wb.main([base64.b64encode(json.dumps({"name": "v"}).encode()).decode()]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] is True and "is required" in out["msg"]
    monkeypatch.setenv(wb.PARAMETERS_VARIABLE, base64.b64encode(json.dumps({"name": "v"}).encode()).decode())
    assert wb.main([]) == 1
    assert "is required" in json.loads(capsys.readouterr().out)["msg"]
    assert wb.PARAMETERS_VARIABLE not in os.environ, "the parameters would reach pip"
    assert wb.main([]) == 1 and "usage" in json.loads(capsys.readouterr().out)["msg"]


def test_lock_times_out_while_another_build_holds_it(tmp_path):
    lock = str(tmp_path / ".lock")
    with wb.file_lock(lock, 1):
        with pytest.raises(wb.WheelBuildError, match="another wheel build holds"):
            with wb.file_lock(lock, 0):
                pass
    with wb.file_lock(lock, 0):
        pass


def make_builder(tmp_path, rebuild=False):
    params = wb.parse_parameters({"name": "venv-a", "builder_venv": str(tmp_path / "b"), "requirements": ["x"],
                                  "requirements_path": str(tmp_path / "req"), "wheel_path": str(tmp_path / "wheels"),
                                  "rebuild": rebuild})
    for folder in ("req", "wheels", "new"):
        (tmp_path / folder).mkdir(exist_ok=True)
    return wb.WheelBuilder(params)


def test_move_keeps_an_existing_wheel_of_the_same_name_and_its_hash(tmp_path):
    builder = make_builder(tmp_path)
    (tmp_path / "wheels" / "x-1-py3-none-any.whl").write_bytes(b"first build")
    (tmp_path / "new" / "x-1-py3-none-any.whl").write_bytes(b"second build")
    built = [wheel("x", "1", wb.sha256_file(str(tmp_path / "new" / "x-1-py3-none-any.whl")), "x-1-py3-none-any.whl")]
    moved = builder.move_wheels(str(tmp_path / "new"), built, rebuild=False)
    assert (tmp_path / "wheels" / "x-1-py3-none-any.whl").read_bytes() == b"first build"
    assert moved[0]["sha256"] == wb.sha256_file(str(tmp_path / "wheels" / "x-1-py3-none-any.whl"))


def test_rebuild_replaces_the_wheel_and_updates_other_venvs_hashes(tmp_path):
    builder = make_builder(tmp_path, rebuild=True)
    (tmp_path / "wheels" / "x-1-py3-none-any.whl").write_bytes(b"first build")
    old = wb.sha256_file(str(tmp_path / "wheels" / "x-1-py3-none-any.whl"))
    other = {"version": wb.STATE_VERSION, "fingerprint": "F", "wheels": [wheel("x", "1", old, "x-1-py3-none-any.whl")]}
    (tmp_path / "req" / "venv-b-build.json").write_text(json.dumps(other))
    (tmp_path / "new" / "x-1-py3-none-any.whl").write_bytes(b"second build")
    new = wb.sha256_file(str(tmp_path / "new" / "x-1-py3-none-any.whl"))
    builder.move_wheels(str(tmp_path / "new"), [wheel("x", "1", new, "x-1-py3-none-any.whl")], rebuild=True)
    assert (tmp_path / "wheels" / "x-1-py3-none-any.whl").read_bytes() == b"second build"
    updated = json.loads((tmp_path / "req" / "venv-b-build.json").read_text())
    assert updated["wheels"][0]["sha256"] == new
    assert (tmp_path / "req" / "venv-b-hashes.txt").read_text() == "x==1 --hash=sha256:%s\n" % new


def test_failure_summary_puts_the_cause_before_the_traceback():
    frames = ["  File \"/x/pip/_internal/resolution.py\", line %d, in resolve" % n for n in range(60)]
    output = "\n".join(["Collecting six==0.0.1", "ERROR: Could not find a version that satisfies the requirement "
                        "six==0.0.1 (from versions: 1.16.0)"] + frames + ["pip._internal.exceptions.ResolutionImpossible"])
    summary = wb.failure_summary(output).splitlines()
    assert summary[0].startswith("ERROR: Could not find a version") and "six==0.0.1" in summary[0]
    assert summary[1] == "pip._internal.exceptions.ResolutionImpossible" and summary[2] == "..."
    assert summary[-1] == frames[-1] and len(summary) <= 2 + 1 + 25


def test_failure_summary_of_uv_and_plain_tails():
    uv = "  × No solution found when resolving dependencies:\n  \u2570\u2500\u25b6 Because six==0.0.1 was not found, we can conclude..."
    assert "six==0.0.1" in wb.failure_summary(uv)
    assert wb.failure_summary("a\nb\nc", tail_lines=2) == "b\nc"

"""plugins/module_utils/_wheelbuild.py: the pure helpers, and WheelBuilder with a runner that stands in for pip.

The real resolver and pip wheel run in tests/integration/test_venv_wheel_build.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands, _masking as masking, _wheelbuild as wb
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError

SHA_A = "a" * 64
SHA_B = "b" * 64


def wheel(name, version, sha=SHA_A, filename=None):
    return {"name": name, "version": version, "sha256": sha,
            "filename": filename or "%s-%s-py3-none-any.whl" % (name.replace("-", "_"), version)}


def test_parse_wheel_filename_normalises_name_and_version():
    assert wb.parse_wheel_filename("Tiny_Pkg-1.0.post1-py3-none-any.whl") == ("tiny-pkg", "1.0.post1")
    assert wb.parse_wheel_filename("cffi-1.17.1-1-cp311-cp311-manylinux_2_17_x86_64.whl") == ("cffi", "1.17.1")
    with pytest.raises(VenvBuildError):
        wb.parse_wheel_filename("tiny-1.0.tar.gz")


def test_parse_compiled_reads_pins_direct_references_and_vcs_lines():
    text = "\n".join([
        "--index-url https://pypi.org/simple", "# comment", "",
        "Beta_Pkg==2.0", "    # via alpha", "tiny @ git+file:///srv/tiny@v1",
        "git+https://h/r.git@abc#egg=Other.Pkg", "gamma==1.0 ; python_version >= '3.8'",
        # pip-compile writes local URLs with one slash.
        "wh-alpha @ git+file:/srv/git/wh-alpha", "local-pkg @ file:/srv/local-pkg-1.0.tar.gz",
    ])
    assert wb.parse_compiled(text) == ["beta-pkg", "tiny", "other-pkg", "gamma", "wh-alpha", "local-pkg"]


def test_parse_compiled_refuses_editables_and_nameless_urls():
    with pytest.raises(VenvBuildError, match="editable"):
        wb.parse_compiled("-e file:///srv/tiny#egg=tiny")
    with pytest.raises(VenvBuildError, match="egg=NAME"):
        wb.parse_compiled("git+https://h/r.git@abc")
    with pytest.raises(VenvBuildError, match="names no package") as failure:
        wb.parse_compiled("!pkg https://u:s3cr3t@h/pkg.tar.gz")
    assert "s3cr3t" not in failure.value.msg


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
    assert wb.fingerprint(inputs(requirements=["six  # why"])) == same
    for change in (dict(requirements=["six==1.16.0"]), dict(constraints=["six<2"]), dict(global_constraints=["x==1"]),
                   dict(tool="uv"), dict(build_args=""), dict(python_version="3.12"), dict(platform="deb13")):
        assert wb.fingerprint(inputs(**change)) != same, change


def test_assess_from_files(tmp_path):
    wheels_dir = tmp_path / "wheels"
    wheels_dir.mkdir()
    data = b"wheel bytes"
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


def fake_builder_venv(path, python="3.11", dists=()):
    """pyvenv.cfg and a site-packages with the METADATA of each (name, version)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\nversion = %s.2\n" % python)
    site = path / "lib" / ("python%s" % python) / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    for name, version in dists:
        meta = site / ("%s-%s.dist-info" % (name.replace("-", "_"), version))
        meta.mkdir(exist_ok=True)
        (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n\n" % (name, version))
        (meta / "RECORD").write_text("%s/METADATA,,\n" % meta.name)
    return str(path)


def test_tool_pins_follow_the_builder_venv(tmp_path):
    builder = fake_builder_venv(tmp_path / "b", dists=[("uv", "0.9.5"), ("pip-tools", "7.5.0")])
    assert wb.builder_python_version(builder) == "3.11"
    assert wb.installed_version(builder, "UV") == "0.9.5"
    assert wb.installed_version(builder, "pip_tools") == "7.5.0"
    assert wb.tool_pins(builder, ["uv", "ruff"]) == ["uv==0.9.5", "ruff"]
    assert wb.installed_version(str(tmp_path / "none"), "uv") == ""
    assert wb.builder_python_version(str(tmp_path / "none")) is None


def test_tool_wheels_are_part_of_the_fingerprint():
    assert wb.fingerprint(inputs(tool_wheels=["uv==0.9.5"])) != wb.fingerprint(inputs())
    assert wb.fingerprint(inputs(tool_wheels=["uv==0.9.5"])) != wb.fingerprint(inputs(tool_wheels=["uv==0.9.6"]))


def test_build_tools_are_fingerprinted_with_the_builder_versions_and_only_when_given(tmp_path):
    builder = fake_builder_venv(tmp_path / "b", dists=[("Cython", "3.0.11")])
    tools = wb.build_tool_versions(builder, ["cython>=3", "# note", "maturin"])
    assert tools == [["cython>=3", "3.0.11"], ["maturin", ""]]
    # A set built before build tools existed keeps its fingerprint.
    assert wb.fingerprint(inputs(build_tools=[])) == wb.fingerprint(inputs())
    assert wb.fingerprint(inputs(build_tools=tools)) != wb.fingerprint(inputs())
    assert wb.fingerprint(inputs(build_tools=[["cython>=3", "3.1.0"]])) != wb.fingerprint(inputs(build_tools=tools[:1]))
    masked = inputs(build_tools=[["tool @ https://u:s3cr3t@h/tool-1.0.tar.gz", "1.0"]])["build_tools"]
    assert "s3cr3t" not in str(masked)


def test_passwords_in_urls_are_masked_in_recorded_inputs():
    secret = "https://deploy:s3cr3t@pypi.example.org/simple"
    recorded = inputs(requirements=["pkg @ https://deploy:s3cr3t@files.example.org/pkg-1.0.tar.gz"],
                      constraints=["git+https://tok:s3cr3t@git.example.org/r.git@abc#egg=r"],
                      build_args="--extra-index-url %s" % secret)
    assert "s3cr3t" not in json.dumps(recorded)
    assert recorded["build_args"] == ["--extra-index-url", "https://deploy:********@pypi.example.org/simple"]
    # Only the password changed: the same build.
    assert wb.fingerprint(inputs(build_args="--extra-index-url https://deploy:other@pypi.example.org/simple")) == \
        wb.fingerprint(inputs(build_args="--extra-index-url %s" % secret))


def test_environment_secrets_are_url_credentials_and_secret_named_variables():
    env = {"PIP_INDEX_URL": "https://deploy:s3cr3t@pypi.example.org/simple", "UV_INDEX_PRIVATE_PASSWORD": "pw1",
           "MY_API_TOKEN": "tok2", "PIP_CERT": "/etc/ssl/ca.pem", "PIP_NO_CACHE_DIR": "1", "EMPTY_PASSWORD": ""}
    assert masking.environment_secrets(env) == {"s3cr3t", "pw1", "tok2"}
    assert masking.environment_secrets({}) == set()


def test_resolver_commands_for_pip_tools_and_uv():
    cmd = wb.resolver_command("pip", "/b", "/t/in", "/t/out", "--no-build-isolation --index-url http://i/simple", False)
    assert cmd[0] == "/b/bin/pip-compile" and "--no-build-isolation" in cmd and cmd[-1] == "/t/in"
    assert cmd[cmd.index("--pip-args") + 1] == "--index-url http://i/simple"
    assert "--rebuild" in wb.resolver_command("pip", "/b", "i", "o", "", True)
    uv = wb.resolver_command("uv", "/b", "/t/in", "/t/out", "", True)
    assert uv[:3] == ["/b/bin/uv", "pip", "compile"] and "--no-cache" in uv
    assert uv[uv.index("--python") + 1] == "/b/bin/python"


def test_uv_gets_the_index_options_of_the_build_arguments():
    args = ["--index-url", "http://i/simple", "--find-links=/w", "--no-index", "--prefer-binary",
            "--trusted-host", "i", "--extra-index-url", "http://j/simple"]
    assert wb.uv_index_args(args) == ["--index-url", "http://i/simple", "--find-links=/w", "--no-index",
                                      "--allow-insecure-host", "i", "--extra-index-url", "http://j/simple"]
    uv = wb.resolver_command("uv", "/b", "in", "out", "--no-build-isolation -f /w --no-index", False)
    assert uv[-4:] == ["-f", "/w", "--no-index", "in"] and "--no-build-isolation" in uv


@pytest.mark.parametrize("tool, variable", [("pip", "PIP_INDEX_URL"), ("uv", "UV_INDEX_URL")])
def test_credentials_of_the_build_arguments_stay_off_the_command_lines(tmp_path, tool, variable):
    """The resolver and pip wheel get a credentialed index in their environment (ps shows command lines)."""
    url = "https://deploy:s3cr3t@pypi.example.org/simple"
    build_args = "--no-build-isolation --index-url %s --prefer-binary" % url
    resolver = wb.resolver_command(tool, "/b", "/t/in", "/t/out", build_args, False)
    wheel = wb.wheel_command("/b", "/t/c.txt", "/t/w", build_args, str(tmp_path), False)
    for cmd, want in ((resolver, variable), (wheel, "PIP_INDEX_URL")):
        assert not any("s3cr3t" in arg for arg in cmd), cmd
        assert cmd.env == {want: url}
        assert "s3cr3t" not in commands.display(cmd)
    assert "--prefer-binary" in wheel


def test_wheel_command_reuses_built_wheels_unless_rebuilding(tmp_path):
    cmd = wb.wheel_command("/b", "/t/c.txt", "/t/w", "--no-build-isolation", str(tmp_path), False)
    assert cmd[:4] == ["/b/bin/python", "-m", "pip", "wheel"] and "--no-deps" in cmd
    assert cmd[cmd.index("--find-links") + 1] == str(tmp_path) and cmd[-1] == "--no-build-isolation"
    rebuild = wb.wheel_command("/b", "/t/c.txt", "/t/w", "", str(tmp_path), True)
    assert "--no-cache-dir" in rebuild and "--find-links" not in rebuild


def test_lock_times_out_while_another_build_holds_it(tmp_path):
    lock = str(tmp_path / ".lock")
    with wb.file_lock(lock, 1):
        with pytest.raises(VenvBuildError, match="another wheel build holds"):
            with wb.file_lock(lock, 0):
                pass
    with wb.file_lock(lock, 0):
        pass


def test_owner_ids_take_names_and_numbers():
    assert wb.owner_ids(None, "") == (-1, -1)
    assert wb.owner_ids("0", "0") == (0, 0)
    assert wb.owner_ids("root", None)[0] == 0
    with pytest.raises(VenvBuildError, match="does not exist"):
        wb.owner_ids("no-such-user-here", None)


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


def test_failure_summary_keeps_the_error_of_a_build_subprocess_before_a_long_traceback():
    # pip indents the output of setup.py: a build tool missing from PATH shows only there.
    output = "\n".join(["    error: subprocess-exited-with-error",
                        "        FileNotFoundError: [Errno 2] No such file or directory: 'cython'"]
                       + ["  File \"x.py\", line %d, in f" % n for n in range(60)])
    assert "No such file or directory: 'cython'" in wb.failure_summary(output)


def test_isolation_warning_only_for_build_tools_under_isolation():
    assert "--no-build-isolation" in wb.isolation_warning(["cython"], "--no-index", {})
    assert wb.isolation_warning(["cython"], "--no-index --no-build-isolation", {}) is None
    assert wb.isolation_warning(["cython"], "", {"UV_NO_BUILD_ISOLATION": "1"}) is None
    assert wb.isolation_warning([], "", {}) is None and wb.isolation_warning(["# a comment"], None, None) is None


def test_failure_summary_keeps_indented_error_lines_of_pip_26():
    # pip 26 indents the ERROR lines of the isolated build's own pip run; a long tail must not hide them.
    output = "\n".join(["  Installing build dependencies: finished with status 'error'",
                        "  error: subprocess-exited-with-error",
                        "        ERROR: No matching distribution found for setuptools>=40.8.0"]
                       + ["  note: line %d" % n for n in range(60)])
    summary = wb.failure_summary(output)
    assert "ERROR: No matching distribution found for setuptools>=40.8.0" in summary
    assert summary.index("setuptools>=40.8.0") < summary.index("note: line 59")


# --- WheelBuilder, with a runner standing in for pip-compile and pip wheel ---------------------------


class FakePip(object):
    """Resolves every requirement to the pins given; 'builds' one wheel file per pinned line."""

    def __init__(self, pins, fail=None):
        self.pins = pins
        self.fail = fail
        self.calls = []

    def __call__(self, argv, env, cwd):
        self.calls.append((list(argv), dict(env), cwd))
        if self.fail and self.fail[0] in argv[0] + " " + " ".join(argv[1:4]):
            return self.fail[1], "", self.fail[2]
        if "--output-file" in argv:
            with open(argv[argv.index("--output-file") + 1], "w") as handle:
                handle.write("".join("%s==%s\n" % pin for pin in self.pins))
            return 0, "", ""
        wheel_dir = argv[argv.index("--wheel-dir") + 1]
        with open(argv[argv.index("-r") + 1]) as handle:
            for line in handle.read().split():
                name, _sep, version = line.partition("==")
                content = ("%s %s %d" % (name, version, len(self.calls))).encode()
                with open(os.path.join(wheel_dir, "%s-%s-py3-none-any.whl" % (name, version)), "wb") as out:
                    out.write(content)
        return 0, "Saved wheels\n", ""


def params(tmp_path, **changes):
    base = {"name": "app", "builder_venv": fake_builder_venv(tmp_path / "builder", dists=[("uv", "0.9.5")]),
            "requirements": ["alpha"], "constraints": [], "global_constraints": [],
            "requirements_path": str(tmp_path / "p" / "requirements"), "wheel_path": str(tmp_path / "p" / "wheels"),
            "tool": "pip", "build_args": "", "environment": {}, "rebuild": False, "platform": "deb12",
            "tool_wheels": [], "owner": None, "group": None, "lock_timeout": 5,
            "log_file": str(tmp_path / "logs" / "build.log")}
    base.update(changes)
    return base


def test_check_mode_then_build_then_no_op(tmp_path):
    pip = FakePip([("alpha", "1.0"), ("beta", "1.0")])
    predicted = wb.WheelBuilder(params(tmp_path), pip, check_mode=True).execute()
    assert predicted["changed"] and predicted["status"] == "new" and predicted["install_requirements"] == []
    assert pip.calls == [] and not (tmp_path / "p").exists() and not (tmp_path / "logs").exists()

    built = wb.WheelBuilder(params(tmp_path), pip).execute()
    assert built["changed"] and built["status"] == "new" and len(built["commands"]) == 2
    assert [w["filename"] for w in built["wheels"]] == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"]
    assert built["install_constraints"] == ["alpha==1.0", "beta==1.0"]
    assert pip.calls[0][1]["PIP_NO_INPUT"] == "1" and pip.calls[0][2] == str(tmp_path / "p" / "requirements")
    req = tmp_path / "p" / "requirements"
    assert (req / "app-hashes.txt").read_text().splitlines() == built["install_requirements"]
    assert (req / "app-constraints.txt").read_text() == "alpha==1.0\nbeta==1.0\n"
    assert json.loads((req / "app-build.json").read_text())["fingerprint"] == built["fingerprint"]
    assert not [e for e in os.listdir(str(tmp_path / "p")) if e.startswith(".build-")]

    again = wb.WheelBuilder(params(tmp_path), pip).execute()
    assert not again["changed"] and again["commands"] == [] and again["status"] == "current"
    assert again["install_requirements"] == built["install_requirements"]
    assert wb.WheelBuilder(params(tmp_path), pip, check_mode=True).execute()["changed"] is False


def test_the_builder_bin_comes_first_on_path_for_the_resolver_and_pip_wheel(tmp_path):
    pip = FakePip([("alpha", "1.0")])
    given = params(tmp_path, environment={"PATH": "/opt/tools/bin:/usr/bin"}, build_tools=["cython"])
    built = wb.WheelBuilder(given, pip).execute()
    builder_bin = os.path.join(given["builder_venv"], "bin")
    assert len(pip.calls) == 2
    for _argv, env, _cwd in pip.calls:
        assert env["PATH"] == builder_bin + ":/opt/tools/bin:/usr/bin"
    state = json.loads((tmp_path / "p" / "requirements" / "app-build.json").read_text())
    assert state["inputs"]["build_tools"] == [["cython", ""]]
    # The tool shows up in the builder venv: a new fingerprint, the set is built again.
    fake_builder_venv(tmp_path / "builder", dists=[("cython", "3.0.11")])
    again = wb.WheelBuilder(given, pip).execute()
    assert again["changed"] and again["status"] == "inputs changed" and again["fingerprint"] != built["fingerprint"]


def test_bin_first_on_path_takes_the_given_path_else_the_process_path(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin")
    assert commands.bin_first_on_path("/v", {"X": "1"}) == {"X": "1", "PATH": "/v/bin:/usr/local/bin:/usr/bin"}
    assert commands.bin_first_on_path("/v", {"PATH": "/a"})["PATH"] == "/v/bin:/a"
    assert commands.bin_first_on_path("/v", {"PATH": "/v/bin:/a"})["PATH"] == "/v/bin:/a", "already first"


def test_a_tampered_wheel_fails_unless_rebuilding(tmp_path):
    pip = FakePip([("alpha", "1.0")])
    wb.WheelBuilder(params(tmp_path), pip).execute()
    (tmp_path / "p" / "wheels" / "alpha-1.0-py3-none-any.whl").write_bytes(b"altered")
    assert wb.WheelBuilder(params(tmp_path), pip, check_mode=True).execute()["status"] == "tampered"
    with pytest.raises(VenvBuildError, match="altered after the build"):
        wb.WheelBuilder(params(tmp_path), pip).execute()
    rebuilt = wb.WheelBuilder(params(tmp_path, rebuild=True), pip).execute()
    assert rebuilt["status"] == "rebuild" and rebuilt["changed"]
    assert "--no-cache-dir" in pip.calls[-1][0] and "--rebuild" in pip.calls[-2][0]
    assert (tmp_path / "p" / "wheels" / "alpha-1.0-py3-none-any.whl").read_bytes() != b"altered"
    assert not wb.WheelBuilder(params(tmp_path), pip).execute()["changed"]


def test_tool_wheels_are_pinned_to_the_builder_and_kept_apart(tmp_path):
    pip = FakePip([("alpha", "1.0")])
    result = wb.WheelBuilder(params(tmp_path, tool_wheels=["uv"]), pip).execute()
    assert [w["filename"] for w in result["tool_wheels"]] == ["uv-0.9.5-py3-none-any.whl"]
    assert result["install_constraints"] == ["alpha==1.0"]
    assert pip.calls[-1][0][-2:] == ["--only-binary", ":all:"]


def test_a_failing_command_names_the_cause_and_the_log_without_secrets(tmp_path):
    pip = FakePip([], fail=("pip-compile", 2, "Collecting x\nERROR: No matching distribution found for nosuchpkg\n"))
    args = params(tmp_path, requirements=["alpha", "nosuchpkg"],
                  build_args="--index-url https://deploy:s3cr3t@pypi.example.org/simple",
                  environment={"PIP_CERT": "/ca.pem"})
    builder = wb.WheelBuilder(args, pip)
    with pytest.raises(VenvBuildError) as failure:
        builder.execute()
    msg = failure.value.msg
    assert msg.startswith("resolving the requirements failed (rc=2)") and "ERROR: No matching distribution" in msg
    assert "The whole output is in %s." % args["log_file"] in msg and "s3cr3t" not in msg
    assert failure.value.details["commands"] == builder.commands and "s3cr3t" not in builder.commands[0]
    assert pip.calls[0][1]["PIP_CERT"] == "/ca.pem"
    log = (tmp_path / "logs" / "build.log").read_text()
    assert "wheel build app for deb12" in log and "nosuchpkg" in log and "s3cr3t" not in log
    assert not (tmp_path / "p" / "requirements" / "app-build.json").exists()


def test_the_builder_venv_must_exist_except_in_check_mode(tmp_path):
    args = params(tmp_path, builder_venv=str(tmp_path / "missing"))
    with pytest.raises(VenvBuildError, match="does not exist"):
        wb.WheelBuilder(args, FakePip([])).execute()
    assert wb.WheelBuilder(args, FakePip([]), check_mode=True).execute()["status"] == "new"
    with pytest.raises(VenvBuildError, match="no requirements"):
        wb.WheelBuilder(params(tmp_path, requirements=["# nothing"]), FakePip([])).execute()


def test_a_builder_venv_whose_python_version_cannot_be_read_says_so(tmp_path):
    builder = tmp_path / "broken-builder"
    builder.mkdir()
    (builder / "pyvenv.cfg").write_text("home = /usr/bin\n")
    with pytest.raises(VenvBuildError) as failure:
        wb.WheelBuilder(params(tmp_path, builder_venv=str(builder)), FakePip([])).execute()
    assert failure.value.msg == ("the builder venv %s names no Python version in its pyvenv.cfg (version = X.Y.Z): "
                                 "a broken venv; make it again" % builder)


def make_builder(tmp_path, rebuild=False):
    for folder in ("req", "wheels", "new"):
        (tmp_path / folder).mkdir(exist_ok=True)
    return wb.WheelBuilder(params(tmp_path, name="venv-a", requirements_path=str(tmp_path / "req"),
                                  wheel_path=str(tmp_path / "wheels"), rebuild=rebuild), FakePip([]))


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


# --- the PEP 751 lock beside the wheels ------------------------------------------------------------


def test_a_build_writes_the_lock_beside_the_wheels_and_a_no_op_writes_nothing(tmp_path):
    pip = FakePip([("alpha", "1.0"), ("beta", "1.0")])
    lock = tmp_path / "p" / "wheels" / "pylock.app.toml"
    predicted = wb.WheelBuilder(params(tmp_path), pip, check_mode=True).execute()
    assert predicted["lock"] == str(lock) and predicted["lock_sha256"] == predicted["lock_content"] == ""
    assert not lock.exists()
    built = wb.WheelBuilder(params(tmp_path, tool_wheels=["uv"]), pip).execute()
    assert built["changed"] and built["lock"] == str(lock)
    assert built["lock_sha256"] == wb.sha256_file(str(lock))
    # its text comes back too (for targets that install from an index and cannot read the file)
    assert built["lock_content"] == lock.read_text()
    data = tomllib.loads(lock.read_text())
    assert data["requires-python"] == "==3.11.*" and data["tool"]["wheelhouse-venv"]["platform"] == "deb12"
    # the venv's distributions, not the tool wheels beside them
    assert [(p["name"], p["version"], p["wheels"][0]["path"], p["wheels"][0]["hashes"]["sha256"]) for p in data["packages"]] == [
        (w["name"], w["version"], w["filename"], w["sha256"]) for w in built["wheels"]]
    before = os.stat(str(lock))
    again = wb.WheelBuilder(params(tmp_path, tool_wheels=["uv"]), pip).execute()
    assert not again["changed"] and again["lock_sha256"] == built["lock_sha256"]
    assert again["lock_content"] == built["lock_content"]
    assert os.stat(str(lock)).st_mtime_ns == before.st_mtime_ns and os.stat(str(lock)).st_ino == before.st_ino
    assert wb.WheelBuilder(params(tmp_path, tool_wheels=["uv"]), pip, check_mode=True).execute()["changed"] is False


def test_a_missing_or_altered_lock_of_a_current_set_is_written_again(tmp_path):
    pip = FakePip([("alpha", "1.0")])
    built = wb.WheelBuilder(params(tmp_path), pip).execute()
    lock = tmp_path / "p" / "wheels" / "pylock.app.toml"
    text = lock.read_text()
    for damage in (lock.unlink, lambda: lock.write_text(text.replace("1.0", "9.9"))):
        damage()
        checked = wb.WheelBuilder(params(tmp_path), pip, check_mode=True).execute()
        assert checked["changed"] and checked["status"] == "current" and checked["lock_sha256"] == built["lock_sha256"]
        assert not lock.exists() or lock.read_text() != text
        calls = len(pip.calls)
        fixed = wb.WheelBuilder(params(tmp_path), pip).execute()
        assert fixed["changed"] and fixed["status"] == "current" and len(pip.calls) == calls, "no build for the lock"
        assert lock.read_text() == text


def test_a_lock_file_of_another_wheel_set_is_not_overwritten(tmp_path):
    pip = FakePip([("alpha", "1.0")])
    wb.WheelBuilder(params(tmp_path, name="glance-29.0.0"), pip).execute()
    lock = tmp_path / "p" / "wheels" / "pylock.glance-29-0-0.toml"
    assert lock.exists()
    text = lock.read_text()
    with pytest.raises(VenvBuildError, match="pylock.glance-29-0-0.toml is the lock of the wheel set glance-29.0.0"):
        wb.WheelBuilder(params(tmp_path, name="glance-29-0-0"), pip).execute()
    assert lock.read_text() == text and not (tmp_path / "p" / "requirements" / "glance-29-0-0-build.json").exists()


def test_rebuild_replacing_a_shared_wheel_rewrites_the_other_sets_lock(tmp_path):
    pip = FakePip([("alpha", "1.0")])
    wb.WheelBuilder(params(tmp_path, name="one"), pip).execute()
    wb.WheelBuilder(params(tmp_path, name="two"), pip).execute()
    wb.WheelBuilder(params(tmp_path, name="one", rebuild=True), pip).execute()
    new = wb.sha256_file(str(tmp_path / "p" / "wheels" / "alpha-1.0-py3-none-any.whl"))
    for name in ("one", "two"):
        data = tomllib.loads((tmp_path / "p" / "wheels" / ("pylock.%s.toml" % name)).read_text())
        assert data["packages"][0]["wheels"][0]["hashes"]["sha256"] == new, name
    assert not wb.WheelBuilder(params(tmp_path, name="two"), pip).execute()["changed"]

"""build_requirements: checked and fingerprinted as inputs, installed by an installer run of their own first."""

from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands, _deps as deps
from ansible_collections.wheelhouse.venv.plugins.module_utils import _fsops as fsops
from ansible_collections.wheelhouse.venv.plugins.module_utils import _sync as sync_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import VenvOnDisk

PY = "%d.%d.%d" % sys.version_info[:3]
FILES = {"requirements": "/v/requirements.txt", "constraints": "/v/c.txt", "global_constraints": "/v/g.txt"}


def spec(path="/opt/app/venv", **params):
    return VenvSpec(dict({"path": str(path), "python": sys.executable, "requirements": ["alpha"]}, **params))


@pytest.mark.parametrize("lines, message", [
    (["tool", "bad>="], "build_requirements line 2"),
    (["./build-requirements.txt"], "build_requirements: './build-requirements.txt' is a requirements file"),
])
def test_bad_build_requirements_are_named(lines, message):
    with pytest.raises(VenvBuildError, match=message):
        spec(build_requirements=lines)


def test_an_exact_pin_the_constraints_forbid_is_a_conflict():
    s = spec(build_requirements=["tool==1.0"], constraints=["tool==2.0"])
    with pytest.raises(VenvBuildError, match="tool 1.0 is not allowed by ==2.0"):
        s.check_conflicts({})


def test_build_requirements_are_part_of_the_fingerprint_only_when_given():
    plain = spec()
    assert "build_requirements" not in plain.fingerprint_inputs(PY), "a venv made before keeps its fingerprint"
    tooled = spec(build_requirements=["tool  # builds alpha", ""])
    assert tooled.build_requirements == ["tool"]
    assert tooled.fingerprint(PY) == spec(build_requirements=["tool"]).fingerprint(PY)
    assert len({plain.fingerprint(PY), tooled.fingerprint(PY), spec(build_requirements=["tool2"]).fingerprint(PY)}) == 3


def test_the_build_step_installs_only_the_build_requirements_with_the_same_options():
    s = spec(build_requirements=["tool"], find_links=["/srv/wheels"], no_index=True, extra_args="--no-build-isolation",
             constraints=["tool<2"])
    build_file = "/tmp/x/build-requirements.txt"
    argv = commands.build_requirements_command(s, s.path, FILES, build_file, pins_file="/v/pins.txt")
    assert argv[argv.index("-r") + 1] == build_file and argv.count("-r") == 1
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-c"] == ["/v/c.txt", "/v/g.txt", "/v/pins.txt"]
    assert "--no-index" in argv and "/srv/wheels" in argv and argv[-1] == "--no-build-isolation"
    # the dry run of check mode resolves both at once
    both = commands.install_command(s, s.path, dict(FILES, build_requirements=build_file))
    assert [both[i + 1] for i, a in enumerate(both) if a == "-r"] == [build_file, "/v/requirements.txt"]


def test_prune_keeps_the_build_requirements_and_what_they_need(tmp_path):
    from test_plan import fake_venv  # pylint: disable=import-outside-toplevel
    installed = {"alpha": "1.0", "tool": "1.0", "tooldep": "1.0", "stray": "1.0"}
    path = fake_venv(str(tmp_path / "venv"), installed, requires={"tool": ["tooldep"]})
    dists = VenvOnDisk(path).dists
    assert deps.prune_candidates(spec(path, build_requirements=["tool"]), dists, PY) == ["stray"]
    assert deps.prune_candidates(spec(path), dists, PY) == ["stray", "tool", "tooldep"]


def test_check_mode_shows_the_build_step_before_the_install(tmp_path):
    def runner(argv, env):
        raise AssertionError("check mode ran %r" % (argv,))

    s = spec(tmp_path / "new" / "venv", build_requirements=["tool"], log_file=str(tmp_path / "log"),
             seed_cache=str(tmp_path / "seed"))
    result, dummy = sync_mod.sync(s, True, runner)
    # the pip seed's entry, the venv, then the dependency check (check_dependencies)
    seed, create, build, install, check = result["commands"]
    assert seed.endswith("-m venv %s" % os.path.join(str(tmp_path), "seed", ".wheelhouse-seed-tmp-XXXXXXXX", "venv"))
    assert create.endswith("-m venv --without-pip %s" % s.path)
    assert check.endswith(" -m pip check --disable-pip-version-check")
    assert "/build-requirements.txt -c " in build and "/requirements.txt" not in build.replace("build-requirements", "")
    assert " -r %s -c " % os.path.join(s.path, "requirements.txt") in install
    assert os.listdir(str(tmp_path)) == []


def test_without_build_requirements_there_is_no_build_step(tmp_path):
    def runner(argv, env):
        raise AssertionError("check mode ran %r" % (argv,))

    s = spec(tmp_path / "venv", log_file=str(tmp_path / "log"), seed_cache=str(tmp_path / "seed"))
    result, dummy = sync_mod.sync(s, True, runner)
    # the pip seed's entry, create, install, the dependency check
    assert len(result["commands"]) == 4 and not any("build-requirements" in c for c in result["commands"])


def test_a_killed_runs_build_requirements_file_is_a_leftover_removed(tmp_path):
    leftover = tmp_path / ".venv.venv_build-files-abc123"
    leftover.mkdir()
    (leftover / "build-requirements.txt").write_text("tool\n")
    removed, kept = fsops.clean_leftovers(str(tmp_path / "venv"))
    assert removed == [str(leftover)] and kept == [] and not leftover.exists()

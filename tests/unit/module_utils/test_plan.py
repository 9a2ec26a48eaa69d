"""The planner and its inputs, on venv-shaped directories written by the test (real files, no venv tools)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _records as records
from ansible_collections.wheelhouse.venv.plugins.module_utils._runctx import RunContext
from ansible_collections.wheelhouse.venv.plugins.module_utils import _deps as deps, _fsops as fsops, _plan as plan_mod, _sync as sync_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec, file_digests
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import STATE_FILE, VenvOnDisk

PY = "%d.%d.%d" % sys.version_info[:3]


def params(path, **kwargs):
    base = {"path": str(path), "python": sys.executable, "requirements": ["alpha"], "constraints": ["alpha==1.0"]}
    base.update(kwargs)
    return base


def fake_venv(path, packages, python_version=PY, requires=None, system_site=False):
    """A directory laid out like a venv: pyvenv.cfg, bin/python, dist-info metadata."""
    os.makedirs(os.path.join(path, "bin"))
    os.symlink(sys.executable, os.path.join(path, "bin", "python"))
    with open(os.path.join(path, "pyvenv.cfg"), "w") as handle:
        handle.write("home = %s\ninclude-system-site-packages = %s\nversion = %s\n"
                     % (os.path.dirname(sys.executable), str(system_site).lower(), python_version))
    site = os.path.join(path, "lib", "python%s" % ".".join(python_version.split(".")[:2]), "site-packages")
    os.makedirs(site)
    for name, version in packages.items():
        meta = os.path.join(site, "%s-%s.dist-info" % (name.replace("-", "_"), version))
        os.makedirs(meta)
        lines = ["Metadata-Version: 2.1", "Name: %s" % name, "Version: %s" % version]
        lines += ["Requires-Dist: %s" % r for r in (requires or {}).get(name, [])]
        with open(os.path.join(meta, "METADATA"), "w") as handle:
            handle.write("\n".join(lines) + "\n\nlong description: not a header\n")
        with open(os.path.join(meta, "RECORD"), "w") as handle:
            handle.write("%s/METADATA,,\n%s/RECORD,,\n" % ((os.path.basename(meta),) * 2))
    return path


def record_state(path, spec, packages):
    interp = plan_mod.resolve_interpreter(spec, None)
    state = {"format": 1, "fingerprint": spec.fingerprint(interp.version), "virtualenv_command": "venv",
             "packages": packages, "python": {"realpath": interp.realpath, "signature": interp.signature,
                                              "version": interp.version}}
    with open(os.path.join(path, STATE_FILE), "w") as handle:
        json.dump(state, handle)
    for name, text in (("requirements.txt", spec.requirements_text), ("constraints.txt", spec.constraints_text),
                       ("global-constraints.txt", spec.global_constraints_text)):
        with open(os.path.join(path, name), "w") as handle:
            handle.write(text)


def plan_for(spec):
    disk = VenvOnDisk(spec.path)
    interp = plan_mod.resolve_interpreter(spec, disk.state)
    return plan_mod.make_plan(spec, disk, interp, spec.fingerprint(interp.version))


INSTALLED = {"alpha": "1.0", "beta": "2.0", "pip": "23.0"}


@pytest.fixture
def managed(tmp_path):
    path = fake_venv(str(tmp_path / "venv"), INSTALLED, requires={"alpha": ["beta>=1"]})
    spec = VenvSpec(params(path))
    record_state(path, spec, INSTALLED)
    return spec


def test_untouched_venv_plans_nothing(managed):
    assert plan_for(managed).action is None


def test_missing_venv_is_created(tmp_path):
    plan = plan_for(VenvSpec(params(tmp_path / "nothing")))
    assert plan.action == "create" and plan.builds_beside


def test_changed_inputs_install(managed):
    spec = VenvSpec(params(managed.path, requirements=["alpha", "gamma"]))
    plan = plan_for(spec)
    assert plan.action == "install" and plan.pins is None


def test_hand_upgrade_is_repaired_with_recorded_pins(managed):
    os.rename(os.path.join(managed.path, "lib", "python%s" % PY.rsplit(".", 1)[0], "site-packages", "beta-2.0.dist-info"),
              os.path.join(managed.path, "lib", "python%s" % PY.rsplit(".", 1)[0], "site-packages", "beta-3.0.dist-info"))
    meta = os.path.join(managed.path, "lib", "python%s" % PY.rsplit(".", 1)[0], "site-packages", "beta-3.0.dist-info", "METADATA")
    with open(meta, "w") as handle:
        handle.write("Name: beta\nVersion: 3.0\n\n")
    plan = plan_for(managed)
    assert plan.action == "install"
    assert plan.pins == INSTALLED
    assert "beta 2.0->3.0" in plan.reasons[0]


def test_hand_added_package_is_drift_only_with_prune(tmp_path):
    path = fake_venv(str(tmp_path / "venv"), dict(INSTALLED, extra="0.1"))
    spec = VenvSpec(params(path))
    record_state(path, spec, INSTALLED)
    assert plan_for(spec).action is None
    pruning = VenvSpec(params(path, prune=True))
    record_state(path, pruning, INSTALLED)
    plan = plan_for(pruning)
    assert plan.action == "prune" and plan.prune == ["extra"]


def test_other_python_minor_rebuilds(tmp_path):
    path = fake_venv(str(tmp_path / "venv"), INSTALLED, python_version="3.6.15")
    spec = VenvSpec(params(path))
    plan = plan_for(spec)
    assert plan.action == "rebuild" and "3.6.15" in plan.reasons[0]


def test_deleted_base_interpreter_rebuilds(managed):
    link = os.path.join(managed.path, "bin", "python")
    os.unlink(link)
    os.symlink("/nonexistent/python3", link)
    assert plan_for(managed).action == "rebuild"


def test_rebuild_requested(managed):
    assert plan_for(VenvSpec(params(managed.path, rebuild=True))).action == "rebuild"


def test_missing_state_file_runs_the_installer(managed):
    os.unlink(os.path.join(managed.path, STATE_FILE))
    assert plan_for(managed).action == "install"


def test_latest_always_asks_the_installer(managed):
    spec = VenvSpec(params(managed.path, package_state="latest"))
    record_state(managed.path, spec, INSTALLED)
    assert plan_for(spec).action == "install"


def test_fingerprint_ignores_passwords_and_comments(tmp_path):
    a = VenvSpec(params(tmp_path, index_url="https://u:one@h/simple", requirements=["alpha  # why", "", "beta"]))
    b = VenvSpec(params(tmp_path, index_url="https://u:two@h/simple", requirements=["alpha", "beta"]))
    c = VenvSpec(params(tmp_path, index_url="https://other/simple", requirements=["alpha", "beta"]))
    assert a.fingerprint(PY) == b.fingerprint(PY) != c.fingerprint(PY)
    assert a.fingerprint(PY) != a.fingerprint("3.12.0")
    assert "one" not in json.dumps(a.fingerprint_inputs(PY))


def test_fingerprint_follows_requirements_file_includes(tmp_path):
    (tmp_path / "base.txt").write_text("alpha\n")
    (tmp_path / "top.txt").write_text("-r base.txt\nbeta\n")
    before = file_digests([str(tmp_path / "top.txt")])
    (tmp_path / "base.txt").write_text("alpha==2\n")
    after = file_digests([str(tmp_path / "top.txt")])
    assert [d["path"] for d in before] == [str(tmp_path / "top.txt"), str(tmp_path / "base.txt")]
    assert before[1]["sha256"] != after[1]["sha256"]


def test_conflicting_pin_is_named(tmp_path):
    spec = VenvSpec(params(tmp_path, requirements=["alpha>=2"], constraints=["alpha==1.0"]))
    with pytest.raises(VenvBuildError) as exc:
        spec.check_conflicts({"python_version": "3.11", "extra": ""})
    assert "requirements line 'alpha>=2' conflicts with constraints line 'alpha==1.0'" in exc.value.msg


def test_global_constraint_conflict_and_markers(tmp_path):
    env = {"python_version": "3.11", "extra": ""}
    spec = VenvSpec(params(tmp_path, requirements=["alpha"], constraints=["alpha<2"], global_constraints=["alpha==2.1"]))
    with pytest.raises(VenvBuildError, match="global_constraints line 'alpha==2.1'"):
        spec.check_conflicts(env)
    inactive = VenvSpec(params(tmp_path, requirements=["alpha>=2"],
                               constraints=['alpha==1.0 ; python_version < "3.0"']))
    inactive.check_conflicts(env)


@pytest.mark.parametrize("bad, message", [
    ({"path": "relative/venv"}, "absolute path"),
    ({"python": "/no/such/python3.99"}, "does not exist"),
    ({"python": "python3.99-nonexistent"}, "not found on PATH"),
    ({"requirements": ["ok", "bad>="]}, "requirements line 2"),
    ({"constraints": ["./x"]}, "must name its project"),
    ({"facts": [{"section": "a"}]}, "section and an option"),
    ({"mode": "rwx"}, "octal"),
    ({"extra_args": "--opt 'unclosed"}, "extra_args"),
    ({"find_links": ["has space"]}, "white space"),
])
def test_bad_input_is_named(tmp_path, bad, message):
    with pytest.raises(VenvBuildError, match=message):
        spec = VenvSpec(dict(params(tmp_path / "v"), **bad))
        plan_mod.resolve_interpreter(spec, None)


def test_prune_walks_dependencies_with_extras_and_markers(tmp_path):
    installed = {"app": "1.0", "dep": "1.0", "optional": "1.0", "winonly": "1.0", "stray": "1.0", "pip": "23"}
    requires = {"app": ["dep>=1", 'optional ; extra == "fast"', 'winonly ; sys_platform == "win32"', "notinstalled"]}
    path = fake_venv(str(tmp_path / "venv"), installed, requires=requires)
    disk = VenvOnDisk(path)
    spec = VenvSpec(params(path, requirements=["app[fast]"]))
    assert deps.prune_candidates(spec, disk.dists, PY) == ["stray", "winonly"]
    plain = VenvSpec(params(path, requirements=["app"]))
    assert deps.prune_candidates(plain, disk.dists, PY) == ["optional", "stray", "winonly"]


def test_prune_matches_unnamed_requirements_by_direct_url(tmp_path):
    path = fake_venv(str(tmp_path / "venv"), {"local-app": "1.0", "stray": "1.0"})
    site = os.path.join(path, "lib", "python%s" % PY.rsplit(".", 1)[0], "site-packages")
    with open(os.path.join(site, "local_app-1.0.dist-info", "direct_url.json"), "w") as handle:
        json.dump({"url": "file:///srv/src/local-app", "dir_info": {}}, handle)
    spec = VenvSpec(params(path, requirements=["/srv/src/local-app"], constraints=[]))
    assert deps.prune_candidates(spec, VenvOnDisk(path).dists, PY) == ["stray"]
    unknown = VenvSpec(params(path, requirements=["/srv/src/other"], constraints=[]))
    assert deps.prune_candidates(unknown, VenvOnDisk(path).dists, PY) is None


def test_check_mode_touches_nothing_and_runs_nothing_mutating(tmp_path):
    calls = []

    def runner(argv, env):
        calls.append(argv)
        raise AssertionError("check mode ran %r" % (argv,))

    spec = VenvSpec(params(tmp_path / "new" / "venv", facts=[{"section": "s", "option": "o", "value": 1}],
                           facts_dir=str(tmp_path / "facts"), log_file=str(tmp_path / "log"),
                           seed_cache=str(tmp_path / "seed")))
    result, warnings = sync_mod.sync(spec, True, runner)
    assert result["changed"] is True and result["facts_written"] is True
    assert calls == [] and warnings == []
    # the seed cache has no entry yet: the real run makes it first, then the venv without pip (pip is copied in)
    assert result["commands"][0].endswith("-m venv %s" % os.path.join(str(tmp_path), "seed", ".wheelhouse-seed-tmp-XXXXXXXX", "venv"))
    assert result["commands"][1].endswith("-m venv --without-pip %s" % spec.path)
    assert os.listdir(str(tmp_path)) == []


def test_relocate_rewrites_scripts_only(tmp_path):
    staging, final = str(tmp_path / ".v.venv_build-abc"), str(tmp_path / "v")
    os.makedirs(os.path.join(staging, "bin"))
    script = os.path.join(staging, "bin", "tool")
    with open(script, "w") as handle:
        handle.write("#!%s/bin/python\nimport tool\n" % staging)
    os.chmod(script, 0o755)
    os.symlink(sys.executable, os.path.join(staging, "bin", "python"))
    with open(os.path.join(staging, "pyvenv.cfg"), "w") as handle:
        handle.write("home = /usr/bin\ncommand = /usr/bin/python3 -m venv %s\n" % staging)
    fsops.relocate(staging, final)
    assert open(script).read().startswith("#!%s/bin/python\n" % final)
    assert os.stat(script).st_mode & 0o777 == 0o755
    assert open(os.path.join(staging, "pyvenv.cfg")).read().endswith("-m venv %s\n" % final)
    assert os.readlink(os.path.join(staging, "bin", "python")) == sys.executable


def test_swap_into_place_replaces_and_removes_the_old_tree(tmp_path):
    old, new = tmp_path / "venv", tmp_path / ".venv.build"
    old.mkdir()
    (old / "pyvenv.cfg").write_text("old")
    new.mkdir()
    (new / "pyvenv.cfg").write_text("new")
    fsops.swap_into_place(str(new), str(old))
    assert (old / "pyvenv.cfg").read_text() == "new"
    assert sorted(os.listdir(str(tmp_path))) == ["venv"]


def site_of(path):
    return os.path.join(path, "lib", "python%s" % PY.rsplit(".", 1)[0], "site-packages")


def edit_state(path, **changes):
    with open(os.path.join(path, STATE_FILE)) as handle:
        state = json.load(handle)
    state.update(changes)
    with open(os.path.join(path, STATE_FILE), "w") as handle:
        json.dump(state, handle)


def test_interrupted_install_is_not_trusted(managed):
    edit_state(managed.path, install_started="2026-01-01T00:00:00+0000")
    os.rename(os.path.join(site_of(managed.path), "beta-2.0.dist-info"), os.path.join(site_of(managed.path), "~eta-2.0.dist-info"))
    plan = plan_for(managed)
    assert plan.action == "install" and plan.interrupted
    assert plan.pins is None, "a fresh resolution: the recorded versions may be wrong"
    assert plan.reasons == ["an earlier install was interrupted (started 2026-01-01T00:00:00+0000); "
                            "removing the installer's leftovers ~eta-2.0.dist-info"]


def test_installer_leftovers_alone_plan_an_install(managed):
    shutil.copytree(os.path.join(site_of(managed.path), "alpha-1.0.dist-info"),
                    os.path.join(site_of(managed.path), "~lpha-1.0.dist-info"))
    plan = plan_for(managed)
    assert plan.action == "install" and plan.interrupted and "~lpha-1.0.dist-info" in plan.reasons[0]


@pytest.mark.parametrize("state", [{"format": 1, "packages": "x"}, [1], {"format": 1, "python": 3}])
def test_state_of_the_wrong_shape_is_recovered_from_the_venv(managed, state):
    with open(os.path.join(managed.path, STATE_FILE), "w") as handle:
        json.dump(state, handle)
    plan = plan_for(managed)
    assert plan.action == "install" and plan.pins is None
    assert plan.reasons[0].startswith(os.path.join(managed.path, STATE_FILE) + " has the wrong shape: ")
    assert plan.reasons[0].endswith("; the installer runs and rewrites it")


def test_pending_facts_are_a_change_only_with_facts(managed):
    edit_state(managed.path, facts_pending=True)
    assert plan_for(managed).action is None
    with_facts = VenvSpec(params(managed.path, facts=[{"section": "s", "option": "o", "value": 1}]))
    record_state(managed.path, with_facts, INSTALLED)
    edit_state(managed.path, facts_pending=True)
    plan = plan_for(with_facts)
    assert plan.action == "facts" and plan.facts_pending
    assert plan.reasons == ["the facts of an earlier change were not written yet"]


def test_module_removed_by_hand_is_repaired(managed):
    site = site_of(managed.path)
    os.makedirs(os.path.join(site, "alpha_mod"))
    with open(os.path.join(site, "alpha-1.0.dist-info", "RECORD"), "w") as handle:
        handle.write("alpha_mod/__init__.py,sha256=x,0\nalpha-1.0.dist-info/RECORD,,\n")
    assert plan_for(managed).action == "install"
    with open(os.path.join(site, "alpha_mod", "__init__.py"), "w") as handle:
        handle.write("")
    assert plan_for(managed).action is None
    os.unlink(os.path.join(site, "alpha_mod", "__init__.py"))
    plan = plan_for(managed)
    assert plan.action == "install" and plan.repair == {"alpha": "1.0"}
    assert plan.reasons == ["files of installed packages were removed: alpha (%s); reinstalling them"
                            % os.path.join(os.path.relpath(site, managed.path), "alpha_mod", "__init__.py")]


def test_damaged_metadata_is_reinstalled_and_named(managed):
    meta = os.path.join(site_of(managed.path), "beta-2.0.dist-info")
    with open(os.path.join(meta, "METADATA"), "wb") as handle:
        handle.write(b"\x00\xff\xfe garbage")
    plan = plan_for(managed)
    assert plan.action == "install" and plan.repair == {"beta": "2.0"}
    assert plan.reasons == ["%s/METADATA is damaged (it holds binary data): reinstalling beta" % meta]


def test_dist_info_without_record_is_reinstalled(managed):
    """A kill between the installer writing a dist-info and its RECORD: files may be missing, nothing lists them."""
    meta = os.path.join(site_of(managed.path), "beta-2.0.dist-info")
    os.unlink(os.path.join(meta, "RECORD"))
    plan = plan_for(managed)
    assert plan.action == "install" and plan.repair == {"beta": "2.0"}
    assert plan.reasons == ["%s/RECORD is damaged (it is missing: the install of beta 2.0 did not finish): "
                            "reinstalling beta" % meta]
    edit_state(managed.path, install_started="2026-12-01T00:00:00Z")
    plan = plan_for(managed)
    assert plan.interrupted and plan.repair == {"beta": "2.0"}
    assert "reinstalling beta" in plan.reasons[0]


def test_interrupted_install_checks_every_file_and_whole_records(managed):
    site = site_of(managed.path)
    with open(os.path.join(site, "beta-2.0.dist-info", "RECORD"), "w") as handle:
        handle.write("beta-2.0.dist-info/METADATA,,\n")  # cut short: the line of RECORD itself is missing
    assert plan_for(managed).action is None  # no interruption recorded: the cheap check
    edit_state(managed.path, install_started="2026-12-01T00:00:00Z")
    plan = plan_for(managed)
    assert plan.interrupted and plan.repair == {"beta": "2.0"}
    assert plan.reasons[0].endswith("; reinstalling beta (files missing)")


def test_state_file_that_cannot_be_written_is_named(managed):
    os.unlink(os.path.join(managed.path, STATE_FILE))
    os.makedirs(os.path.join(managed.path, STATE_FILE, "in-the-way"))
    with pytest.raises(VenvBuildError) as exc:
        RunContext.write_state(managed.path, {"format": 1})
    assert exc.value.msg.startswith("cannot write the state file %s: " % os.path.join(managed.path, STATE_FILE))
    assert "run again" in exc.value.msg


def facts_runner(tmp_path, **kwargs):
    spec = VenvSpec(params(tmp_path / "venv", facts=[{"section": "app", "option": "tag", "value": "2"}],
                           facts_dir=str(tmp_path / "facts"), log_file=str(tmp_path / "log"), **kwargs))
    return RunContext(spec, False, None)


def test_facts_file_with_bytes_that_are_not_utf8_is_merged(tmp_path):
    runner = facts_runner(tmp_path)
    os.makedirs(str(tmp_path / "facts"))
    (tmp_path / "facts" / "venv.fact").write_bytes(b"[other]\nname = caf\xe9\n")
    assert records.write_facts(runner) is True
    assert (tmp_path / "facts" / "venv.fact").read_bytes() == b"[other]\nname = caf\xe9\n\n[app]\ntag = 2\n"


def test_facts_file_that_cannot_be_written_fails_as_changed(tmp_path):
    runner = facts_runner(tmp_path)
    os.makedirs(str(tmp_path / "facts" / "venv.fact"))
    with pytest.raises(VenvBuildError) as exc:
        records.write_facts(runner)
    assert exc.value.details["changed"] is True
    assert "its facts file %s could not be written: Is a directory" % (tmp_path / "facts" / "venv.fact") in exc.value.msg
    assert "the next run writes the facts" in exc.value.msg


def test_an_interpreter_that_hangs_is_killed_and_named(tmp_path, monkeypatch):
    """The probe of python's version is bounded: a python that never answers fails the run, named, in time."""
    hangs = tmp_path / "python3"
    hangs.write_text("#!/bin/sh\nsleep 600 &\nwait\n")  # a child in its process group: killed with it
    hangs.chmod(0o755)
    monkeypatch.setattr(plan_mod, "PROBE_TIMEOUT", 1)
    spec = VenvSpec(dict(params(tmp_path / "v"), python=str(hangs)))
    started = time.monotonic()
    with pytest.raises(VenvBuildError, match=r"python interpreter .*python3 did not tell its version within 1 s"):
        plan_mod.resolve_interpreter(spec, None)
    assert time.monotonic() - started < 30
    assert not os.path.exists(str(tmp_path / "v"))


def test_a_pyvenv_cfg_not_in_utf8_or_without_a_version_is_a_broken_venv_named(managed):
    """Neither a codec traceback nor "Python None": the venv is rebuilt, the reason says why."""
    cfg = os.path.join(managed.path, "pyvenv.cfg")
    with open(cfg, "rb") as handle:
        text = handle.read()
    with open(cfg, "wb") as handle:
        handle.write(text + b"prompt = caf\xe9\n")  # Latin-1, not UTF-8
    assert plan_for(managed).action is None
    with open(cfg, "wb") as handle:
        handle.write(b"home = /usr/bin\nprompt = caf\xe9\n")
    plan = plan_for(managed)
    assert plan.action == "rebuild" and plan.reasons == [
        "the venv's pyvenv.cfg names no Python version (version = X.Y.Z): a broken venv"]


MARKER_VARIABLES = ("os_name", "sys_platform", "platform_machine", "platform_python_implementation",
                    "platform_release", "platform_system", "platform_version", "python_version",
                    "python_full_version", "implementation_name", "implementation_version")


def test_prune_reads_every_marker_variable_as_packaging_does(tmp_path):
    """For each marker variable, a dependency whose marker holds is kept and one whose marker fails is pruned,
    exactly where packaging (what pip evaluates with) says so, on this interpreter (issue 23, point 5)."""
    from packaging.markers import Marker, default_environment
    env = default_environment()
    py = env["python_full_version"]
    requires, expected_pruned = [], set()
    for variable in MARKER_VARIABLES:
        value = env[variable]
        for number, marker in enumerate(['%s == "%s"' % (variable, value), '%s != "%s"' % (variable, value),
                                         '"%s" in %s' % (value[:1], variable), '%s < "0"' % variable,
                                         '%s >= "%s"' % (variable, value), '%s ~= "%s"' % (variable, value)]):
            name = "dep-%s-%d" % (variable.replace("_", "-"), number)
            # packaging refusing a marker (pip would fail, not prune) leaves it out
            try:
                holds = Marker(marker).evaluate()
            except Exception:  # pylint: disable=broad-except
                continue
            requires.append("%s ; %s" % (name, marker))
            if not holds:
                expected_pruned.add(name)
    installed = dict((line.split(" ;")[0], "1.0") for line in requires)
    installed["app"] = "1.0"
    path = fake_venv(str(tmp_path / "venv"), installed, requires={"app": requires}, python_version=py)
    spec = VenvSpec(params(path, requirements=["app"]))
    pruned = deps.prune_candidates(spec, VenvOnDisk(path).dists, py)
    assert set(pruned) == expected_pruned
    assert len(requires) > 40 and 10 < len(expected_pruned) < len(requires)

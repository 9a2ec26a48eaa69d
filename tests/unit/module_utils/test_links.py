"""plugins/module_utils/_links.py: which entries of a distribution package are linked, and the link plan.

The planner runs on real directories the test writes; the package manager is a runner that answers
like dpkg-query. The real dpkg and a real venv: tests/integration/test_venv_build_links.py.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _links as links
from ansible_collections.wheelhouse.venv.plugins.module_utils import _sync as sync_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import STATE_FILE, installed_distributions

from test_plan import INSTALLED, PY, fake_venv, params, record_state

DPKG_APT = "\n".join([
    "/.", "/usr", "/usr/lib/python3/dist-packages", "/usr/lib/python3/dist-packages/apt",
    "/usr/lib/python3/dist-packages/apt/__init__.py", "/usr/lib/python3/dist-packages/apt_pkg.cpython-311-x86_64-linux-gnu.so",
    "/usr/lib/python3/dist-packages/apt_pkg.cpython-312-x86_64-linux-gnu.so",
    "/usr/lib/python3/dist-packages/apt_inst.abi3.so",
    "/usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info", "/usr/lib/python3/dist-packages/__pycache__",
    "/usr/lib/python3/dist-packages/__pycache__/x.cpython-311.pyc", "/usr/lib/python3/dist-packages/apt.pth",
    "/usr/lib/python3.12/dist-packages/only312.py", "/usr/lib/python3.11/dist-packages/only311.py",
    "/usr/share/doc/python3-apt/copyright",
])


# --- selection

def test_dpkg_listing_selects_the_top_level_entries_for_the_venvs_python():
    assert links.select_entries(DPKG_APT, "3.11.2") == {
        "apt": "/usr/lib/python3/dist-packages/apt",
        "apt_pkg.cpython-311-x86_64-linux-gnu.so": "/usr/lib/python3/dist-packages/apt_pkg.cpython-311-x86_64-linux-gnu.so",
        "apt_inst.abi3.so": "/usr/lib/python3/dist-packages/apt_inst.abi3.so",
        "python_apt-2.6.0.egg-info": "/usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info",
        "only311.py": "/usr/lib/python3.11/dist-packages/only311.py",
    }


def test_another_python_gets_its_own_extension_module():
    selected = links.select_entries(DPKG_APT, "3.12.1")
    assert "apt_pkg.cpython-312-x86_64-linux-gnu.so" in selected and "only312.py" in selected
    assert "apt_pkg.cpython-311-x86_64-linux-gnu.so" not in selected and "only311.py" not in selected


def test_rpm_listing_from_lib_and_lib64():
    listing = ["/usr/lib64/python3.9/site-packages/libvirt.py", "/usr/lib64/python3.9/site-packages/libvirtmod.so",
               "/usr/lib/python3.9/site-packages/libvirt_python-9.0.0-py3.9.egg-info/PKG-INFO",
               "/usr/lib64/python3.11/site-packages/libvirt.py"]
    assert links.select_entries(listing, "3.9.18") == {
        "libvirt_python-9.0.0-py3.9.egg-info": "/usr/lib/python3.9/site-packages/libvirt_python-9.0.0-py3.9.egg-info",
        "libvirt.py": "/usr/lib64/python3.9/site-packages/libvirt.py",
        "libvirtmod.so": "/usr/lib64/python3.9/site-packages/libvirtmod.so",
    }


def test_one_name_from_two_folders_is_an_error():
    listing = ["/usr/lib/python3.9/site-packages/ns", "/usr/lib64/python3.9/site-packages/ns"]
    with pytest.raises(VenvBuildError, match="two files would be linked as ns"):
        links.select_entries(listing, "3.9.0")


# --- asking the package manager

@pytest.fixture
def dpkg_on_path(tmp_path, monkeypatch):
    """A PATH with a dpkg-query and an rpm (never run: the runner answers), dpkg-query first."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("dpkg-query", "rpm"):
        (folder / name).write_text("#!/bin/sh\nexit 99\n")
        (folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    return str(folder)


def dpkg_runner(listings, calls=None):
    """Answers 'dpkg-query --listfiles NAME' from listings, like dpkg-query for unknown names."""
    def run(argv, env):
        if calls is not None:
            calls.append(argv)
        assert argv[1] == "--listfiles", argv
        if argv[2] in listings:
            return 0, listings[argv[2]], ""
        return 1, "", "dpkg-query: package '%s' is not installed\nUse dpkg --contents ...\n" % argv[2]
    return run


def test_dpkg_query_is_preferred_and_unknown_packages_are_all_named(dpkg_on_path):
    calls = []
    run = dpkg_runner({"python3-apt": DPKG_APT}, calls)
    with pytest.raises(VenvBuildError) as failure:
        links.desired_links(["python3-apt", "python3-nope", "python3-gone"], "3.11.2", run, exists=lambda p: True)
    assert "python3-nope (dpkg-query: package 'python3-nope' is not installed)" in failure.value.msg
    assert "python3-gone" in failure.value.msg and "nothing was changed" in failure.value.msg
    assert "python3-apt" not in failure.value.msg
    assert calls[0] == [os.path.join(dpkg_on_path, "dpkg-query"), "--listfiles", "python3-apt"]


def test_rpm_when_there_is_no_dpkg(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "rpm").write_text("#!/bin/sh\n")
    (folder / "rpm").chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    seen = []

    def run(argv, env):
        seen.append(argv)
        return 0, "/usr/lib64/python3.9/site-packages/libvirt.py\n", ""
    wanted, warnings = links.desired_links(["python3-libvirt"], "3.9.1", run, exists=lambda p: True)
    assert seen == [[str(folder / "rpm"), "--query", "--list", "python3-libvirt"]]
    assert wanted == {"libvirt.py": "/usr/lib64/python3.9/site-packages/libvirt.py"} and warnings == []


def test_no_package_manager_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(VenvBuildError, match="needs dpkg-query .* or rpm"):
        links.desired_links(["python3-apt"], "3.11.2", None)
    assert links.desired_links([], "3.11.2", None) == ({}, [])


def test_missing_files_are_not_linked_and_an_empty_package_warns(dpkg_on_path):
    run = dpkg_runner({"python3-apt": DPKG_APT, "python3-apt-common": "/usr/share/doc/python3-apt-common/x\n"})
    wanted, warnings = links.desired_links(["python3-apt", "python3-apt-common"], "3.11.2", run,
                                           exists=lambda p: p.endswith("/apt"))
    assert wanted == {"apt": "/usr/lib/python3/dist-packages/apt"}
    assert len(warnings) == 1 and "python3-apt-common installs no Python files for Python 3.11" in warnings[0]


# --- the plan in one site-packages folder

@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site-packages"
    folder.mkdir()
    return str(folder)


def test_plan_adds_repoints_keeps_and_removes_only_its_own(site):
    os.symlink("/sys/a", os.path.join(site, "ok"))               # right already (made by anyone): kept
    os.symlink("/old/b", os.path.join(site, "wrong"))            # points elsewhere: re-pointed
    os.symlink("/sys/gone", os.path.join(site, "ours"))          # ours, no longer wanted: removed
    os.symlink("/elsewhere", os.path.join(site, "moved"))        # ours once, re-pointed by someone: left
    os.symlink("/x", os.path.join(site, "foreign"))              # never ours: left
    wanted = {"ok": "/sys/a", "wrong": "/sys/b", "new": "/sys/c"}
    recorded = {"ours": "/sys/gone", "moved": "/sys/moved", "vanished": "/sys/v"}
    plan = links.LinkPlan(site, wanted, recorded)
    assert plan.add == {"wrong": "/sys/b", "new": "/sys/c"}
    assert plan.remove == ["ours"]
    assert plan.conflicts == [] and plan.changed and plan.record == wanted and plan.record_changed
    assert plan.reasons() == ["links of linked_distro_packages to make: new, wrong",
                              "links of packages no longer in linked_distro_packages: ours"]
    diff = plan.diff(predicted=True)
    assert diff["before"] == "ok -> /sys/a\nours -> /sys/gone\nwrong -> /old/b\n"
    assert diff["after"] == "new -> /sys/c\nok -> /sys/a\nwrong -> /sys/b\n"
    assert diff["after_header"].endswith("predicted)")
    plan.apply()
    assert sorted(os.listdir(site)) == ["foreign", "moved", "new", "ok", "wrong"]
    assert {n: os.readlink(os.path.join(site, n)) for n in ("new", "ok", "wrong")} == wanted
    assert os.readlink(os.path.join(site, "moved")) == "/elsewhere"
    again = links.LinkPlan(site, wanted, plan.record)
    assert not again.changed and not again.record_changed and again.report() == {
        "present": wanted, "added": [], "removed": []}


def test_a_real_file_of_the_same_name_is_a_conflict(site):
    with open(os.path.join(site, "six.py"), "w") as handle:
        handle.write("# installed by pip\n")
    plan = links.LinkPlan(site, {"six.py": "/usr/lib/python3/dist-packages/six.py"}, {})
    assert plan.conflicts == ["six.py"] and "six.py" not in plan.add
    with pytest.raises(VenvBuildError, match="six.py in .* exist and are not links"):
        plan.check_conflicts()


def test_symlinked_metadata_is_not_an_installed_distribution(site):
    meta = os.path.join(os.path.dirname(site), "system", "six-1.16.0.egg-info")
    os.makedirs(meta)
    with open(os.path.join(meta, "PKG-INFO"), "w") as handle:
        handle.write("Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n\n")
    os.symlink(meta, os.path.join(site, "six-1.16.0.egg-info"))
    assert installed_distributions(site) == {}


# --- the module's run on a venv-shaped directory (in place: no venv tools are needed)

def system_entries(count):
    folder = "/usr/lib/python3/dist-packages"
    if not os.path.isdir(folder):
        pytest.skip("no %s on this host" % folder)
    names = sorted(n for n in os.listdir(folder) if n != "__pycache__" and not n.endswith(".pth")
                   and ".cpython-" not in n)[:count]
    if len(names) < count:
        pytest.skip("fewer than %d entries in %s" % (count, folder))
    return dict((n, os.path.join(folder, n)) for n in names)


@pytest.fixture
def linked(tmp_path, dpkg_on_path):
    """A managed venv-shaped directory and a dpkg that knows python3-one and python3-two."""
    entries = system_entries(2)
    one, two = sorted(entries)
    path = fake_venv(str(tmp_path / "venv"), INSTALLED)
    record_state(path, VenvSpec(params(path)), INSTALLED)
    listings = {"python3-one": entries[one] + "\n", "python3-two": entries[two] + "\n"}
    site = os.path.join(path, "lib", "python%s" % ".".join(PY.split(".")[:2]), "site-packages")
    return {"path": path, "site": site, "one": one, "two": two, "entries": entries, "run": dpkg_runner(listings),
            "log": str(tmp_path / "log")}


def run_sync(lab, packages, check=False):
    spec = VenvSpec(params(lab["path"], linked_distro_packages=packages, log_file=lab["log"]))
    return sync_mod.sync(spec, check, lab["run"])


def state_links(lab):
    with open(os.path.join(lab["path"], STATE_FILE)) as handle:
        return json.load(handle).get("links")


def test_links_are_made_in_place_recorded_and_a_rerun_changes_nothing(linked):
    predicted, warnings = run_sync(linked, ["python3-one", "python3-two"], check=True)
    assert predicted["changed"] is True and predicted["links"]["added"] == sorted([linked["one"], linked["two"]])
    assert predicted["commands"] == [] and warnings == []
    assert not os.path.lexists(os.path.join(linked["site"], linked["one"])), "check mode made a link"
    assert state_links(linked) is None

    made = run_sync(linked, ["python3-one", "python3-two"])[0]
    assert made["changed"] is True and made["links"]["added"] == predicted["links"]["added"]
    assert made["packages"] == INSTALLED and made["commands"] == []
    assert made["diff"][-1]["after"] == "".join("%s -> %s\n" % item for item in sorted(linked["entries"].items()))
    for name, target in linked["entries"].items():
        assert os.readlink(os.path.join(linked["site"], name)) == target
    assert state_links(linked) == linked["entries"]

    again = run_sync(linked, ["python3-one", "python3-two"])[0]
    assert again["changed"] is False and again["links"]["added"] == [] and again["reasons"] == []
    assert run_sync(linked, ["python3-one", "python3-two"], check=True)[0]["changed"] is False


def test_a_package_dropped_from_the_list_loses_its_links(linked):
    run_sync(linked, ["python3-one", "python3-two"])
    predicted = run_sync(linked, ["python3-one"], check=True)[0]
    assert predicted["changed"] is True and predicted["links"]["removed"] == [linked["two"]]
    assert os.path.islink(os.path.join(linked["site"], linked["two"]))
    dropped = run_sync(linked, ["python3-one"])[0]
    assert dropped["links"] == {"present": {linked["one"]: linked["entries"][linked["one"]]}, "added": [],
                                "removed": [linked["two"]]}
    assert not os.path.lexists(os.path.join(linked["site"], linked["two"]))
    assert os.path.islink(os.path.join(linked["site"], linked["one"]))
    assert run_sync(linked, [])[0]["links"]["removed"] == [linked["one"]]
    assert [n for n in os.listdir(linked["site"]) if os.path.islink(os.path.join(linked["site"], n))] == []


def test_a_link_deleted_by_hand_is_repaired(linked):
    run_sync(linked, ["python3-one"])
    os.unlink(os.path.join(linked["site"], linked["one"]))
    repaired = run_sync(linked, ["python3-one"])[0]
    assert repaired["changed"] is True and repaired["links"]["added"] == [linked["one"]]
    assert os.path.islink(os.path.join(linked["site"], linked["one"]))


def test_links_made_by_someone_else_are_adopted_without_a_change(linked):
    target = linked["entries"][linked["one"]]
    os.symlink(target, os.path.join(linked["site"], linked["one"]))
    adopted = run_sync(linked, ["python3-one"])[0]
    assert adopted["changed"] is False and state_links(linked) == {linked["one"]: target}
    assert run_sync(linked, [])[0]["links"]["removed"] == [linked["one"]], "adopted links are ours to remove"


def test_unknown_package_fails_before_anything_changes(linked):
    before = sorted(os.listdir(linked["site"]))
    with open(os.path.join(linked["path"], STATE_FILE)) as handle:
        state = handle.read()
    with pytest.raises(VenvBuildError, match="python3-nope"):
        run_sync(linked, ["python3-one", "python3-nope"])
    assert sorted(os.listdir(linked["site"])) == before
    with open(os.path.join(linked["path"], STATE_FILE)) as handle:
        assert handle.read() == state


def test_a_conflicting_file_fails_before_anything_changes(linked):
    with open(os.path.join(linked["site"], linked["two"]), "w") as handle:
        handle.write("not a link\n")
    with pytest.raises(VenvBuildError, match="not links"):
        run_sync(linked, ["python3-one", "python3-two"])
    assert not os.path.lexists(os.path.join(linked["site"], linked["one"]))

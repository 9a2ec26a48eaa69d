"""Faults injected into real venv_build runs; after each one the invariants of conftest.Site.check must hold.

Every case must hold: a fault class that loses something or does not converge fails the suite.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import KEEP, OLD, OUTCOMES, REBUILD, UPGRADE, UPGRADE_TOOL, Site, Spec
from harness import entry_appears, installer_pid, kill, pip_started, venv_version


def site_packages(path):
    return os.path.join(path, "lib", "python3.11", "site-packages")


def staging(site):
    return os.path.join(site.parent, ".app.venv_build-*")


# --- named steps: the module kills itself (WHEELHOUSE_VENV_FAULT_AT) --------------------------------

@pytest.mark.parametrize("spec, step", [
    pytest.param(UPGRADE, "update-installed", id="upgrade-update-installed"),
    pytest.param(UPGRADE, "update-state-written", id="upgrade-update-state-written"),
    pytest.param(UPGRADE, "before-facts", id="upgrade-before-facts"),
    # installed, the dependency check (pip check) about to run: the state is marked, not yet written
    pytest.param(UPGRADE, "verifying", id="upgrade-verifying"),
    pytest.param(UPGRADE_TOOL, "build-requirements-installed", id="upgrade-build-requirements-installed"),
    pytest.param(REBUILD, "build-before-swap", id="rebuild-build-before-swap"),
    pytest.param(REBUILD, "verifying", id="rebuild-verifying"),
    pytest.param(REBUILD, "build-after-swap", id="rebuild-build-after-swap"),
    pytest.param(REBUILD, "swap-before-old-removed", id="rebuild-swap-before-old-removed"),
    pytest.param(REBUILD, "before-facts", id="rebuild-before-facts"),
    pytest.param(KEEP, "build-after-swap", id="keep-build-after-swap"),
    pytest.param(KEEP, "release-swapped", id="keep-release-swapped"),
    pytest.param(KEEP, "release-kept", id="keep-release-kept"),
])
def test_named_step(site, spec, step):
    faulty = site.run(spec, fault_at=step)
    assert faulty.get("failed"), "the run did not die at %s: %s" % (step, faulty["raw_output"])
    site.check("%s, killed at %s" % (spec.name, step), "named step", faulty, spec,
               in_place=spec in (UPGRADE, UPGRADE_TOOL))
    if spec is KEEP:  # the venv replaced is kept as a release whatever the moment of the kill
        kept = os.path.join(site.parent, ".app.releases")
        assert len(os.listdir(kept)) == 1 and venv_version(os.path.join(kept, os.listdir(kept)[0])) == OLD.alpha
        with open(os.path.join(kept, os.listdir(kept)[0], "wheelhouse-venv.json")) as handle:
            assert json.load(handle)["packages"]["alpha"] == OLD.alpha


# --- kill -9 from outside: the playbook's whole process tree, or the installer alone -------------------

def in_place_moments(site):
    """Moments of an in-place upgrade: (name, what shows it, seconds to wait after it)."""
    packages = site_packages(site.path)
    return {
        "installer started": (pip_started(site.path), 0),
        "old version stashed": (entry_appears(os.path.join(packages, "~lpha_mod")), 0),
        # the installer writes RECORD last: a kill here leaves a dist-info that lists nothing
        "new metadata written": (entry_appears(os.path.join(packages, "alpha-1.1.dist-info", "METADATA")), 0),
        "new version half written": (entry_appears(os.path.join(packages, "alpha-1.1.dist-info")), 0.15),
    }


def rebuild_moments(site):
    return {
        "new venv being made": (entry_appears(os.path.join(staging(site), "bin", "python")), 0),
        "installer started in the new venv": (pip_started(".app.venv_build-"), 0.1),
    }


def kill_at(site, spec, moment, whole_tree):
    """Start a run of spec, SIGKILL the tree (or the pip process alone) at moment; the task result or None."""
    shows, delay = moment
    run = site.start(spec)
    if not run.wait_for(shows):
        raise AssertionError("the run ended before the moment: %s" % run.result())
    time.sleep(delay)
    if whole_tree:
        run.kill_tree()
    else:
        pid = installer_pid(run.proc.pid, "")
        assert pid, "no pip process to kill"
        kill(pid)
    return run.result()


IN_PLACE_MOMENTS = ["installer started", "old version stashed", "new metadata written", "new version half written"]


@pytest.mark.parametrize("moment", IN_PLACE_MOMENTS)
def test_kill_tree_in_place_upgrade(site, moment):
    faulty = kill_at(site, UPGRADE, in_place_moments(site)[moment], whole_tree=True)
    site.check("upgrade in place, tree killed at: %s" % moment, "kill -9 of the run's process tree", faulty,
               UPGRADE, in_place=True)


@pytest.mark.parametrize("moment", [
    "new venv being made",
    "installer started in the new venv",
])
def test_kill_tree_rebuild(site, moment):
    faulty = kill_at(site, REBUILD, rebuild_moments(site)[moment], whole_tree=True)
    site.check("rebuild, tree killed at: %s" % moment, "kill -9 of the run's process tree", faulty,
               REBUILD, in_place=False)


@pytest.mark.parametrize("moment", ["seed cache entry being made", "pip being copied into the new venv"])
def test_kill_tree_while_pip_is_seeded(site, tmp_path, moment):
    """A rebuild killed while the pip seed cache gets its entry (a cache of its own, empty), or while pip is copied
    from the cache into the new venv: the next run converges, and the cache holds whole entries or none."""
    cache = str(tmp_path / "seed-cache")
    if moment == "seed cache entry being made":
        spec = Spec("rebuild seeding pip", "1.1", site_packages=True, options={"seed_cache": cache})
        shows = entry_appears(os.path.join(cache, ".wheelhouse-seed-tmp-*", "venv", "bin", "python"))
    else:  # the default cache, whose entry the starting venv's run made or found (conftest.site_template)
        spec = REBUILD
        shows = entry_appears(os.path.join(staging(site), "lib", "python3.11", "site-packages", "pip"))
    faulty = kill_at(site, spec, (shows, 0), whole_tree=True)
    site.check("rebuild, tree killed at: %s" % moment, "kill -9 of the run's process tree", faulty, spec,
               in_place=False)
    if spec is REBUILD:
        return
    entries = [n for n in os.listdir(cache) if not n.startswith(".")]
    assert len(entries) == 1, entries
    assert os.path.isfile(os.path.join(cache, entries[0], "seed.json"))
    assert glob.glob(os.path.join(cache, entries[0], "venv", "lib", "python3.11", "site-packages", "pip", "__init__.py"))


@pytest.mark.parametrize("moment", IN_PLACE_MOMENTS)
def test_kill_installer_in_place_upgrade(site, moment):
    faulty = kill_at(site, UPGRADE, in_place_moments(site)[moment], whole_tree=False)
    assert faulty and faulty.get("failed"), faulty
    site.check("upgrade in place, pip killed at: %s" % moment, "kill -9 of the installer", faulty, UPGRADE,
               in_place=True)


def test_kill_installer_rebuild(site):
    faulty = kill_at(site, REBUILD, rebuild_moments(site)["installer started in the new venv"], whole_tree=False)
    assert faulty and faulty.get("failed"), faulty
    site.check("rebuild, pip killed in the new venv", "kill -9 of the installer", faulty, REBUILD, in_place=False)


# --- a full disk -------------------------------------------------------------------------------------

BALLAST = Spec("upgrade that needs 6 MB more", "1.1", extra=["ballast==1.0"])
BALLAST_REBUILD = Spec("rebuild that needs 6 MB more", "1.1", site_packages=True, extra=["ballast==1.0"])


@pytest.fixture
def small_disk(tmp_path, fault_wheelhouse, site_template):
    """A site on a tmpfs of its own, made by a real run, with the disk then filled by a user file."""
    mount = str(tmp_path / "disk")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", mount], check=True)
    try:
        disk = Site(os.path.join(mount, "site"), fault_wheelhouse, str(tmp_path), site_template[0].carry)
        first = disk.run(OLD)
        assert first["changed"] and not first.get("failed"), first["raw_output"]
        disk.put_sentinels()
        filler = os.path.join(mount, "user-filler.bin")
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        with open(filler, "wb") as handle:
            handle.write(b"\0" * max(0, free - 3 * 1024 * 1024))
        yield disk, filler
    finally:
        subprocess.run(["umount", "-l", mount], check=False)


def venv_files(path):
    """{relative path: size} of every file and link of the venv (bytecode caches left out): what a run changed."""
    found = {}
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            full = os.path.join(root, name)
            found[os.path.relpath(full, path)] = os.lstat(full).st_size
    return found


@pytest.mark.parametrize("spec", [BALLAST, BALLAST_REBUILD],
                         ids=["in place", "rebuild"])
def test_full_disk(small_disk, spec):
    """The failure is clean: its message names the cause (in the module's words, not only in the installer's
    output), the path and the log; changed is true exactly when the venv's files changed; the old venv still
    imports."""
    disk, filler = small_disk
    before = venv_files(disk.path)
    faulty = disk.run(spec)
    assert faulty.get("failed"), faulty["raw_output"]
    message = faulty.get("msg", "")
    own_words = message.split("Output:")[0].lower()
    log_file = spec.args(disk)["log_file"]
    unclear = [] if "no space left on device" in own_words and disk.path in message and log_file in message else [
        "the message does not name the full disk, the path and the log %s: %s" % (log_file, message[:500])]
    touched = venv_files(disk.path) != before
    if faulty.get("changed") is not touched:
        unclear.append("changed is %s, but the venv's files %s"
                       % (faulty.get("changed"), "changed" if touched else "did not change"))
    os.unlink(filler)
    disk.check("%s on a full disk" % spec.name, "full disk", faulty, spec, in_place=False, notes=unclear)


# --- two runs at once on one path --------------------------------------------------------------------

def test_race_install_install(site):
    runs = [site.start(UPGRADE), site.start(UPGRADE)]
    results = [run.result() for run in runs]
    assert all(r and not r.get("failed") for r in results), results
    assert sorted(r["changed"] for r in results) == [False, True], "exactly one of the two runs changes the venv"
    site.check("two upgrades at once", "two runs racing", results[0], UPGRADE, in_place=False, reported=True)


def test_race_rebuild_rebuild(site):
    args = dict(REBUILD.args(site), rebuild=True)
    runs = [site.player.start(args), site.player.start(args)]
    results = [run.result() for run in runs]
    assert all(r and not r.get("failed") and r["changed"] for r in results), results
    site.check("two rebuilds at once", "two runs racing", results[0], REBUILD, in_place=False, reported=True)


def test_race_install_absent(site):
    """state=absent started while an upgrade runs: the venv is never left half-deleted, the next run converges."""
    install = site.start(UPGRADE)
    assert install.wait_for(pip_started(site.path))
    absent = site.player.start({"path": site.path, "state": "absent", "log_file": os.path.join(site.root, "absent.log")})
    results = [install.result(), absent.result()]
    removed = site.removed()
    half = [] if removed or venv_version(site.path) in (OLD.alpha, UPGRADE.alpha) else [
        "the venv is left half-deleted: %s" % sorted(os.listdir(site.path))]
    site.check("upgrade and state=absent at once", "two runs racing", results[0], UPGRADE,
               in_place=removed, reported=not removed and results[0].get("changed") and not results[0].get("failed"),
               notes=half)


def test_absent_waits_for_the_lock(site):
    """While another run holds the path's lock (documented: .<name>.venv_build.lock), state=absent waits."""
    with open(os.path.join(site.parent, ".app.venv_build.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        absent = site.player.start({"path": site.path, "state": "absent"})
        time.sleep(4)
        waited = venv_version(site.path) == OLD.alpha
        fcntl.flock(lock, fcntl.LOCK_UN)
    done = absent.result()["changed"] is True and site.removed()
    OUTCOMES.append({"class": "two runs racing", "case": "state=absent while another run holds the lock",
                     "lost_nothing": not site.lost(), "converged": waited and done,
                     "problems": [] if waited else ["state=absent removed the venv while another run held the lock"]})
    assert waited, "state=absent removed the venv while another run held the lock"
    assert done and not site.lost()


# --- damaged files --------------------------------------------------------------------------------------

def write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)


def gone_interpreter(site):
    """bin/python3 pointing at a copy of the interpreter that was deleted."""
    copy = os.path.join(site.root, "old-python", "python3")
    os.makedirs(os.path.dirname(copy))
    shutil.copy2(os.path.realpath("/usr/bin/python3"), copy)
    link = os.path.join(site.path, "bin", "python3")
    os.unlink(link)
    os.symlink(copy, link)
    shutil.rmtree(os.path.dirname(copy))


def metadata(site):
    return glob.glob(os.path.join(site_packages(site.path), "alpha-1.0.dist-info", "METADATA"))[0]


DAMAGES = {
    "state file: a list": lambda site: write(os.path.join(site.path, "wheelhouse-venv.json"), b"[1, 2]\n"),
    "state file: wrong shape": lambda site: write(os.path.join(site.path, "wheelhouse-venv.json"),
                                                  json.dumps({"format": 1, "packages": "x", "python": 3}).encode()),
    "state file: truncated": lambda site: write(os.path.join(site.path, "wheelhouse-venv.json"),
                                                open(os.path.join(site.path, "wheelhouse-venv.json"), "rb").read()[:40]),
    "state file: not JSON": lambda site: write(os.path.join(site.path, "wheelhouse-venv.json"), b"\xff\xfe garbage\0"),
    "METADATA: empty": lambda site: write(metadata(site), b""),
    "METADATA: binary garbage": lambda site: write(metadata(site), os.urandom(200)),
    "interpreter gone": gone_interpreter,
}


@pytest.mark.parametrize("damage", [
    "state file: a list",
    "state file: wrong shape",
    "state file: truncated",
    "state file: not JSON",
    "METADATA: empty",
    "METADATA: binary garbage",
    "interpreter gone",
])
def test_damaged_files(site, damage):
    DAMAGES[damage](site)
    site.check("upgrade after damage: %s" % damage, "damaged files", None, UPGRADE, in_place=True)

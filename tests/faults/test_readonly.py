"""A venv on a read-only file system: every run that would change it fails before any change, naming the path and
saying it is read-only (not a traceback, not an errno alone); a run with nothing to do still succeeds.

Needs root (mounts): a tmpfs of its own per case, remounted read-only, or the venv bind-mounted read-only onto itself.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import OLD, UPGRADE, Site
from harness import venv_version


def mount(*argv):
    subprocess.run(["mount"] + list(argv), check=True)


@pytest.fixture(params=["read-only file system", "read-only bind mount of the venv"])
def read_only_site(request, tmp_path, fault_wheelhouse, site_template):
    """(site, the read-only mount point): a venv of alpha 1.0 made by a real run, then made read-only."""
    disk = str(tmp_path / "disk")
    os.makedirs(disk)
    mounts = []
    try:
        mount("-t", "tmpfs", "-o", "size=96m", "tmpfs", disk)
        mounts.append(disk)
        site = Site(os.path.join(disk, "site"), fault_wheelhouse, str(tmp_path), site_template[0].carry)
        first = site.run(OLD)
        assert first["changed"] and not first.get("failed"), first["raw_output"]
        if request.param == "read-only file system":
            read_only = disk
            mount("-o", "remount,ro", disk)
        else:
            read_only = site.path
            mount("--bind", site.path, site.path)
            mounts.append(site.path)
            mount("-o", "remount,ro,bind", site.path)
        yield site, read_only
    finally:
        for point in reversed(mounts):
            subprocess.run(["umount", "-l", point], check=False)


def tree(path):
    """Every entry below path with its size and mtime: a run that fails before any change leaves it as it was."""
    found = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            found[os.path.join(root, name)] = (st.st_size, st.st_mtime_ns)
    return found


def assert_refused(result, path, read_only):
    assert result.get("failed") is True, result["raw_output"]
    assert result["changed"] is False
    assert "Traceback" not in result["raw_output"]
    message = result["msg"]
    assert "the file system of %s is read-only (mounted read-only at %s)" % (path, read_only) in message, message
    assert "nothing was changed" in message, message


def test_create_upgrade_and_absent_fail_before_any_change(read_only_site):
    site, read_only = read_only_site
    before = tree(os.path.dirname(site.path))
    if read_only != site.path:  # a new venv beside it, on the read-only file system
        new_path = os.path.join(site.parent, "new")
        assert_refused(site.player.run(dict(OLD.args(site), path=new_path)), new_path, read_only)
    assert_refused(site.run(UPGRADE), site.path, read_only)
    assert_refused(site.player.run({"path": site.path, "state": "absent",
                                    "log_file": os.path.join(site.root, "venv_build.log")}), site.path, read_only)
    assert tree(os.path.dirname(site.path)) == before
    assert venv_version(site.path) == OLD.alpha


def test_a_run_with_nothing_to_do_succeeds(read_only_site):
    site, dummy = read_only_site
    noop = site.run(OLD)
    assert not noop.get("failed") and noop["changed"] is False, noop["raw_output"]

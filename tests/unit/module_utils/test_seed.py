"""The pip seed cache (_seed.py): a seeded venv is the venv `python -m venv` makes; a cache it cannot trust is not used.

Real interpreters and real venvs: the interpreter running the tests, its ensurepip, real pip in the seeded venv.
One seed entry is made per session (about 3 s) and copied for the cases that only read it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _seed as seed
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import Interpreter
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import site_packages_dir

VERSION = "%d.%d.%d" % sys.version_info[:3]
ENV = dict(os.environ, PIP_CONFIG_FILE=os.devnull)


def run(argv, env=None):
    proc = subprocess.run(argv, env=dict(ENV, **(env or {})), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def interpreter():
    real = os.path.realpath(sys.executable)
    return Interpreter(sys.executable, real, None, VERSION)


def seeder(root):
    s = seed.Seeder(interpreter(), str(root), run)
    assert s.prepare(), s.reason
    return s


def tree(path):
    """Relative paths of every file and link under path, __pycache__ included."""
    found = set()
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(folder, name)
            if not os.path.isdir(full) or os.path.islink(full):
                found.add(os.path.relpath(full, path))
    return found


@pytest.fixture(scope="module")
def made_root(tmp_path_factory):
    """A cache root with one entry, made once for this module's cases."""
    root = tmp_path_factory.mktemp("made") / "seed"
    s = seeder(root)
    assert s.cache_state() == "miss"
    logged = []
    assert s.make_entry(run, logged.append) == os.path.join(s.entry, "venv")
    assert logged == ["pip seed cache: made %s" % s.entry]
    return root


def test_a_seeded_venv_has_the_files_python_m_venv_lays_down_and_its_pip_runs(made_root, tmp_path):
    s = seeder(made_root)
    assert s.cache_state() == "hit"
    source = s.usable_entry()
    dest = str(tmp_path / "seeded")
    assert run([sys.executable, "-m", "venv", "--without-pip", dest])[0] == 0
    s.seed(source, dest)
    reference = str(tmp_path / "reference")
    assert run([sys.executable, "-m", "venv", reference])[0] == 0
    assert tree(dest) == tree(reference)
    for name in ("pip", "pip3"):
        with open(os.path.join(dest, "bin", name)) as handle:
            assert handle.readline().startswith("#!%s/bin/python" % dest)
        assert os.access(os.path.join(dest, "bin", name), os.X_OK)
    rc, out, err = run([os.path.join(dest, "bin", "pip"), "--version"])
    assert rc == 0 and os.path.join(dest, "lib") in out, err
    # the byte-code came along: a pip run with bytecode writing off compiles nothing of pip's
    rc, out, err = run([os.path.join(dest, "bin", "python"), "-X", "importtime", "-m", "pip", "--version"],
                       {"PYTHONDONTWRITEBYTECODE": "1"})
    assert rc == 0
    site = site_packages_dir(dest, VERSION)
    pip_pyc = os.path.join(site, "pip", "__pycache__", "__init__.%s.pyc" % sys.implementation.cache_tag)
    assert os.path.isfile(pip_pyc)
    # the RECORD uninstalls what it lists: pip removes itself from the seeded venv, scripts included
    rc, out, err = run([os.path.join(dest, "bin", "python"), "-m", "pip", "uninstall", "-y", "pip"])
    assert rc == 0, err
    assert not os.path.exists(os.path.join(dest, "bin", "pip")) and not os.path.exists(os.path.join(site, "pip"))


def test_an_entry_is_made_once_and_then_reused(made_root):
    entries = [n for n in os.listdir(str(made_root)) if not n.startswith(".")]
    assert len(entries) == 1
    s = seeder(made_root)
    assert s.usable_entry() == os.path.join(str(made_root), entries[0], "venv")
    assert not [n for n in os.listdir(str(made_root)) if n.startswith(seed.TMP_PREFIX)], "the build folder is gone"


@pytest.mark.parametrize("damage", ["none", "world_writable_root", "world_writable_entry", "root_is_a_link", "other_probe",
                                    "record_missing", "record_not_json", "pip_missing", "built_elsewhere"])
def test_a_cache_it_cannot_trust_is_not_used(made_root, tmp_path, damage):
    root = tmp_path / "seed"
    shutil.copytree(str(made_root), str(root), symlinks=True)
    s = seeder(made_root)  # the key, then pointed at the copy
    entry = os.path.join(str(root), s.key)
    record = os.path.join(entry, seed.ENTRY_FILE)
    with open(record) as handle:
        recorded = json.load(handle)
    if damage == "world_writable_root":
        os.chmod(str(root), 0o777)
    elif damage == "world_writable_entry":
        os.chmod(entry, 0o777)
    elif damage == "root_is_a_link":
        os.rename(str(root), str(tmp_path / "elsewhere"))
        os.symlink(str(tmp_path / "elsewhere"), str(root))
    elif damage == "other_probe":
        recorded["probe"]["version"] = "2.7.18"
    elif damage == "record_missing":
        os.unlink(record)
    elif damage == "record_not_json":
        recorded = None
    elif damage == "pip_missing":
        shutil.rmtree(os.path.join(site_packages_dir(os.path.join(entry, "venv"), VERSION), "pip"))
    elif damage == "built_elsewhere":
        recorded["built_at"] = "/etc"
    if damage in ("other_probe", "built_elsewhere"):
        with open(record, "w") as handle:
            json.dump(recorded, handle)
    elif damage == "record_not_json":
        with open(record, "w") as handle:
            handle.write("\x00not json")
    copy = seed.Seeder(interpreter(), str(root), run)
    assert copy.prepare()
    if damage == "none":  # the copy itself is sound: only the damage makes it unusable
        assert copy.usable_entry() == os.path.join(entry, "venv") and copy.cache_state() == "hit"
        return
    assert copy.usable_entry() is None
    assert copy.reason
    if damage in ("world_writable_root", "world_writable_entry", "root_is_a_link"):
        # what others may have written is neither used nor touched: the venv is made by ensurepip, as before
        assert copy.cache_state() is None
        assert copy.make_entry(run, lambda text: None) is None
        return
    # an entry of ours that fails its checks (another version of the module, damage) is replaced
    assert copy.cache_state() == "miss"
    logged = []
    made = copy.make_entry(run, logged.append)
    assert made == os.path.join(entry, "venv") and copy.cache_state() == "hit"
    assert logged == ["pip seed cache: replaced %s" % entry, "pip seed cache: made %s" % entry]
    assert sorted(os.listdir(str(root))) == [copy.key]


def test_an_entry_of_another_user_is_not_used(made_root, tmp_path):
    root = tmp_path / "seed"
    shutil.copytree(str(made_root), str(root), symlinks=True)
    s = seed.Seeder(interpreter(), str(root), run)
    assert s.prepare()
    os.chown(os.path.join(str(root), s.key), 65534, 65534)
    assert s.usable_entry() is None and "belongs to uid 65534" in s.reason


def test_an_interpreter_without_ensurepip_is_not_seeded(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'No module named ensurepip' >&2\nexit 1\n")
    fake.chmod(0o755)
    s = seed.Seeder(Interpreter(str(fake), str(fake), None, VERSION), str(tmp_path / "seed"), run)
    assert s.prepare() is False and "no usable ensurepip" in s.reason and "No module named ensurepip" in s.reason


def test_two_runs_making_the_same_entry_at_once_leave_one_entry(tmp_path):
    root = tmp_path / "seed"
    results = []

    def make():
        results.append(seeder(root).make_entry(run, lambda text: None))

    threads = [threading.Thread(target=make) for dummy in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 2 and results[0] == results[1] and results[0]
    assert sorted(os.listdir(str(root))) == [os.path.basename(os.path.dirname(results[0]))]


def test_a_build_folder_left_by_a_killed_run_goes_once_it_is_old(made_root, tmp_path):
    root = tmp_path / "seed"
    shutil.copytree(str(made_root), str(root), symlinks=True)
    old, fresh = root / ".wheelhouse-seed-tmp-old", root / ".wheelhouse-seed-tmp-fresh"
    old.mkdir()
    fresh.mkdir()
    os.utime(str(old), (1, 1))
    seed.Seeder(interpreter(), str(root), run)._remove_stale()
    assert not old.exists() and fresh.exists()


def test_a_script_whose_first_line_points_elsewhere_is_not_copied(tmp_path):
    built_at = str(tmp_path / "seed" / ".wheelhouse-seed-tmp-x" / "venv")
    src = tmp_path / "pip"
    for first, copied in (("#!%s/bin/python3" % built_at, True), ("#!/bin/sh", False),
                          ("#!%s/bin/../../../../bin/sh" % built_at, False)):
        src.write_text(first + "\nprint('hi')\n")
        dst = tmp_path / "out"
        if dst.exists():
            dst.unlink()
        seed._copy_script(str(src), str(dst), built_at, "/opt/venvs/app")
        assert dst.exists() is copied, first
        if copied:
            assert dst.read_text().startswith("#!/opt/venvs/app/bin/python3\n")


def test_seeding_into_a_full_or_missing_venv_is_a_clear_error(made_root, tmp_path):
    s = seeder(made_root)
    with pytest.raises(VenvBuildError) as raised:
        s.seed(s.usable_entry(), str(tmp_path / "no-such-venv"))
    assert "seeding pip into %s" % (tmp_path / "no-such-venv") in str(raised.value)


def test_a_tmp_folder_of_the_user_in_a_seed_cache_they_named_is_never_removed(made_root, tmp_path):
    root = tmp_path / "seed"
    shutil.copytree(str(made_root), str(root), symlinks=True)
    theirs = root / ".tmp-notes"
    theirs.mkdir()
    os.utime(str(theirs), (1, 1))
    seed.Seeder(interpreter(), str(root), run)._remove_stale()
    assert theirs.exists()


def test_scripts_of_a_seed_made_at_a_long_path_reach_a_venv_at_a_long_or_short_path(tmp_path):
    """A path too long for a #! line (127 bytes) makes pip write its scripts as sh-exec lines: read and written too
    (they were skipped, and the seeded venv had no bin/pip)."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    s = seeder(deep / "seed")
    source = s.make_entry(run, lambda text: None)
    assert source and open(os.path.join(source, "bin", "pip"), "rb").read().startswith(b"#!/bin/sh\n'''exec' ")
    for dest in (str(tmp_path / "short"), str(deep / "a-long-venv" / "here")):
        assert run([sys.executable, "-m", "venv", "--without-pip", dest])[0] == 0
        s.seed(source, dest)
        for name in ("pip", "pip3"):
            assert os.access(os.path.join(dest, "bin", name), os.X_OK), name
        rc, out, err = run([os.path.join(dest, "bin", "pip"), "--version"])
        assert rc == 0 and os.path.join(dest, "lib") in out, err
    with open(os.path.join(str(tmp_path / "short"), "bin", "pip")) as handle:  # short enough for #! again
        assert handle.readline().startswith("#!%s/bin/python" % (tmp_path / "short"))

"""What a venv consists of, and the file-system steps that must never remove anything else (real trees in tmp)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _fsops as fsops
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import STATE_FILE, foreign_entries

MINOR = "%d.%d" % sys.version_info[:2]


def real_venv(path):
    """A venv made by the venv module (no pip: fast), as `python3 -m venv .` makes it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return str(path)


def write(path, text="x"):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), "w") as handle:
        handle.write(text)


def installed_dist(venv, name, record_lines):
    """A dist-info with a RECORD listing files outside site-packages (console scripts, data files)."""
    meta = os.path.join(venv, "lib", "python%s" % MINOR, "site-packages", "%s-1.0.dist-info" % name)
    write(os.path.join(meta, "METADATA"), "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n\n" % name)
    write(os.path.join(meta, "RECORD"), "".join("%s,,\n" % line for line in record_lines))


def test_a_project_dir_with_a_venv_has_foreign_entries(tmp_path):
    venv = real_venv(tmp_path / "project")
    write(os.path.join(venv, "src", "app.py"))
    write(os.path.join(venv, "setup.cfg"))
    write(os.path.join(venv, "bin", "my-tool"))
    write(os.path.join(venv, ".gitignore"))
    assert foreign_entries(venv) == ["bin/my-tool", "setup.cfg", "src"]


def test_files_of_our_names_are_ours_only_in_a_venv_with_our_state_file(tmp_path):
    venv = real_venv(tmp_path / "project")
    write(os.path.join(venv, "requirements.txt"))
    write(os.path.join(venv, "constraints.txt"))
    assert foreign_entries(venv) == ["constraints.txt", "requirements.txt"]
    write(os.path.join(venv, "wheelhouse-venv.json"))
    assert foreign_entries(venv) == []


def test_installed_scripts_data_files_and_recorded_entries_are_the_venvs(tmp_path):
    venv = real_venv(tmp_path / "venv")
    installed_dist(venv, "alpha", ["alpha_mod/__init__.py", "../../../bin/alpha-version", "../../../etc/alpha.conf"])
    write(os.path.join(venv, "bin", "alpha-version"))
    write(os.path.join(venv, "etc", "alpha.conf"))
    write(os.path.join(venv, "made-by-our-build"))
    for name in ("requirements.txt", "constraints.txt", "global-constraints.txt", ".%s.abcd_123" % STATE_FILE):
        write(os.path.join(venv, name))
    write(os.path.join(venv, STATE_FILE), json.dumps({"format": 1, "entries": ["made-by-our-build"]}))
    assert foreign_entries(venv) == []
    # a RECORD line that leaves the venv names nothing of it
    installed_dist(venv, "evil", ["../../../../../outside"])
    write(os.path.join(venv, "bin", "alpha-version-old"))
    assert foreign_entries(venv) == ["bin/alpha-version-old"]


def test_carry_moves_entries_to_the_same_place_and_refuses_a_name_taken(tmp_path):
    old, new = real_venv(tmp_path / "old"), real_venv(tmp_path / "new")
    write(os.path.join(old, "src", "app.py"), "code")
    write(os.path.join(old, "bin", "my-tool"), "tool")
    moved = fsops.carry(old, new, ["bin/my-tool", "src"])
    assert moved == ["bin/my-tool", "src"]
    assert open(os.path.join(new, "src", "app.py")).read() == "code"
    assert open(os.path.join(new, "bin", "my-tool")).read() == "tool"
    assert not os.path.exists(os.path.join(old, "src"))

    write(os.path.join(old, "notes"), "mine")
    write(os.path.join(new, "notes"), "theirs")
    with pytest.raises(VenvBuildError, match="cannot carry notes"):
        fsops.carry(old, new, ["notes"])
    assert open(os.path.join(old, "notes")).read() == "mine"
    fsops.carry_back(old, new, moved)
    assert open(os.path.join(old, "src", "app.py")).read() == "code"


def test_swap_keeps_foreign_entries_of_the_replaced_venv(tmp_path):
    path, staging = real_venv(tmp_path / "venv"), real_venv(tmp_path / ".venv.venv_build-abc")
    write(os.path.join(path, "notes.txt"), "mine")
    kept = fsops.swap_into_place(staging, path)
    assert kept is not None and os.listdir(kept) == ["notes.txt"]
    assert open(os.path.join(kept, "notes.txt")).read() == "mine"


def test_remove_venv_renames_it_away_and_leaves_nothing(tmp_path):
    path = real_venv(tmp_path / "venv")
    write(os.path.join(tmp_path, ".venv.venv_build.lock"))
    assert fsops.remove_venv(path) == []
    assert sorted(os.listdir(str(tmp_path))) == [".venv.venv_build.lock"]


def test_remove_venv_keeps_the_directory_and_foreign_entries(tmp_path):
    path = real_venv(tmp_path / "project")
    write(os.path.join(path, "src", "app.py"), "code")
    write(os.path.join(path, "bin", "my-tool"), "tool")
    assert fsops.remove_venv(path) == ["bin/my-tool", "src"]
    assert sorted(os.listdir(path)) == ["bin", "src"]
    assert os.listdir(os.path.join(path, "bin")) == ["my-tool"]
    assert sorted(os.listdir(str(tmp_path))) == ["project"]


def test_clean_leftovers_removes_venv_parts_and_puts_carried_files_back(tmp_path):
    path = real_venv(tmp_path / "app")
    # a build killed before its swap, with a carried user file the venv at path now lacks
    staging = real_venv(tmp_path / ".app.venv_build-k1ll3d01")
    write(os.path.join(staging, "src", "app.py"), "code")
    # another one holding a file that path has again: kept, never removed
    other = real_venv(tmp_path / ".app.venv_build-k1ll3d02")
    write(os.path.join(other, "notes"), "older notes")
    write(os.path.join(path, "notes"), "notes")
    files = tmp_path / ".app.venv_build-files-k1ll3d03"
    write(os.path.join(str(files), "requirements.txt"))
    write(os.path.join(str(files), ".constraints.txt.abcd1234"))
    write(os.path.join(path, ".%s.abcd1234" % STATE_FILE))
    write(os.path.join(str(tmp_path), ".app.venv_build.lock"))
    write(os.path.join(str(tmp_path), ".app.venv_build.log"))
    write(os.path.join(str(tmp_path), ".other.venv_build-k1ll3d04", "pyvenv.cfg"))

    removed, kept = fsops.clean_leftovers(path)
    assert sorted(removed) == sorted([staging, str(files), os.path.join(path, ".%s.abcd1234" % STATE_FILE)])
    assert kept == [other]
    assert os.listdir(other) == ["notes"] and open(os.path.join(other, "notes")).read() == "older notes"
    assert open(os.path.join(path, "src", "app.py")).read() == "code"
    assert sorted(os.listdir(str(tmp_path))) == [".app.venv_build-k1ll3d02", ".app.venv_build.lock",
                                                 ".app.venv_build.log", ".other.venv_build-k1ll3d04", "app"]
    assert fsops.find_leftovers(path) == [other]


def test_a_staging_leftover_killed_before_its_state_was_written_is_removed(tmp_path):
    """A build killed while its installer ran: the installer files are ours though no state file is there yet."""
    path = real_venv(tmp_path / "app")
    write(os.path.join(path, STATE_FILE), "{}")
    for name in ("requirements.txt", "constraints.txt", "global-constraints.txt"):
        write(os.path.join(path, name), "x\n")
    staging = real_venv(tmp_path / ".app.venv_build-k1ll3d05")
    for name in ("requirements.txt", "constraints.txt", "global-constraints.txt"):
        write(os.path.join(staging, name), "y\n")
    removed, kept = fsops.clean_leftovers(path)
    assert removed == [staging] and kept == []
    assert open(os.path.join(path, "requirements.txt")).read() == "x\n"


def test_a_files_leftover_with_anything_else_is_kept(tmp_path):
    path = str(tmp_path / "app")
    folder = tmp_path / ".app.venv_build-files-k1ll3d05"
    write(os.path.join(str(folder), "requirements.txt"))
    write(os.path.join(str(folder), "my-data.db"))
    assert fsops.clean_leftovers(path) == ([], [str(folder)])
    assert os.path.exists(os.path.join(str(folder), "my-data.db"))


def test_the_lock_is_never_taken_through_a_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("not a lock")
    lock = tmp_path / ".app.venv_build.lock"
    os.symlink(str(target), str(lock))
    with pytest.raises(VenvBuildError, match="lock file %s is a symbolic link" % lock):
        with fsops.path_lock(str(lock)):
            pass
    assert target.read_text() == "not a lock"
    plain = tmp_path / ".b.venv_build.lock"
    with fsops.path_lock(str(plain)):
        assert plain.exists()


def test_disk_problem_names_a_full_disk_from_the_output_and_nothing_else(tmp_path, monkeypatch):
    """An installer's output naming ENOSPC (pip's OSError, uv's os error) is a full disk of the path, in words."""
    path = str(tmp_path / "venvs" / "app")  # not there yet: the nearest existing parent is asked
    for output in ("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device",
                   "error: failed to write to file: No space left on device (os error 28)",
                   "OSError: [Errno 122] Disk quota exceeded"):
        problem = fsops.disk_problem(path, output)
        assert problem.startswith("no space left on device on the file system of %s (" % path), problem
        assert problem.endswith(" MB free)")
    assert fsops.disk_problem(path, "ERROR: No matching distribution found for alpha") is None
    assert fsops.disk_problem(path) is None
    monkeypatch.setattr(fsops, "free_space", lambda folder: fsops.LOW_SPACE - 1)  # nearly full: said without output
    assert fsops.disk_problem(path).startswith("no space left on device on the file system of %s" % path)


def test_disk_problem_names_a_read_only_file_system(tmp_path):
    path = str(tmp_path / "app")
    assert fsops.disk_problem(path, "OSError: [Errno 30] Read-only file system: '%s/bin'" % path) \
        == "the file system of %s is read-only" % path
    assert fsops.read_only_mount(path) is None  # a read-only mount itself: tests/faults/test_readonly.py


def test_the_lock_note_is_written_in_place_and_read_back_only_as_written(tmp_path):
    """state=absent's note goes into the lock file itself: the same inode (a waiting run's flock stays on it)."""
    lock = str(tmp_path / ".app.venv_build.lock")
    with fsops.path_lock(lock):
        inode = os.stat(lock).st_ino
        assert fsops.read_lock_note(lock) is None  # empty
        fsops.write_lock_note(lock, {"absent_kept": {"path": "/x/app", "entries": ["notes.txt"]}})
        assert os.stat(lock).st_ino == inode
        assert fsops.read_lock_note(lock) == {"absent_kept": {"path": "/x/app", "entries": ["notes.txt"]}}
        fsops.write_lock_note(lock, None)
        assert fsops.read_lock_note(lock) is None and os.path.getsize(lock) == 0
    write(lock, "[1, 2]")  # not a note of ours
    assert fsops.read_lock_note(lock) is None
    fsops.write_lock_note(str(tmp_path / "missing.lock"), {"a": 1})  # no lock file: nothing written, no error
    assert not os.path.exists(str(tmp_path / "missing.lock"))

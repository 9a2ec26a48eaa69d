# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File-system operations on a venv's path: the atomic swap, relocation, ownership, the lock."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import grp
import json
import os
import pwd
import re
import shutil
import tempfile
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._faults import fault_point
from ansible_collections.wheelhouse.venv.plugins.module_utils._foreign import MADE_FOR_CARRY, foreign_entries
from ansible_collections.wheelhouse.venv.plugins.module_utils._hostfiles import write_atomic
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import STAGING_FILE, is_temporary_file, read_untrusted

# Names of what runs make beside a venv path (NAME is its base name); a killed run leaves them behind:
# .NAME.venv_build-XXXX (staging of a build, *.old the replaced venv), .NAME.venv_build-files-XXXX
# (installer files), .NAME.venv_build-removing-XXXX (a venv being removed by state=absent).
# The lock (.NAME.venv_build.lock) and the log (.NAME.venv_build.log) are no leftovers.
SHOWN_ENTRIES = 20


def exchange(a, b):
    """Swap two directory entries atomically (renameat2 RENAME_EXCHANGE); False when the kernel or fs cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, a.encode(), at_fdcwd, b.encode(), rename_exchange)
    if rc == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), b)


def leftover_prefix(path):
    return ".%s.venv_build-" % os.path.basename(path)


def staging_prefix(path, kind=""):
    """Prefix of a hidden directory beside path: kind "" (a build), "files-" or "removing-"."""
    return leftover_prefix(path) + kind


def shown(entries):
    """Relative paths for a message: sorted, at most SHOWN_ENTRIES of them."""
    entries = sorted(entries)
    more = len(entries) - SHOWN_ENTRIES
    return ", ".join(entries[:SHOWN_ENTRIES]) + (" and %d more" % more if more > 0 else "")


def put_in_place(staging, path):
    """Put the venv built at staging at path; return where the previous venv is now (None when there was none)."""
    if not os.path.lexists(path):
        os.rename(staging, path)
        return None
    if os.path.isdir(path) and not os.listdir(path):
        os.rmdir(path)
        os.rename(staging, path)
        return None
    if exchange(staging, path):
        return staging
    # two renames: the path is absent for an instant only
    os.rename(path, staging + ".old")
    os.rename(staging, path)
    return staging + ".old"


def swap_into_place(staging, path):
    """Put the venv built at staging at path; the previous venv (if any) is removed afterwards.

    Only the parts of the previous venv are removed; entries of someone else still in it (none
    when they were carried) are kept in its leftover directory, whose name is returned.
    """
    old = put_in_place(staging, path)
    if old is None:
        return None
    fault_point("swap-before-old-removed")
    if remove_venv_parts(old, foreign_entries(old)):
        return None
    return old


def relocate(staging, path):
    """Point the scripts of a venv built at staging to its final path (shebangs, activate, pyvenv.cfg)."""
    old, new = staging.encode(), path.encode()
    candidates = [os.path.join(staging, "pyvenv.cfg")]
    bin_dir = os.path.join(staging, "bin")
    candidates += [os.path.join(bin_dir, n) for n in os.listdir(bin_dir)]
    for file_path in candidates:
        if os.path.islink(file_path) or not os.path.isfile(file_path) or os.path.getsize(file_path) > 4 * 1024 * 1024:
            continue
        with open(file_path, "rb") as handle:
            data = handle.read()
        if old not in data or b"\0" in data[:4096]:
            continue
        mode = os.stat(file_path).st_mode
        with open(file_path, "wb") as handle:
            handle.write(data.replace(old, new))
        os.chmod(file_path, mode)


def _uid_gid(spec):
    uid = gid = -1
    try:
        if spec.owner is not None:
            uid = int(spec.owner) if str(spec.owner).isdigit() else pwd.getpwnam(spec.owner).pw_uid
        if spec.group is not None:
            gid = int(spec.group) if str(spec.group).isdigit() else grp.getgrnam(spec.group).gr_gid
    except KeyError as exc:
        raise VenvBuildError("owner/group does not exist on this host: %s" % exc)
    return uid, gid


def ownership_differs(spec, path):
    """True when any entry of the venv tree has another owner/group, or the top directory another mode."""
    if not os.path.isdir(path):
        return False
    uid, gid = _uid_gid(spec)
    if spec.mode is not None and (os.stat(path).st_mode & 0o7777) != spec.wanted_mode(os.stat(path)):
        return True
    if uid == -1 and gid == -1:
        return False
    for root, dirs, files in os.walk(path):
        for name in [""] + dirs + files:
            st = os.lstat(os.path.join(root, name))
            if (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid):
                return True
    return False


def fix_ownership(spec, path):
    uid, gid = _uid_gid(spec)
    if uid != -1 or gid != -1:
        for root, dirs, files in os.walk(path):
            for name in [""] + dirs + files:
                target = os.path.join(root, name)
                st = os.lstat(target)
                if (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid):
                    os.lchown(target, uid, gid)
    if spec.mode is not None:
        os.chmod(path, spec.wanted_mode(os.stat(path)))


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def parts_but(folder, keep):
    """The entries of folder to remove so that only keep (relative paths, at any depth) and the folders above
    them stay: relative paths, the top-level pyvenv.cfg last. Links are entries, never followed."""
    keep = set(keep)
    above = set()
    for rel in keep:
        head = os.path.dirname(rel)
        while head and head not in above:
            above.add(head)
            head = os.path.dirname(head)
    parts = []
    folders = [""]
    while folders:
        parent = folders.pop()
        for name in sorted(os.listdir(os.path.join(folder, parent))):
            rel = os.path.join(parent, name)
            if rel in keep:
                continue
            full = os.path.join(folder, rel)
            if rel in above and os.path.isdir(full) and not os.path.islink(full):
                folders.append(rel)  # a folder with entries of someone else inside
            else:
                parts.append(rel)
    # pyvenv.cfg last: a run killed half-way leaves a folder still recognised as a (broken) venv
    return sorted(parts, key=lambda rel: rel == "pyvenv.cfg")


def remove_venv_parts(folder, keep):
    """Remove everything in folder but the relative paths of keep; remove folder too when nothing is kept.

    Returns True when folder is gone.
    """
    for rel in parts_but(folder, keep):
        _remove(os.path.join(folder, rel))
    if keep:
        return False
    os.rmdir(folder)
    return True


def _made_for_carry(dst, rel):
    """The folder carry makes in dst for the entry rel when dst lacks it: a layout folder (share/) or a
    byte-code cache (__pycache__) in a folder dst has; None when none is to be made."""
    parent = os.path.dirname(rel)
    if os.path.isdir(os.path.join(dst, parent)):
        return None
    if parent in MADE_FOR_CARRY or (os.path.basename(parent) == "__pycache__"
                                    and os.path.isdir(os.path.join(dst, os.path.dirname(parent)))):
        return parent
    return None


def check_carry(src, dst, entries):
    """Fail, before anything moves, when an entry to carry from src cannot go to the same place in dst."""
    taken = [rel for rel in entries if os.path.lexists(os.path.join(dst, rel))]
    if taken:
        raise VenvBuildError("cannot carry %s from %s into the rebuilt venv: the new venv has entries of these names; "
                             "move them out of the venv and run again" % (shown(taken), src))
    homeless = [rel for rel in entries if _made_for_carry(dst, rel) is None
                and not os.path.isdir(os.path.dirname(os.path.join(dst, rel)))]
    if homeless:
        raise _homeless_error(src, homeless)


def _homeless_error(src, homeless):
    return VenvBuildError("cannot carry %s from %s into the rebuilt venv: the new venv has no folder %s for them "
                          "(it holds other packages or another Python version); move them out of the venv and run "
                          "again" % (shown(homeless), src, shown(set(os.path.dirname(rel) for rel in homeless))))


def check_carry_layout(src, entries, old_version, new_version):
    """Before the new venv exists: fail when an entry to carry lies in the old Python's lib/pythonX.Y, which a venv
    of another Python version does not have (check_carry refuses it once that venv is made; check mode too)."""
    old, new = (".".join((v or "").split(".")[:2]) for v in (old_version, new_version))
    if not old or not new or old == new:
        return
    homeless = [rel for rel in entries if rel.startswith("lib/python%s/" % old) or rel.startswith("lib64/python%s/" % old)]
    if homeless:
        raise _homeless_error(src, homeless)


def carry(src, dst, entries):
    """Move entries (relative paths) from the venv at src to the same places in dst; renames only.

    A layout folder dst lacks (share/, a __pycache__) is made first; any other missing folder fails.
    """
    check_carry(src, dst, entries)
    moved = []
    try:
        for rel in entries:
            made = _made_for_carry(dst, rel)
            if made is not None:
                os.makedirs(os.path.join(dst, made), 0o755, exist_ok=True)
            os.rename(os.path.join(src, rel), os.path.join(dst, rel))
            moved.append(rel)
    except BaseException:
        carry_back(src, dst, moved)
        raise
    return moved


def carry_back(src, dst, moved):
    """Undo carry: move the entries back from dst to src (those still in dst)."""
    for rel in reversed(moved):
        if os.path.lexists(os.path.join(dst, rel)) and not os.path.lexists(os.path.join(src, rel)):
            os.rename(os.path.join(dst, rel), os.path.join(src, rel))


def remove_venv(path, keep=None):
    """Remove the venv at path; entries of someone else (keep: foreign_entries) stay where they are, with the
    folders above them (returned, sorted).

    The venv is first renamed away (.NAME.venv_build-removing-XXXX beside it), so that a run
    killed half-way never leaves a half-deleted venv at path; the next run removes that leftover.
    """
    keep = sorted(foreign_entries(path) if keep is None else keep)
    removing = tempfile.mkdtemp(prefix=staging_prefix(path, "removing-"), dir=os.path.dirname(path))
    if not keep:
        os.rename(path, removing)  # onto the empty directory: one atomic step
    else:
        for rel in parts_but(path, keep):
            if os.path.dirname(rel):
                os.makedirs(os.path.join(removing, os.path.dirname(rel)), exist_ok=True)
            os.rename(os.path.join(path, rel), os.path.join(removing, rel))
    fault_point("absent-renamed")
    shutil.rmtree(removing)
    return keep


# --- leftovers of killed runs -----------------------------------------------------------------

_FILES_DIR_NAMES = ("requirements.txt", "constraints.txt", "global-constraints.txt", "recorded-pins.txt",
                    "build-requirements.txt")


def find_leftovers(path):
    """Leftovers of killed runs on path: hidden directories beside it, temporary files inside it."""
    found = []
    parent, prefix = os.path.dirname(path), leftover_prefix(path)
    try:
        names = sorted(os.listdir(parent))
    except (IOError, OSError):
        return found
    for name in names:
        full = os.path.join(parent, name)
        if name.startswith(prefix) and os.path.isdir(full) and not os.path.islink(full):
            found.append(full)
    if os.path.isdir(path):
        found += [os.path.join(path, n) for n in sorted(os.listdir(path)) if is_temporary_file(n)]
    return found


def _files_dir_parts(folder):
    """The files of an installer-files directory (and their write_atomic temporary files); None if anything else is there."""
    parts = []
    for name in os.listdir(folder):
        base = name[1:].rsplit(".", 1)[0] if name.startswith(".") else name
        if base not in _FILES_DIR_NAMES or not os.path.isfile(os.path.join(folder, name)):
            return None
        parts.append(name)
    return parts


def mark_staging(staging, carried=()):
    """Record in the staging directory of a venv being built that it is one of ours, and the entries (relative
    paths) a carry moves into it: what a run killed before its swap left there is ours but those."""
    write_atomic(os.path.join(staging, STAGING_FILE), json.dumps({"carried": sorted(carried)}) + "\n")


def _plain_relative(rel):
    return isinstance(rel, str) and rel and not rel.startswith("/") and os.path.normpath(rel) == rel \
        and ".." not in rel.split("/")


def staging_record(folder):
    """The carried entries a staging directory of ours records (mark_staging), or None without a valid record."""
    try:
        data = json.loads(read_untrusted(os.path.join(folder, STAGING_FILE), 1024 * 1024).decode("utf-8"))
    except (IOError, OSError, ValueError):
        return None
    carried = data.get("carried") if isinstance(data, dict) else None
    if not isinstance(carried, list) or not all(_plain_relative(rel) for rel in carried):
        return None
    return carried


def clean_leftovers(path):
    """Remove the leftovers of killed runs on path (under the lock); return (removed, kept) full paths.

    From a leftover directory only venv parts are removed; an entry of someone else (a file carried
    by a run killed before its swap) goes back to path when path lacks it, else the leftover is kept.
    """
    removed, kept = [], []
    files_prefix = staging_prefix(path, "files-")
    for leftover in find_leftovers(path):
        if not os.path.isdir(leftover):  # a temporary state file inside the venv
            os.unlink(leftover)
            removed.append(leftover)
            continue
        if os.path.basename(leftover).startswith(files_prefix):
            parts = _files_dir_parts(leftover)
            if parts is None:
                kept.append(leftover)
                continue
            shutil.rmtree(leftover)
            removed.append(leftover)
            continue
        keep = []
        # a venv being built, killed before its swap: ours but what a carry moved in (a partial install or copy is
        # not someone else's); else the venv a swap replaced: what it does not consist of
        carried = staging_record(leftover)
        if carried is not None:
            theirs = [rel for rel in carried if os.path.lexists(os.path.join(leftover, rel))]
        else:
            theirs = foreign_entries(leftover, managed=True)
        for rel in theirs:
            back = os.path.join(path, rel)
            if os.path.isdir(path) and os.path.isdir(os.path.dirname(back)) and not os.path.lexists(back):
                os.rename(os.path.join(leftover, rel), back)
            else:
                keep.append(rel)
        if remove_venv_parts(leftover, keep):
            removed.append(leftover)
        else:
            kept.append(leftover)
    return removed, kept


LOW_SPACE = 1024 * 1024  # bytes: a file system with less free is full for a venv build


def free_space(folder):
    """Bytes free for unprivileged writes on the file system of folder (a large number when it cannot tell)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return 1 << 62
    return st.f_bavail * st.f_frsize


# What a command's output says when it failed for a full or a read-only file system (pip, uv, cp: strerror or errno).
_DISK_FULL_OUTPUT = re.compile(r"No space left on device|Disk quota exceeded|\[Errno (?:28|122)\]|os error (?:28|122)\b")
_READ_ONLY_OUTPUT = re.compile(r"Read-only file system|\[Errno 30\]|os error 30\b")


def existing_folder(path):
    """path, or the nearest of its parents that exists (what a file system question is asked of)."""
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def read_only_mount(path):
    """The mount point of the read-only file system that holds path (or would hold it), else None."""
    folder = existing_folder(path)
    try:
        if not os.statvfs(folder).f_flag & os.ST_RDONLY:
            return None
    except OSError:
        return None
    return mount_point(folder)


def mount_point(path):
    """The mount point below which path lies: the longest of /proc/self/mountinfo (a bind mount of a folder onto
    itself is one too, which os.path.ismount does not see), else the nearest folder os.path.ismount names."""
    path = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", "rb") as handle:
            points = [line.split(b" ")[4].decode("utf-8", "surrogateescape") for line in handle if line.count(b" ") > 4]
    except (IOError, OSError):
        points = []
    # mountinfo escapes space, tab, newline and backslash in octal (\040)
    points = [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), p) for p in points]
    inside = [p for p in points if path == p or path.startswith(p.rstrip("/") + "/")]
    if inside:
        return max(inside, key=len)
    while not os.path.ismount(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def megabytes(size):
    return "%.1f MB" % (size / 1048576.0)


def disk_problem(path, output=""):
    """What is wrong with the file system of path for a command whose output is given, in words; None when nothing.

    Read-only: the file system is mounted so, or the output says so. Full: the output says so, or less than
    LOW_SPACE is free there.
    """
    mount = read_only_mount(path)
    if mount is not None or _READ_ONLY_OUTPUT.search(output or ""):
        return "the file system of %s is read-only%s" % (path, " (mounted read-only at %s)" % mount if mount else "")
    free = free_space(existing_folder(path))
    if _DISK_FULL_OUTPUT.search(output or "") or free < LOW_SPACE:
        return "no space left on device on the file system of %s (%s free)" % (path, megabytes(free))
    return None


def lock_file_for(path):
    """The lock file of a venv path: beside it, so that it outlives every swap of the directory."""
    return os.path.join(os.path.dirname(path), ".%s.venv_build.lock" % os.path.basename(path))


# The lock file beside a venv path outlives the venv: state=absent notes in it the entries of someone else it kept
# in the directory, so that a later state=absent knows that directory as its own leftover (not a wrong path).
MAX_LOCK_NOTE_BYTES = 1024 * 1024


def write_lock_note(lock_path, note):
    """Replace the content of the lock file at lock_path by note (a dict, as JSON; None: empty), in place: the lock
    is held on this very file. A note that cannot be written is left out (OSError is not raised)."""
    try:
        fd = os.open(lock_path, os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return
    try:
        os.ftruncate(fd, 0)
        if note is not None:
            os.write(fd, (json.dumps(note, sort_keys=True) + "\n").encode("utf-8"))
    except OSError:
        pass
    finally:
        os.close(fd)


def read_lock_note(lock_path):
    """The note in the lock file at lock_path (a dict), or None when it holds none or not one this module wrote."""
    try:
        note = json.loads(read_untrusted(lock_path, MAX_LOCK_NOTE_BYTES).decode("utf-8"))
    except (IOError, OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


@contextlib.contextmanager
def path_lock(lock_path, timeout=None, busy_message=None):
    """Hold an exclusive flock on lock_path (made when missing); wait for ever, or fail after timeout seconds.

    Every module that changes something on a path takes this lock first, so that two runs on one
    path never interleave.
    """
    try:  # never through a symbolic link: it could point anywhere
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VenvBuildError("the lock file %s is a symbolic link; the module never follows it: "
                                 "remove the link and run again" % lock_path)
        raise
    with os.fdopen(fd, "r+") as handle:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (fcntl.LOCK_NB if deadline is not None else 0))
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise VenvBuildError(busy_message or "another run holds the lock %s for more than %d s"
                                         % (lock_path, timeout))
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

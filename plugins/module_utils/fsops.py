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
import os
import pwd
import shutil
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils.errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils.faults import fault_point


def _exchange(a, b):
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


def swap_into_place(staging, path):
    """Put the venv built at staging at path; the previous venv (if any) is removed afterwards."""
    if not os.path.lexists(path):
        os.rename(staging, path)
        return
    if os.path.isdir(path) and not os.listdir(path):
        os.rmdir(path)
        os.rename(staging, path)
        return
    if _exchange(staging, path):
        old = staging
    else:  # two renames: the path is absent for an instant only
        old = staging + ".old"
        os.rename(path, old)
        os.rename(staging, path)
    fault_point("swap-before-old-removed")
    shutil.rmtree(old, ignore_errors=True)


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


def lock_file_for(path):
    """The lock file of a venv path: beside it, so that it outlives every swap of the directory."""
    return os.path.join(os.path.dirname(path), ".%s.venv_build.lock" % os.path.basename(path))


@contextlib.contextmanager
def path_lock(lock_path, timeout=None, busy_message=None):
    """Hold an exclusive flock on lock_path (made when missing); wait for ever, or fail after timeout seconds.

    Every module that changes something on a path takes this lock first, so that two runs on one
    path never interleave.
    """
    with open(lock_path, "a") as handle:
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

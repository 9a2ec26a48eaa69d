# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""state=absent: remove the venv (and its kept releases), keeping and naming entries of someone else.
"""

from __future__ import annotations

import os
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._foreign import foreign_entries
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import (
    lock_file_for,
    read_lock_note,
    remove_venv,
    shown,
    write_lock_note,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils import _releases as releases_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import VenvOnDisk
from ansible_collections.wheelhouse.venv.plugins.module_utils import _guards as guards


def absent(ctx, disk):
    """Remove the venv at path (and the link to it); entries of someone else are kept, with the directory."""
    spec = ctx.spec
    result = {"changed": False, "path": spec.path, "commands": [], "packages": {}, "added": {},
              "removed": {}, "upgraded": {}, "fingerprint": None, "python_version": disk.python_version,
              "facts_written": False, "log_file": spec.log_file, "reasons": list(ctx.leftover_reasons),
              "links": {"present": {}, "added": [], "removed": []}, "kept": [], "sbom": None, "lock": {},
              "release": None, "releases": []}
    if ctx.dangling:  # nothing to remove but the link
        result.update(changed=True, reasons=result["reasons"] + ["state=absent: %s points to %s, which does not exist"
                                                                 % (ctx.link, spec.path)])
        if not ctx.check_mode:
            os.unlink(ctx.link)
        return result
    if not disk.exists:
        return result
    if disk.is_dir and not disk.is_venv and not disk.is_empty_dir and kept_by_absent(ctx):
        return absent_kept(ctx, result)
    if ctx.check_mode:
        return absent_result(ctx, result, disk)
    guards.check_writable(ctx, "removed")
    with ctx.locked():
        disk = VenvOnDisk(spec.path)  # another run may have finished while we waited
        if not disk.exists:
            return result
        absent_result(ctx, result, disk)
        if disk.is_venv:
            # before the removal: a run killed half-way leaves the directory known as ours too
            write_lock_note(lock_file_for(spec.path), {"absent_kept": {
                "path": spec.path, "entries": result["kept"], "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
                if result["kept"] else None)
            kept = remove_venv(spec.path, result["kept"])
        else:  # an empty directory
            kept = []
            os.rmdir(spec.path)
        if ctx.link and not kept:
            os.unlink(ctx.link)
        remove_releases(ctx)
    ctx.log("venv %s removed%s" % (spec.path, " but for %s" % ", ".join(kept) if kept else ""))
    return result


def kept_by_absent(ctx):
    """Whether the directory at path is what an earlier state=absent kept of a venv (its note in the lock file)."""
    note = (read_lock_note(lock_file_for(ctx.spec.path)) or {}).get("absent_kept")
    return isinstance(note, dict) and note.get("path") == ctx.spec.path


def absent_kept(ctx, result):
    """state=absent on a directory that holds no venv any more, what an earlier state=absent kept: nothing to
    remove, changed=false; its entries are someone else's, named as the state=absent that kept them named them."""
    spec = ctx.spec
    kept = foreign_entries(spec.path, {}, venv=False)
    result["kept"] = kept
    ctx.warnings.append("state=absent: %s holds no venv (no pyvenv.cfg), nothing was removed; it is kept with these "
                        "entries in it, which are not part of a venv: %s" % (spec.path, shown(kept)))
    return result


def remove_releases(ctx):
    """state=absent: the kept releases go with the venv; a releases folder holding anything else stays whole."""
    kept = releases_mod.Releases(ctx.spec.path)
    if not kept.exists:
        return
    if kept.foreign:
        ctx.warnings.append("state=absent kept the earlier venvs in %s: it holds entries that are not venvs this "
                            "module kept: %s" % (kept.folder, shown(kept.foreign)))
        return
    releases_mod.prune(kept, 0, ctx.log, ctx.warnings.append)


def absent_result(ctx, result, disk):
    spec = ctx.spec
    if not disk.is_venv and not disk.is_empty_dir:
        raise VenvBuildError("%s exists but is not a venv (no pyvenv.cfg): refusing to remove it" % spec.path)
    kept = foreign_entries(spec.path, disk.state or {}) if disk.is_venv else []
    result.update(changed=True, removed=disk.packages, kept=kept, reasons=result["reasons"] + ["state=absent"])
    result["diff"] = {"before": {"path": spec.path, "state": "present"}, "after": {"path": spec.path, "state": "absent"}}
    if kept:
        ctx.warnings.append("state=absent kept %s and these entries in it, which are not part of a venv: %s"
                            % (spec.path, shown(kept)))
    return result

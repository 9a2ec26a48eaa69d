# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks before any change: the path (a link, a read-only mount), leftovers of killed runs, the files the module
keeps in a venv, and what a replacement would do to entries of someone else (refused or carried).
"""

from __future__ import annotations

import os

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._foreign import foreign_entries
from ansible_collections.wheelhouse.venv.plugins.module_utils import _fsops as fsops
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import (
    check_carry_layout,
    find_leftovers,
    read_only_mount,
    shown,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils import _releases as releases_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import FILE_KEYS
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import SBOM_FILE, STATE_FILE


def follow_link(ctx):
    """A path that is a symbolic link: the venv it points to is what is made, updated or replaced."""
    spec = ctx.spec
    if not os.path.islink(spec.path):
        return
    ctx.link = spec.path
    spec.path = os.path.realpath(spec.path)
    ctx.dangling = not os.path.lexists(spec.path)


def check_writable(ctx, done):
    """Before any change: the venv's path and its folder (the lock, a venv built beside it) are on file systems
    that are not mounted read-only; else a VenvBuildError naming the path and the mount."""
    spec = ctx.spec
    for folder in (spec.path, os.path.dirname(spec.path)):
        mount = read_only_mount(folder)
        if mount is not None:
            raise VenvBuildError("the venv at %s cannot be %s: the file system of %s is read-only (mounted read-only "
                                 "at %s); nothing was changed. Remount it read-write, or choose a path on a writable "
                                 "file system, and run again" % (spec.path, done, folder, mount))


def clean_leftovers(ctx):
    """Remove what killed runs left on the path (under the lock); check mode only reports it."""
    spec = ctx.spec
    pending = releases_mod.Releases(spec.path)
    if not find_leftovers(spec.path) and not pending.misnamed and not pending.removing:
        return
    if ctx.check_mode:
        steps = releases_mod.repair_steps(spec.path)
        ctx.leftover_reasons.extend("after an interrupted run, " + releases_mod.step_text(kind, folder, target, True)
                                    for kind, folder, target in steps)
        handled = set(folder for dummy, folder, dummy2 in steps)
        leftovers = [entry for entry in find_leftovers(spec.path) if entry not in handled]
        if leftovers:
            ctx.leftover_reasons.append("leftovers of an interrupted run would be removed: %s" % shown(leftovers))
        return
    check_writable(ctx, "cleaned of the leftovers of an interrupted run")
    with ctx.locked():
        repaired = releases_mod.repair(spec.path)
        removed, kept = fsops.clean_leftovers(spec.path)
    if repaired:
        ctx.warnings.append("kept releases after an interrupted run: %s" % "; ".join(repaired))
        ctx.log("kept releases after an interrupted run: %s" % "; ".join(repaired))
    if removed:
        ctx.warnings.append("removed leftovers of an interrupted run: %s" % shown(removed))
        ctx.log("removed leftovers of an interrupted run: %s" % ", ".join(removed))
    if kept:
        ctx.warnings.append("kept leftovers of an interrupted run, they hold entries that are not part of a venv "
                            "(%s has entries of those names): %s; move what you need out of them and delete "
                            "them" % (spec.path, shown(kept)))


def check_own_files(ctx, disk):
    """A venv this module never managed (no state file): files of the names it writes are someone else's."""
    spec = ctx.spec
    if not disk.is_venv or os.path.lexists(os.path.join(spec.path, STATE_FILE)):
        return
    theirs = [name for key, name in FILE_KEYS if os.path.lexists(os.path.join(spec.path, name))
              and disk.files.get(name) != getattr(spec, key + "_text")]
    theirs += [SBOM_FILE] if os.path.lexists(os.path.join(spec.path, SBOM_FILE)) else []
    if theirs:
        raise VenvBuildError(
            "%s holds %s, which this module did not write (the venv has no state file %s): the module keeps its "
            "inputs in files of these names inside the venv. Move or rename them and run again"
            % (spec.path, shown(theirs), STATE_FILE))


def check_replace(ctx, plan, disk, version):
    """Before any change: a venv to replace must be swappable, and its foreign entries refused or carried (a
    carry into a venv of the Python version given, where what the layout decides is known now)."""
    spec = ctx.spec
    ctx.carried = []
    if not plan.builds_beside or not disk.exists:
        return
    kept = releases_mod.Releases(spec.path, disk.state)
    if spec.keep_previous or kept.exists:
        kept.check("the venv at %s is replaced: %s" % (spec.path, "; ".join(plan.reasons)))
    if os.path.ismount(spec.path):
        raise VenvBuildError("%s is a mount point, which cannot be replaced by a venv built beside it (%s): make "
                             "the venv in a directory below the mount point, e.g. %s"
                             % (spec.path, "; ".join(plan.reasons), os.path.join(spec.path, "venv")))
    if not disk.is_dir:
        return
    # a directory without a venv (foreign_files=carry only, see execute): every entry is someone else's, those
    # in the layout's folders (what state=absent kept in lib/...) one by one
    foreign = foreign_entries(spec.path, disk.state or {}, venv=disk.is_venv)
    if not foreign:
        return
    if spec.foreign_files != "carry":
        raise VenvBuildError(
            "the venv at %s must be replaced (%s), but it holds entries that are not part of a venv: %s. "
            "Move them out of the venv, or set foreign_files=carry to move them into the rebuilt venv"
            % (spec.path, "; ".join(plan.reasons), shown(foreign)))
    if disk.is_venv:
        check_carry_layout(spec.path, foreign, disk.python_version, version)
    ctx.carried = foreign
    plan.reasons.append("carried into the %s venv (foreign_files=carry): %s"
                        % ("rebuilt" if disk.is_venv else "new", shown(foreign)))

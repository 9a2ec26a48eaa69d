# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollback=true: switch the venv at path back to the newest kept release older than the live one.
"""

from __future__ import annotations

import os
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking as masking
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._foreign import foreign_entries
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import carry, carry_back, check_carry, shown
from ansible_collections.wheelhouse.venv.plugins.module_utils import _releases as releases_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import changes_between, packages_text
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import STATE_FILE, VenvOnDisk, read_state
from ansible_collections.wheelhouse.venv.plugins.module_utils import _guards as guards
from ansible_collections.wheelhouse.venv.plugins.module_utils import _records as records
from ansible_collections.wheelhouse.venv.plugins.module_utils import _report as reporting


def rollback(ctx, disk):
    """Switch back to the newest kept release older than the live one (see _releases.py); changed=true."""
    spec = ctx.spec
    kept, target = rollback_target(ctx, disk)
    if ctx.check_mode:
        after = VenvOnDisk(kept.kept[target])
        report = {"release": target,
                  "releases": [kept.live or "(numbered now)"] + [r for r in kept.newest_first() if r != target]}
        return rollback_result(ctx, disk, after, kept.live, target, report)
    guards.check_writable(ctx, "rolled back")
    with ctx.locked():
        disk = VenvOnDisk(spec.path)  # another run may have finished while we waited
        kept, target = rollback_target(ctx, disk)
        kept.live = kept.live or releases_mod.new_release_id(kept.next_number())
        ctx.write_state(spec.path, dict(disk.state, release=kept.live, retired=releases_mod.retired_now()))
        target_state = read_state(kept.kept[target])[0]
        held = disk.state.get("rolled_back_from") or {}
        rolled_back_from = {
            "release": kept.live,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            # every set of inputs rolled back from, so that a second rollback holds against the first one's too
            "fingerprint": " ".join([disk.state.get("fingerprint") or ""] + (held.get("fingerprint") or "").split()),
            "inputs_id": " ".join([disk.state.get("inputs_id") or ""] + (held.get("inputs_id") or "").split()),
        }
        carried = carry(spec.path, kept.kept[target], ctx.carried)
        try:
            old = releases_mod.switch(spec.path, kept, target, lambda folder: ctx.write_state(
                folder, dict(target_state, rolled_back_from=rolled_back_from, retired="")))
        except BaseException:
            carry_back(spec.path, kept.kept.get(target) or os.path.join(kept.folder, target), carried)
            raise
        ctx.log("rolled back %s from the release %s to %s" % (spec.path, old, target))
    result = rollback_result(ctx, disk, VenvOnDisk(spec.path), old, target, kept.report())
    if spec.facts:
        result["facts_written"] = records.write_facts(ctx, records.release_facts(ctx, result))
    records.settle_facts(ctx)
    return result


def rollback_target(ctx, disk):
    """(releases, the id to switch to), checked before any change; VenvBuildError when there is nothing to switch to."""
    spec = ctx.spec
    if not disk.is_venv or not disk.state:
        raise VenvBuildError("rollback=true: %s is not a venv of this module (%s); nothing was changed"
                             % (spec.path, "no pyvenv.cfg" if not disk.is_venv else "no state file %s" % STATE_FILE))
    kept = releases_mod.Releases(spec.path, disk.state)
    target = kept.rollback_target()
    if target is None:
        raise VenvBuildError(
            "rollback=true: no venv older than the live one (release %s) is kept in %s, so there is nothing to switch "
            "back to; nothing was changed. Earlier venvs are kept from the next change on with keep_previous (the "
            "role: venv_keep_previous)" % (kept.live or "without an id", kept.folder))
    kept.check("a rollback to the release %s" % target)
    foreign = foreign_entries(spec.path, disk.state)
    if foreign and spec.foreign_files != "carry":
        raise VenvBuildError("rollback=true: the venv at %s holds entries that are not part of a venv: %s. Move them "
                             "out of the venv, or set foreign_files=carry to move them into the venv rolled back to; "
                             "nothing was changed" % (spec.path, shown(foreign)))
    if foreign:
        check_carry(spec.path, kept.kept[target], foreign)  # before any change, check mode too
    ctx.carried = foreign
    return kept, target


def rollback_result(ctx, disk, after, old, target, report):
    spec = ctx.spec
    added, removed, upgraded = changes_between(disk.packages, after.packages)
    result = {
        "changed": True, "path": spec.path, "python_version": after.python_version, "packages": after.packages,
        "added": added, "removed": removed, "upgraded": upgraded,
        "fingerprint": (after.state or {}).get("fingerprint"), "commands": [], "facts_written": bool(spec.facts),
        "log_file": spec.log_file, "links": {"present": (after.state or {}).get("links") or {}, "added": [], "removed": []},
        "reasons": list(ctx.leftover_reasons) + ["rollback: switched from the release %s to the kept release %s"
                                                 % (old or "(without an id)", target)],
        "diff": masking.mask_data([{"before_header": "%s (installed packages, release %s)" % (spec.path, old),
                                    "after_header": "%s (installed packages, release %s)" % (spec.path, target),
                                    "before": packages_text(disk.packages), "after": packages_text(after.packages)}]),
    }
    if ctx.carried:
        result["reasons"].append("carried into the venv rolled back to (foreign_files=carry): %s" % shown(ctx.carried))
    if not ctx.check_mode:  # the venv at path is the one rolled back to
        reporting.drop_system_provided(ctx, removed, result["reasons"])
    result.update(report)
    return result

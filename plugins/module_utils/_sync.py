# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan, then apply: make the venv at spec.path what spec says, or say what would change.

The orchestrator of one run: read the venv (VenvOnDisk), the guards before any change, the plan (_plan.py, from
files alone: pyvenv.cfg, our state file, *.dist-info), then under the lock of the path: plan again, apply
(_build.py or _inplace.py, _verify.py), record (_records.py) and report (_report.py). Check mode stops after the
plan (_predict.py). New and rebuilt venvs are built beside the target path and swapped in (_fsops.py), so a
failure never leaves the path missing or broken. See docs/architecture.md.
"""

from __future__ import annotations

from ansible_collections.wheelhouse.venv.plugins.module_utils import (
    _links as links,
    _masking as masking,
    _pep508 as pep508,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._faults import fault_point
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import fix_ownership, ownership_differs
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import (
    NEW_RELEASE_REASON,
    files_differ,
    make_plan,
    resolve_interpreter,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    VenvOnDisk,
    minor_version,
    site_packages_dir,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils import _guards as guards
from ansible_collections.wheelhouse.venv.plugins.module_utils import _records as records
from ansible_collections.wheelhouse.venv.plugins.module_utils import _report as reporting
from ansible_collections.wheelhouse.venv.plugins.module_utils import _predict as predicting
from ansible_collections.wheelhouse.venv.plugins.module_utils import _absent as absence
from ansible_collections.wheelhouse.venv.plugins.module_utils import _rollback as rollbacks
from ansible_collections.wheelhouse.venv.plugins.module_utils import _build as building
from ansible_collections.wheelhouse.venv.plugins.module_utils import _inplace as inplace
from ansible_collections.wheelhouse.venv.plugins.module_utils._runctx import RunContext


def sync(spec, check_mode, run):
    """Make the venv at spec.path match spec (or report what would change); return (result, warnings)."""
    ctx = RunContext(spec, check_mode, run)
    result = execute(ctx)
    if ctx.link:
        result["path"] = ctx.link
    return masking.mask_data(result), ctx.warnings


def execute(ctx):
    """The run: guards, read, plan; then check mode's prediction, or under the path's lock apply, record, report."""
    spec = ctx.spec
    guards.follow_link(ctx)
    guards.clean_leftovers(ctx)
    disk = VenvOnDisk(spec.path)
    ctx.warnings.extend(disk.state_warnings)
    if spec.state == "absent":
        return absence.absent(ctx, disk)
    if ctx.dangling:
        raise VenvBuildError("%s is a symbolic link to %s, which does not exist: make that directory or remove "
                             "the link, then run again" % (ctx.link, spec.path))
    if disk.exists and not disk.is_venv and not disk.is_empty_dir and not (disk.is_dir and spec.foreign_files == "carry"):
        raise VenvBuildError("%s exists but is not a venv (no pyvenv.cfg): refusing to replace it. Remove what is in "
                             "it, or set foreign_files=carry to make the venv there and keep its entries in it"
                             % spec.path)
    if spec.rollback:
        return rollbacks.rollback(ctx, disk)
    interp = resolve_interpreter(spec, disk.state)
    spec.load_constraint_files()  # read on every run: their content is part of the inputs
    spec.check_conflicts(pep508.marker_environment(interp.version))
    fingerprint = spec.fingerprint(interp.version)
    plan = make_plan(spec, disk, interp, fingerprint)
    if plan.held:
        ctx.warnings.append(plan.held)
    plan_release(ctx, plan, disk)
    if disk.state_problem:
        ctx.warnings.append("%s: it is ignored and rewritten from the venv" % disk.state_problem)
    guards.check_own_files(ctx, disk)
    guards.check_replace(ctx, plan, disk, interp.version)
    plan.reasons.extend(ctx.leftover_reasons)
    plan_ownership(ctx, plan)
    link_plan = plan_links(ctx, plan, disk, interp)
    if is_noop(plan, link_plan) and (ctx.check_mode or not records.record_changed(ctx, disk, link_plan)):
        return reporting.result(ctx, False, disk, disk.packages, interp, fingerprint, plan, link_plan)
    if ctx.check_mode:
        return predicting.predict(ctx, disk, interp, fingerprint, plan, link_plan)
    guards.check_writable(ctx, "created" if plan.action == "create" else "rebuilt" if plan.builds_beside else "changed")
    with ctx.locked():
        disk = VenvOnDisk(spec.path)  # another run may have finished while we waited
        plan = make_plan(spec, disk, interp, fingerprint)
        plan_release(ctx, plan, disk)
        guards.check_replace(ctx, plan, disk, interp.version)
        plan_ownership(ctx, plan)
        link_plan = plan_links(ctx, plan, disk, interp)
        if is_noop(plan, link_plan):
            # links already right, made by someone else: ours from now on; a new lock of the same packages
            if records.record_changed(ctx, disk, link_plan):
                ctx.write_state(spec.path, records.recorded_state(ctx, disk, link_plan))
            return reporting.result(ctx, False, disk, disk.packages, interp, fingerprint, plan, link_plan)
        ctx.log("plan: %s (%s)" % (plan.action or "in place", "; ".join(plan.reasons)))
        return apply(ctx, disk, interp, fingerprint, plan, link_plan)


def plan_release(ctx, plan, disk):
    """With keep_previous, package_state=latest builds a new release when the installer's dry run finds newer versions."""
    if not (ctx.spec.keep_previous and plan.looks_for_newer and plan.action == "install"):
        return
    if "after" not in ctx.newer:
        ctx.newer["after"] = predicting.dry_run(ctx, disk, plan)
    if ctx.newer["after"] is None or ctx.newer["after"] != disk.packages:
        plan.action = "rebuild"
        plan.reasons.append(NEW_RELEASE_REASON % ctx.spec.keep_previous)


def is_noop(plan, link_plan):
    return plan.action is None and not plan.fix_ownership and not link_plan.changed


def plan_links(ctx, plan, disk, interp):
    """The links of linked_distro_packages, planned against the venv at path as it is now.

    A build plans the new venv's links from the interpreter's version and makes them in the
    new venv before the swap; otherwise a link that cannot be made fails here, before any change.
    """
    spec = ctx.spec
    version = interp.version if plan.builds_beside or not disk.python_version else disk.python_version
    key = minor_version(version)
    if key not in ctx.wanted_links:
        wanted, warnings = links.desired_links(spec.linked_distro_packages, version, ctx.raw_run)
        ctx.wanted_links[key] = wanted
        ctx.warnings.extend(warnings)
    recorded = (disk.state or {}).get("links") or {}
    link_plan = links.LinkPlan(site_packages_dir(spec.path, disk.python_version or version),
                               ctx.wanted_links[key], recorded)
    if not plan.builds_beside:
        link_plan.check_conflicts()
    plan.reasons.extend(link_plan.reasons())
    return link_plan


def plan_ownership(ctx, plan):
    """Add the owner/group/mode repair to a plan that does not rebuild (a rebuild sets them anyway)."""
    spec = ctx.spec
    if (spec.owner is None and spec.group is None and spec.mode is None) or plan.builds_beside:
        return
    if ownership_differs(spec, spec.path):
        plan.fix_ownership = True
        plan.reasons.append("owner, group or mode of the venv differ from owner=%s group=%s mode=%s"
                            % (spec.owner, spec.group, spec.mode))


def apply(ctx, disk, interp, fingerprint, plan, link_plan):
    spec = ctx.spec
    if plan.action in ("create", "rebuild", "install") and spec.installs:
        # imported here: the HTTP stack is only needed when something will be installed
        from ansible_collections.wheelhouse.venv.plugins.module_utils import _reach as reach
        reach.check_locations(spec)
    if plan.builds_beside:
        packages = building.build_beside(ctx, disk, interp, fingerprint, plan, link_plan)
    elif plan.action in ("install", "prune", "files"):
        packages = inplace.update_in_place(ctx, disk, interp, fingerprint, plan, link_plan)
    else:  # None or "facts"
        packages = disk.packages
        if link_plan.changed or records.record_changed(ctx, disk, link_plan):
            building.make_links(ctx, link_plan.site_packages, link_plan.wanted, link_plan.recorded)
            if link_plan.changed:
                records.write_sbom(ctx, spec.path)
            ctx.write_state(spec.path, records.recorded_state(ctx, disk, link_plan))
    if plan.fix_ownership or plan.builds_beside or link_plan.changed:
        fix_ownership(spec, spec.path)
    files_changed = files_differ(spec, disk) is not None
    changed = (plan.builds_beside or files_changed or packages != disk.packages or plan.fix_ownership
               or link_plan.changed or records.changes_anyway(ctx, plan, disk, packages))
    result = reporting.result(ctx, changed, disk, packages, interp, fingerprint, plan, link_plan)
    fault_point("before-facts")
    if changed and spec.facts:
        result["facts_written"] = records.write_facts(ctx, records.release_facts(ctx, result))
    records.settle_facts(ctx)
    return result

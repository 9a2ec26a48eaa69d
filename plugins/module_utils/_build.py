# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""create and rebuild: a whole venv built beside the path, verified, then swapped in (the replaced one kept or
removed).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile

from ansible_collections.wheelhouse.venv.plugins.module_utils import _links as links
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._faults import fault_point
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import (
    LOW_SPACE,
    carry,
    carry_back,
    mark_staging,
    fix_ownership,
    free_space,
    put_in_place,
    relocate,
    staging_prefix,
    swap_into_place,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils import _releases as releases_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    STAGING_FILE,
    UV_TOOL_DIR,
    cfg_python_version,
    read_pyvenv_cfg,
    site_packages_dir,
    top_level_entries,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils import _installer as installer
from ansible_collections.wheelhouse.venv.plugins.module_utils import _records as records
from ansible_collections.wheelhouse.venv.plugins.module_utils import _verify as verifying


def build_beside(ctx, disk, interp, fingerprint, plan, link_plan):
    """create or rebuild: a whole venv in a staging directory beside the path, verified, swapped in; its packages."""
    spec = ctx.spec
    parent = os.path.dirname(spec.path)
    try:
        staging = tempfile.mkdtemp(prefix=staging_prefix(spec.path), dir=parent)
    except OSError as exc:
        raise VenvBuildError("cannot make a directory for the new venv in %s: %s; the venv at %s is unchanged"
                             % (parent, exc.strerror or exc, spec.path))
    carried = []
    kept_releases = releases_mod.Releases(spec.path, disk.state)
    keep_old, old = number_live(ctx, disk, kept_releases), None
    try:
        mark_staging(staging)  # a run killed before the swap leaves a staging directory known as ours
        old_uv = os.path.join(spec.path, UV_TOOL_DIR)
        if spec.install_tool == "uv" and os.path.isdir(old_uv) and not os.path.islink(old_uv):
            shutil.copytree(old_uv, os.path.join(staging, UV_TOOL_DIR), symlinks=True)
        # pip is seeded only where it installs: not when a uv is already at hand
        seed_pip = spec.install_tool == "pip" or installer.find_uv(ctx, staging) is None
        installer.create_venv(ctx, interp, staging, seed_pip)
        files = installer.write_installer_files(ctx, staging, plan)
        files.pop("pins", None)
        uv = installer.ensure_uv(ctx, staging, files)
        packages = installer.install(ctx, staging, files, plan, uv)
        fault_point("build-installed")
        # the new venv gets its links before it is swapped in (a new venv: no earlier links of ours)
        make_links(ctx, site_packages_dir(staging, cfg_python_version(read_pyvenv_cfg(staging))),
                   link_plan.wanted, {})
        verifying.verify(ctx, staging, uv)  # before relocate: the staged venv's scripts still point to it
        records.write_sbom(ctx, staging, installed_now=None)
        relocate(staging, spec.path)
        # the top-level entries our build made: ours to remove or replace later
        ctx.write_state(staging, dict(records.new_state(ctx, interp, fingerprint, packages, link_plan),
                                      entries=top_level_entries(staging),
                                      release=releases_mod.new_release_id(kept_releases.next_number())))
        os.chmod(staging, 0o755)
        if spec.owner is not None or spec.group is not None or spec.mode is not None:
            fix_ownership(spec, staging)
        if ctx.carried:
            mark_staging(staging, ctx.carried)
        carried = carry(spec.path, staging, ctx.carried)
        fault_point("build-before-swap")
        if keep_old:  # the replaced venv is kept as a release, not removed
            old, kept = put_in_place(staging, spec.path), None
        else:
            kept = swap_into_place(staging, spec.path)
        carried = []
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(spec.path, STAGING_FILE))
        fault_point("build-after-swap")
    except BaseException as exc:
        carry_back(spec.path, staging, carried)
        failure = disk_failure(ctx, exc, staging)
        shutil.rmtree(staging, ignore_errors=True)
        if failure is not None:
            raise failure
        raise
    if kept:
        ctx.warnings.append("the replaced venv kept entries that are not part of a venv, left in %s" % kept)
    ctx.log("venv %s %s" % (spec.path, "created" if plan.action == "create" else "rebuilt"))
    keep_releases(ctx, kept_releases, old)
    return packages


def number_live(ctx, disk, kept_releases):
    """Whether a build keeps the venv it replaces (keep_previous); that venv gets a release id when it has none."""
    if not ctx.spec.keep_previous or not disk.is_venv or not disk.state:
        return False
    kept_releases.live = kept_releases.live or releases_mod.new_release_id(kept_releases.next_number())
    ctx.write_state(ctx.spec.path, dict(disk.state, release=kept_releases.live, retired=releases_mod.retired_now()))
    return True


def keep_releases(ctx, kept_releases, old):
    """After a build's swap: the replaced venv (at old) into the releases folder, then the oldest beyond keep_previous removed."""
    spec = ctx.spec
    try:
        if old is not None:
            fault_point("release-swapped")
            target = os.path.join(kept_releases.folder, kept_releases.live)
            releases_mod.keep_release(old, target)
            kept_releases.kept[kept_releases.live] = target
            kept_releases.retired[kept_releases.live] = releases_mod.retired_now()
            ctx.log("kept the replaced venv as the release %s" % target)
            fault_point("release-kept")
        if kept_releases.exists:
            releases_mod.prune(kept_releases, spec.keep_previous, ctx.log, ctx.warnings.append)
    except (IOError, OSError) as exc:  # the new venv is in place: the next run finishes this
        ctx.warnings.append("the new venv is in place, but keeping or removing earlier venvs in %s failed: %s"
                            % (kept_releases.folder, exc))


def disk_failure(ctx, exc, staging):
    """The error of a build that failed for a full or read-only disk, naming where; None for other failures."""
    spec = ctx.spec
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        what = (exc.strerror or str(exc)).lower()
    elif isinstance(exc, VenvBuildError) and free_space(staging) < LOW_SPACE:  # a command failed on a full disk
        what = "no space left on device"
    else:
        return None
    msg = "%s while building the new venv in %s; the venv at %s is unchanged" % (what, staging, spec.path)
    ctx.log("failed: %s: %s" % (msg, getattr(exc, "msg", None) or exc))
    if isinstance(exc, VenvBuildError):
        log_named = "" if spec.log_file in exc.msg else " See %s." % spec.log_file
        return VenvBuildError(msg + "." + log_named + " " + exc.msg, **dict(exc.details, log_file=spec.log_file))
    return VenvBuildError("%s. See %s" % (msg, spec.log_file), log_file=spec.log_file)


def make_links(ctx, site_packages, wanted, recorded):
    """Make the wanted links in site_packages, planned again there (an install may have changed it)."""
    here = links.LinkPlan(site_packages, wanted, recorded)
    here.check_conflicts()
    here.apply()
    if here.changed:
        ctx.log("links in %s: made %s; removed %s"
                % (site_packages, ", ".join(sorted(here.add)) or "none", ", ".join(here.remove) or "none"))

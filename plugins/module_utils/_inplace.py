# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""install and prune in place: the installer changes the live venv, marked in its state file while it runs.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._faults import fault_point
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import disk_problem
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import FILE_KEYS, files_differ
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    STATE_FILE,
    STATE_FORMAT,
    installed_distributions,
    installer_leftovers,
    package_versions,
    site_packages_dir,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils import _installer as installer
from ansible_collections.wheelhouse.venv.plugins.module_utils import _records as records
from ansible_collections.wheelhouse.venv.plugins.module_utils import _verify as verifying
from ansible_collections.wheelhouse.venv.plugins.module_utils import _build as building
from ansible_collections.wheelhouse.venv.plugins.module_utils._runctx import InPlace, venv_names


def update_in_place(ctx, disk, interp, fingerprint, plan, link_plan):
    """install, prune or files on the live venv (repairs first), verified, state file last; its packages after."""
    spec = ctx.spec
    tmp = tempfile.mkdtemp(prefix=".%s.venv_build-files-" % os.path.basename(spec.path), dir=os.path.dirname(spec.path))
    try:
        files = installer.write_installer_files(ctx, tmp, plan)
        uv = None
        if plan.action in ("install", "prune"):
            start_installer(ctx, disk)
        if plan.repair:
            uv = installer.ensure_uv(ctx, spec.path, files)
            for meta_dir in sorted(disk.damaged):  # the installer itself fails on damaged metadata
                os.rename(meta_dir, os.path.join(os.path.dirname(meta_dir), "~%s.damaged" % os.path.basename(meta_dir)))
            ctx.run(commands.repair_command(spec, spec.path, files, plan.repair, uv=uv),
                    commands.installer_environment(spec, spec.path), "reinstalling %s" % ", ".join(sorted(plan.repair)))
            remove_leftovers(ctx, site_packages_dir(spec.path, disk.python_version))
        if plan.action == "prune":
            uv = installer.find_uv(ctx, spec.path)
            if spec.install_tool == "uv" and uv is None:
                uv = installer.ensure_uv(ctx, spec.path, files)
            ctx.run(commands.uninstall_command(spec, spec.path, plan.prune, uv=uv),
                    commands.installer_environment(spec, spec.path), "removing packages not needed (prune)")
            packages = package_versions(installed_distributions(site_packages_dir(spec.path, disk.python_version)))
        elif plan.action == "install":
            uv = installer.ensure_uv(ctx, spec.path, files)
            packages = installer.install(ctx, spec.path, files, plan, uv)
            fault_point("update-installed")
        else:
            packages = disk.packages
        for key, name in FILE_KEYS:
            os.replace(files[key], os.path.join(spec.path, name))
        building.make_links(ctx, link_plan.site_packages, link_plan.wanted, link_plan.recorded)
        # before the verification: a venv changed in place is described as it is
        records.write_sbom(ctx, spec.path, installed_now=set(name for name, version in packages.items()
                                                             if (disk.packages or {}).get(name) != version)
                           | set(plan.repair or ()))
        state = records.new_state(ctx, interp, fingerprint, packages, link_plan)
        if plan.action in ("install", "prune"):
            verifying.verify(ctx, spec.path, uv, unverified=state, changed=packages != disk.packages
                             or files_differ(spec, disk) is not None or link_plan.changed)
        ctx.write_state(spec.path, state)
        fault_point("update-state-written")
    except (IOError, OSError, VenvBuildError) as exc:
        failure = in_place_failure(ctx, exc)
        if failure is None:
            raise
        raise failure
    finally:
        ctx.in_place = None
        shutil.rmtree(tmp, ignore_errors=True)
    return packages


def in_place_failure(ctx, exc):
    """The error of an in-place change that failed after the installer started, but not in a command (a file that
    could not be written): with what the venv is left as and changed=true when it changed. None for a failure
    that already says so and one before the installer started."""
    details = getattr(exc, "details", None) or {}
    if ctx.in_place is None or "changed" in details:
        return None
    if isinstance(exc, VenvBuildError):
        what = exc.msg
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        what = "%s: %s" % (disk_problem(ctx.spec.path, exc.strerror or "") or exc.strerror, exc)
    else:  # another file system error (a file made immutable, an I/O error): its cause and the file, not a traceback
        what = "cannot write %s: %s" % (exc.filename2 or exc.filename or "a file of the venv", exc.strerror or exc)
    after, changed = ctx.venv_after_failure()
    ctx.log("failed: %s; %s" % (what, after))
    return VenvBuildError("%s; %s. See %s" % (what, after, ctx.spec.log_file),
                          **dict(details, changed=changed, log_file=ctx.spec.log_file))


def start_installer(ctx, disk):
    """Before the installer changes the venv in place: mark the state file, remove pip's leftovers.

    A run killed from here on leaves the marker install_started: the next run then installs
    again without trusting the state file's packages.
    """
    spec = ctx.spec
    site_packages = site_packages_dir(spec.path, disk.python_version)
    state_file = os.path.join(spec.path, STATE_FILE)
    try:
        with open(state_file, "rb") as handle:
            state_bytes = handle.read()
    except FileNotFoundError:
        state_bytes = None
    marked = dict(disk.state or {"format": STATE_FORMAT}, install_started=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    ctx.write_state(spec.path, marked)
    ctx.in_place = InPlace(site_packages, disk.packages, state_bytes, venv_names(spec.path, site_packages))
    remove_leftovers(ctx, site_packages)


def remove_leftovers(ctx, site_packages):
    """Remove the '~' entries of site_packages: pip's stash of an interrupted run, damaged metadata set aside."""
    for leftover in installer_leftovers(site_packages):
        ctx.log("removing %s (left by an interrupted installer, or damaged)" % leftover)
        if os.path.isdir(leftover) and not os.path.islink(leftover):
            shutil.rmtree(leftover)
        else:
            os.unlink(leftover)

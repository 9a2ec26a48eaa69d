# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode: what the real run would do, from the plan and the installer's dry run, without changing anything.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking as masking, _pep508 as pep508
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import staging_prefix
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import FILE_KEYS, files_differ
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import BUILD_REQUIREMENTS_FILE, UV_TOOL_DIR
from ansible_collections.wheelhouse.venv.plugins.module_utils import _installer as installer
from ansible_collections.wheelhouse.venv.plugins.module_utils import _records as records
from ansible_collections.wheelhouse.venv.plugins.module_utils import _report as reporting


def predict(ctx, disk, interp, fingerprint, plan, link_plan):
    """Check mode: what a real run would do, without touching the venv, its files or the facts."""
    spec = ctx.spec
    files_change = files_differ(spec, disk) is not None
    after = None
    changed = True
    if plan.action == "install" and spec.installs:
        after = dry_run(ctx, disk, plan)
        if after is not None and not files_change and not plan.fix_ownership:
            changed = after != disk.packages or link_plan.changed or records.changes_anyway(ctx, plan, disk, after)
    elif plan.action == "prune":
        after = dict((n, v) for n, v in disk.packages.items() if n not in plan.prune)
    elif plan.action in ("files", "facts", None):
        after = disk.packages
    ctx.commands = planned_commands(ctx, plan, disk, interp)
    return reporting.result(ctx, changed, disk, after, interp, fingerprint, plan, link_plan, predicted=True)


def dry_run(ctx, disk, plan):
    """Packages after the install, asked of the installer with --dry-run (None when it cannot tell)."""
    spec = ctx.spec
    tmp = tempfile.mkdtemp(prefix="venv_build-check-")
    try:
        files = installer.write_installer_files(ctx, tmp, plan)
        if spec.build_requirements:  # resolved with the requirements (a real run installs them first)
            files["build_requirements"] = installer.write_build_requirements(ctx, tmp)
        report = os.path.join(tmp, "reporting.json")
        uv = installer.find_uv(ctx, spec.path)
        if spec.install_tool == "uv" and uv is None:
            return None
        argv = commands.install_command(spec, spec.path, files, uv=uv, pins_file=files.get("pins"),
                                        upgrade=spec.package_state == "latest",
                                        dry_run_report=report if spec.install_tool == "pip" else None)
        if spec.install_tool == "uv":
            argv.append("--dry-run")
        rc, out, err = ctx.raw_run(argv, commands.run_environment(argv, commands.installer_environment(spec, spec.path)))
        if rc != 0:
            raise VenvBuildError("the installer's dry run failed (exit code %d): %s"
                                 % (rc, masking.mask_text((err or out).strip())[-3000:]))
        after = dict(disk.packages)
        if spec.install_tool == "pip":
            with open(report) as handle:
                for item in json.load(handle).get("install", []):
                    meta = item.get("metadata", {})
                    after[pep508.canonical_name(meta["name"])] = meta["version"]
        else:
            for line in (err + "\n" + out).splitlines():
                match = re.match(r"^\s*([+-])\s*([A-Za-z0-9._-]+)==(\S+)", line)
                if match and match.group(1) == "+":
                    after[pep508.canonical_name(match.group(2))] = match.group(3)
                elif match and after.get(pep508.canonical_name(match.group(2))) == match.group(3):
                    del after[pep508.canonical_name(match.group(2))]
        if spec.prune:
            after = dict((n, v) for n, v in after.items() if n not in plan.prune)
        return after
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def planned_commands(ctx, plan, disk, interp):
    spec = ctx.spec
    files = dict((key, os.path.join(spec.path, name)) for key, name in FILE_KEYS)
    planned = []
    if plan.builds_beside:
        seed_pip = spec.install_tool == "pip" or installer.find_uv(ctx, spec.path) is None
        seeder = installer.pip_seeder(ctx, interp) if seed_pip else None
        cache = seeder.cache_state() if seeder else None
        if cache == "miss":
            planned.append(seeder.build_command())
        planned.append(commands.create_venv_command(spec, spec.python, spec.path, installer.virtualenv_executable(ctx),
                                                    seed_pip=seed_pip and cache is None))
    uv = installer.find_uv(ctx, spec.path) or os.path.join(spec.path, UV_TOOL_DIR, "bin", "uv")
    if plan.repair and not plan.builds_beside:
        planned.append(commands.repair_command(spec, spec.path, files, plan.repair, uv=uv))
    if plan.action in ("create", "rebuild", "install") and installer.upgrades_pip(ctx):
        planned.append(commands.pip_upgrade_command(spec, spec.path, files))
    if plan.action in ("create", "rebuild", "install") and spec.build_requirements:
        # written to a files directory beside the venv (its random part shown as XXXXXXXX)
        build_file = os.path.join(os.path.dirname(spec.path), staging_prefix(spec.path, "files-") + "XXXXXXXX",
                                  BUILD_REQUIREMENTS_FILE)
        planned.append(commands.build_requirements_command(spec, spec.path, files, build_file, uv=uv,
                                                           upgrade=spec.package_state == "latest"))
    if plan.action in ("create", "rebuild", "install") and spec.has_requirements:
        planned.append(commands.install_command(spec, spec.path, files, uv=uv,
                                                upgrade=spec.package_state == "latest"))
    if plan.action == "prune":
        planned.append(commands.uninstall_command(spec, spec.path, plan.prune, uv=uv))
    if plan.action in ("create", "rebuild", "install", "prune"):
        planned += [argv for argv, what in commands.verify_commands(spec, spec.path, uv)]
    return [commands.display(argv) for argv in planned]

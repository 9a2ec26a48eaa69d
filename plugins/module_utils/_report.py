# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The result of a run (and of check mode's prediction): packages before and after, reasons, diff, releases.
"""

from __future__ import annotations

import json
import os

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking as masking
from ansible_collections.wheelhouse.venv.plugins.module_utils import _sbom as sbom
from ansible_collections.wheelhouse.venv.plugins.module_utils import _releases as releases_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import (
    FILE_KEYS,
    PROBE_TIMEOUT,
    changes_between,
    packages_text,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    installed_distributions,
    read_pyvenv_cfg,
    read_state,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils import _records as records


def system_distributions(folders):
    """{canonical name: (version, folder)} of the distributions in folders, the first folder naming one winning."""
    found = {}
    for folder in folders:
        for name, dist in installed_distributions(folder).items():
            found.setdefault(name, (dist.version, folder))
    return found


def result(ctx, changed, disk, packages, interp, fingerprint, plan, link_plan, predicted=False):
    spec = ctx.spec
    before = disk.packages
    shown_after = packages if packages is not None else before
    added, removed, upgraded = changes_between(before, shown_after) if packages is not None else ({}, {}, {})
    reasons = list(plan.reasons)
    if not predicted:
        drop_system_provided(ctx, removed, reasons)
    result = {
        "changed": bool(changed),
        "path": spec.path,
        "python_version": interp.version if (plan.builds_beside or not disk.python_version) else disk.python_version,
        "packages": shown_after,
        "added": added,
        "removed": removed,
        "upgraded": upgraded,
        "fingerprint": fingerprint,
        "commands": list(ctx.commands),
        "facts_written": False,
        "log_file": spec.log_file,
        "reasons": reasons,
        "links": link_plan.report(),
        # check mode: the file a change would write
        "sbom": sbom.sbom_path(spec.path) if predicted and changed and records.writes_sbom(plan, link_plan)
        else records.existing_sbom(ctx),
        # what the state file records after the run: an install records the lock given (or none)
        "lock": spec.lock if plan.action not in (None, "facts") else spec.lock or (disk.state or {}).get("lock") or {},
    }
    result.update(releases_mod.Releases(spec.path, disk.state if predicted else read_state(spec.path)[0]).report())
    if changed:
        diff = []
        for key, name in FILE_KEYS:
            old, new = disk.files.get(name) or "", getattr(spec, key + "_text")
            if old != new or plan.builds_beside:
                diff.append({"before_header": os.path.join(spec.path, name), "after_header": os.path.join(spec.path, name),
                             "before": old, "after": new})
        if records.writes_sbom(plan, link_plan):
            diff.append({"before_header": sbom.sbom_path(spec.path), "after_header": sbom.sbom_path(spec.path),
                         "before": "", "after": "(the venv's SBOM, CycloneDX %s JSON, written %s)\n"
                         % (sbom.SPEC_VERSION, "after the change" if predicted else "again")})
        after_text = packages_text(shown_after) if packages is not None else "(resolved by the installer at run time)\n"
        diff.append({"before_header": "%s (installed packages)" % spec.path,
                     "after_header": "%s (installed packages%s)" % (spec.path, ", predicted" if predicted else ""),
                     "before": packages_text(before), "after": after_text})
        if link_plan.changed or link_plan.before:
            diff.append(link_plan.diff(predicted))
        result["diff"] = masking.mask_data(diff)
    if predicted and changed and spec.facts:
        result["facts_written"] = True
    return result


def drop_system_provided(ctx, removed, reasons):
    """Out of removed (into reasons): what the venv still imports, from the system site-packages now (a requirement
    they satisfy is not installed into a venv with system_site_packages)."""
    for name, (version, folder) in sorted(system_provided(ctx, removed).items()):
        reasons.append("%s %s is used from the system site-packages (%s)%s, not installed in the venv"
                       % (name, version, folder, "" if removed[name] == version
                          else " in place of the venv's own %s" % removed[name]))
        del removed[name]


def system_provided(ctx, names):
    """{name: (version, folder)} of the names the venv at path imports from the system site-packages (it has
    system_site_packages), asked of the venv's own Python; {} when it has not, or cannot tell."""
    spec = ctx.spec
    cfg = read_pyvenv_cfg(spec.path) or {}
    if not names or cfg.get("include-system-site-packages", "").lower() != "true":
        return {}
    argv = commands.system_site_command(spec.path)
    rc, out, err = commands.run_with_timeout(argv, {}, PROBE_TIMEOUT)
    try:
        folders = json.loads(out) if rc == 0 else None
    except ValueError:
        folders = None
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        ctx.log("the venv's system site-packages cannot be told (%s exited with %d): %s"
                % (commands.display(argv), rc, (err or out or "").strip()[-300:]))
        return {}
    found = system_distributions(folders)
    return dict((name, found[name]) for name in names if name in found)

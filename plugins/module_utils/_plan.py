# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan: from files alone (pyvenv.cfg, our state file, *.dist-info), what a run must do.

This is the one place that decides whether a run changes anything; nothing here changes the host.
"""

from __future__ import annotations

import os
import re
import sys

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._hostfiles import private_mode
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import SEED_PACKAGES, find_interpreter
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    CONSTRAINTS_FILE,
    GLOBAL_CONSTRAINTS_FILE,
    REQUIREMENTS_FILE,
    interpreter_signature,
    minor_version,
    name_from_meta_dir,
    venv_interpreter_problem,
)

FILE_KEYS = (("requirements", REQUIREMENTS_FILE), ("constraints", CONSTRAINTS_FILE),
             ("global_constraints", GLOBAL_CONSTRAINTS_FILE))


class Interpreter(object):
    def __init__(self, executable, realpath, signature, version):
        self.executable = executable
        self.realpath = realpath
        self.signature = signature
        self.version = version


class Plan(object):
    """What a run has to do. action: None, 'create', 'rebuild', 'install', 'prune', 'files' or 'facts'.

    repair: {name: version} of damaged distributions to reinstall; interrupted: an earlier install
    did not finish (the state file's packages are not trusted); facts_pending: an earlier change
    has no facts written yet.
    """

    def __init__(self, action=None, reason=None, pins=None, prune=(), repair=None, interrupted=False):
        self.action = action
        self.reasons = [reason] if reason else []
        self.pins = pins
        self.prune = sorted(prune)
        self.repair = repair or {}
        self.interrupted = interrupted
        self.facts_pending = False
        self.fix_ownership = False
        self.held = None  # a warning: the inputs are those a rollback switched away from (kept as it is)
        self.looks_for_newer = False  # the install of package_state=latest, which may change nothing

    @property
    def builds_beside(self):
        return self.action in ("create", "rebuild")


# How long the interpreter may take to tell its version: a python that hangs (a wrapper waiting on a
# network mount, a broken shim) fails the run, named, instead of holding it for ever.
PROBE_TIMEOUT = 60


def resolve_interpreter(spec, state):
    """The base interpreter and its version; the version is read from our state file when the binary is unchanged."""
    executable = find_interpreter(spec.python)
    realpath = os.path.realpath(executable)
    signature = interpreter_signature(realpath)
    cached = (state or {}).get("python") or {}
    if cached.get("realpath") == realpath and cached.get("signature") == signature and cached.get("version"):
        return Interpreter(executable, realpath, signature, cached["version"])
    if os.path.realpath(sys.executable) == realpath:
        return Interpreter(executable, realpath, signature, "%d.%d.%d" % sys.version_info[:3])
    rc, out, err = commands.run_with_timeout(commands.python_version_command(executable), {}, PROBE_TIMEOUT)
    if rc == -9 and err.endswith(commands.TIMEOUT_NOTE % PROBE_TIMEOUT):
        raise VenvBuildError("python interpreter %s did not tell its version within %d s and was killed; nothing was "
                             "changed. Check that it runs (option python)" % (executable, PROBE_TIMEOUT))
    version = out.strip()
    if rc != 0 or not re.match(r"^\d+\.\d+\.\d+$", version):
        raise VenvBuildError("python interpreter %s does not run: %s" % (executable, (err or out).strip()[-500:]))
    return Interpreter(executable, realpath, signature, version)


def package_drift(recorded, installed, prune):
    """Differences between the packages our state file recorded and those installed now."""
    missing = sorted(n for n in recorded if n not in installed)
    changed = sorted(n for n in recorded if n in installed and installed[n] != recorded[n])
    extra = sorted(n for n in installed if n not in recorded and n not in SEED_PACKAGES) if prune else []
    return missing, changed, extra


def files_differ(spec, disk):
    """The first of requirements.txt, constraints.txt, global-constraints.txt whose content differs from the inputs, or None.

    A file holding a credential that others may read differs too (it is written again, 0600).
    """
    for key, name in FILE_KEYS:
        text = getattr(spec, key + "_text")
        if disk.files.get(name) != text:
            return name
        if private_mode(text) == 0o600 and disk.file_modes.get(name, 0) & 0o077:
            return name
    return None


FACTS_PENDING_REASON = "the facts of an earlier change were not written yet"
NEW_RELEASE_REASON = "keep_previous=%d: the change is built beside the live venv as a new release, not made in place"


def make_plan(spec, disk, interp, fingerprint):
    """Decide from files alone what the run must do."""
    plan = _plan_venv(spec, disk, interp, fingerprint)
    if spec.keep_previous and plan.action in ("install", "prune") and not plan.looks_for_newer:
        plan.action = "rebuild"
        plan.reasons.append(NEW_RELEASE_REASON % spec.keep_previous)
    if spec.facts and not plan.builds_beside and (disk.state or {}).get("facts_pending"):
        plan.facts_pending = True
        plan.reasons.append(FACTS_PENDING_REASON)
        plan.action = plan.action or "facts"
    return plan


def interrupted_plan(disk):
    """An install plan without recorded pins when an earlier install did not finish, else None."""
    started = (disk.state or {}).get("install_started")
    if not started and not disk.leftovers:
        return None
    reason = "an earlier install was interrupted"
    if started:
        reason += " (started %s)" % started
    if disk.leftovers:
        reason += "; removing the installer's leftovers %s" % ", ".join(os.path.basename(p) for p in disk.leftovers)
    # a distribution the installer did not finish has its metadata but not all its files: reinstalled
    missing = disk.missing_files(thorough=True)
    if missing:
        reason += "; reinstalling %s (files missing)" % ", ".join(sorted(missing))
    repair = dict((n, disk.packages[n]) for n in missing)
    if disk.damaged:
        repair.update(_damaged_repair(disk))
        reason += "; " + _damaged_reason(disk)
    return Plan("install", reason, interrupted=True, repair=repair)


def _damaged_repair(disk):
    return dict(name_from_meta_dir(os.path.basename(d)) for d in disk.damaged)


def _damaged_reason(disk):
    return "; ".join("%s: reinstalling %s" % (why, name_from_meta_dir(os.path.basename(d))[0])
                     for d, why in sorted(disk.damaged.items()))


def damaged_plan(disk):
    """A plan reinstalling distributions whose METADATA is damaged, else None."""
    if not disk.damaged:
        return None
    return Plan("install", _damaged_reason(disk), repair=_damaged_repair(disk))


def _plan_venv(spec, disk, interp, fingerprint):
    if not disk.is_venv:
        if not disk.exists:
            return Plan("create", "%s does not exist yet" % spec.path)
        return Plan("create", "%s is %s" % (spec.path, "an empty directory" if disk.is_empty_dir else "a directory without a venv"))
    state = disk.state or {}
    if spec.rebuild:
        return Plan("rebuild", "rebuild requested")
    if not disk.python_works:
        return Plan("rebuild", "the venv's bin/python no longer runs (its base interpreter is gone)")
    problem = venv_interpreter_problem(disk.path, (state.get("python") or {}).get("realpath") or interp.realpath)
    if problem:
        return Plan("rebuild", problem)
    if not disk.python_version:
        return Plan("rebuild", "the venv's pyvenv.cfg names no Python version (version = X.Y.Z): a broken venv")
    if minor_version(disk.python_version) != minor_version(interp.version):
        return Plan("rebuild", "the venv was made from Python %s, %s is Python %s"
                    % (disk.python_version, spec.python, interp.version))
    if disk.system_site_packages != spec.system_site_packages:
        return Plan("rebuild", "system_site_packages changed to %s" % spec.system_site_packages)
    if state and state.get("virtualenv_command", spec.virtualenv_command) != spec.virtualenv_command:
        return Plan("rebuild", "virtualenv_command changed to %s" % spec.virtualenv_command)
    plan = interrupted_plan(disk) or damaged_plan(disk)
    if plan:
        return plan
    if disk.state_problem:
        return Plan("install", "%s; the installer runs and rewrites it" % disk.state_problem)
    if disk.state_warnings:  # fields dropped for their form (another user may write the venv)
        return Plan("install", "%s; the installer runs and rewrites the state file" % "; ".join(disk.state_warnings))
    if not state:
        return Plan("install", "the venv has no state file of this module (first run, or an earlier run failed)")
    if state.get("verify_failed"):
        return Plan("install", "the verification after an earlier install failed (%s): installing and verifying again"
                    % state["verify_failed"])
    if state.get("fingerprint") != fingerprint:
        held = held_plan(spec, state, fingerprint)
        return held or Plan("install", inputs_changed_reason(spec, state))
    if spec.package_state == "latest":
        plan = Plan("install", "package_state=latest looks for newer versions")
        plan.looks_for_newer = True
        return plan
    missing, changed, extra = package_drift(state.get("packages") or {}, disk.packages, spec.prune)
    if missing or changed:
        reason = "packages drifted from the last run:"
        if missing:
            reason += " missing %s;" % ", ".join(missing)
        if changed:
            reason += " changed %s;" % ", ".join("%s %s->%s" % (n, state["packages"][n], disk.packages[n]) for n in changed)
        return Plan("install", reason.rstrip(";"), pins=state.get("packages"))
    if extra:
        return Plan("prune", "packages not needed by the requirements: %s" % ", ".join(extra), prune=extra)
    differing = files_differ(spec, disk)
    if differing:
        return Plan("files", "%s inside the venv differs from the inputs" % differing)
    missing = disk.missing_files()
    if missing:
        changed = any(f.endswith(" (changed)") for files in missing.values() for f in files)
        return Plan("install", "files of installed packages were removed%s: %s; reinstalling them"
                    % (" or changed" if changed else "",
                       "; ".join("%s (%s)" % (n, ", ".join(f)) for n, f in sorted(missing.items()))),
                    repair=dict((n, disk.packages[n]) for n in missing))
    return Plan()


def held_plan(spec, state, fingerprint):
    """No change, with a warning, when a rollback switched away from these inputs (no flapping back); else None."""
    held = state.get("rolled_back_from") or {}
    if fingerprint not in (held.get("fingerprint") or "").split():
        return None
    plan = Plan()
    plan.held = ("the venv at %s was rolled back (at %s, from the release %s) away from venvs made from these inputs: "
                 "it is kept as it is. To move forward, change the inputs, or set rebuild=true (the role: "
                 "-e venv_rebuild=true) to build these inputs again" % (spec.path, held.get("at"), held.get("release")))
    return plan


def inputs_changed_reason(spec, state):
    """'the inputs changed', naming the referenced constraints files whose content changed since the last run."""
    recorded = state.get("constraint_files") or {}
    changed = [where for where, digest in sorted(spec.constraint_file_digests.items())
               if where in recorded and recorded[where] != digest]
    if changed:
        return "the inputs changed: the content of the constraints file %s changed" % ", ".join(changed)
    return "the inputs changed"


def changes_between(before, after):
    added = dict((n, v) for n, v in after.items() if n not in before)
    removed = dict((n, v) for n, v in before.items() if n not in after)
    upgraded = dict((n, {"before": before[n], "after": v}) for n, v in after.items() if n in before and before[n] != v)
    return added, removed, upgraded


def packages_text(packages):
    return "".join("%s==%s\n" % item for item in sorted(packages.items()))

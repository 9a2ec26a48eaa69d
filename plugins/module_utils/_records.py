# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run records besides the venv: the state file's content, the SBOM, the lock's hashes, the facts.
"""

from __future__ import annotations

import hashlib
import os

from ansible_collections.wheelhouse.venv.plugins.module_utils import _constraintfiles as constraintfiles
from ansible_collections.wheelhouse.venv.plugins.module_utils import _facts as facts
from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking as masking
from ansible_collections.wheelhouse.venv.plugins.module_utils import _pylock as pylock, _sbom as sbom
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._hostfiles import write_atomic
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import STATE_FORMAT, read_state
from ansible_collections.wheelhouse.venv.plugins.module_utils._runctx import write_host_file


def new_state(ctx, interp, fingerprint, packages, link_plan):
    """The state after a change; facts_pending until the facts are written (cleared by apply)."""
    return {
        "format": STATE_FORMAT,
        "fingerprint": fingerprint,
        "python": {"realpath": interp.realpath, "signature": interp.signature, "version": interp.version},
        "virtualenv_command": ctx.spec.virtualenv_command,
        "install_tool": ctx.spec.install_tool,
        "packages": packages,
        # the links this module made (entry name -> target): the only ones it ever removes
        "links": link_plan.record,
        "facts_pending": bool(ctx.spec.facts),
        # where the referenced constraints files are (no credentials) and the sha256 of what was installed with
        "constraint_files": ctx.spec.constraint_file_digests,
        # the caller's identifier of its inputs, read back by venv_host_info (the role's no-op check)
        "inputs_id": ctx.spec.inputs_id,
        # the lock file the packages came from ({} when none was given)
        "lock": ctx.spec.lock,
    }


def record_changed(ctx, disk, link_plan):
    """What the state file records beside the venv's content differs: links made by someone else, the lock."""
    return link_plan.record_changed or bool(ctx.spec.lock and (disk.state or {}).get("lock") != ctx.spec.lock)


def recorded_state(ctx, disk, link_plan):
    """The state file of an unchanged venv with the records of this run (a lock given replaces the recorded one)."""
    return dict(disk.state, links=link_plan.record, lock=ctx.spec.lock or (disk.state or {}).get("lock") or {})


def changes_anyway(ctx, plan, disk, packages):
    """Changes beside the package set: a repair, facts of an earlier change, packages an interrupted run changed,
    an earlier change verified now."""
    recorded = (disk.state or {}).get("packages") or {}
    return bool(plan.repair or plan.facts_pending or (disk.state or {}).get("verify_failed")
                or (plan.interrupted and (disk.leftovers or packages != recorded)))


def settle_facts(ctx):
    """The facts are written (or none were due): drop facts_pending from the state file."""
    state, dummy = read_state(ctx.spec.path)
    if state and state.get("facts_pending"):
        del state["facts_pending"]
        ctx.write_state(ctx.spec.path, state)


def write_sbom(ctx, venv, installed_now=()):
    """The SBOM of venv (a staged venv, or the venv at path changed in place): sbom.cdx.json in its root.

    installed_now: the canonical names this run's installer put into venv (None: all of them, a venv
    built beside); their wheels' hashes may come from the lock, the others' from the SBOM before.
    """
    spec = ctx.spec
    previous = None
    if installed_now is not None:
        try:
            with open(sbom.sbom_path(spec.path)) as handle:
                previous = handle.read()
        except (IOError, OSError, UnicodeDecodeError):
            previous = None
    lock = lock_packages(ctx) if installed_now is None or installed_now else {}
    known = sbom.known_hashes(lock, installed_now, previous)
    write_host_file(sbom.sbom_path(venv),
                    sbom.sbom_text(venv, os.path.basename(spec.path), spec.find_links, known=known), "the SBOM")


def lock_packages(ctx):
    """{name: (version, sha256, wheel)} of the lock this run installs from (option lock: its content, else the
    file at its location), {} when there is none or it cannot be read or its sha256 is not lock.sha256 (then the
    SBOM leaves those hashes out)."""
    spec = ctx.spec
    source = spec.lock_source
    if not source:
        return {}
    shown = masking.strip_credentials(source)
    try:
        if spec.lock_content is not None:  # given with the option (its sha256 checked before any change)
            data = spec.lock_content.encode("utf-8")
        else:
            data = constraintfiles.read_reference(source, "the lock file", spec.trusted_hosts, spec.environment)
        if spec.lock.get("sha256") and hashlib.sha256(data).hexdigest() != spec.lock["sha256"]:
            ctx.note("the lock file %s is not the one of lock.sha256 (its content changed since): the SBOM states "
                     "no hashes from it" % shown)
            return {}
        return pylock.packages_of(data.decode("utf-8"), shown)
    except (VenvBuildError, IOError, OSError, ValueError, UnicodeDecodeError) as exc:
        ctx.note("the lock file %s cannot be read for the SBOM's hashes (the SBOM states none from it): %s"
                 % (shown, masking.mask_text(getattr(exc, "msg", None) or str(exc))))
        return {}


def writes_sbom(plan, link_plan):
    """A change of the venv's distributions or links: its SBOM is written again."""
    return plan.builds_beside or plan.action in ("install", "prune", "files") or link_plan.changed


def release_facts(ctx, result):
    """The facts naming the live release and the kept ones (section releases), when releases are kept."""
    if not (ctx.spec.keep_previous or ctx.spec.rollback or result.get("releases")):
        return []
    return [{"section": "releases", "option": "live", "value": result.get("release") or ""},
            {"section": "releases", "option": "kept", "value": ",".join(result.get("releases") or [])}]


def write_facts(ctx, extra=()):
    """Merge our facts (and extra ones) into the facts file; bytes that are not UTF-8 are kept as they are."""
    spec = ctx.spec
    path = os.path.join(spec.facts_dir, spec.facts_file + ".fact")
    try:
        if not os.path.isdir(spec.facts_dir):
            os.makedirs(spec.facts_dir, 0o755)
        try:
            with open(path, "rb") as handle:
                before = handle.read().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            before = ""
        after = facts.merge_facts(before, masking.mask_data(facts.with_sbom(spec.facts, existing_sbom(ctx))
                                                            + list(extra)))
        if after == before:
            return False
        write_atomic(path, after.encode("utf-8", "surrogateescape"), 0o644)
    except (IOError, OSError, ValueError) as exc:
        raise VenvBuildError("the venv at %s changed, but its facts file %s could not be written: %s. The change is "
                             "recorded in the venv's state file: the next run writes the facts (and reports changed)"
                             % (spec.path, path, getattr(exc, "strerror", None) or exc),
                             changed=True, path=spec.path)
    return True


def existing_sbom(ctx):
    """The path of the venv's SBOM when it has one, else None."""
    path = sbom.sbom_path(ctx.spec.path)
    return path if os.path.isfile(path) else None

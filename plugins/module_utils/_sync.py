# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan, then apply: make the venv at spec.path what spec says, or say what would change.

The plan (_plan.py) comes from files alone (pyvenv.cfg, our state file, *.dist-info); only a plan
that changes something starts the installer. New and rebuilt venvs are built beside the target
path and swapped in (_fsops.py), so a failure never leaves the path missing or broken.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils import _constraintfiles as constraintfiles
from ansible_collections.wheelhouse.venv.plugins.module_utils import _facts as facts
from ansible_collections.wheelhouse.venv.plugins.module_utils import _links as links, _masking as masking, _pep508 as pep508
from ansible_collections.wheelhouse.venv.plugins.module_utils import _pylock as pylock, _sbom as sbom
from ansible_collections.wheelhouse.venv.plugins.module_utils import _seed as seed_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._deps import own_problems, prune_candidates
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._faults import fault_point
from ansible_collections.wheelhouse.venv.plugins.module_utils._foreign import foreign_entries
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import (
    LOW_SPACE,
    carry,
    carry_back,
    check_carry,
    check_carry_layout,
    mark_staging,
    clean_leftovers,
    disk_problem,
    find_leftovers,
    fix_ownership,
    free_space,
    lock_file_for,
    ownership_differs,
    path_lock,
    put_in_place,
    read_lock_note,
    read_only_mount,
    relocate,
    remove_venv,
    shown,
    staging_prefix,
    swap_into_place,
    write_lock_note,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils._hostfiles import MaskedLog, private_mode, write_atomic
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import find_on_path
from ansible_collections.wheelhouse.venv.plugins.module_utils import _releases as releases_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import (
    FILE_KEYS,
    NEW_RELEASE_REASON,
    PROBE_TIMEOUT,
    changes_between,
    files_differ,
    make_plan,
    packages_text,
    resolve_interpreter,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    BUILD_REQUIREMENTS_FILE,
    SBOM_FILE,
    STATE_FILE,
    STATE_FORMAT,
    STAGING_FILE,
    UV_TOOL_DIR,
    VenvOnDisk,
    cfg_python_version,
    installed_distributions,
    installer_leftovers,
    minor_version,
    package_versions,
    read_pyvenv_cfg,
    read_state,
    site_packages_dir,
    state_text,
    top_level_entries,
)

# --- the run ------------------------------------------------------------------------------


class Sync(object):
    """One run of the module: plan from files, then apply (or, in check mode, report)."""

    def __init__(self, spec, check_mode, run):
        self.spec = spec
        self.check_mode = check_mode
        self._run = run
        self.runner = commands.Runner(run, self.log)
        self.commands = self.runner.commands
        self.warnings = []
        self._log = MaskedLog(spec.log_file, "venv_build %s" % spec.path)
        self._wanted_links = {}  # Python minor version -> {name: target}, asked of the package manager once
        # during an in-place install: (site-packages, packages, state file bytes, names in site-packages and bin/) before
        self._in_place = None
        self.link = None  # path as given when it is a symbolic link (spec.path is then the venv it points to)
        self.dangling = False
        self.carried = []  # entries of someone else to carry into the rebuilt venv (foreign_files=carry)
        self.leftover_reasons = []
        self._newer = {}  # the dry run of package_state=latest with keep_previous: {"after": packages or None}

    # logging and running ----------------------------------------------------------------

    def log(self, text):
        if self.check_mode:
            return
        try:
            self._log.write(text)
        except (IOError, OSError) as exc:
            self.warnings.append("cannot write the log file %s: %s" % (self.spec.log_file, exc))

    def run(self, argv, env, what):
        rc, out, err = self.runner(argv, env)
        if rc != 0:
            output = ((err or "") + "\n" + (out or "")).strip()
            after, changed = self.venv_after_failure()
            # an installer that failed in place for the disk: the cause in words, beside the installer's own
            cause = disk_problem(self.spec.path, output) if self._in_place is not None else None
            raise VenvBuildError(
                "%s failed (exit code %d)%s; %s. See %s. Output:\n%s"
                % (what, rc, ": %s" % cause if cause else "", after, self.spec.log_file,
                   masking.mask_text(output)[-3000:]),
                rc=rc, stderr=masking.mask_text(err or "")[-8000:], stdout=masking.mask_text(out or "")[-8000:],
                log_file=self.spec.log_file, commands=list(self.commands), changed=changed)
        return out, err

    def venv_after_failure(self):
        """(what a failed command left, whether the venv changed): 'as before' only when checked (an in-place install
        compares the packages, pip's leftovers and the names in site-packages and bin/ with those before it ran)."""
        spec = self.spec
        if self._in_place is None:
            return "the venv at %s is as it was before this run" % spec.path, False
        site_packages, before, state_bytes, names = self._in_place
        after = package_versions(installed_distributions(site_packages))
        if after == before and not installer_leftovers(site_packages) and venv_names(spec.path, site_packages) == names:
            # nothing to repair: the state file (with the marker of the install) goes back to what it was
            state_file = os.path.join(spec.path, STATE_FILE)
            if state_bytes is None:
                os.unlink(state_file)
            else:
                write_atomic(state_file, state_bytes)
            return "the venv at %s is as it was before this run" % spec.path, False
        cause = disk_problem(spec.path) or ""
        return ("the venv at %s changed before the failure (%s); %sthe next run installs again and repairs it"
                % (spec.path, changes_text(before, after) or "the installer left files in site-packages or bin/",
                   "make it writable and run again: " if "read-only" in cause
                   else "free space there and run again: " if cause else "")), True

    def verify(self, venv, uv, unverified=None, changed=False):
        """Run the verifications on venv (the installer ran); VenvBuildError naming the first that fails.

        A staged venv (unverified None) is then not swapped in. An in-place change first records the
        new state, unverified, marked verify_failed: the next run installs and verifies again.
        """
        spec = self.spec
        checks = commands.verify_commands(spec, venv, uv)
        if checks:
            fault_point("verifying")
        for argv, what in checks:
            env = commands.verify_environment(spec, venv)
            if find_on_path(argv[0], env["PATH"]) if os.sep not in argv[0] else os.access(argv[0], os.X_OK):
                rc, out, err = self.runner(argv, env, spec.verify_timeout)
            else:  # the runner would end the module on a command that does not exist
                self.commands.append(commands.display(argv))
                rc, out, err = 127, "", "%s: command not found (PATH=%s)" % (argv[0], env["PATH"])
            output = ((err or "") + "\n" + (out or "")).strip()
            if rc != 0 and output and what == commands.DEPENDENCY_CHECK and spec.install_tool == "pip":
                output = own_problems(output, package_versions(installed_distributions(
                    site_packages_dir(venv, cfg_python_version(read_pyvenv_cfg(venv))))))
                rc = rc if output else 0  # every problem was one of a distribution outside the venv
            if rc == 0:
                continue
            if unverified is None:
                after = ("the new venv was not swapped in and is removed: the venv at %s is as it was before this run, "
                         "nothing else changed" % spec.path)
            else:
                self.write_state(venv, dict(unverified, verify_failed="%s failed, %s"
                                            % (what, time.strftime("%Y-%m-%dT%H:%M:%S%z"))))
                what_changed = (changes_text(self._in_place[1], unverified["packages"]) or "its files") if changed else ""
                after = ("the venv at %s %s and is marked unverified: the next run installs and verifies again"
                         % (spec.path, "changed (%s)" % what_changed if changed else "did not change"))
            timed_out = rc == -9 and (err or "").endswith(commands.TIMEOUT_NOTE % spec.verify_timeout)
            ended = ("timed out after %d s (verify_timeout) and was killed" % spec.verify_timeout if timed_out
                     else "exited with code %d" % rc)
            self.log("verification failed: %s %s" % (what, ended))
            raise VenvBuildError("verification failed: %s %s; %s. See %s. Output:\n%s"
                                 % (what, ended, after, spec.log_file, masking.mask_text(output)[-3000:] or "(none)"),
                                 rc=rc, changed=changed, log_file=spec.log_file, commands=list(self.commands))

    # entry point -------------------------------------------------------------------------

    def execute(self):
        spec = self.spec
        self.follow_link()
        self.clean_leftovers()
        disk = VenvOnDisk(spec.path)
        self.warnings.extend(disk.state_warnings)
        if spec.state == "absent":
            return self.absent(disk)
        if self.dangling:
            raise VenvBuildError("%s is a symbolic link to %s, which does not exist: make that directory or remove "
                                 "the link, then run again" % (self.link, spec.path))
        if disk.exists and not disk.is_venv and not disk.is_empty_dir and not (disk.is_dir and spec.foreign_files == "carry"):
            raise VenvBuildError("%s exists but is not a venv (no pyvenv.cfg): refusing to replace it. Remove what is in "
                                 "it, or set foreign_files=carry to make the venv there and keep its entries in it"
                                 % spec.path)
        if spec.rollback:
            return self.rollback(disk)
        interp = resolve_interpreter(spec, disk.state)
        spec.load_constraint_files()  # read on every run: their content is part of the inputs
        spec.check_conflicts(pep508.marker_environment(interp.version))
        fingerprint = spec.fingerprint(interp.version)
        plan = make_plan(spec, disk, interp, fingerprint)
        if plan.held:
            self.warnings.append(plan.held)
        self.plan_release(plan, disk)
        if disk.state_problem:
            self.warnings.append("%s: it is ignored and rewritten from the venv" % disk.state_problem)
        self.check_own_files(disk)
        self.check_replace(plan, disk, interp.version)
        plan.reasons.extend(self.leftover_reasons)
        self.plan_ownership(plan)
        link_plan = self.plan_links(plan, disk, interp)
        if self.is_noop(plan, link_plan) and (self.check_mode or not self.record_changed(disk, link_plan)):
            return self.result(False, disk, disk.packages, interp, fingerprint, plan, link_plan)
        if self.check_mode:
            return self.predict(disk, interp, fingerprint, plan, link_plan)
        self.check_writable("created" if plan.action == "create" else "rebuilt" if plan.builds_beside else "changed")
        with self.locked():
            disk = VenvOnDisk(spec.path)  # another run may have finished while we waited
            plan = make_plan(spec, disk, interp, fingerprint)
            self.plan_release(plan, disk)
            self.check_replace(plan, disk, interp.version)
            self.plan_ownership(plan)
            link_plan = self.plan_links(plan, disk, interp)
            if self.is_noop(plan, link_plan):
                # links already right, made by someone else: ours from now on; a new lock of the same packages
                if self.record_changed(disk, link_plan):
                    self.write_state(spec.path, self.recorded_state(disk, link_plan))
                return self.result(False, disk, disk.packages, interp, fingerprint, plan, link_plan)
            self.log("plan: %s (%s)" % (plan.action or "in place", "; ".join(plan.reasons)))
            return self.apply(disk, interp, fingerprint, plan, link_plan)

    def plan_release(self, plan, disk):
        """With keep_previous, package_state=latest builds a new release when the installer's dry run finds newer versions."""
        if not (self.spec.keep_previous and plan.looks_for_newer and plan.action == "install"):
            return
        if "after" not in self._newer:
            self._newer["after"] = self.dry_run(disk, plan)
        if self._newer["after"] is None or self._newer["after"] != disk.packages:
            plan.action = "rebuild"
            plan.reasons.append(NEW_RELEASE_REASON % self.spec.keep_previous)

    @staticmethod
    def is_noop(plan, link_plan):
        return plan.action is None and not plan.fix_ownership and not link_plan.changed

    def record_changed(self, disk, link_plan):
        """What the state file records beside the venv's content differs: links made by someone else, the lock."""
        return link_plan.record_changed or bool(self.spec.lock and (disk.state or {}).get("lock") != self.spec.lock)

    def recorded_state(self, disk, link_plan):
        """The state file of an unchanged venv with the records of this run (a lock given replaces the recorded one)."""
        return dict(disk.state, links=link_plan.record, lock=self.spec.lock or (disk.state or {}).get("lock") or {})

    def plan_links(self, plan, disk, interp):
        """The links of linked_distro_packages, planned against the venv at path as it is now.

        A build plans the new venv's links from the interpreter's version and makes them in the
        new venv before the swap; otherwise a link that cannot be made fails here, before any change.
        """
        spec = self.spec
        version = interp.version if plan.builds_beside or not disk.python_version else disk.python_version
        key = minor_version(version)
        if key not in self._wanted_links:
            wanted, warnings = links.desired_links(spec.linked_distro_packages, version, self._run)
            self._wanted_links[key] = wanted
            self.warnings.extend(warnings)
        recorded = (disk.state or {}).get("links") or {}
        link_plan = links.LinkPlan(site_packages_dir(spec.path, disk.python_version or version),
                                   self._wanted_links[key], recorded)
        if not plan.builds_beside:
            link_plan.check_conflicts()
        plan.reasons.extend(link_plan.reasons())
        return link_plan

    def plan_ownership(self, plan):
        """Add the owner/group/mode repair to a plan that does not rebuild (a rebuild sets them anyway)."""
        spec = self.spec
        if (spec.owner is None and spec.group is None and spec.mode is None) or plan.builds_beside:
            return
        if ownership_differs(spec, spec.path):
            plan.fix_ownership = True
            plan.reasons.append("owner, group or mode of the venv differ from owner=%s group=%s mode=%s"
                                % (spec.owner, spec.group, spec.mode))

    def check_writable(self, done):
        """Before any change: the venv's path and its folder (the lock, a venv built beside it) are on file systems
        that are not mounted read-only; else a VenvBuildError naming the path and the mount."""
        spec = self.spec
        for folder in (spec.path, os.path.dirname(spec.path)):
            mount = read_only_mount(folder)
            if mount is not None:
                raise VenvBuildError("the venv at %s cannot be %s: the file system of %s is read-only (mounted read-only "
                                     "at %s); nothing was changed. Remount it read-write, or choose a path on a writable "
                                     "file system, and run again" % (spec.path, done, folder, mount))

    def locked(self):
        parent = os.path.dirname(self.spec.path)
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        return path_lock(lock_file_for(self.spec.path))

    def follow_link(self):
        """A path that is a symbolic link: the venv it points to is what is made, updated or replaced."""
        spec = self.spec
        if not os.path.islink(spec.path):
            return
        self.link = spec.path
        spec.path = os.path.realpath(spec.path)
        self.dangling = not os.path.lexists(spec.path)

    def clean_leftovers(self):
        """Remove what killed runs left on the path (under the lock); check mode only reports it."""
        spec = self.spec
        pending = releases_mod.Releases(spec.path)
        if not find_leftovers(spec.path) and not pending.misnamed and not pending.removing:
            return
        if self.check_mode:
            steps = releases_mod.repair_steps(spec.path)
            self.leftover_reasons.extend("after an interrupted run, " + releases_mod.step_text(kind, folder, target, True)
                                         for kind, folder, target in steps)
            handled = set(folder for dummy, folder, dummy2 in steps)
            leftovers = [entry for entry in find_leftovers(spec.path) if entry not in handled]
            if leftovers:
                self.leftover_reasons.append("leftovers of an interrupted run would be removed: %s" % shown(leftovers))
            return
        self.check_writable("cleaned of the leftovers of an interrupted run")
        with self.locked():
            repaired = releases_mod.repair(spec.path)
            removed, kept = clean_leftovers(spec.path)
        if repaired:
            self.warnings.append("kept releases after an interrupted run: %s" % "; ".join(repaired))
            self.log("kept releases after an interrupted run: %s" % "; ".join(repaired))
        if removed:
            self.warnings.append("removed leftovers of an interrupted run: %s" % shown(removed))
            self.log("removed leftovers of an interrupted run: %s" % ", ".join(removed))
        if kept:
            self.warnings.append("kept leftovers of an interrupted run, they hold entries that are not part of a venv "
                                 "(%s has entries of those names): %s; move what you need out of them and delete "
                                 "them" % (spec.path, shown(kept)))

    def check_own_files(self, disk):
        """A venv this module never managed (no state file): files of the names it writes are someone else's."""
        spec = self.spec
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

    def check_replace(self, plan, disk, version):
        """Before any change: a venv to replace must be swappable, and its foreign entries refused or carried (a
        carry into a venv of the Python version given, where what the layout decides is known now)."""
        spec = self.spec
        self.carried = []
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
        self.carried = foreign
        plan.reasons.append("carried into the %s venv (foreign_files=carry): %s"
                            % ("rebuilt" if disk.is_venv else "new", shown(foreign)))

    # state absent ---------------------------------------------------------------------------

    def absent(self, disk):
        """Remove the venv at path (and the link to it); entries of someone else are kept, with the directory."""
        spec = self.spec
        result = {"changed": False, "path": spec.path, "commands": [], "packages": {}, "added": {},
                  "removed": {}, "upgraded": {}, "fingerprint": None, "python_version": disk.python_version,
                  "facts_written": False, "log_file": spec.log_file, "reasons": list(self.leftover_reasons),
                  "links": {"present": {}, "added": [], "removed": []}, "kept": [], "sbom": None, "lock": {},
                  "release": None, "releases": []}
        if self.dangling:  # nothing to remove but the link
            result.update(changed=True, reasons=result["reasons"] + ["state=absent: %s points to %s, which does not exist"
                                                                     % (self.link, spec.path)])
            if not self.check_mode:
                os.unlink(self.link)
            return result
        if not disk.exists:
            return result
        if disk.is_dir and not disk.is_venv and not disk.is_empty_dir and self.kept_by_absent():
            return self.absent_kept(result)
        if self.check_mode:
            return self.absent_result(result, disk)
        self.check_writable("removed")
        with self.locked():
            disk = VenvOnDisk(spec.path)  # another run may have finished while we waited
            if not disk.exists:
                return result
            self.absent_result(result, disk)
            if disk.is_venv:
                # before the removal: a run killed half-way leaves the directory known as ours too
                write_lock_note(lock_file_for(spec.path), {"absent_kept": {
                    "path": spec.path, "entries": result["kept"], "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}
                    if result["kept"] else None)
                kept = remove_venv(spec.path, result["kept"])
            else:  # an empty directory
                kept = []
                os.rmdir(spec.path)
            if self.link and not kept:
                os.unlink(self.link)
            self.remove_releases()
        self.log("venv %s removed%s" % (spec.path, " but for %s" % ", ".join(kept) if kept else ""))
        return result

    def kept_by_absent(self):
        """Whether the directory at path is what an earlier state=absent kept of a venv (its note in the lock file)."""
        note = (read_lock_note(lock_file_for(self.spec.path)) or {}).get("absent_kept")
        return isinstance(note, dict) and note.get("path") == self.spec.path

    def absent_kept(self, result):
        """state=absent on a directory that holds no venv any more, what an earlier state=absent kept: nothing to
        remove, changed=false; its entries are someone else's, named as the state=absent that kept them named them."""
        spec = self.spec
        kept = foreign_entries(spec.path, {}, venv=False)
        result["kept"] = kept
        self.warnings.append("state=absent: %s holds no venv (no pyvenv.cfg), nothing was removed; it is kept with these "
                             "entries in it, which are not part of a venv: %s" % (spec.path, shown(kept)))
        return result

    def remove_releases(self):
        """state=absent: the kept releases go with the venv; a releases folder holding anything else stays whole."""
        kept = releases_mod.Releases(self.spec.path)
        if not kept.exists:
            return
        if kept.foreign:
            self.warnings.append("state=absent kept the earlier venvs in %s: it holds entries that are not venvs this "
                                 "module kept: %s" % (kept.folder, shown(kept.foreign)))
            return
        releases_mod.prune(kept, 0, self.log, self.warnings.append)

    def absent_result(self, result, disk):
        spec = self.spec
        if not disk.is_venv and not disk.is_empty_dir:
            raise VenvBuildError("%s exists but is not a venv (no pyvenv.cfg): refusing to remove it" % spec.path)
        kept = foreign_entries(spec.path, disk.state or {}) if disk.is_venv else []
        result.update(changed=True, removed=disk.packages, kept=kept, reasons=result["reasons"] + ["state=absent"])
        result["diff"] = {"before": {"path": spec.path, "state": "present"}, "after": {"path": spec.path, "state": "absent"}}
        if kept:
            self.warnings.append("state=absent kept %s and these entries in it, which are not part of a venv: %s"
                                 % (spec.path, shown(kept)))
        return result

    # rollback -----------------------------------------------------------------------------------

    def rollback(self, disk):
        """Switch back to the newest kept release older than the live one (see _releases.py); changed=true."""
        spec = self.spec
        kept, target = self.rollback_target(disk)
        if self.check_mode:
            after = VenvOnDisk(kept.kept[target])
            report = {"release": target,
                      "releases": [kept.live or "(numbered now)"] + [r for r in kept.newest_first() if r != target]}
            return self.rollback_result(disk, after, kept.live, target, report)
        self.check_writable("rolled back")
        with self.locked():
            disk = VenvOnDisk(spec.path)  # another run may have finished while we waited
            kept, target = self.rollback_target(disk)
            kept.live = kept.live or releases_mod.new_release_id(kept.next_number())
            self.write_state(spec.path, dict(disk.state, release=kept.live, retired=releases_mod.retired_now()))
            target_state = read_state(kept.kept[target])[0]
            held = disk.state.get("rolled_back_from") or {}
            rolled_back_from = {
                "release": kept.live,
                "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                # every set of inputs rolled back from, so that a second rollback holds against the first one's too
                "fingerprint": " ".join([disk.state.get("fingerprint") or ""] + (held.get("fingerprint") or "").split()),
                "inputs_id": " ".join([disk.state.get("inputs_id") or ""] + (held.get("inputs_id") or "").split()),
            }
            carried = carry(spec.path, kept.kept[target], self.carried)
            try:
                old = releases_mod.switch(spec.path, kept, target, lambda folder: self.write_state(
                    folder, dict(target_state, rolled_back_from=rolled_back_from, retired="")))
            except BaseException:
                carry_back(spec.path, kept.kept.get(target) or os.path.join(kept.folder, target), carried)
                raise
            self.log("rolled back %s from the release %s to %s" % (spec.path, old, target))
        result = self.rollback_result(disk, VenvOnDisk(spec.path), old, target, kept.report())
        if spec.facts:
            result["facts_written"] = self.write_facts(self.release_facts(result))
        self.settle_facts()
        return result

    def rollback_target(self, disk):
        """(releases, the id to switch to), checked before any change; VenvBuildError when there is nothing to switch to."""
        spec = self.spec
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
        self.carried = foreign
        return kept, target

    def rollback_result(self, disk, after, old, target, report):
        spec = self.spec
        added, removed, upgraded = changes_between(disk.packages, after.packages)
        result = {
            "changed": True, "path": spec.path, "python_version": after.python_version, "packages": after.packages,
            "added": added, "removed": removed, "upgraded": upgraded,
            "fingerprint": (after.state or {}).get("fingerprint"), "commands": [], "facts_written": bool(spec.facts),
            "log_file": spec.log_file, "links": {"present": (after.state or {}).get("links") or {}, "added": [], "removed": []},
            "reasons": list(self.leftover_reasons) + ["rollback: switched from the release %s to the kept release %s"
                                                      % (old or "(without an id)", target)],
            "diff": masking.mask_data([{"before_header": "%s (installed packages, release %s)" % (spec.path, old),
                                        "after_header": "%s (installed packages, release %s)" % (spec.path, target),
                                        "before": packages_text(disk.packages), "after": packages_text(after.packages)}]),
        }
        if self.carried:
            result["reasons"].append("carried into the venv rolled back to (foreign_files=carry): %s" % shown(self.carried))
        if not self.check_mode:  # the venv at path is the one rolled back to
            self.drop_system_provided(removed, result["reasons"])
        result.update(report)
        return result

    def drop_system_provided(self, removed, reasons):
        """Out of removed (into reasons): what the venv still imports, from the system site-packages now (a requirement
        they satisfy is not installed into a venv with system_site_packages)."""
        for name, (version, folder) in sorted(self.system_provided(removed).items()):
            reasons.append("%s %s is used from the system site-packages (%s)%s, not installed in the venv"
                           % (name, version, folder, "" if removed[name] == version
                              else " in place of the venv's own %s" % removed[name]))
            del removed[name]

    def system_provided(self, names):
        """{name: (version, folder)} of the names the venv at path imports from the system site-packages (it has
        system_site_packages), asked of the venv's own Python; {} when it has not, or cannot tell."""
        spec = self.spec
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
            self.log("the venv's system site-packages cannot be told (%s exited with %d): %s"
                     % (commands.display(argv), rc, (err or out or "").strip()[-300:]))
            return {}
        found = system_distributions(folders)
        return dict((name, found[name]) for name in names if name in found)

    # check mode -------------------------------------------------------------------------------

    def predict(self, disk, interp, fingerprint, plan, link_plan):
        """Check mode: what a real run would do, without touching the venv, its files or the facts."""
        spec = self.spec
        files_change = files_differ(spec, disk) is not None
        after = None
        changed = True
        if plan.action == "install" and spec.installs:
            after = self.dry_run(disk, plan)
            if after is not None and not files_change and not plan.fix_ownership:
                changed = after != disk.packages or link_plan.changed or self.changes_anyway(plan, disk, after)
        elif plan.action == "prune":
            after = dict((n, v) for n, v in disk.packages.items() if n not in plan.prune)
        elif plan.action in ("files", "facts", None):
            after = disk.packages
        self.commands = self.planned_commands(plan, disk, interp)
        return self.result(changed, disk, after, interp, fingerprint, plan, link_plan, predicted=True)

    def dry_run(self, disk, plan):
        """Packages after the install, asked of the installer with --dry-run (None when it cannot tell)."""
        spec = self.spec
        tmp = tempfile.mkdtemp(prefix="venv_build-check-")
        try:
            files = self.write_installer_files(tmp, plan)
            if spec.build_requirements:  # resolved with the requirements (a real run installs them first)
                files["build_requirements"] = self.write_build_requirements(tmp)
            report = os.path.join(tmp, "report.json")
            uv = self.find_uv(spec.path)
            if spec.install_tool == "uv" and uv is None:
                return None
            argv = commands.install_command(spec, spec.path, files, uv=uv, pins_file=files.get("pins"),
                                            upgrade=spec.package_state == "latest",
                                            dry_run_report=report if spec.install_tool == "pip" else None)
            if spec.install_tool == "uv":
                argv.append("--dry-run")
            rc, out, err = self._run(argv, commands.run_environment(argv, commands.installer_environment(spec, spec.path)))
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

    def planned_commands(self, plan, disk, interp):
        spec = self.spec
        files = dict((key, os.path.join(spec.path, name)) for key, name in FILE_KEYS)
        planned = []
        if plan.builds_beside:
            seed_pip = spec.install_tool == "pip" or self.find_uv(spec.path) is None
            seeder = self.seeder(interp) if seed_pip else None
            cache = seeder.cache_state() if seeder else None
            if cache == "miss":
                planned.append(seeder.build_command())
            planned.append(commands.create_venv_command(spec, spec.python, spec.path, self.virtualenv_executable(),
                                                        seed_pip=seed_pip and cache is None))
        uv = self.find_uv(spec.path) or os.path.join(spec.path, UV_TOOL_DIR, "bin", "uv")
        if plan.repair and not plan.builds_beside:
            planned.append(commands.repair_command(spec, spec.path, files, plan.repair, uv=uv))
        if plan.action in ("create", "rebuild", "install") and self.upgrades_pip:
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

    # applying ----------------------------------------------------------------------------------

    def seeder(self, interp):
        """The pip seed of interp (_seed.py) for `python -m venv`; None for virtualenv or without ensurepip."""
        if self.spec.virtualenv_command != "venv":
            return None
        seeder = seed_mod.Seeder(interp, self.spec.seed_cache or seed_mod.default_root(), self._run)
        if not seeder.prepare():
            self.log("pip seed cache not used: %s" % seeder.reason)
            return None
        return seeder

    def create_venv(self, interp, dest, seed_pip):
        """Make the venv dest; with pip (seed_pip) copied from the seed cache where it can be, else by ensurepip."""
        spec = self.spec
        what = "creating the venv with %s" % spec.virtualenv_command
        seeder = self.seeder(interp) if seed_pip else None
        source = None
        if seeder:
            source = seeder.usable_entry()
            if source is None and seeder.cache_state() == "miss":
                source = seeder.make_entry(self.runner, self.log)
            if source is None:
                self.log("pip seed cache not used: %s" % seeder.reason)
                if seeder.cache_state() is None:  # a cache it cannot trust, as opposed to one it could not make
                    self.warnings.append("the pip seed cache is not used: %s; pip was installed by ensurepip"
                                         % seeder.reason)
        self.run(commands.create_venv_command(spec, interp.executable, dest, self.virtualenv_executable(),
                                              seed_pip=seed_pip and source is None), {}, what)
        if source:
            seeder.seed(source, dest)
            self.log("pip seeded from %s" % source)

    def virtualenv_executable(self):
        if self.spec.virtualenv_command != "virtualenv":
            return None
        return find_on_path("virtualenv")

    def find_uv(self, venv):
        spec = self.spec
        if spec.install_tool != "uv":
            return None
        if spec.uv_executable:
            if not os.access(spec.uv_executable, os.X_OK):
                raise VenvBuildError("uv_executable %s does not exist or is not executable" % spec.uv_executable)
            return spec.uv_executable
        on_path = find_on_path("uv")
        if on_path:
            return on_path
        bundled = os.path.join(venv, UV_TOOL_DIR, "bin", "uv")
        return bundled if os.access(bundled, os.X_OK) else None

    def write_installer_files(self, folder, plan):
        spec = self.spec
        files = {}
        for key, name in FILE_KEYS:
            files[key] = os.path.join(folder, name)
            text = getattr(spec, key + "_text")
            write_host_file(files[key], text, "the installer file", private_mode(text))
        if plan.pins:
            files["pins"] = os.path.join(folder, "recorded-pins.txt")
            write_host_file(files["pins"], packages_text(plan.pins), "the installer file")
        return files

    def ensure_uv(self, venv, files):
        uv = self.find_uv(venv)
        if uv is None and self.spec.install_tool == "uv":
            self.run(commands.uv_bootstrap_command(self.spec, venv, files), commands.installer_environment(self.spec, venv),
                     "installing uv into %s" % os.path.join(self.spec.path, UV_TOOL_DIR))
            uv = os.path.join(venv, UV_TOOL_DIR, "bin", "uv")
        return uv

    @property
    def upgrades_pip(self):
        return self.spec.upgrade_pip and self.spec.install_tool == "pip"

    def install(self, venv, files, plan, uv):
        spec = self.spec
        if self.upgrades_pip:  # before anything it installs: a current pip reads what an old one refuses
            self.run(commands.pip_upgrade_command(spec, venv, files), commands.installer_environment(spec, venv),
                     "pip install --upgrade pip (upgrade_pip)")
        self.install_build_requirements(venv, files, uv)
        if spec.has_requirements:
            argv = commands.install_command(spec, venv, files, uv=uv, pins_file=files.get("pins"),
                                            upgrade=spec.package_state == "latest")
            self.run(argv, commands.installer_environment(spec, venv), "%s install" % spec.install_tool)
        version = cfg_python_version(read_pyvenv_cfg(venv))
        site_packages = site_packages_dir(venv, version)
        dists = installed_distributions(site_packages)
        if spec.prune:
            extra = prune_candidates(spec, dists, version)
            if extra is None:
                self.warnings.append("prune skipped: a URL or path requirement matches no installed distribution")
            elif extra:
                self.run(commands.uninstall_command(spec, venv, extra, uv=uv), commands.installer_environment(spec, venv),
                         "removing packages not needed (prune)")
                dists = installed_distributions(site_packages)
        return package_versions(dists)

    def write_build_requirements(self, folder):
        path = os.path.join(folder, BUILD_REQUIREMENTS_FILE)
        text = self.spec.build_requirements_text
        write_host_file(path, text, "the installer file", private_mode(text))
        return path

    def install_build_requirements(self, venv, files, uv):
        """The build requirements, by an installer run of their own before the requirements: a build tool is
        then in the venv when an sdist of the requirements is prepared (in the same run it is not there yet)."""
        spec = self.spec
        if not spec.build_requirements:
            return
        folder = tempfile.mkdtemp(prefix=staging_prefix(spec.path, "files-"), dir=os.path.dirname(spec.path))
        try:
            argv = commands.build_requirements_command(spec, venv, files, self.write_build_requirements(folder),
                                                       uv=uv, pins_file=files.get("pins"),
                                                       upgrade=spec.package_state == "latest")
            self.run(argv, commands.installer_environment(spec, venv), "%s install of the build requirements"
                     % spec.install_tool)
            fault_point("build-requirements-installed")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def new_state(self, interp, fingerprint, packages, link_plan):
        """The state after a change; facts_pending until the facts are written (cleared by apply)."""
        return {
            "format": STATE_FORMAT,
            "fingerprint": fingerprint,
            "python": {"realpath": interp.realpath, "signature": interp.signature, "version": interp.version},
            "virtualenv_command": self.spec.virtualenv_command,
            "install_tool": self.spec.install_tool,
            "packages": packages,
            # the links this module made (entry name -> target): the only ones it ever removes
            "links": link_plan.record,
            "facts_pending": bool(self.spec.facts),
            # where the referenced constraints files are (no credentials) and the sha256 of what was installed with
            "constraint_files": self.spec.constraint_file_digests,
            # the caller's identifier of its inputs, read back by venv_host_info (the role's no-op check)
            "inputs_id": self.spec.inputs_id,
            # the lock file the packages came from ({} when none was given)
            "lock": self.spec.lock,
        }

    @staticmethod
    def write_state(venv, state):
        state = dict(state, written=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        if "entries" not in state or "release" not in state:  # the entries of our build and its id stay recorded
            before = read_state(venv)[0] or {}
            state.setdefault("entries", before.get("entries") or [])
            if before.get("release"):
                state.setdefault("release", before["release"])
        write_host_file(os.path.join(venv, STATE_FILE), state_text(state), "the state file")

    def changes_anyway(self, plan, disk, packages):
        """Changes beside the package set: a repair, facts of an earlier change, packages an interrupted run changed,
        an earlier change verified now."""
        recorded = (disk.state or {}).get("packages") or {}
        return bool(plan.repair or plan.facts_pending or (disk.state or {}).get("verify_failed")
                    or (plan.interrupted and (disk.leftovers or packages != recorded)))

    def settle_facts(self):
        """The facts are written (or none were due): drop facts_pending from the state file."""
        state, dummy = read_state(self.spec.path)
        if state and state.get("facts_pending"):
            del state["facts_pending"]
            self.write_state(self.spec.path, state)

    def apply(self, disk, interp, fingerprint, plan, link_plan):
        spec = self.spec
        if plan.action in ("create", "rebuild", "install") and spec.installs:
            # imported here: the HTTP stack is only needed when something will be installed
            from ansible_collections.wheelhouse.venv.plugins.module_utils import _reach as reach
            reach.check_locations(spec)
        if plan.builds_beside:
            packages = self.build_beside(disk, interp, fingerprint, plan, link_plan)
        elif plan.action in ("install", "prune", "files"):
            packages = self.update_in_place(disk, interp, fingerprint, plan, link_plan)
        else:  # None or "facts"
            packages = disk.packages
            if link_plan.changed or self.record_changed(disk, link_plan):
                self.make_links(link_plan.site_packages, link_plan.wanted, link_plan.recorded)
                if link_plan.changed:
                    self.write_sbom(spec.path)
                self.write_state(spec.path, self.recorded_state(disk, link_plan))
        if plan.fix_ownership or plan.builds_beside or link_plan.changed:
            fix_ownership(spec, spec.path)
        files_changed = files_differ(spec, disk) is not None
        changed = (plan.builds_beside or files_changed or packages != disk.packages or plan.fix_ownership
                   or link_plan.changed or self.changes_anyway(plan, disk, packages))
        result = self.result(changed, disk, packages, interp, fingerprint, plan, link_plan)
        fault_point("before-facts")
        if changed and spec.facts:
            result["facts_written"] = self.write_facts(self.release_facts(result))
        self.settle_facts()
        return result

    def make_links(self, site_packages, wanted, recorded):
        """Make the wanted links in site_packages, planned again there (an install may have changed it)."""
        here = links.LinkPlan(site_packages, wanted, recorded)
        here.check_conflicts()
        here.apply()
        if here.changed:
            self.log("links in %s: made %s; removed %s"
                     % (site_packages, ", ".join(sorted(here.add)) or "none", ", ".join(here.remove) or "none"))

    def build_beside(self, disk, interp, fingerprint, plan, link_plan):
        spec = self.spec
        parent = os.path.dirname(spec.path)
        try:
            staging = tempfile.mkdtemp(prefix=staging_prefix(spec.path), dir=parent)
        except OSError as exc:
            raise VenvBuildError("cannot make a directory for the new venv in %s: %s; the venv at %s is unchanged"
                                 % (parent, exc.strerror or exc, spec.path))
        carried = []
        kept_releases = releases_mod.Releases(spec.path, disk.state)
        keep_old, old = self.number_live(disk, kept_releases), None
        try:
            mark_staging(staging)  # a run killed before the swap leaves a staging directory known as ours
            old_uv = os.path.join(spec.path, UV_TOOL_DIR)
            if spec.install_tool == "uv" and os.path.isdir(old_uv) and not os.path.islink(old_uv):
                shutil.copytree(old_uv, os.path.join(staging, UV_TOOL_DIR), symlinks=True)
            # pip is seeded only where it installs: not when a uv is already at hand
            seed_pip = spec.install_tool == "pip" or self.find_uv(staging) is None
            self.create_venv(interp, staging, seed_pip)
            files = self.write_installer_files(staging, plan)
            files.pop("pins", None)
            uv = self.ensure_uv(staging, files)
            packages = self.install(staging, files, plan, uv)
            fault_point("build-installed")
            # the new venv gets its links before it is swapped in (a new venv: no earlier links of ours)
            self.make_links(site_packages_dir(staging, cfg_python_version(read_pyvenv_cfg(staging))),
                            link_plan.wanted, {})
            self.verify(staging, uv)  # before relocate: the staged venv's scripts still point to it
            self.write_sbom(staging, installed_now=None)
            relocate(staging, spec.path)
            # the top-level entries our build made: ours to remove or replace later
            self.write_state(staging, dict(self.new_state(interp, fingerprint, packages, link_plan),
                                           entries=top_level_entries(staging),
                                           release=releases_mod.new_release_id(kept_releases.next_number())))
            os.chmod(staging, 0o755)
            if spec.owner is not None or spec.group is not None or spec.mode is not None:
                fix_ownership(spec, staging)
            if self.carried:
                mark_staging(staging, self.carried)
            carried = carry(spec.path, staging, self.carried)
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
            failure = self.disk_failure(exc, staging)
            shutil.rmtree(staging, ignore_errors=True)
            if failure is not None:
                raise failure
            raise
        if kept:
            self.warnings.append("the replaced venv kept entries that are not part of a venv, left in %s" % kept)
        self.log("venv %s %s" % (spec.path, "created" if plan.action == "create" else "rebuilt"))
        self.keep_releases(kept_releases, old)
        return packages

    def number_live(self, disk, kept_releases):
        """Whether a build keeps the venv it replaces (keep_previous); that venv gets a release id when it has none."""
        if not self.spec.keep_previous or not disk.is_venv or not disk.state:
            return False
        kept_releases.live = kept_releases.live or releases_mod.new_release_id(kept_releases.next_number())
        self.write_state(self.spec.path, dict(disk.state, release=kept_releases.live, retired=releases_mod.retired_now()))
        return True

    def keep_releases(self, kept_releases, old):
        """After a build's swap: the replaced venv (at old) into the releases folder, then the oldest beyond keep_previous removed."""
        spec = self.spec
        try:
            if old is not None:
                fault_point("release-swapped")
                target = os.path.join(kept_releases.folder, kept_releases.live)
                releases_mod.keep_release(old, target)
                kept_releases.kept[kept_releases.live] = target
                kept_releases.retired[kept_releases.live] = releases_mod.retired_now()
                self.log("kept the replaced venv as the release %s" % target)
                fault_point("release-kept")
            if kept_releases.exists:
                releases_mod.prune(kept_releases, spec.keep_previous, self.log, self.warnings.append)
        except (IOError, OSError) as exc:  # the new venv is in place: the next run finishes this
            self.warnings.append("the new venv is in place, but keeping or removing earlier venvs in %s failed: %s"
                                 % (kept_releases.folder, exc))

    def disk_failure(self, exc, staging):
        """The error of a build that failed for a full or read-only disk, naming where; None for other failures."""
        spec = self.spec
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            what = (exc.strerror or str(exc)).lower()
        elif isinstance(exc, VenvBuildError) and free_space(staging) < LOW_SPACE:  # a command failed on a full disk
            what = "no space left on device"
        else:
            return None
        msg = "%s while building the new venv in %s; the venv at %s is unchanged" % (what, staging, spec.path)
        self.log("failed: %s: %s" % (msg, getattr(exc, "msg", None) or exc))
        if isinstance(exc, VenvBuildError):
            log_named = "" if spec.log_file in exc.msg else " See %s." % spec.log_file
            return VenvBuildError(msg + "." + log_named + " " + exc.msg, **dict(exc.details, log_file=spec.log_file))
        return VenvBuildError("%s. See %s" % (msg, spec.log_file), log_file=spec.log_file)

    def update_in_place(self, disk, interp, fingerprint, plan, link_plan):
        spec = self.spec
        tmp = tempfile.mkdtemp(prefix=".%s.venv_build-files-" % os.path.basename(spec.path), dir=os.path.dirname(spec.path))
        try:
            files = self.write_installer_files(tmp, plan)
            uv = None
            if plan.action in ("install", "prune"):
                self.start_installer(disk)
            if plan.repair:
                uv = self.ensure_uv(spec.path, files)
                for meta_dir in sorted(disk.damaged):  # the installer itself fails on damaged metadata
                    os.rename(meta_dir, os.path.join(os.path.dirname(meta_dir), "~%s.damaged" % os.path.basename(meta_dir)))
                self.run(commands.repair_command(spec, spec.path, files, plan.repair, uv=uv),
                         commands.installer_environment(spec, spec.path), "reinstalling %s" % ", ".join(sorted(plan.repair)))
                self.remove_leftovers(site_packages_dir(spec.path, disk.python_version))
            if plan.action == "prune":
                uv = self.find_uv(spec.path)
                if spec.install_tool == "uv" and uv is None:
                    uv = self.ensure_uv(spec.path, files)
                self.run(commands.uninstall_command(spec, spec.path, plan.prune, uv=uv),
                         commands.installer_environment(spec, spec.path), "removing packages not needed (prune)")
                packages = package_versions(installed_distributions(site_packages_dir(spec.path, disk.python_version)))
            elif plan.action == "install":
                uv = self.ensure_uv(spec.path, files)
                packages = self.install(spec.path, files, plan, uv)
                fault_point("update-installed")
            else:
                packages = disk.packages
            for key, name in FILE_KEYS:
                os.replace(files[key], os.path.join(spec.path, name))
            self.make_links(link_plan.site_packages, link_plan.wanted, link_plan.recorded)
            # before the verification: a venv changed in place is described as it is
            self.write_sbom(spec.path, installed_now=set(name for name, version in packages.items()
                                                         if (disk.packages or {}).get(name) != version)
                            | set(plan.repair or ()))
            state = self.new_state(interp, fingerprint, packages, link_plan)
            if plan.action in ("install", "prune"):
                self.verify(spec.path, uv, unverified=state, changed=packages != disk.packages
                            or files_differ(spec, disk) is not None or link_plan.changed)
            self.write_state(spec.path, state)
            fault_point("update-state-written")
        except (IOError, OSError, VenvBuildError) as exc:
            failure = self.in_place_failure(exc)
            if failure is None:
                raise
            raise failure
        finally:
            self._in_place = None
            shutil.rmtree(tmp, ignore_errors=True)
        return packages

    def in_place_failure(self, exc):
        """The error of an in-place change that failed after the installer started, but not in a command (a file that
        could not be written): with what the venv is left as and changed=true when it changed. None for a failure
        that already says so, one before the installer started, and an OSError that is not a full or read-only disk."""
        details = getattr(exc, "details", None) or {}
        if self._in_place is None or "changed" in details:
            return None
        if isinstance(exc, VenvBuildError):
            what = exc.msg
        elif exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            what = "%s: %s" % (disk_problem(self.spec.path, exc.strerror or "") or exc.strerror, exc)
        else:
            return None
        after, changed = self.venv_after_failure()
        self.log("failed: %s; %s" % (what, after))
        return VenvBuildError("%s; %s. See %s" % (what, after, self.spec.log_file),
                              **dict(details, changed=changed, log_file=self.spec.log_file))

    def start_installer(self, disk):
        """Before the installer changes the venv in place: mark the state file, remove pip's leftovers.

        A run killed from here on leaves the marker install_started: the next run then installs
        again without trusting the state file's packages.
        """
        spec = self.spec
        site_packages = site_packages_dir(spec.path, disk.python_version)
        state_file = os.path.join(spec.path, STATE_FILE)
        try:
            with open(state_file, "rb") as handle:
                state_bytes = handle.read()
        except FileNotFoundError:
            state_bytes = None
        marked = dict(disk.state or {"format": STATE_FORMAT}, install_started=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self.write_state(spec.path, marked)
        self._in_place = (site_packages, disk.packages, state_bytes, venv_names(spec.path, site_packages))
        self.remove_leftovers(site_packages)

    def remove_leftovers(self, site_packages):
        """Remove the '~' entries of site_packages: pip's stash of an interrupted run, damaged metadata set aside."""
        for leftover in installer_leftovers(site_packages):
            self.log("removing %s (left by an interrupted installer, or damaged)" % leftover)
            if os.path.isdir(leftover) and not os.path.islink(leftover):
                shutil.rmtree(leftover)
            else:
                os.unlink(leftover)

    def write_sbom(self, venv, installed_now=()):
        """The SBOM of venv (a staged venv, or the venv at path changed in place): sbom.cdx.json in its root.

        installed_now: the canonical names this run's installer put into venv (None: all of them, a venv
        built beside); their wheels' hashes may come from the lock, the others' from the SBOM before.
        """
        spec = self.spec
        previous = None
        if installed_now is not None:
            try:
                with open(sbom.sbom_path(spec.path)) as handle:
                    previous = handle.read()
            except (IOError, OSError, UnicodeDecodeError):
                previous = None
        lock = self.lock_packages() if installed_now is None or installed_now else {}
        known = sbom.known_hashes(lock, installed_now, previous)
        write_host_file(sbom.sbom_path(venv),
                        sbom.sbom_text(venv, os.path.basename(spec.path), spec.find_links, known=known), "the SBOM")

    def lock_packages(self):
        """{name: (version, sha256, wheel)} of the lock this run installs from (option lock: its content, else the
        file at its location), {} when there is none or it cannot be read or its sha256 is not lock.sha256 (then the
        SBOM leaves those hashes out)."""
        spec = self.spec
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
                self.note("the lock file %s is not the one of lock.sha256 (its content changed since): the SBOM states "
                          "no hashes from it" % shown)
                return {}
            return pylock.packages_of(data.decode("utf-8"), shown)
        except (VenvBuildError, IOError, OSError, ValueError, UnicodeDecodeError) as exc:
            self.note("the lock file %s cannot be read for the SBOM's hashes (the SBOM states none from it): %s"
                      % (shown, masking.mask_text(getattr(exc, "msg", None) or str(exc))))
            return {}

    def note(self, text):
        """A warning of the result, logged too."""
        self.log(text)
        self.warnings.append(text)

    @staticmethod
    def writes_sbom(plan, link_plan):
        """A change of the venv's distributions or links: its SBOM is written again."""
        return plan.builds_beside or plan.action in ("install", "prune", "files") or link_plan.changed

    def release_facts(self, result):
        """The facts naming the live release and the kept ones (section releases), when releases are kept."""
        if not (self.spec.keep_previous or self.spec.rollback or result.get("releases")):
            return []
        return [{"section": "releases", "option": "live", "value": result.get("release") or ""},
                {"section": "releases", "option": "kept", "value": ",".join(result.get("releases") or [])}]

    def write_facts(self, extra=()):
        """Merge our facts (and extra ones) into the facts file; bytes that are not UTF-8 are kept as they are."""
        spec = self.spec
        path = os.path.join(spec.facts_dir, spec.facts_file + ".fact")
        try:
            if not os.path.isdir(spec.facts_dir):
                os.makedirs(spec.facts_dir, 0o755)
            try:
                with open(path, "rb") as handle:
                    before = handle.read().decode("utf-8", "surrogateescape")
            except FileNotFoundError:
                before = ""
            after = facts.merge_facts(before, masking.mask_data(facts.with_sbom(spec.facts, self.existing_sbom())
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

    # result --------------------------------------------------------------------------------------

    def existing_sbom(self):
        """The path of the venv's SBOM when it has one, else None."""
        path = sbom.sbom_path(self.spec.path)
        return path if os.path.isfile(path) else None

    def result(self, changed, disk, packages, interp, fingerprint, plan, link_plan, predicted=False):
        spec = self.spec
        before = disk.packages
        shown_after = packages if packages is not None else before
        added, removed, upgraded = changes_between(before, shown_after) if packages is not None else ({}, {}, {})
        reasons = list(plan.reasons)
        if not predicted:
            self.drop_system_provided(removed, reasons)
        result = {
            "changed": bool(changed),
            "path": spec.path,
            "python_version": interp.version if (plan.builds_beside or not disk.python_version) else disk.python_version,
            "packages": shown_after,
            "added": added,
            "removed": removed,
            "upgraded": upgraded,
            "fingerprint": fingerprint,
            "commands": list(self.commands),
            "facts_written": False,
            "log_file": spec.log_file,
            "reasons": reasons,
            "links": link_plan.report(),
            # check mode: the file a change would write
            "sbom": sbom.sbom_path(spec.path) if predicted and changed and self.writes_sbom(plan, link_plan)
            else self.existing_sbom(),
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
            if self.writes_sbom(plan, link_plan):
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


def system_distributions(folders):
    """{canonical name: (version, folder)} of the distributions in folders, the first folder naming one winning."""
    found = {}
    for folder in folders:
        for name, dist in installed_distributions(folder).items():
            found.setdefault(name, (dist.version, folder))
    return found


def changes_text(before, after):
    """'added a 1.0, removed b 2.0, c 1.0->1.1' between two package sets ('' when equal)."""
    added, removed, upgraded = changes_between(before, after)
    changes = ["added %s %s" % item for item in sorted(added.items())]
    changes += ["removed %s %s" % item for item in sorted(removed.items())]
    changes += ["%s %s->%s" % (n, v["before"], v["after"]) for n, v in sorted(upgraded.items())]
    return ", ".join(changes)


def venv_names(venv, site_packages):
    """The names in site_packages and in venv's bin/: what an installer that failed half-way may have added or left."""
    names = set()
    for folder in (site_packages, os.path.join(venv, "bin")):
        with contextlib.suppress(OSError):
            names.update(os.path.join(folder, name) for name in os.listdir(folder))
    return names


def write_host_file(path, text, what, mode=0o644):
    """write_atomic, with an error that names the file and what to do (a full disk, a read-only file system)."""
    try:
        write_atomic(path, text, mode)
    except (IOError, OSError) as exc:
        raise VenvBuildError("cannot write %s %s: %s. Free space on (or make writable) the file system of %s "
                             "and run again" % (what, path, exc.strerror or exc, os.path.dirname(path)))


def sync(spec, check_mode, run):
    """Make the venv at spec.path match spec (or report what would change); return (result, warnings)."""
    runner = Sync(spec, check_mode, run)
    result = runner.execute()
    if runner.link:
        result["path"] = runner.link
    return masking.mask_data(result), runner.warnings

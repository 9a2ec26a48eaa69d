# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state of one run of venv_build: its inputs, log, commands run, warnings, and the lock of its path.

Every step of the run (_guards, _predict, _installer, _build, _inplace, _verify, _records, _report, _absent,
_rollback, orchestrated by _sync) is a function of this context; see docs/architecture.md.
"""

from __future__ import annotations

import collections
import contextlib
import os
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking as masking
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import disk_problem, lock_file_for, path_lock
from ansible_collections.wheelhouse.venv.plugins.module_utils._hostfiles import MaskedLog, write_atomic
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import changes_between
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    STATE_FILE,
    installed_distributions,
    installer_leftovers,
    package_versions,
    read_state,
    state_text,
)


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


# What an in-place install started from: the venv's site-packages, its packages, its state file's bytes (None: none)
# and the names in site-packages and bin/ before the installer ran (_inplace.start_installer).
InPlace = collections.namedtuple("InPlace", "site_packages packages state_bytes names")


class RunContext(object):
    """One run of the module: its spec, mode, log, commands and warnings; every step takes it."""

    def __init__(self, spec, check_mode, run):
        self.spec = spec
        self.check_mode = check_mode
        self.raw_run = run
        self.runner = commands.Runner(run, self.log)
        self.commands = self.runner.commands
        self.warnings = []
        self.log_writer = MaskedLog(spec.log_file, "venv_build %s" % spec.path)
        self.wanted_links = {}  # Python minor version -> {name: target}, asked of the package manager once
        # during an in-place install: (site-packages, packages, state file bytes, names in site-packages and bin/) before
        self.in_place = None
        self.link = None  # path as given when it is a symbolic link (spec.path is then the venv it points to)
        self.dangling = False
        self.carried = []  # entries of someone else to carry into the rebuilt venv (foreign_files=carry)
        self.leftover_reasons = []
        self.newer = {}  # the dry run of package_state=latest with keep_previous: {"after": packages or None}

    def log(self, text):
        if self.check_mode:
            return
        try:
            self.log_writer.write(text)
        except (IOError, OSError) as exc:
            self.warnings.append("cannot write the log file %s: %s" % (self.spec.log_file, exc))

    def run(self, argv, env, what):
        rc, out, err = self.runner(argv, env)
        if rc != 0:
            output = ((err or "") + "\n" + (out or "")).strip()
            after, changed = self.venv_after_failure()
            # an installer that failed in place for the disk: the cause in words, beside the installer's own
            cause = disk_problem(self.spec.path, output) if self.in_place is not None else None
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
        if self.in_place is None:
            return "the venv at %s is as it was before this run" % spec.path, False
        site_packages, before, state_bytes, names = self.in_place.site_packages, self.in_place.packages, \
            self.in_place.state_bytes, self.in_place.names
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

    def note(self, text):
        """A warning of the result, logged too."""
        self.log(text)
        self.warnings.append(text)

    def locked(self):
        parent = os.path.dirname(self.spec.path)
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        return path_lock(lock_file_for(self.spec.path))

    @staticmethod
    def write_state(venv, state):
        state = dict(state, written=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        if "entries" not in state or "release" not in state:  # the entries of our build and its id stay recorded
            before = read_state(venv)[0] or {}
            state.setdefault("entries", before.get("entries") or [])
            if before.get("release"):
                state.setdefault("release", before["release"])
        write_host_file(os.path.join(venv, STATE_FILE), state_text(state), "the state file")

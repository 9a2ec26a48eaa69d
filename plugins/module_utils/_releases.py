# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kept releases of a venv (keep_previous, rollback): earlier venvs moved aside, beside the live one.

The live venv stays at path, a real directory swapped in atomically (renameat2 exchange) as every
build is. Each earlier venv kept is a release: a directory .NAME.releases/<id> beside path, holding
the whole venv with our state file, whose key "release" is that id. Ids are "<n>-<YYYYmmddTHHMMSS>",
n counting the builds of the path (the live venv's id is in its state file too). A kept venv is never
run from where it is kept: its scripts name path, where a rollback puts it back.

Only releases of ours are ever removed (a directory whose state file names it); anything else in
the releases folder makes a run that would change it fail before any change, naming it.
"""

from __future__ import annotations

import os
import shutil
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._faults import fault_point
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import exchange, leftover_prefix, shown
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import RELEASE_ID, foreign_entries, read_state


REMOVING = ".removing-"  # a kept release being removed (renamed first, inside the releases folder)


def releases_dir(path):
    """The folder of the kept releases of the venv at path: beside it, hidden."""
    return os.path.join(os.path.dirname(path), ".%s.releases" % os.path.basename(path))


def release_number(release_id):
    """n of an id "<n>-<time>"; None for anything else."""
    match = RELEASE_ID.match(release_id or "")
    return int(match.group(1)) if match else None


def new_release_id(number):
    return "%d-%s" % (number, time.strftime("%Y%m%dT%H%M%S"))


def retired_now():
    """The "retired" of a live venv about to be kept: sorts in time order, finer than the ids' seconds."""
    return "%.6f" % time.time()


class Releases(object):
    """The kept releases of the venv at path, read from the releases folder (files only)."""

    def __init__(self, path, live_state=None):
        self.path = path
        self.folder = releases_dir(path)
        self.live = (live_state or {}).get("release")
        self.kept = {}  # id -> directory
        self.retired = {}  # id -> when it stopped being the live venv (its state's "retired")
        self.misnamed = {}  # directory -> its id (a run killed between a rollback's swap and its rename)
        self.foreign = []  # entries of the folder (or inside a kept venv) that are not ours
        self.removing = []  # releases being removed by a run that was killed
        try:
            names = sorted(os.listdir(self.folder))
        except (IOError, OSError):
            names = []
        for name in names:
            full = os.path.join(self.folder, name)
            if name.startswith(REMOVING) and os.path.isdir(full) and not os.path.islink(full):
                self.removing.append(full)
                continue
            state = read_state(full)[0] if os.path.isdir(full) and not os.path.islink(full) else None
            release = (state or {}).get("release")
            if release_number(release) is None:
                self.foreign.append(name)
            elif release != name:
                self.misnamed[full] = release
            else:
                self.kept[release] = full
                self.retired[release] = state.get("retired") or ""
                self.foreign.extend(os.path.join(name, rel) for rel in foreign_entries(full, state))

    @property
    def exists(self):
        return os.path.lexists(self.folder)

    def newest_first(self):
        """The kept ids, the one live last first (a rollback makes an older venv live again)."""
        return sorted(self.kept, key=lambda r: (self.retired.get(r, ""), release_number(r)), reverse=True)

    def next_number(self):
        numbers = [release_number(r) for r in list(self.kept) + list(self.misnamed.values()) + [self.live]]
        return max([n for n in numbers if n] + [0]) + 1

    def check(self, why):
        """Fail before any change when the releases folder holds entries that are not releases of ours."""
        if os.path.lexists(self.folder) and (os.path.islink(self.folder) or not os.path.isdir(self.folder)):
            raise VenvBuildError("%s is not a directory: it is where the module keeps earlier venvs (%s). Move it away "
                                 "and run again" % (self.folder, why))
        if self.foreign:
            raise VenvBuildError(
                "%s holds entries that are not venvs this module kept: %s (%s). The module removes only the releases "
                "it made; move these out of %s and run again" % (self.folder, shown(self.foreign), why, self.folder))

    def rollback_target(self):
        """The id of the newest kept release older than the live one (the newest when the live one has no id)."""
        live = release_number(self.live)
        older = sorted((r for r in self.kept if live is None or release_number(r) < live), key=release_number,
                       reverse=True)
        return older[0] if older else None

    def to_prune(self, keep):
        """The kept ids beyond the keep live last."""
        return self.newest_first()[keep:]

    def report(self):
        return {"release": self.live, "releases": self.newest_first()}


def repair_steps(path):
    """What repair(path) would do, without doing it: [(kind, folder, target)], kind 'remove', 'move' or 'keep'.

    A build killed between its swap and the move of the replaced venv into the releases folder leaves
    that venv in its staging directory (.NAME.venv_build-XXXX); when its state file names a release
    older than the live one, it was live before: it is kept, not removed as a leftover. A rollback killed
    between its swap and its rename leaves the replaced venv in the releases folder under the id of the
    release now live: it is moved to its own id.
    """
    live = (read_state(path)[0] or {}).get("release") if os.path.isdir(path) else None
    releases = Releases(path, {"release": live})
    steps = [("remove", folder, None) for folder in releases.removing]
    taken, freed = set(), set(releases.removing)  # as the steps before a step leave the folder

    def occupied(target):
        return target in taken or (os.path.lexists(target) and target not in freed)

    for folder, release in sorted(releases.misnamed.items()):
        target = os.path.join(releases.folder, release)
        if not occupied(target):
            steps.append(("move", folder, target))
            taken.add(target)
            freed.add(folder)
    if release_number(live) is None:
        return steps
    parent, prefix = os.path.dirname(path), leftover_prefix(path)
    for name in sorted(os.listdir(parent)):
        full = os.path.join(parent, name)
        if not name.startswith(prefix) or os.path.islink(full) or not os.path.isdir(full):
            continue
        state = read_state(full)[0] or {}
        number = release_number(state.get("release"))
        target = os.path.join(releases.folder, state.get("release") or "")
        if number is None or number >= release_number(live) or occupied(target) \
                or not os.path.exists(os.path.join(full, "pyvenv.cfg")):
            continue
        steps.append(("keep", full, target))
        taken.add(target)
    return steps


def step_text(kind, folder, target, would=False):
    """One repair step as a message: "moved X to Y", or in check mode "X would be moved to Y"."""
    if would:
        return {"remove": "%s would be removed (a release being removed when a run was killed)" % folder,
                "move": "%s would be moved to %s (a rollback was killed before its rename)" % (folder, target),
                "keep": "%s would be kept as the release %s" % (folder, target)}[kind]
    return {"remove": "removed %s" % folder, "move": "moved %s to %s" % (folder, target),
            "keep": "kept %s as the release %s" % (folder, target)}[kind]


def repair(path):
    """After a killed run: name kept releases by their ids, keep what a killed build left of the replaced venv
    (repair_steps). Returns what moved, as messages. Called under the lock."""
    done = []
    for kind, folder, target in repair_steps(path):
        if kind == "remove":
            shutil.rmtree(folder)
        elif kind == "move":
            os.rename(folder, target)
        else:
            keep_release(folder, target)
        done.append(step_text(kind, folder, target))
    return done


def keep_release(folder, target):
    """Move the venv at folder into the releases folder as target (made when missing, mode 0700)."""
    releases = os.path.dirname(target)
    if not os.path.isdir(releases):
        os.mkdir(releases, 0o700)
    os.rename(folder, target)


def prune(releases, keep, log, warn=None):
    """Remove the kept releases beyond the newest keep (releases of ours only: checked before any change).

    A release holding a file the module did not make, at any depth (the check before the run looks at the top
    level only, which is cheap), is not removed: it stays, named in a warning (warn(text)), for its owner to empty.
    """
    # imported here: the walk of a whole venv is needed only when a release is removed
    from ansible_collections.wheelhouse.venv.plugins.module_utils._foreign import foreign_entries as deep_foreign

    removed = []
    for release in releases.to_prune(keep):
        folder = releases.kept[release]
        foreign = deep_foreign(folder, read_state(folder)[0] or {})
        if foreign:
            text = ("the kept release %s is beyond keep_previous=%d but holds entries this module did not make: %s; "
                    "it is kept. Move them out and the next change removes it" % (folder, keep, shown(foreign)))
            log(text)
            if warn is not None:
                warn(text)
            continue
        del releases.kept[release]
        # renamed first: a run killed half-way leaves a leftover of ours, not a half-removed release
        doomed = os.path.join(releases.folder, REMOVING + release)
        os.rename(folder, doomed)
        shutil.rmtree(doomed)
        removed.append(release)
        log("removed the kept release %s (keep_previous=%d)" % (release, keep))
    if releases.exists and not os.listdir(releases.folder):
        os.rmdir(releases.folder)
    return removed


def switch(path, releases, target, write_live_state):
    """Put the kept release target at path atomically; the live venv (its id recorded) becomes a kept release.

    write_live_state(folder) records the rollback in target's state file before the swap, so that
    the switch and its record are one step. Under the lock.
    """
    folder = releases.kept.pop(target)
    write_live_state(folder)
    if not exchange(folder, path):
        raise VenvBuildError("the file system of %s cannot swap two directories atomically (renameat2), which a "
                             "rollback needs; nothing was changed" % path)
    fault_point("rollback-swapped")
    old = releases.live
    releases.kept[old] = os.path.join(releases.folder, old)
    os.rename(folder, releases.kept[old])
    releases.retired[old] = retired_now()
    releases.live = target
    return old

# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What inside a venv directory was made by someone else: the entries a rebuild or a removal must not delete.

Ours (the venv's) is what can be known to be: what the venv creator lays down (pyvenv.cfg, its scripts in
bin/, the folders include/, lib/pythonX.Y/site-packages/, the lib64 link), the module's own files in a venv
it manages and the top-level entries its builds made (state "entries"), every path the RECORD of an
installed distribution lists (inside and outside site-packages) and its *.dist-info folder, the byte code
Python writes beside a file of ours (__pycache__/NAME.TAG.pyc of NAME.py), the links the module made in
site-packages (state "links") and the folders holding any of these. Everything else, at any depth, is
foreign: a foreign folder is one entry, not all its files.

Nothing read from disk chooses a path outside the venv: RECORD lines that leave it are ignored, links
are never followed (a link is an entry like a file), a linked or unreadable RECORD declares nothing.
Reading it costs one walk of the venv's folders (not of foreign ones): it runs when a venv is replaced
or removed, never on a no-op.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import posixpath
import re
import stat

from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    MAX_VENV_FILE_BYTES,
    OWN_TOP_ENTRIES,
    STATE_FILE,
    VENV_BIN_PATTERNS,
    VENV_TOP_ENTRIES,
    is_temporary_file,
    read_state,
    read_untrusted,
    record_rows,
)

# Top-level files of venv creators beside VENV_TOP_ENTRIES: the lock of `uv venv`.
CREATOR_TOP_FILES = (".lock",)
# The folders of a venv's layout, walked into: their entries are checked one by one.
LAYOUT_TOP = ("bin", "include", "lib", "lib64", "share")
_LAYOUT = re.compile(r"^(?:lib(?:64)?/(?:python|pypy)[^/]*(?:/site-packages)?|include/(?:python|pypy)[^/]*"
                     r"|include/site(?:/(?:python|pypy)[^/]*)?)$")
_SITE_PACKAGES = re.compile(r"^lib(?:64)?/(?:python|pypy)[^/]*/site-packages$")
# Entries of site-packages an installer or venv creator makes without a RECORD line: legacy editable
# installs (setup.py develop), virtualenv's own hook and markers of the packages it seeded.
SITE_PACKAGES_PATTERNS = ("*.egg-link", "easy-install.pth", "_virtualenv.py", "_virtualenv.pth", "*.virtualenv")
# Folders that carry makes in the rebuilt venv when it lacks them: the layout's, which a venv has or not
# depending on what was installed (share/ comes with data files), and the byte-code cache of a folder.
MADE_FOR_CARRY = ("share", "include", "include/site")

OURS, FOREIGN, FOLDER, PYCACHE = "ours", "foreign", "folder", "pycache"


def _read_declaration(file_path):
    """The bytes of a RECORD or installed-files.txt: a regular file, not a link; None when it cannot be trusted."""
    try:
        return read_untrusted(file_path, MAX_VENV_FILE_BYTES)
    except (IOError, OSError):
        return None


def _is_real_dir(full):
    try:
        return stat.S_ISDIR(os.lstat(full).st_mode)
    except OSError:
        return False


class VenvContent(object):
    """What is ours in the directory at path; foreign() walks it and names the rest.

    state: the venv's state file (its "entries" and "links"); managed: the module's file names are ours.
    venv=False: a directory that is not a venv (what state=absent kept): only the layout's folders are
    walked, nothing in them is ours. deep=False: only the top level and bin/ are checked, the layout's
    other folders are ours whole (the cheap check of the kept releases, on every run).
    """

    def __init__(self, path, state=None, managed=None, venv=True, deep=True):
        self.path = path
        self.venv = venv
        self.deep = deep
        if state is None:
            state = (read_state(path)[0] or {}) if venv else {}
        if managed is None:
            managed = os.path.lexists(os.path.join(path, STATE_FILE))
        entries = state.get("entries")
        self.entries = set(e for e in entries if isinstance(e, str)) if isinstance(entries, list) else set()
        links = state.get("links")
        self.links = set(links) if isinstance(links, dict) else set()
        self.own = set(OWN_TOP_ENTRIES) if managed and venv else set()
        self.declared = set()  # relative paths an installed distribution lists
        self.declared_dirs = set()  # the folders above them
        if venv:
            self._read_declarations()

    # what installed distributions declare ----------------------------------------------------

    def _site_packages(self):
        """Relative paths of the real lib*/python*/site-packages folders (a linked folder is not read)."""
        found = []
        for lib in ("lib", "lib64"):
            if not _is_real_dir(os.path.join(self.path, lib)):
                continue
            try:
                names = sorted(os.listdir(os.path.join(self.path, lib)))
            except OSError:
                continue
            for name in names:
                rel = posixpath.join(lib, name, "site-packages")
                if _SITE_PACKAGES.match(rel) and _is_real_dir(os.path.join(self.path, lib, name)) \
                        and _is_real_dir(os.path.join(self.path, rel)):
                    found.append(rel)
        return found

    def _read_declarations(self):
        for site in self._site_packages():
            try:
                names = sorted(os.listdir(os.path.join(self.path, site)))
            except OSError:
                continue
            for name in names:
                meta = os.path.join(self.path, site, name)
                if name.endswith(".dist-info") and _is_real_dir(meta):
                    data = _read_declaration(os.path.join(meta, "RECORD"))
                    for line in record_rows(data) if data is not None else ():
                        # the cheap check needs only the lines that may lead out of site-packages
                        if self.deep or line.startswith(("..", "/")):
                            self._declare(site, line.strip())
                elif name.endswith(".egg-info") and _is_real_dir(meta):
                    # a legacy install (setup.py install): its files, relative to the .egg-info folder
                    data = _read_declaration(os.path.join(meta, "installed-files.txt"))
                    if data is not None:
                        for line in data.decode("utf-8", "surrogateescape").splitlines():
                            if line.strip():
                                self._declare(posixpath.join(site, name), line.strip())

    def _declare(self, base, line):
        """A path a distribution lists, relative to base (a folder inside the venv); ignored when it leaves the venv."""
        if posixpath.isabs(line):
            top = os.path.join(os.path.abspath(self.path), "")
            if not line.startswith(top):
                return
            line, base = line[len(top):], ""
        rel = posixpath.normpath(posixpath.join(base, line))
        if rel in (".", "..") or rel.startswith(("../", "/")):
            return
        self.declared.add(rel)
        head = posixpath.dirname(rel)
        while head and head not in self.declared_dirs:
            self.declared_dirs.add(head)
            head = posixpath.dirname(head)

    # the walk ---------------------------------------------------------------------------------

    def kind(self, parent, name, is_dir, is_link):
        """OURS, FOREIGN, FOLDER (ours, its entries checked) or PYCACHE (a byte-code folder) of parent/name."""
        rel = posixpath.join(parent, name)
        real_dir = is_dir and not is_link
        if posixpath.basename(parent) == "__pycache__":
            return OURS if not real_dir and self._byte_code_of_ours(posixpath.dirname(parent), name) else FOREIGN
        if self.venv and _SITE_PACKAGES.match(parent):
            if name.endswith((".dist-info", ".egg-info")) and not is_link:
                return OURS  # the metadata folder whole, whatever its RECORD says
            if name.startswith("~") or any(fnmatch.fnmatchcase(name, p) for p in SITE_PACKAGES_PATTERNS):
                return OURS  # '~': pip's stash of an interrupted upgrade, removed by the next install
            if is_link and name in self.links:
                return OURS
        if real_dir and (rel in self.declared_dirs or rel in self.declared or _LAYOUT.match(rel)
                         or (parent == "" and name in LAYOUT_TOP)):
            return FOLDER
        if rel in self.declared and not is_dir:
            return OURS
        if parent == "" and self.venv and name not in LAYOUT_TOP:
            if name in VENV_TOP_ENTRIES or name in CREATOR_TOP_FILES or name in self.own or name in self.entries \
                    or is_temporary_file(name):
                return OURS
        elif parent == "" and self.venv and name == "lib64" and is_link:
            return OURS  # the venv module's link to lib
        elif parent == "bin" and self.venv and any(fnmatch.fnmatchcase(name, p) for p in VENV_BIN_PATTERNS):
            return OURS
        if name == "__pycache__" and real_dir:
            return PYCACHE
        return FOREIGN

    def _byte_code_of_ours(self, folder, name):
        """NAME.TAG[.opt-N].pyc in folder/__pycache__, NAME.py being ours (Python writes it at import time)."""
        if not name.endswith(".pyc"):
            return False
        parts = name[:-len(".pyc")].split(".")
        for count in range(1, len(parts)):
            source = ".".join(parts[:count]) + ".py"
            if self.kind(folder, source, False, False) == OURS:
                return True
        return False

    def foreign(self):
        """The foreign entries, as sorted relative paths: the shortest (a foreign folder is one entry)."""
        found = []
        folders = [""]
        while folders:
            parent = folders.pop()
            full = os.path.join(self.path, parent) if parent else self.path
            try:
                with os.scandir(full) as listing:
                    entries = [(e.name, e.is_dir(follow_symlinks=False), e.is_symlink()) for e in listing]
            except OSError as exc:
                if not parent:
                    raise
                if exc.errno != errno.ENOENT:  # gone meanwhile: nothing to keep
                    found.append(parent)  # cannot be read, so not known to be ours: kept whole
                continue
            for name, is_dir, is_link in entries:
                kind = self.kind(parent, name, is_dir, is_link)
                if kind in (FOLDER, PYCACHE) and not self.deep and parent:
                    continue  # the cheap check: below bin/ everything is ours
                if kind in (FOLDER, PYCACHE) and (self.deep or name == "bin"):
                    folders.append(posixpath.join(parent, name))
                elif kind == FOREIGN:
                    found.append(posixpath.join(parent, name))
        return sorted(found)


def foreign_entries(path, state=None, managed=None, venv=True, deep=True):
    """Entries in the directory at path that the venv does not consist of, as sorted relative paths (see VenvContent).

    Files of the module's names are ours where it manages the venv: managed, by default when our state file
    is there (a staging directory of ours before its state is written: managed=True).
    """
    return VenvContent(path, state, managed, venv, deep).foreign()

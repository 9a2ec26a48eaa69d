# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a venv on disk is, read from files only: pyvenv.cfg, *.dist-info, our state file.

Nothing here starts a process, so a no-op run costs a few file reads.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re

from ansible_collections.wheelhouse.venv.plugins.module_utils.pep508 import canonical_name

STATE_FILE = "wheelhouse-venv.json"
STATE_FORMAT = 1
# Installer files the module keeps inside the venv, as the upstream role does.
REQUIREMENTS_FILE = "requirements.txt"
CONSTRAINTS_FILE = "constraints.txt"
GLOBAL_CONSTRAINTS_FILE = "global-constraints.txt"
# Where a uv fetched by the module lives: inside the venv directory, outside site-packages.
UV_TOOL_DIR = ".uv"
# What a venv consists of at its top level (venv, virtualenv), and the files of this module.
VENV_TOP_ENTRIES = ("bin", "include", "lib", "lib64", "pyvenv.cfg", "share", ".gitignore", "CACHEDIR.TAG")
OWN_TOP_ENTRIES = (STATE_FILE, REQUIREMENTS_FILE, CONSTRAINTS_FILE, GLOBAL_CONSTRAINTS_FILE, UV_TOOL_DIR)
# The venv's own scripts in bin/ (the installer's are listed in the RECORD of their distribution).
# Seed tools' scripts (wheel, easy_install) and PyPy's names are the venv's too.
VENV_BIN_PATTERNS = ("activate*", "Activate.ps1", "deactivate*", "python", "python3", "python3.*", "pip*", "pydoc*",
                     "wheel*", "easy_install*", "pypy*")
_TEMP_FILE = re.compile(r"^\.%s\.[A-Za-z0-9_]{8}$" % re.escape(STATE_FILE))


class Distribution(object):
    """An installed distribution: its name, version, metadata folder and declared dependencies."""

    def __init__(self, name, version, meta_dir, requires=(), direct_url=None):
        self.name = canonical_name(name)
        self.display_name = name
        self.version = version
        self.meta_dir = meta_dir
        self.requires = list(requires)
        self.direct_url = direct_url

    def __repr__(self):
        return "Distribution(%s==%s)" % (self.name, self.version)


def read_pyvenv_cfg(path):
    """Return pyvenv.cfg of the venv at path as a dict, or None when there is none."""
    cfg_path = os.path.join(path, "pyvenv.cfg")
    try:
        with open(cfg_path) as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return None
    cfg = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            cfg[key.strip().lower()] = value.strip()
    return cfg


def cfg_python_version(cfg):
    """The X.Y.Z the venv was made from: 'version' (venv) or 'version_info' (virtualenv)."""
    if not cfg:
        return None
    raw = cfg.get("version") or cfg.get("version_info") or ""
    parts = raw.split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    micro = parts[2] if len(parts) > 2 and parts[2].isdigit() else "0"
    return "%s.%s.%s" % (parts[0], parts[1], micro)


def minor_version(version):
    return ".".join(version.split(".")[:2]) if version else None


def site_packages_dir(path, version):
    return os.path.join(path, "lib", "python%s" % minor_version(version), "site-packages")


def venv_python(path):
    return os.path.join(path, "bin", "python")


def venv_python_works(path):
    """True when bin/python resolves to an existing file (a deleted base interpreter breaks it)."""
    return os.path.isfile(venv_python(path)) and os.access(venv_python(path), os.X_OK)


def _read_headers(meta_file):
    """Name, Version and Requires-Dist from a METADATA/PKG-INFO file (headers only)."""
    name = version = None
    requires = []
    with open(meta_file, "rb") as handle:
        for raw in handle:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                break
            if line[:1] in (" ", "\t"):
                continue
            key, dummy, value = line.partition(":")
            key = key.lower()
            if key == "name":
                name = value.strip()
            elif key == "version":
                version = value.strip()
            elif key == "requires-dist":
                requires.append(value.strip())
    return name, version, requires


def _read_direct_url(meta_dir):
    try:
        with open(os.path.join(meta_dir, "direct_url.json")) as handle:
            return json.load(handle).get("url")
    except (IOError, OSError, ValueError, AttributeError):
        return None


def installed_distributions(site_packages):
    """Map canonical name -> Distribution for every *.dist-info / *.egg-info in site_packages.

    Symlinked metadata is left out: it belongs to a distribution package linked into the venv,
    which the installer must neither prune nor repair.
    """
    dists = {}
    try:
        entries = sorted(os.listdir(site_packages))
    except (IOError, OSError):
        return dists
    for entry in entries:
        if os.path.islink(os.path.join(site_packages, entry)):
            continue  # linked from the system (linked_distro_packages): not the installer's
        if entry.endswith(".dist-info"):
            meta_file = os.path.join(site_packages, entry, "METADATA")
        elif entry.endswith(".egg-info"):
            meta_file = os.path.join(site_packages, entry, "PKG-INFO")
            if not os.path.isdir(os.path.join(site_packages, entry)):
                meta_file = os.path.join(site_packages, entry)
        else:
            continue
        try:
            name, version, requires = _read_headers(meta_file)
        except (IOError, OSError):
            continue
        if not name or not version:
            continue
        meta_dir = os.path.join(site_packages, entry)
        dist = Distribution(name, version, meta_dir, requires, _read_direct_url(meta_dir))
        dists[dist.name] = dist
    return dists


def package_versions(dists):
    return dict((name, dist.version) for name, dist in sorted(dists.items()))


def read_state(path):
    """Our state file inside the venv, or None when missing, unreadable or of another format."""
    try:
        with open(os.path.join(path, STATE_FILE)) as handle:
            state = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        return None
    return state


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def interpreter_signature(realpath):
    """What changes when an interpreter binary is replaced: inode, size, mtime."""
    st = os.stat(realpath)
    return [st.st_ino, st.st_size, int(st.st_mtime)]


class VenvOnDisk(object):
    """Everything the planner needs to know about path, read once."""

    def __init__(self, path):
        self.path = path
        self.exists = os.path.lexists(path)
        self.is_dir = os.path.isdir(path)
        self.cfg = read_pyvenv_cfg(path) if self.is_dir else None
        self.is_venv = self.cfg is not None
        self.python_version = cfg_python_version(self.cfg)
        self.python_works = self.is_venv and venv_python_works(path)
        self.state = read_state(path) if self.is_venv else None
        self.dists = {}
        if self.is_venv and self.python_version:
            self.dists = installed_distributions(site_packages_dir(path, self.python_version))
        self.files = {}
        for name in (REQUIREMENTS_FILE, CONSTRAINTS_FILE, GLOBAL_CONSTRAINTS_FILE):
            self.files[name] = read_text(os.path.join(path, name)) if self.is_venv else None

    @property
    def is_empty_dir(self):
        return self.is_dir and not os.listdir(self.path)

    @property
    def packages(self):
        return package_versions(self.dists)

    @property
    def system_site_packages(self):
        return (self.cfg or {}).get("include-system-site-packages", "false").lower() == "true"


# --- what belongs to the venv ---------------------------------------------------------------

def _site_packages_dirs(path):
    """Every lib/pythonX.Y/site-packages of the venv at path (lib64 is usually a link to lib)."""
    found = []
    lib = os.path.join(path, "lib")
    try:
        names = sorted(os.listdir(lib))
    except (IOError, OSError):
        return found
    for name in names:
        site = os.path.join(lib, name, "site-packages")
        if name.startswith("python") and os.path.isdir(site) and not os.path.islink(os.path.join(lib, name)):
            found.append(site)
    return found


def installed_files(path):
    """Paths (relative to the venv at path) that the RECORD of an installed distribution lists outside site-packages.

    Console scripts (RECORD lines like ../../../bin/alpha-cli) and data files (../../../etc/x.conf)
    are the installer's; a linked (symlinked) metadata folder is not read.
    """
    real = os.path.realpath(path)
    files = set()
    for site in _site_packages_dirs(path):
        for entry in os.listdir(site):
            meta = os.path.join(site, entry)
            if not entry.endswith(".dist-info") or os.path.islink(meta):
                continue
            try:
                with open(os.path.join(meta, "RECORD")) as handle:
                    lines = handle.read().splitlines()
            except (IOError, OSError, UnicodeDecodeError):
                continue
            for line in lines:
                name = line.split(",", 1)[0].strip().strip('"')
                if not name.startswith(".."):
                    continue
                full = os.path.normpath(os.path.join(os.path.realpath(site), name))
                if full.startswith(real + os.sep):
                    files.add(os.path.relpath(full, real))
    return files


def is_temporary_file(name):
    """A temporary file of write_atomic (.wheelhouse-venv.json.XXXXXXXX) left by a killed run."""
    return bool(_TEMP_FILE.match(name))


def foreign_entries(path, state=None):
    """Entries of the venv directory at path that a venv does not consist of, as sorted relative paths.

    Ours: the top-level entries of a venv and of this module, those our runs made (state "entries")
    and those an installed distribution lists; in bin/ the venv's own scripts and those of the
    installer. site-packages belongs to the installer. Anything else was put there by someone else.
    """
    if state is None:
        state = read_state(path) or {}
    installed = installed_files(path)
    top_installed = set(rel.split(os.sep, 1)[0] for rel in installed)
    ours = set(VENV_TOP_ENTRIES) | set(OWN_TOP_ENTRIES) | set(state.get("entries") or []) | top_installed
    foreign = []
    for name in sorted(os.listdir(path)):
        if name not in ours and not is_temporary_file(name):
            foreign.append(name)
    bin_dir = os.path.join(path, "bin")
    if os.path.isdir(bin_dir) and not os.path.islink(bin_dir):
        for name in sorted(os.listdir(bin_dir)):
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in VENV_BIN_PATTERNS):
                continue
            if os.path.join("bin", name) not in installed and name != "__pycache__":
                foreign.append(os.path.join("bin", name))
    return sorted(foreign)


def top_level_entries(path):
    """The top-level names of the venv at path, as recorded in the state file (key "entries")."""
    return sorted(name for name in os.listdir(path) if not is_temporary_file(name))

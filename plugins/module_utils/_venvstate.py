# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a venv on disk is, read from files only: pyvenv.cfg, *.dist-info, our state file.

Nothing here starts a process, so a no-op run costs a few file reads.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import stat

from ansible_collections.wheelhouse.venv.plugins.module_utils._pep508 import canonical_name

STATE_FILE = "wheelhouse-venv.json"
STATE_FORMAT = 1
# Installer files the module keeps inside the venv, as the upstream role does.
REQUIREMENTS_FILE = "requirements.txt"
CONSTRAINTS_FILE = "constraints.txt"
GLOBAL_CONSTRAINTS_FILE = "global-constraints.txt"
# The build requirements' file, in a files directory beside the venv while they are installed (never inside it).
BUILD_REQUIREMENTS_FILE = "build-requirements.txt"
# The venv's bill of materials (CycloneDX JSON), written by the module after each change (_sbom.py).
SBOM_FILE = "sbom.cdx.json"
# Where a uv fetched by the module lives: inside the venv directory, outside site-packages.
UV_TOOL_DIR = ".uv"
# The record a venv being built beside path keeps of itself (_fsops.mark_staging): which entries a carry moved in.
# Removed once the venv is in place; one left in a venv by a killed run is a leftover.
STAGING_FILE = ".wheelhouse-venv-staging.json"
# What a venv consists of at its top level (venv, virtualenv), and the files of this module.
VENV_TOP_ENTRIES = ("bin", "include", "lib", "lib64", "pyvenv.cfg", "share", ".gitignore", "CACHEDIR.TAG")
OWN_TOP_ENTRIES = (STATE_FILE, REQUIREMENTS_FILE, CONSTRAINTS_FILE, GLOBAL_CONSTRAINTS_FILE, UV_TOOL_DIR, SBOM_FILE)
# The venv's own scripts in bin/ (the installer's are listed in the RECORD of their distribution).
# Seed tools' scripts (wheel, easy_install) and PyPy's names are the venv's too.
VENV_BIN_PATTERNS = ("activate*", "Activate.ps1", "deactivate*", "python", "python3", "python3.*", "pip*", "pydoc*",
                     "wheel*", "easy_install*", "pypy*")
# A release id: "<n>-<YYYYmmddTHHMMSS>" (_releases.py); "retired": seconds since the epoch, as "%.6f".
RELEASE_ID = re.compile(r"^([1-9][0-9]{0,8})-[0-9]{8}T[0-9]{6}$")
_RETIRED = re.compile(r"^(?:[0-9]{1,12}\.[0-9]{1,9})?$")
# The most a file the module reads from a venv may hold: they are small, a venv may belong to another user.
MAX_STATE_BYTES = 16 * 1024 * 1024
MAX_VENV_FILE_BYTES = 16 * 1024 * 1024
_TEMP_FILE = re.compile(r"^\.(?:%s|%s)\.[A-Za-z0-9_]{8}$" % (re.escape(STATE_FILE), re.escape(SBOM_FILE)))


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
        lines = read_untrusted(cfg_path, MAX_VENV_FILE_BYTES).decode("utf-8", "replace").splitlines()
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


def venv_interpreter_problem(path, made_from):
    """Why bin/python of the venv at path is not the interpreter made_from (its real path), or None.

    Cheap, for every no-op: a link must lead to made_from; a copy (venv --copies) must have its size.
    """
    python = venv_python(path)
    try:
        st = os.lstat(python)
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(python)
            if real == made_from:
                return None
            return "the venv's bin/python leads to %s, not to %s, the interpreter the venv was made from" % (real, made_from)
        if stat.S_ISREG(st.st_mode) and st.st_size == os.stat(made_from).st_size:
            return None
    except OSError:
        pass
    return "the venv's bin/python is not %s, the interpreter the venv was made from, nor a copy of it" % made_from


def read_metadata_headers(meta_file, follow=False):
    """The headers of a METADATA/PKG-INFO file as (lower-case key, value) pairs, in file order.

    A continuation line (a folded License text) is joined to its header with a line break; the body
    (the description) is not read. ValueError when the file holds binary data.
    """
    headers = []
    read = 0
    with os.fdopen(open_untrusted(meta_file, follow), "rb") as handle:
        for raw in handle:
            read += len(raw)
            if b"\0" in raw:
                raise ValueError("it holds binary data")
            if read > MAX_VENV_FILE_BYTES:
                raise ValueError("its headers are larger than %d bytes" % MAX_VENV_FILE_BYTES)
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                break
            if line[:1] in (" ", "\t"):
                if headers:
                    headers[-1] = (headers[-1][0], headers[-1][1] + "\n" + line.strip())
                continue
            key, dummy, value = line.partition(":")
            headers.append((key.strip().lower(), value.strip()))
    return headers


def _read_headers(meta_file, follow=False):
    """Name, Version and Requires-Dist from a METADATA/PKG-INFO file (headers only); ValueError when it is binary."""
    name = version = None
    requires = []
    for key, value in read_metadata_headers(meta_file, follow):
        if key == "name":
            name = value
        elif key == "version":
            version = value
        elif key == "requires-dist":
            requires.append(value)
    return name, version, requires


def name_from_meta_dir(entry):
    """(name, version) from a metadata folder's name such as alpha-1.0.dist-info (version None when absent)."""
    stem = entry.rsplit(".", 1)[0]
    name, dummy, version = stem.partition("-")
    return canonical_name(name), (version.split("-")[0] or None)


def _read_direct_url(meta_dir):
    try:
        return json.loads(read_untrusted(os.path.join(meta_dir, "direct_url.json"), MAX_VENV_FILE_BYTES)).get("url")
    except (IOError, OSError, ValueError, AttributeError):
        return None


def metadata_file(meta_dir):
    """The metadata file of a *.dist-info (METADATA) or *.egg-info (PKG-INFO, or the .egg-info file itself)."""
    if meta_dir.endswith(".dist-info"):
        return os.path.join(meta_dir, "METADATA")
    return os.path.join(meta_dir, "PKG-INFO") if os.path.isdir(meta_dir) else meta_dir


def installed_distributions(site_packages, damaged=None, linked=False):
    """Map canonical name -> Distribution for every *.dist-info / *.egg-info in site_packages.

    Symlinked metadata is left out unless linked: it belongs to a distribution package linked into the
    venv, which the installer must neither prune nor repair. So are pip's stash entries ('~lpha-1.0.dist-info',
    left by an interrupted upgrade). Metadata that cannot be read, and a .dist-info without the RECORD an
    installer writes last, are put in damaged (folder -> why).
    """
    dists = {}
    try:
        entries = sorted(os.listdir(site_packages))
    except (IOError, OSError):
        return dists
    for entry in entries:
        if entry.startswith("~") or (os.path.islink(os.path.join(site_packages, entry)) and not linked):
            continue  # an installer's leftover, or linked from the system (linked_distro_packages)
        if not entry.endswith((".dist-info", ".egg-info")):
            continue
        meta_file = metadata_file(os.path.join(site_packages, entry))
        try:
            # a linked entry is a system package's, linked on purpose (linked_distro_packages): followed
            name, version, requires = _read_headers(meta_file, linked)
            problem = None if name and version else "it has no Name or no Version"
        except (IOError, OSError) as exc:
            problem = "it cannot be read: %s" % (exc.strerror or exc)
        except ValueError as exc:
            problem = str(exc)
        if not problem and entry.endswith(".dist-info") and not os.path.lexists(os.path.join(site_packages, entry, "RECORD")):
            # an installer writes RECORD last: without it the install of this version did not finish, its
            # files may be missing, and neither pip nor uv can uninstall it
            meta_file = os.path.join(site_packages, entry, "RECORD")
            problem = "it is missing: the install of %s %s did not finish" % (name, version)
        if problem:
            if damaged is not None:
                damaged[os.path.join(site_packages, entry)] = "%s is damaged (%s)" % (meta_file, problem)
            continue
        meta_dir = os.path.join(site_packages, entry)
        dist = Distribution(name, version, meta_dir, requires, _read_direct_url(meta_dir))
        dists[dist.name] = dist
    return dists


def installer_leftovers(site_packages):
    """pip's stash entries in site_packages (names starting with '~'): an upgrade or uninstall was interrupted."""
    try:
        return sorted(os.path.join(site_packages, e) for e in os.listdir(site_packages) if e.startswith("~"))
    except (IOError, OSError):
        return []


def missing_record_files(venv, dists, thorough=False):
    """{name: [entries]} of the distributions whose RECORD lists a file that is gone or has another size.

    Every file each RECORD lists is checked (one lstat each; runs on every no-op): it must exist, and a
    regular file inside site-packages must have the size RECORD gives (scripts in bin/, reached through
    "..", are rewritten when a venv is moved into place: existence only). Entries outside the venv,
    compiled files (*.pyc, __pycache__) and RECORD itself are skipped. A changed file is named with
    " (changed)".

    thorough (after an interrupted install): a RECORD that does not list itself is incomplete too (an
    installer copies the wheel's RECORD early and writes the installed one last, whole: a kill can leave
    it truncated or empty).
    """
    missing = {}
    gone_dirs = {}  # directory -> whether it is gone
    top = os.path.join(venv, "")
    for name, dist in sorted(dists.items()):
        site_packages = os.path.dirname(dist.meta_dir)
        try:
            data = read_untrusted(os.path.join(dist.meta_dir, "RECORD"), MAX_VENV_FILE_BYTES)
        except (IOError, OSError):
            continue
        record = os.path.basename(dist.meta_dir) + "/RECORD"
        rows = record_rows(data)
        if thorough and record not in rows:
            missing.setdefault(name, []).append(os.path.relpath(os.path.join(dist.meta_dir, "RECORD"), venv)
                                                + " (incomplete)")
        prefix = os.path.join(site_packages, "")
        for entry, size in sorted(rows.items()):
            if entry == record or entry.endswith(".pyc") or "__pycache__" in entry:
                continue
            if entry.startswith("/") or ".." in entry:  # a script or data file outside site-packages
                full = os.path.normpath(os.path.join(site_packages, entry))
                if not full.startswith(top):
                    continue
                size = None  # scripts are rewritten when a staged venv is moved into place: presence only
            else:
                full = prefix + entry
            try:
                st = os.lstat(full)
            except OSError:
                gone = os.path.relpath(_top_missing(full, site_packages, gone_dirs), venv)
                if gone not in missing.get(name, []):
                    missing.setdefault(name, []).append(gone)
                continue
            if size is not None and st.st_size != size and stat.S_ISREG(st.st_mode):
                missing.setdefault(name, []).append(os.path.relpath(full, venv) + " (changed)")
    return missing


def _top_missing(full, site_packages, gone_dirs):
    """The outermost missing directory holding the missing file full (below site_packages), or full itself."""
    gone, parent = full, os.path.dirname(full)
    while parent.startswith(os.path.join(site_packages, "")):
        if parent not in gone_dirs:
            gone_dirs[parent] = not os.path.lexists(parent)
        if not gone_dirs[parent]:
            break
        gone, parent = parent, os.path.dirname(parent)
    return gone


def record_fields(data):
    """The fields of each line of a RECORD (path, hash, size; a path holding a comma is quoted), lines without a
    path left out: the one RECORD reader of the collection."""
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        if not line:
            continue
        if line.startswith('"'):
            try:
                fields = next(csv.reader([line]))
            except (csv.Error, StopIteration):
                continue
        else:
            fields = line.split(",")
        if fields and fields[0]:
            yield fields


def record_rows(data):
    """{path: size or None} of a RECORD's lines."""
    rows = {}
    for fields in record_fields(data):
        size = fields[2].strip() if len(fields) > 2 else ""
        rows[fields[0]] = int(size) if size.isdigit() else None
    return rows


def package_versions(dists):
    return dict((name, dist.version) for name, dist in sorted(dists.items()))


def state_shape_problem(state):
    """What is wrong with the shape of a parsed state file, or None."""
    if not isinstance(state, dict):
        return "it is not a JSON object"
    if state.get("format") != STATE_FORMAT:
        return "format is %r, not %d" % (state.get("format"), STATE_FORMAT)
    for key in ("fingerprint", "virtualenv_command", "install_tool", "written", "install_started", "inputs_id",
                "verify_failed", "release", "retired"):
        if key in state and not isinstance(state[key], str):
            return "%s is not a string" % key
    if not isinstance(state.get("facts_pending", False), bool):
        return "facts_pending is not true or false"
    for key in ("packages", "links", "constraint_files", "lock"):
        value = state.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return "%s is not a mapping of names to strings" % key
    rolled_back_from = state.get("rolled_back_from", {})
    if not isinstance(rolled_back_from, dict) or not all(isinstance(v, str) for v in rolled_back_from.values()):
        return "rolled_back_from is not a mapping of names to strings"
    python = state.get("python", {})
    if not isinstance(python, dict):
        return "python is not a JSON object"
    if not all(isinstance(python.get(k, ""), str) for k in ("realpath", "version")) \
            or not isinstance(python.get("signature", []), list):
        return "python has a realpath, version or signature of the wrong type"
    return None


def state_text(state):
    """A state file's text, as both modules write theirs."""
    return json.dumps(state, indent=1, sort_keys=True) + "\n"


def read_state(path, warnings=None):
    """(state, problem): our state file inside the venv; (None, None) when missing, (None, why) when damaged.

    The venv may belong to another user: a field whose value has not the form the module writes
    (state_field_problems) is dropped, as if it were missing, and named in warnings (a list) when given.
    """
    state_file = os.path.join(path, STATE_FILE)
    state, problem = read_state_file(state_file, state_shape_problem)
    if state:
        for field, why in state_field_problems(state):
            del state[field]
            if warnings is not None:
                warnings.append("%s: its field %s %s; it is treated as missing" % (state_file, field, why))
    return state, problem


def _plain_name(name):
    """True for a single entry name (no path separator, not . or ..), as os.listdir gives them."""
    return isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..") and "/" not in name \
        and "\0" not in name


def state_field_problems(state):
    """[(field, why)] of the state fields whose values have not the module's own form (paths are built from them)."""
    problems = []
    if "release" in state and not RELEASE_ID.match(state["release"]):
        problems.append(("release", "is not a release id of the form <n>-<YYYYmmddTHHMMSS>"))
    if "retired" in state and not _RETIRED.match(state["retired"]):
        problems.append(("retired", "is not a time"))
    entries = state.get("entries", [])
    if not isinstance(entries, list) or len(entries) > 10000 or not all(_plain_name(e) for e in entries):
        problems.append(("entries", "is not a list of names of entries of the venv"))
    if not all(_plain_name(name) for name in state.get("links", {})):
        problems.append(("links", "names entries outside the venv's site-packages"))
    held = state.get("rolled_back_from", {})
    if "release" in held and not RELEASE_ID.match(held["release"]):
        problems.append(("rolled_back_from", "names a release that is not a release id"))
    return problems


def state_text(state):
    """A state file's text, as both modules write theirs."""
    return json.dumps(state, indent=1, sort_keys=True) + "\n"


def open_untrusted(path, follow=False):
    """A read-only descriptor of the regular file at path: not through a link at path, never waiting on a FIFO.

    OSError when path is a link (ELOOP; follow=True follows it), not a regular file (EINVAL) or cannot be opened.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_untrusted(path, limit):
    """The bytes of the regular file at path (open_untrusted); OSError (EFBIG) when it holds more than limit."""
    with os.fdopen(open_untrusted(path), "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, "it is larger than %d bytes" % limit)
    return data


def _why_unreadable(exc):
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link, which the module does not follow"
    return exc.strerror or str(exc)


def read_state_file(state_file, shape_problem):
    """(state, problem) of a JSON state file of either module; shape_problem(data) says what is wrong, or None.

    The one state-file reader: a missing file is (None, None), anything damaged is (None, why). A link,
    a FIFO or a file of more than MAX_STATE_BYTES is damaged: the file is not followed, waited on or read whole.
    """
    try:
        state = json.loads(read_untrusted(state_file, MAX_STATE_BYTES).decode("utf-8"))
    except FileNotFoundError:
        return None, None
    except (IOError, OSError) as exc:
        return None, "%s cannot be read: %s" % (state_file, _why_unreadable(exc))
    except ValueError as exc:
        return None, "%s is not valid JSON: %s" % (state_file, exc)
    problem = shape_problem(state)
    if problem:
        return None, "%s has the wrong shape: %s" % (state_file, problem)
    return state, None


def read_text(path):
    """The text of an installer file of the venv (requirements.txt, ...); None when missing, linked or unreadable."""
    try:
        return read_untrusted(path, MAX_VENV_FILE_BYTES).decode("utf-8", "replace")
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
        self.state_warnings = []  # fields of the state file dropped for their form
        self.state, self.state_problem = read_state(path, self.state_warnings) if self.is_venv else (None, None)
        self.dists = {}
        self.damaged = {}  # metadata folder -> why its METADATA cannot be read
        self.leftovers = []
        if self.is_venv and self.python_version:
            site_packages = site_packages_dir(path, self.python_version)
            self.dists = installed_distributions(site_packages, self.damaged)
            self.leftovers = installer_leftovers(site_packages)
        self.files = {}
        self.file_modes = {}  # permission bits of those files that exist
        for name in (REQUIREMENTS_FILE, CONSTRAINTS_FILE, GLOBAL_CONSTRAINTS_FILE):
            self.files[name] = read_text(os.path.join(path, name)) if self.is_venv else None
            if self.files[name] is not None:
                self.file_modes[name] = os.stat(os.path.join(path, name)).st_mode & 0o7777

    @property
    def is_empty_dir(self):
        return self.is_dir and not os.listdir(self.path)

    @property
    def packages(self):
        return package_versions(self.dists)

    def missing_files(self, thorough=False):
        """{name: [files]} of installed distributions with files removed or changed by hand (read from each RECORD)."""
        return missing_record_files(self.path, self.dists, thorough)

    @property
    def system_site_packages(self):
        return (self.cfg or {}).get("include-system-site-packages", "false").lower() == "true"


# --- what belongs to the venv ---------------------------------------------------------------

def is_temporary_file(name):
    """A temporary file of write_atomic (.wheelhouse-venv.json.XXXXXXXX, .sbom.cdx.json.XXXXXXXX) or the staging record
    (STAGING_FILE) left in a venv by a killed run."""
    return name == STAGING_FILE or bool(_TEMP_FILE.match(name))


def foreign_entries(path, state=None, managed=None):
    """Entries of the venv directory at path that a venv does not consist of, as sorted relative paths.

    The cheap check (_foreign.py, deep=False), run on every run for the kept releases: the top level and
    bin/ only, the layout's other folders are taken whole. A replace or a removal checks every folder of
    the venv (_foreign.foreign_entries).
    """
    from ansible_collections.wheelhouse.venv.plugins.module_utils._foreign import foreign_entries as entries_of
    return entries_of(path, state, managed, deep=False)


def top_level_entries(path):
    """The top-level names of the venv at path, as recorded in the state file (key "entries")."""
    return sorted(name for name in os.listdir(path) if not is_temporary_file(name))

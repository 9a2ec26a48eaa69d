# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pip seeded into a new venv from a cache of what ensurepip installs, as virtualenv's app-data seeder does.

`python -m venv` spends about 3 s of CPU a venv in ensurepip: it runs pip from its bundled wheel and
byte-compiles pip (and, up to Python 3.11, setuptools). The first venv of an interpreter is made so, in
the cache; every later one is made `--without-pip` and gets a copy of that venv's site-packages (the
byte-code included, so pip starts fast also where PYTHONDONTWRITEBYTECODE is set) and of pip's scripts,
their first line pointing to the new venv. The result has the very files `python -m venv` would have
laid down: the same wheels, the same RECORDs (their paths are relative), the same scripts.

A cache entry is keyed by what decides its content: the interpreter's real path, its full version and
ABI tag, and the version ensurepip bundles; a new Python or a new bundled pip is a new entry. The cache
belongs to the user the module runs as (root: /var/cache/wheelhouse-venv-seed): a folder someone else
owns or may write is not used, and nothing in it is trusted beyond the checks below. An entry appears
whole or not at all (built in a temporary folder, then renamed); when the cache cannot be used or made,
the venv is made by `python -m venv` as before, and the log says why.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import read_untrusted, record_rows, site_packages_dir

PROBE = ("import ensurepip, json, sys; print(json.dumps({'ensurepip': ensurepip.version(), "
         "'version': sys.version, 'tag': sys.implementation.cache_tag}))")
ENTRY_FILE = "seed.json"
MAX_ENTRY_FILE = 64 * 1024
# a temporary folder of a build older than this was left by a killed run; the prefix is ours alone, so that a
# seed_cache pointed at a folder of the user's never loses a .tmp-* of theirs
STALE_SECONDS = 3600
TMP_PREFIX = ".wheelhouse-seed-tmp-"
# scripts of a seeded package are listed in its RECORD relative to site-packages (lib/pythonX.Y/site-packages)
SCRIPT_PREFIX = "../../../bin/"
MAX_RECORD = 4 * 1024 * 1024


def default_root():
    """Where the cache lives for the user the module runs as."""
    # beside, not inside, the role's /var/cache/wheelhouse-venv/<release>: a release may be called anything
    if os.geteuid() == 0:
        return "/var/cache/wheelhouse-venv-seed"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "wheelhouse-venv-seed")


def _probe_here():
    """PROBE's answer for the interpreter running this module, or None without ensurepip."""
    try:
        import ensurepip  # pylint: disable=import-outside-toplevel
        return {"ensurepip": ensurepip.version(), "version": sys.version, "tag": sys.implementation.cache_tag}
    except Exception:  # pylint: disable=broad-except
        return None


def _owned_and_private(path):
    """None when path is a real directory of this user that nobody else may write; else why not."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return "%s: %s" % (path, exc.strerror or exc)
    if not stat.S_ISDIR(st.st_mode):
        return "%s is not a directory" % path
    if st.st_uid != os.geteuid():
        return "%s belongs to uid %d, not to this user (uid %d)" % (path, st.st_uid, os.geteuid())
    if st.st_mode & 0o022:
        return "%s may be written by others (mode %04o)" % (path, stat.S_IMODE(st.st_mode))
    return None


class Seeder(object):
    """The seed of one interpreter: probe it, find or make its cache entry, copy the entry into new venvs."""

    def __init__(self, interp, root, run):
        self.interp = interp
        self.root = root
        self._run = run  # unrecorded runner: the probe is no change
        self.reason = None  # why the cache is not used, for the log
        self.key = None
        self.probe = None
        self.built_at = None  # the path the entry's venv was made at (its scripts' first line names it)

    def prepare(self):
        """Probe the interpreter; False (with self.reason) when it has no ensurepip to seed from."""
        if os.path.realpath(sys.executable) == self.interp.realpath:
            probe = _probe_here()  # the module's own interpreter: no process to start (check mode runs none)
            err = out = "ensurepip cannot be imported"
        else:
            rc, out, err = self._run([self.interp.executable, "-I", "-c", PROBE], {})
            try:
                probe = json.loads(out) if rc == 0 and len(out) < 4096 else None
            except ValueError:
                probe = None
        if not isinstance(probe, dict) or not all(isinstance(probe.get(k), str) for k in ("ensurepip", "version", "tag")):
            self.reason = "the interpreter %s has no usable ensurepip (%s)" % (
                self.interp.executable, (err or out or "no output").strip()[-300:])
            return False
        self.probe = dict(probe, realpath=self.interp.realpath)
        digest = hashlib.sha256(json.dumps(self.probe, sort_keys=True).encode()).hexdigest()[:24]
        self.key = "%s-%s-pip%s" % (re.sub(r"[^a-z0-9]", "", probe["tag"]) or "py", digest,
                                    re.sub(r"[^0-9a-zA-Z.]", "", probe["ensurepip"]))
        return True

    @property
    def entry(self):
        return os.path.join(self.root, self.key)

    def usable_entry(self):
        """The entry's venv when it exists and passes its checks; None otherwise (self.reason says why)."""
        problem = _owned_and_private(self.root)
        if problem is None:
            problem = _owned_and_private(self.entry)
        if problem is None:
            problem = self._check_entry(self.entry)
        if problem:
            self.reason = problem
            return None
        return os.path.join(self.entry, "venv")

    def _check_entry(self, entry):
        path = os.path.join(entry, ENTRY_FILE)
        try:
            if os.path.islink(path) or os.path.getsize(path) > MAX_ENTRY_FILE:
                return "%s is not a seed record" % path
            with open(path) as handle:
                recorded = json.load(handle)
        except (OSError, IOError, ValueError) as exc:
            return "%s cannot be read: %s" % (path, exc)
        if not isinstance(recorded, dict) or recorded.get("probe") != self.probe:
            return "%s records another interpreter" % path
        built_at = recorded.get("built_at")
        if not isinstance(built_at, str) or not os.path.isabs(built_at) or os.path.basename(built_at) != "venv":
            return "%s does not say where its venv was made" % path
        self.built_at = built_at
        site = site_packages_dir(os.path.join(entry, "venv"), self.interp.version)
        if os.path.islink(site) or not os.path.isdir(site) or not os.path.isdir(os.path.join(site, "pip")):
            return "%s holds no pip" % site
        return None

    def cache_state(self):
        """'hit' when a usable entry exists; 'miss' when one can be made (none yet, or one of ours that fails its
        checks: made by another version of this module, or damaged); None when the cache cannot be trusted."""
        if self.usable_entry():
            return "hit"
        if os.path.lexists(self.root) and _owned_and_private(self.root) is not None:
            return None
        if not os.path.lexists(self.entry) or _owned_and_private(self.entry) is None:
            return "miss"
        return None

    def build_command(self):
        """The command that makes a new entry's venv (its temporary folder shown as XXXXXXXX)."""
        return [self.interp.executable, "-m", "venv", os.path.join(self.root, TMP_PREFIX + "XXXXXXXX", "venv")]

    def make_entry(self, runner, log):
        """Make the entry with ensurepip (runner(argv, env) runs and records the command); its venv or None."""
        try:
            os.makedirs(self.root, 0o755, exist_ok=True)
        except OSError as exc:
            self.reason = "cannot make %s: %s" % (self.root, exc.strerror or exc)
            return None
        problem = _owned_and_private(self.root)
        if problem:
            self.reason = problem
            return None
        self._remove_stale()
        if os.path.lexists(self.entry):
            # one of ours that failed its checks (cache_state): moved aside whole, then removed
            if _owned_and_private(self.entry) is not None:
                self.reason = _owned_and_private(self.entry)
                return None
            try:
                aside = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.root)
                os.rename(self.entry, os.path.join(aside, "old"))
                shutil.rmtree(aside, ignore_errors=True)
                log("pip seed cache: replaced %s" % self.entry)
            except OSError as exc:
                self.reason = "cannot replace %s: %s" % (self.entry, exc.strerror or exc)
                return None
        try:
            tmp = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.root)
        except OSError as exc:
            self.reason = "cannot make a folder in %s: %s" % (self.root, exc.strerror or exc)
            return None
        try:
            rc, out, err = runner([self.interp.executable, "-m", "venv", os.path.join(tmp, "venv")], {})
            if rc != 0:
                self.reason = "making the seed venv failed (exit code %d)" % rc
                return None
            with open(os.path.join(tmp, ENTRY_FILE), "w") as handle:
                # the entry's scripts start with #!<this venv's path>/bin/python...: the path it was made at
                json.dump({"probe": self.probe, "made": int(time.time()), "built_at": os.path.join(tmp, "venv")},
                          handle, sort_keys=True)
            os.chmod(tmp, 0o755)
            try:
                os.rename(tmp, self.entry)
            except OSError:
                pass  # another run made it meanwhile: theirs is used, ours goes
            log("pip seed cache: made %s" % self.entry)
            return self.usable_entry()
        except (OSError, IOError) as exc:
            self.reason = "cannot write the seed cache %s: %s" % (self.root, exc)
            return None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _remove_stale(self):
        now = time.time()
        try:
            names = os.listdir(self.root)
        except OSError:
            return
        for name in names:
            path = os.path.join(self.root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if name.startswith(TMP_PREFIX) and stat.S_ISDIR(st.st_mode) and now - st.st_mtime > STALE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)

    def seed(self, source, dest):
        """Copy the seed venv source's site-packages and its packages' scripts into the new venv dest."""
        version = self.interp.version
        src_site, dst_site = site_packages_dir(source, version), site_packages_dir(dest, version)
        try:
            scripts = []
            for name in sorted(os.listdir(src_site)):
                src, dst = os.path.join(src_site, name), os.path.join(dst_site, name)
                if os.path.islink(src):
                    continue
                if os.path.isdir(src):
                    shutil.copytree(src, dst, symlinks=True)
                    if name.endswith(".dist-info"):
                        scripts += _recorded_scripts(os.path.join(src, "RECORD"))
                elif os.path.isfile(src):
                    shutil.copy2(src, dst)
            for name in sorted(set(scripts)):
                _copy_script(os.path.join(source, "bin", name), os.path.join(dest, "bin", name), self.built_at, dest)
        except (OSError, IOError, shutil.Error) as exc:
            raise VenvBuildError("seeding pip into %s from the seed cache %s failed: %s" % (dest, source, exc))


def _recorded_scripts(record):
    """Base names of the scripts a RECORD lists in the venv's bin."""
    try:
        data = read_untrusted(record, MAX_RECORD)
    except (IOError, OSError):
        return []
    names = []
    for path in record_rows(data):
        if path.startswith(SCRIPT_PREFIX):
            name = path[len(SCRIPT_PREFIX):]
            if name and "/" not in name and name not in (".", ".."):
                names.append(name)
    return names


# The first lines of a script whose interpreter path is too long for a kernel's #! line (127 bytes) or holds a space:
# as pip (distlib) writes them, sh runs the interpreter and Python reads the rest.
_SH_EXEC = re.compile(br"^#!/bin/sh\n'''exec' (?:\"(?P<quoted>[^\"\n]+)\"|(?P<python>[^ \"\n]+)) \"\$0\" \"\$@\"\n' '''\n")
MAX_SHEBANG = 127


def _script_head(python):
    """The first line(s) of a script run by python (bytes): #!python, or distlib's sh-exec lines when too long."""
    if len(python) + 2 <= MAX_SHEBANG and b" " not in python:
        return b"#!" + python + b"\n"
    shown = b"\"" + python + b"\"" if b" " in python else python
    return b"#!/bin/sh\n'''exec' " + shown + b" \"$0\" \"$@\"\n' '''\n"


def _copy_script(src, dst, built_at, dest):
    """A script of the seed venv, the interpreter it names (<built_at>/bin/python...) made dest's interpreter.

    Both forms pip writes are read: #!<python> and, for a path too long for #! (a deep seed_cache), the sh-exec
    lines; the new script takes the form its own path needs.
    """
    if os.path.islink(src) or not os.path.isfile(src):
        return
    with open(src, "rb") as handle:
        data = handle.read(MAX_RECORD + 1)
    if len(data) > MAX_RECORD:
        return
    prefix = os.path.join(built_at, "bin").encode() + b"/"
    match = _SH_EXEC.match(data)
    if match:
        python, rest = match.group("quoted") or match.group("python"), data[match.end():]
    else:
        first, sep, rest = data.partition(b"\n")
        if not first.startswith(b"#!") or not sep:
            return
        python = first[2:]
    if not python.startswith(prefix) or not re.match(br"^python[0-9.]*$", python[len(prefix):]):
        return
    with open(dst, "wb") as handle:
        handle.write(_script_head(os.path.join(dest, "bin").encode() + b"/" + python[len(prefix):]) + rest)
    os.chmod(dst, 0o755)

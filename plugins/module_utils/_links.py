# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Distribution packages linked into the venv (linked_distro_packages).

Some Python bindings come only from the distribution (python3-apt, python3-libvirt): their
top-level entries under the system's dist-packages/site-packages are symlinked into the venv's
site-packages. The package manager says which files a package has; the state file records the
links this module made, so that only those are ever removed.
"""

from __future__ import annotations

import os
import re

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import find_on_path
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import minor_version

# The package managers asked, in this order: the first found on PATH is the host's.
PACKAGE_MANAGERS = ("dpkg-query", "rpm")
_SYSTEM_SITE = re.compile(r"^(/usr/(?:local/)?lib(?:64)?/python3(?:\.(?P<minor>[0-9]+))?/(?:dist|site)-packages)/(?P<name>[^/]+)")
# An extension module built for one CPython version: name.cpython-311-x86_64-linux-gnu.so
_ABI_TAG = re.compile(r"\.cpython-(?P<tag>[0-9]+)[^/]*\.so$")


def select_entries(file_list, python_version):
    """Map entry name -> system path of the top-level entries a package installs for this Python.

    file_list: the output of 'dpkg-query --listfiles' or 'rpm --query --list' (text or list of paths).
    Kept: direct children of /usr/lib{,64}/python3{,.X}/{dist,site}-packages where X is the venv's
    minor version. Left out: bytecode caches, .pth files (they would run code at every start) and
    extension modules built for another CPython version. Two different paths for one name fail.
    """
    if isinstance(file_list, str):
        file_list = file_list.splitlines()
    major_minor = minor_version(python_version)
    minor = major_minor.split(".")[1]
    found = {}
    for path in file_list or []:
        path = str(path).strip()
        match = _SYSTEM_SITE.match(path)
        if not match or match.group("minor") not in (None, minor):
            continue
        name = match.group("name")
        if name == "__pycache__" or name.endswith(".pth"):
            continue
        abi = _ABI_TAG.search(name)
        if abi and abi.group("tag") != major_minor.replace(".", ""):
            continue
        target = match.group(1) + "/" + name
        if found.get(name, target) != target:
            raise VenvBuildError("linked_distro_packages: two files would be linked as %s: %s and %s"
                                 % (name, found[name], target))
        found[name] = target
    return found


def find_package_manager(search_path=None):
    """(name, executable) of the first package manager of PACKAGE_MANAGERS on PATH."""
    for name in PACKAGE_MANAGERS:
        executable = find_on_path(name, search_path)
        if executable:
            return name, executable
    raise VenvBuildError("linked_distro_packages needs dpkg-query (Debian family) or rpm (Red Hat family) "
                         "on PATH; neither was found")


def desired_links(packages, python_version, run, exists=os.path.lexists):
    """Ask the package manager for the files of each package; return ({name: target}, warnings).

    Every package that is not installed is named in one error, raised before anything changes.
    """
    if not packages:
        return {}, []
    manager, executable = find_package_manager()
    wanted = {}
    missing = []
    warnings = []
    for package in packages:
        argv = commands.package_files_command(manager, executable, package)
        rc, out, err = run(argv, {"LC_ALL": "C"})
        if rc != 0:
            said = ((err or "") + "\n" + (out or "")).strip().splitlines()
            missing.append("%s (%s)" % (package, said[0] if said else "exit code %d" % rc))
            continue
        entries = dict((n, t) for n, t in select_entries(out, python_version).items() if exists(t))
        if not entries:
            warnings.append("linked_distro_packages: %s installs no Python files for Python %s under a system "
                            "dist-packages/site-packages folder; nothing of it is linked"
                            % (package, minor_version(python_version)))
        for name, target in entries.items():
            if wanted.get(name, target) != target:
                raise VenvBuildError("linked_distro_packages: two files would be linked as %s: %s and %s"
                                     % (name, wanted[name], target))
            wanted[name] = target
    if missing:
        raise VenvBuildError("linked_distro_packages: not installed on this host, nothing was changed: %s"
                             % "; ".join(missing))
    return wanted, warnings


class LinkPlan(object):
    """What to do in one site-packages folder so that exactly the wanted links are ours.

    add: {name: target} to make (absent) or re-point (a symlink pointing elsewhere);
    remove: names of links an earlier run made that are no longer wanted (still pointing where
    they were made to point); conflicts: wanted names taken by something that is not a symlink;
    record: what the state file holds afterwards.
    """

    def __init__(self, site_packages, wanted, recorded):
        self.site_packages = site_packages
        self.wanted = dict(wanted)
        self.recorded = dict(recorded or {})
        self.add = {}
        self.remove = []
        self.conflicts = []
        self.before = {}
        for name, target in sorted(self.wanted.items()):
            path = os.path.join(site_packages, name)
            if os.path.islink(path):
                current = os.readlink(path)
                self.before[name] = current
                if current != target:
                    self.add[name] = target
            elif os.path.lexists(path):
                self.conflicts.append(name)
            else:
                self.add[name] = target
        for name, target in sorted(self.recorded.items()):
            path = os.path.join(site_packages, name)
            if name not in self.wanted and os.path.islink(path) and os.readlink(path) == target:
                self.before[name] = target
                self.remove.append(name)
        self.record = dict(self.wanted)

    @property
    def changed(self):
        return bool(self.add or self.remove)

    @property
    def record_changed(self):
        return self.record != self.recorded

    def reasons(self):
        reasons = []
        if self.add:
            reasons.append("links of linked_distro_packages to make: %s" % ", ".join(sorted(self.add)))
        if self.remove:
            reasons.append("links of packages no longer in linked_distro_packages: %s" % ", ".join(self.remove))
        return reasons

    def check_conflicts(self):
        if self.conflicts:
            raise VenvBuildError(
                "linked_distro_packages: %s in %s exist and are not links (installed by the installer?); "
                "link a distribution package or install the Python package, not both"
                % (", ".join(self.conflicts), self.site_packages))

    def apply(self):
        """Make the plan's changes (conflicts must have been checked)."""
        for name in self.remove:
            os.unlink(os.path.join(self.site_packages, name))
        for name, target in sorted(self.add.items()):
            path = os.path.join(self.site_packages, name)
            tmp = os.path.join(self.site_packages, ".%s.venv_build-link-%d" % (name, os.getpid()))
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(target, tmp)
            os.replace(tmp, path)  # a link pointing elsewhere is replaced in one step

    def report(self):
        return {"present": dict(self.record), "added": sorted(self.add), "removed": list(self.remove)}

    def diff(self, predicted=False):
        def text(links):
            return "".join("%s -> %s\n" % item for item in sorted(links.items()))
        return {"before_header": "%s (links of distribution packages)" % self.site_packages,
                "after_header": "%s (links of distribution packages%s)" % (self.site_packages, ", predicted" if predicted else ""),
                "before": text(self.before), "after": text(self.record)}

# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a host is, for the plan of the role: its platform, an interpreter's version, its distribution packages,
and on targets what the venv's state file says.

One module call answers all of them (venv_host_info), so that a converge with nothing to do asks each
host once instead of running setup, a command and the package manager on it one after the other.
Reads only: nothing here changes the host.
"""

from __future__ import annotations

import os
import re
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import find_interpreter, find_on_path
from ansible_collections.wheelhouse.venv.plugins.module_utils._links import find_package_manager
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    VenvOnDisk,
    minor_version,
    site_packages_dir,
    venv_interpreter_problem,
)

# The facts the platform key is made of (filter venv_platform), under ansible_facts' names.
PLATFORM_FACTS = ("distribution", "distribution_version", "distribution_major_version", "distribution_release",
                  "architecture", "os_family")

# A bare package name (with an optional :arch): anything else (name=version, globs, a file) is
# never called installed, so the package task still runs for it.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]*(:[A-Za-z0-9_-]+)?$")


def platform_facts(collected):
    """The platform facts among the collected ones (missing ones are empty strings)."""
    return dict((key, str(collected.get(key) or "")) for key in PLATFORM_FACTS)


def _call(run, argv):
    """run(argv), with a program that cannot be started (exec format error, permission) as exit code 126."""
    try:
        return run(argv)
    except OSError as exc:
        return 126, "", str(exc)


def python_info(run, python):
    """{executable, version ('X.Y', or '' when it cannot run), error} of the interpreter `python`."""
    try:
        executable = find_interpreter(python)
    except VenvBuildError as exc:
        return {"executable": "", "version": "", "error": exc.msg}
    rc, out, err = _call(run, commands.python_version_command(executable))
    version = out.strip()
    if rc != 0 or not re.match(r"^[0-9]+\.[0-9]+\.[0-9]+$", version):
        return {"executable": executable, "version": "",
                "error": "%s failed (exit code %d): %s" % (executable, rc, (err or out).strip()[-300:])}
    return {"executable": executable, "version": minor_version(version), "error": ""}


def parse_dpkg_status(text):
    """Installed package names in the output of dpkg-query -W -f '${Package}\\t${db:Status-Abbrev}\\n'."""
    installed = set()
    for line in text.splitlines():
        name, sep, status = line.partition("\t")
        # db:Status-Abbrev is want, status, error (ii, hi, rc ...): the second letter i is "installed".
        if sep and len(status) >= 2 and status[1] == "i":
            installed.add(name.strip())
    return installed


def parse_rpm_names(text):
    """Installed package names in the output of rpm --query --queryformat '%{NAME}\\n' (other lines ignored)."""
    return set(line.strip() for line in text.splitlines() if line.strip() and " " not in line.strip())


def package_status(run, names, search_path=None, upgrades=True):
    """{manager, installed, missing} for the distribution package names (in the order given).

    A name the package database does not list as installed, or that is not a bare name
    (apt's name=version, globs), is missing: the caller's package task then runs as it would
    without this check. upgrades=False does not ask apt-cache which would be upgraded (outdated is None).
    """
    names = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    try:
        manager, executable = find_package_manager(search_path)
    except VenvBuildError:  # neither dpkg-query nor rpm: every name is missing
        manager, executable = None, None
    installed = set()
    plain = [n for n in names if _PLAIN_NAME.match(n)]
    if manager and plain:
        if manager == "dpkg-query":
            # Exit code 1 when some name is unknown: the known ones are still listed.
            rc, out, dummy = _call(run, [executable, "--show", "--showformat", "${Package}\t${db:Status-Abbrev}\n"] + plain)
            listed = parse_dpkg_status(out)
            # dpkg-query lists name:arch as name (multi-arch packages of the native arch).
            installed = set(n for n in plain if n in listed or n.split(":")[0] in listed)
        else:
            rc, out, dummy = _call(run, [executable, "--query", "--queryformat", "%{NAME}\n"] + plain)
            installed = set(n for n in plain if n in parse_rpm_names(out))
    outdated = None
    if upgrades and manager == "dpkg-query" and installed:
        outdated = outdated_packages(run, [n for n in names if n in installed], search_path)
    return {"manager": manager or "", "installed": [n for n in names if n in installed],
            "missing": [n for n in names if n not in installed],
            "outdated": outdated, "cache_age": apt_cache_age() if manager == "dpkg-query" else None}


def parse_apt_policy(text):
    """{name: (installed, candidate)} from the output of apt-cache policy NAME... (LC_ALL=C)."""
    found, name = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            name = line.rstrip()[:-1]
            found[name] = [None, None]
        elif name is not None and line.strip().startswith(("Installed:", "Candidate:")):
            key, dummy, value = line.strip().partition(":")
            found[name][0 if key == "Installed" else 1] = value.strip()
    return dict((n, tuple(v)) for n, v in found.items())


def outdated_packages(run, names, search_path=None):
    """The installed names whose candidate version in the apt cache is another one, or None when apt-cache cannot tell."""
    executable = find_on_path("apt-cache", search_path)
    if not executable or not names:
        return None if not executable else []
    rc, out, dummy = _call(run, [executable, "policy"] + list(names))
    if rc != 0:
        return None
    policy = parse_apt_policy(out)
    outdated = []
    for name in names:
        installed, candidate = policy.get(name, policy.get(name.split(":")[0], (None, None)))
        if installed in (None, "(none)") or candidate is None:
            return None
        if candidate != "(none)" and candidate != installed:
            outdated.append(name)
    return outdated


# Where apt records its last successful update (the apt module's cache_valid_time reads the same).
APT_UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"
APT_LISTS = "/var/lib/apt/lists"


def apt_cache_age(now=None, stamp=APT_UPDATE_STAMP, lists=APT_LISTS):
    """Seconds since apt's package lists were updated, or None when they cannot be found."""
    for path in (stamp, lists):
        if os.path.exists(path):
            return max(0, int((now if now is not None else time.time()) - os.stat(path).st_mtime))
    return None


def venv_info(path):
    """{path, exists, inputs_id, intact, problems, rolled_back_from} of the venv at path, read from files only.

    inputs_id: what venv_build recorded of the inputs the venv was installed from (its option inputs_id).
    rolled_back_from: {inputs_ids, at, release} of the venvs a rollback switched away from (empty without one).
    intact: a venv of venv_build whose last install finished, whose bin/python is there, and whose packages
    and links are those its state file records; problems says why not.
    """
    disk = VenvOnDisk(path)
    state = disk.state or {}
    held = state.get("rolled_back_from") or {}
    result = {"path": path, "exists": disk.exists, "inputs_id": str(state.get("inputs_id") or ""),
              "intact": False, "problems": [],
              # a rollback switched away from venvs of these inputs: a run with them keeps this venv
              "rolled_back_from": {"inputs_ids": str(held.get("inputs_id") or "").split(),
                                   "at": str(held.get("at") or ""), "release": str(held.get("release") or "")}}
    problems = result["problems"]
    if not disk.is_venv:
        problems.append("%s is not a venv" % path if disk.exists else "%s does not exist" % path)
        return result
    if disk.state_problem or not disk.state:
        problems.append(disk.state_problem or "%s has no state file of venv_build" % path)
        return result
    problems.extend(disk.state_warnings)  # a field of a form the module never writes: the venv_build run repairs it
    if not disk.python_works:
        problems.append("its bin/python no longer runs")
    elif (state.get("python") or {}).get("realpath"):
        problems.extend(filter(None, [venv_interpreter_problem(path, state["python"]["realpath"])]))
    if not disk.python_version:
        problems.append("its pyvenv.cfg names no Python version (version = X.Y.Z)")
    elif minor_version(disk.python_version) != minor_version((state.get("python") or {}).get("version")):
        problems.append("pyvenv.cfg names another Python than the state file")
    if state.get("install_started") or disk.leftovers or disk.damaged:
        problems.append("an earlier install did not finish, or metadata is damaged")
    if state.get("facts_pending"):
        problems.append("the facts of an earlier change were not written yet")
    if (state.get("packages") or {}) != disk.packages:
        problems.append("its packages differ from those recorded")
    elif disk.missing_files():
        problems.append("files of installed packages were removed or changed")
    if disk.python_version and not _links_intact(path, disk.python_version, state.get("links") or {}):
        problems.append("links recorded in the state file are missing or changed")
    result["intact"] = not problems
    return result


def _links_intact(path, version, links):
    site = site_packages_dir(path, version)
    for name, target in links.items():
        try:
            if os.readlink(os.path.join(site, name)) != target:
                return False
        except OSError:
            return False
    return True


def host_info(run, python, packages, collected_facts, search_path=None, venv=None, upgrades=True):
    """The module's result: the platform facts, the interpreter, the distribution packages and (given venv) the venv."""
    result = {"platform_facts": platform_facts(collected_facts),
              "python": python_info(run, python),
              "distro_packages": package_status(run, packages,
                                                search_path if search_path is not None else default_search_path(),
                                                upgrades)}
    if venv:
        result["venv"] = venv_info(venv)
    return result


def default_search_path():
    # Package managers live in sbin on some hosts, and a module's PATH may lack it.
    path = os.environ.get("PATH", "")
    return os.pathsep.join([path, "/usr/sbin", "/usr/bin", "/sbin", "/bin"])

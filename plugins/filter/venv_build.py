# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters holding the logic of the python_venv_build role.

Plain functions over plain data (lists, dicts, strings): the role's tasks stay
thin and every decision here has a unit test (tests/unit/plugins/filter).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from ansible.module_utils.parsing.convert_bool import BOOLEANS, boolean

from ansible_collections.wheelhouse.venv.plugins.module_utils._masking import strip_credentials
from ansible_collections.wheelhouse.venv.plugins.module_utils._publish import with_credentials

# Each filter is documented in plugins/filter/<filter name>.yml (DOCUMENTATION, EXAMPLES, RETURN).


class VenvFilterError(ValueError):
    """Raised on input the role cannot work with; Ansible shows the message."""


# ---------------------------------------------------------------------------
# Platforms

_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "i686": "i386", "i586": "i386"}


def _clean(value):
    return re.sub(r"[^a-z0-9._]+", "_", str(value).strip().lower()).strip("_")


def venv_platform(facts, python_version):
    """Return the key of the platform a wheel built on a host with these facts runs on.

    distribution-version-architecture-pyX.Y, for example debian-12-x86_64-py3.11.
    Ubuntu keeps its full version (22.04 and 22.10 differ); every other distribution uses
    its major version (Debian and RHEL point releases keep their ABI), or its release name
    when the major version is not a number (Debian testing).
    """
    if not isinstance(facts, dict):
        raise VenvFilterError("venv_platform expects the host's ansible_facts")
    missing = [k for k in ("distribution", "architecture") if not facts.get(k)]
    if missing:
        raise VenvFilterError("venv_platform: facts lack %s (gather facts first)" % ", ".join(missing))
    distribution = _clean(facts["distribution"])
    if distribution == "ubuntu":
        version = str(facts.get("distribution_version") or "")
    else:
        version = str(facts.get("distribution_major_version") or "")
    if not re.match(r"^[0-9][0-9.]*$", version):
        version = str(facts.get("distribution_release") or version or "unknown")
    arch = str(facts["architecture"]).strip().lower()
    arch = _ARCH_ALIASES.get(arch, arch)
    py = str(python_version or "").strip()
    if not py:  # an interpreter whose version was not found out: said in words, not as None
        raise VenvFilterError("venv_platform: no python version was given (MAJOR.MINOR, such as 3.11): the "
                              "interpreter's version could not be told")
    if not re.match(r"^[0-9]+\.[0-9]+$", py):
        raise VenvFilterError("venv_platform: python version %r is not MAJOR.MINOR" % py)
    return "%s-%s-%s-py%s" % (distribution, _clean(version), _clean(arch), py)


def venv_platforms_of(hostvars, hosts, fact="_venv_platform"):
    """Return {host: platform key} for the hosts whose platform is known (unknown ones are left out)."""
    result = {}
    for host in hosts or []:
        try:
            host_vars = hostvars[host]
        except KeyError:
            continue
        try:
            value = host_vars.get(fact) if hasattr(host_vars, "get") else None
        except Exception:  # an undefined or failing template in another host's vars
            value = None
        if value:
            result[host] = str(value)
    return result


def venv_build_targets(platforms, build_group_hosts, play_hosts):
    """Return {platform: build host}.

    A host of the build group on the same platform builds (the first one listed); a
    platform of the play with no such host is built by its first play host, so a single
    target builds for itself.
    """
    platforms = dict(platforms or {})
    targets = {}
    for host in build_group_hosts or []:
        key = platforms.get(host)
        if key and key not in targets:
            targets[key] = host
    for host in play_hosts or []:
        key = platforms.get(host)
        if key and key not in targets:
            targets[key] = host
    return targets


def venv_build_plan(host_plans, allow_index_installs=False, index_install_limit=2, build_group="repo_all"):
    """Check the per-host plans and choose who drives each build.

    host_plans: list of dicts, one per play host, with keys
      host, platform, python_ok (bool), python_error, wheels (bool: wheel build enabled),
      build_host (str), build_host_platform (str).
    Returns {errors: [...], leaders: {host: build_host}, leader_of: {host: leader}, led: {leader: [targets]},
    builds: {"build_host|platform": {build_host, platform, leader, targets}}, index_hosts: [...]}.
    A leader is the first play host of a (build host, platform) pair: it runs the build tasks,
    delegated to the build host, once for all targets of the pair.
    """
    errors = []
    leaders = {}
    leader_of = {}
    builds = {}
    index_hosts = []
    unserved = {}
    for plan in host_plans or []:
        host = plan.get("host")
        if not plan.get("python_ok", True):
            errors.append(
                "%s: the interpreter for the venv cannot be run (%s); set venv_python_executable "
                "to a Python 3 that exists on the host" % (host, plan.get("python_error") or "unknown error")
            )
            continue
        if not _truthy(plan.get("wheels")):
            index_hosts.append(host)
            continue
        platform = plan.get("platform")
        build_host = plan.get("build_host") or ""
        if not build_host or plan.get("build_host_platform") != platform:
            unserved.setdefault(platform, []).append((host, build_host, plan.get("build_host_platform")))
            continue
        build = builds.setdefault(build_host + "|" + platform,
                                  {"build_host": build_host, "platform": platform, "leader": host, "targets": []})
        build["targets"].append(host)
        leader_of[host] = build["leader"]
        if build["leader"] == host:
            leaders[host] = build_host
    for platform, entries in sorted(unserved.items()):
        hosts = ", ".join(h for h, _b, _p in entries)
        wrong = sorted({"%s (%s)" % (b, p or "platform unknown") for _h, b, p in entries if b})
        detail = "; venv_build_host points at %s" % ", ".join(wrong) if wrong else ""
        errors.append(
            "no build host can serve platform %s (hosts: %s)%s: add a reachable host of that platform "
            "to the group '%s', set venv_build_host to one, or set venv_wheel_build_enable=false for "
            "these hosts" % (platform, hosts, detail, build_group)
        )
    if len(index_hosts) > int(index_install_limit) and not _truthy(allow_index_installs):
        errors.append(
            "%d targets have wheel building disabled (%s), so each would download and build from the "
            "package index: enable wheel building (venv_wheel_build_enable=true, with hosts in the group "
            "'%s'), or set venv_allow_index_installs=true to accept it"
            % (len(index_hosts), ", ".join(index_hosts), build_group)
        )
    return {
        "errors": errors,
        "leaders": leaders,
        "leader_of": leader_of,
        "led": {b["leader"]: list(b["targets"]) for b in builds.values()},
        "builds": dict(sorted(builds.items())),
        "index_hosts": index_hosts,
    }


# ---------------------------------------------------------------------------
# The role's plan: one computation over the probes of the play's hosts


def _probe_platform(probe):
    """(platform key, problem) of a venv_host_info result; the key is empty when it cannot be told."""
    python = (probe or {}).get("python") or {}
    if not python.get("version"):
        return "", "the interpreter cannot be run"
    try:
        return venv_platform(dict((probe or {}).get("platform_facts") or {}), python["version"]), None
    except VenvFilterError as exc:
        return "", str(exc)


def _without_credentials(value):
    if isinstance(value, str):
        return strip_credentials(value)
    if isinstance(value, Mapping):
        return dict((str(k), _without_credentials(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_without_credentials(v) for v in value]
    return value


def venv_inputs_id(inputs):
    """The fingerprint of a target's inputs: sha256 of their JSON, credentials left out (a rotated password moves nothing)."""
    data = json.dumps(_without_credentials(inputs), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


_REFERENCE = re.compile(r"\s*(-c|--constraint)(\s|=)")


def _needs(ask, inputs_id):
    """Why this target must be installed (or its wheels built) this run; empty when nothing can change."""
    venv = (ask.get("probe") or {}).get("venv") or {}
    reasons = []
    if _truthy(ask.get("rebuild", False)):
        reasons.append("venv_rebuild is set")
    if _truthy(ask.get("wheels")) and _truthy(ask.get("wheels_rebuild", False)):
        reasons.append("venv_wheels_rebuild is set")
    if not venv.get("intact"):
        reasons.extend(venv.get("problems") or ["the venv was not read"])
    elif venv.get("inputs_id") != inputs_id and inputs_id not in _held(venv)["inputs_ids"]:
        reasons.append("the inputs changed since the venv was installed" if venv.get("inputs_id")
                       else "the venv records no inputs of this role")
    inputs = ask.get("inputs") or {}
    if any(_REFERENCE.match(str(line)) for key in ("constraints", "global_constraints")
           for line in (inputs.get(key) or [])):
        # its content is an input the probe cannot see: the modules read it, and install only when it changed
        reasons.append("a constraints file referenced with -c/--constraint is read on every run")
    return reasons


def _held(venv):
    held = venv.get("rolled_back_from")
    return held if isinstance(held, Mapping) and isinstance(held.get("inputs_ids"), list) else {"inputs_ids": []}


def _held_message(ask, inputs_id):
    """Why an intact venv of other inputs is kept: a rollback switched away from venvs of these (as venv_build says)."""
    venv = (ask.get("probe") or {}).get("venv") or {}
    held = _held(venv)
    if not venv.get("intact") or venv.get("inputs_id") == inputs_id or inputs_id not in held["inputs_ids"]:
        return ""
    return ("the venv at %s was rolled back (at %s, from the release %s) away from venvs made from these inputs: it is "
            "kept as it is. To move forward, change the inputs, or -e venv_rebuild=true to build these inputs again"
            % (venv.get("path"), held.get("at"), held.get("release")))


def _build_host_messages(waits, timeout):
    messages = []
    for result in waits:
        if "msg" in result:
            messages.append("build host %s did not answer within %s s (%s): start it or fix its connection, or point "
                            "venv_build_host at another host; nothing was changed"
                            % (result.get("item"), timeout, str(result["msg"]).strip()[:300]))
    return messages


def _index_errors(ask):
    """What is wrong with this host's package index settings (venv_wheel_index_*), before any change."""
    host, index, publish = ask["host"], ask.get("index_url") or "", ask.get("publish_url") or ""
    if not index and not publish:
        return []
    errors = []
    for name, url in (("venv_wheel_index_url", index), ("venv_wheel_index_publish_url", publish)):
        if url and urlsplit(url).scheme not in ("http", "https"):
            errors.append("%s: %s %r must be an http:// or https:// URL" % (host, name, strip_credentials(url)))
    if bool(index) != bool(publish):
        errors.append("%s: venv_wheel_index_url and venv_wheel_index_publish_url go together (the index the targets "
                      "install from, and where the build host uploads the wheels): set both, or neither" % host)
    if index and ask.get("repo_url"):
        errors.append("%s: venv_wheel_index_url and venv_wheel_repo_url are both set, but the targets install from one "
                      "wheel source: empty venv_wheel_repo_url to install from the index, or venv_wheel_index_url to "
                      "pull from the wheel repository" % host)
    if not _truthy(ask.get("wheels")):
        errors.append("%s: venv_wheel_index_url is set, but wheel building is disabled for this host "
                      "(venv_wheel_build_enable): the index gets the wheels a build host builds; enable wheel building, "
                      "or empty venv_wheel_index_url and venv_wheel_index_publish_url" % host)
    if bool(ask.get("index_username")) != _truthy(ask.get("index_password_set", False)):
        errors.append("%s: venv_wheel_index_username and venv_wheel_index_password go together: set both, or neither"
                      % host)
    return errors


def _find_links(ask, source):
    if source == "local":
        return [ask["wheel_path"]], []
    if source == "push":
        return [ask["push_path"]], []
    # pull: the wheel repository's folder; index: the installer reads the index (index_url), no wheel folder.
    # pip ignores either over plain HTTP unless the host is trusted (upstream adds --trusted-host too).
    url = ask["index_url"] if source == "index" else venv_wheel_url(ask["wheel_path"], ask["repo_path"], ask["repo_url"])
    trusted = [urlsplit(url).hostname] if urlsplit(url).scheme == "http" else []
    return ([] if source == "index" else [url]), trusted


def venv_role_plan(asks, groups, build_host_waits=None, build_host_infos=None, wait_timeout=15):
    """The plan of the python_venv_build role for every host of the play, from one probe of each host.

    asks: one dict per play host (in play order), what the host asks for, with keys host, probe (its
    venv_host_info result, with venv), wheels, build_host (given, or empty), build_group, allow_index_installs,
    rebuild, wheels_rebuild, rollback, wheel_path, repo_path, repo_url, push_path, index_url, publish_url,
    index_username, index_password_set and inputs (everything its venv and wheels are made from). groups: the
    inventory's groups. build_host_waits, build_host_infos: the loop results of wait_for_connection and
    venv_host_info on the build hosts outside the play (once probe_build_hosts asked for them).

    A target needs nothing when its venv is intact and records the inputs it would get now (inputs_id),
    and neither venv_rebuild nor venv_wheels_rebuild is set: then no build host is used for it (nor when venv_rollback
    is set: the target switches to a venv it keeps, needs is false and rollback true). Build hosts
    outside the play are only asked (probe_build_hosts) when some target that uses wheels needs something.
    Returns {errors, hosts: {host: {...}}, probe_build_hosts, builds, index_hosts}.
    """
    asks = [dict(a) for a in asks or []]
    groups = groups or {}
    waits = list(build_host_waits or [])
    infos = dict((r.get("item"), r) for r in build_host_infos or [] if isinstance(r, Mapping))
    play = [a["host"] for a in asks]
    platforms, probes = _platforms(asks, infos)
    wanted = _needs_and_build_hosts(asks, groups, platforms, play, set(r.get("item") for r in waits) | set(infos))
    errors, hosts, host_plans = [], {}, []
    targets_of_group = {}
    for ask in asks:
        group = list(groups.get(ask.get("build_group") or "", []))
        if ask.get("build_group") not in targets_of_group:
            targets_of_group[ask.get("build_group")] = venv_build_targets(platforms, group, play)
        hosts[ask["host"]], plan = _role_host(ask, platforms, group, targets_of_group[ask.get("build_group")],
                                              wanted, errors)
        if plan is not None:
            host_plans.append(plan)
    allow = any(_truthy(a.get("allow_index_installs", False)) for a in asks)
    if wanted:  # the build hosts are not known yet: the plan is made again once they are probed
        host_plans = [p for p in host_plans if p.get("python_ok") is False]
    checked = venv_build_plan(host_plans, allow, 2, (asks[0].get("build_group") if asks else "") or "repo_all")
    errors = _build_host_messages(waits, wait_timeout) + checked["errors"] + errors
    _lead_builds(hosts, checked["builds"], probes)
    return {"errors": errors, "hosts": hosts, "probe_build_hosts": wanted, "builds": checked["builds"],
            "index_hosts": checked["index_hosts"]}


def _platforms(asks, infos):
    """({host: platform}, {host: probe}) of the play's hosts and of the build hosts probed outside the play; each
    ask gets its python_problem (facts venv_platform cannot use)."""
    platforms, probes = {}, {}
    for ask in asks:
        platform, problem = _probe_platform(ask.get("probe"))
        ask["python_problem"] = problem
        if platform:
            platforms[ask["host"]] = platform
        probes[ask["host"]] = ask.get("probe") or {}
    for name, result in infos.items():
        platform, problem = _probe_platform(result)
        if platform:
            platforms[name] = platform
            probes[name] = result
    return platforms, probes


def _needs_and_build_hosts(asks, groups, platforms, play, asked):
    """Set each ask's inputs_id and reasons (what it needs this run); return the build hosts outside the play that the
    targets needing wheels use and that were not asked yet (to probe before the plan is made again)."""
    wanted = []
    for ask in asks:
        inputs = dict(ask.get("inputs") or {}, platform=platforms.get(ask["host"], ""), wheels=_truthy(ask.get("wheels")),
                      build_host=ask.get("build_host") or "", build_group=ask.get("build_group") or "",
                      repo_url=ask.get("repo_url") or "", wheel_path=ask.get("wheel_path") or "",
                      push_path=ask.get("push_path") or "")
        # only when set: the inputs_id that venvs installed before 0.3.0 record stays the same
        inputs.update((key, ask[key]) for key in ("index_url", "publish_url") if ask.get(key))
        ask["inputs_id"] = venv_inputs_id(inputs)
        # a rollback switches to a kept venv: no inputs are used, no build host is asked
        ask["reasons"] = [] if _truthy(ask.get("rollback", False)) else _needs(ask, ask["inputs_id"])
        if ask["reasons"] and _truthy(ask.get("wheels")):
            group = list(groups.get(ask.get("build_group") or "", []))
            for name in [ask["build_host"]] if ask.get("build_host") else group:
                if name not in play and name in groups.get("all", []) and name not in asked and name not in wanted:
                    wanted.append(name)
    return wanted


def _role_host(ask, platforms, group, group_targets, wanted, errors):
    """(the plan entry of one play host, its entry for venv_build_plan or None); errors found are appended."""
    host, platform = ask["host"], platforms.get(ask["host"], "")
    wheels = _truthy(ask.get("wheels"))
    build_host = (ask.get("build_host") or group_targets.get(platform, "")) if wheels else ""
    source = "none"
    index_errors = _index_errors(ask)
    errors.extend(index_errors)
    if wheels and ask.get("index_url"):
        source = "index"
    elif wheels:
        source = "local" if build_host == host else "pull" if ask.get("repo_url") and build_host in group else "push"
    find_links, trusted = [], []
    if wheels and not wanted and not index_errors:
        try:
            find_links, trusted = _find_links(ask, source)
        except VenvFilterError as exc:
            errors.append("%s: %s" % (host, exc))
    entry = {"platform": platform, "needs": bool(ask["reasons"]), "reasons": ask["reasons"], "wheels": wheels,
             "build_host": build_host, "source": source, "find_links": find_links, "trusted_hosts": trusted,
             "inputs_id": ask["inputs_id"], "leads": False, "leader": "", "build_key": "",
             "push_needed": False, "publish": False, "build_host_info": {},
             "rollback": _truthy(ask.get("rollback", False)),
             "held": "" if ask["reasons"] else _held_message(ask, ask["inputs_id"])}
    python = (ask.get("probe") or {}).get("python") or {}
    plan = None
    if not python.get("version"):
        plan = {"host": host, "python_ok": False, "python_error": str(python.get("error") or "")[:300]}
    elif ask["python_problem"]:  # facts venv_platform cannot use
        errors.append("%s: %s" % (host, ask["python_problem"]))
    elif not wheels:
        plan = {"host": host, "wheels": False}
    elif ask["reasons"]:
        plan = {"host": host, "platform": platform, "wheels": True, "build_host": build_host,
                "build_host_platform": platforms.get(build_host, "")}
    return entry, plan


def _lead_builds(hosts, builds, probes):
    """Mark each build's leader and targets in the hosts' plan entries."""
    for key, build in builds.items():
        for target in build["targets"]:
            hosts[target].update(leader=build["leader"], build_key="%s|%s" % (key, hosts[build["leader"]]["inputs_id"]))
        leader = hosts[build["leader"]]
        leader.update(leads=True, push_needed=any(hosts[t]["source"] == "push" for t in build["targets"]),
                      # the build host uploads the set to the index some target of this build installs from
                      publish=any(hosts[t]["source"] == "index" for t in build["targets"]),
                      build_host_info=dict((k, probes.get(build["build_host"], {}).get(k))
                                           for k in ("platform_facts", "python", "distro_packages")))


def _truthy(value):
    # Ansible's reading of a boolean (t, on, 1, yes, ...), as the role's argument check and `| bool` have it.
    return boolean(value, strict=False)


# ---------------------------------------------------------------------------
# Requirement lines

_EGG_RE = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)")
_VCS_RE = re.compile(r"^(git|hg|svn|bzr)\+", re.I)
_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
_DIRECT_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*(?:\s*\[[^\]]*\])?)\s*@\s*(\S.*)$")


def _split_marker(line):
    # In URL requirements a marker follows '; ' or ' ;' (pip's rule: a bare ';' may be part of the URL).
    m = re.search(r"\s+;\s*|;\s+", line)
    if m:
        return line[: m.start()].strip(), line[m.end():].strip()
    return line.strip(), ""


def reduce_requirement(line):
    """Return the bare requirement a VCS or direct-URL line stands for once its wheel is built.

    git+https://host/repo@ref#egg=name -> name; name[extra] @ url ; marker -> name[extra]; marker.
    Other lines come back unchanged.  A URL without a name cannot be reduced: error.
    """
    text = (line or "").strip()
    if not text or text.startswith("#"):
        return text
    if _VCS_RE.match(text) or _URL_RE.match(text):
        body, marker = _split_marker(text)
        m = _EGG_RE.search(body)
        if not m:
            raise VenvFilterError(
                "requirement %r has no name: add '#egg=NAME' or write it as 'NAME @ URL'" % text
            )
        name = re.sub(r"\s+", "", m.group(1))
    else:
        m = _DIRECT_RE.match(text)
        if not m:
            return text
        body, marker = _split_marker(text)
        name = re.sub(r"\s+", "", _DIRECT_RE.match(body).group(1))
    return "%s; %s" % (name, marker) if marker else name


def venv_reduce_requirements(lines):
    """Reduce every VCS or direct-URL requirement line to its bare name (see reduce_requirement)."""
    return [reduce_requirement(line) for line in _lines(lines)]


def _lines(lines):
    if lines is None:
        return []
    if isinstance(lines, str):
        lines = lines.splitlines()
    return [str(x).strip() for x in lines if str(x).strip() and not str(x).strip().startswith("#")]


# ---------------------------------------------------------------------------
# Wheel locations


def venv_wheel_url(wheel_path, repo_path, repo_url):
    """Return the URL at which the wheel repository (root repo_path served at repo_url) serves wheel_path."""
    if not repo_url:
        raise VenvFilterError("venv_wheel_url: venv_wheel_repo_url is empty")
    wheel = posixpath.normpath(str(wheel_path))
    root = posixpath.normpath(str(repo_path))
    if not (wheel == root or wheel.startswith(root.rstrip("/") + "/")):
        raise VenvFilterError(
            "venv_build_host_wheel_path %s is not under venv_wheel_repo_path %s, so the wheel repository "
            "does not serve it: keep it under that path or set venv_wheel_repo_url to ''" % (wheel, root)
        )
    rel = posixpath.relpath(wheel, root)
    parts = urlsplit(str(repo_url))
    if parts.scheme not in ("http", "https", "file"):
        raise VenvFilterError("venv_wheel_repo_url %r must be an http(s):// or file:// URL" % repo_url)
    path = parts.path.rstrip("/")
    if rel != ".":
        path += "/" + rel
    return urlunsplit((parts.scheme, parts.netloc, path + "/", "", ""))


def venv_index_url(url, username="", password=""):
    """url with username and password in it (quoted), for the one task that uses it; url as it is without them."""
    return with_credentials(str(url or ""), str(username or ""), str(password or ""))


def venv_package_task_needed(info, names, state, cache_valid_time):
    """Whether a package task for `names` (state present or latest, apt's cache_valid_time) would do anything.

    info: a venv_host_info result (its distro_packages). True whenever it cannot be told: a name not
    listed as installed, state latest without apt's view of the candidates, or package lists older
    than cache_valid_time (the task would update them and might find upgrades).
    """
    names = [n for n in dict.fromkeys(names or []) if n]
    if not names:
        return False
    packages = (info or {}).get("distro_packages") or {}
    installed = set(packages.get("installed") or [])
    if any(n not in installed for n in names):
        return True
    if state == "present":
        return False
    outdated, age = packages.get("outdated"), packages.get("cache_age")
    if outdated is None or any(n in outdated for n in names):
        return True
    return not cache_valid_time or age is None or age >= int(cache_valid_time)


# ---------------------------------------------------------------------------
# Variable types

_EXPECTED = {"list": "a list", "dict": "a mapping", "str": "a string", "path": "a path (string)",
             "int": "a whole number", "bool": "true or false"}
_EXPECTED_ITEMS = {"dict": "mappings", "str": "strings", "path": "paths", "int": "whole numbers", "bool": "booleans"}


def _kind(value):
    if value is None:
        return "null (no value)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a %s" % type(value).__name__


def _type_ok(kind, value):
    """Whether the role can use value as an option of this type (ansible's check converts more than that)."""
    if kind == "raw":
        return True
    if kind == "list":
        return isinstance(value, (list, tuple))
    if kind == "dict":
        return isinstance(value, Mapping)
    if kind in ("str", "path"):
        # A number reads the same in a string; a list or mapping would become its Python repr.
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if kind == "int":
        if isinstance(value, str):
            return re.match(r"^\s*[0-9]+\s*$", value) is not None
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool) or (isinstance(value, (str, int)) and str(value).strip().lower() in BOOLEANS)
    return True


def _type_errors(name, value, spec):
    kind = spec.get("type") or "str"
    if not _type_ok(kind, value):
        expected = _EXPECTED.get(kind, kind)
        if kind == "list" and spec.get("elements") in _EXPECTED_ITEMS:
            expected += " of " + _EXPECTED_ITEMS[spec["elements"]]
        hint = ""
        if kind == "list" and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            hint = ": write it as a YAML list, one '- item' a line (a single item too)"
        elif kind == "dict":
            hint = ": write it as a YAML mapping, one 'KEY: value' a line"
        return ["%s must be %s, got %s%s" % (name, expected, _kind(value), hint)]
    errors = []
    elements = spec.get("elements")
    if kind == "list" and elements:
        element_spec = {"type": elements, "options": spec.get("options")}
        for index, item in enumerate(value):
            errors.extend(_type_errors("%s[%d]" % (name, index), item, element_spec))
    if kind == "dict" and spec.get("options") and isinstance(value, Mapping):
        for key, sub_spec in spec["options"].items():
            if key in value:
                errors.extend(_type_errors("%s.%s" % (name, key), value[key], sub_spec or {}))
    return errors


def venv_argument_errors(values, options):
    """Return one message per role variable whose value the role cannot use as the type its spec gives.

    values: {name: value} as the role sees them (templated); options: the options of an entry point of
    meta/argument_specs.yml. Ansible's own check converts a copy ("flask" into ["flask"], "A=b" into
    {"A": "b"}, a list into its repr for a string) and lets the role go on with the original value.
    Variables absent from values are left out (ansible's check reports missing required ones).
    """
    errors = []
    for name, spec in sorted((options or {}).items()):
        if name in (values or {}):
            errors.extend(_type_errors(name, values[name], spec or {}))
    return errors


class FilterModule(object):
    """Filters of the python_venv_build role."""

    def filters(self):
        return {
            "venv_platform": venv_platform,
            "venv_platforms_of": venv_platforms_of,
            "venv_build_targets": venv_build_targets,
            "venv_build_plan": venv_build_plan,
            "venv_role_plan": venv_role_plan,
            "venv_reduce_requirements": venv_reduce_requirements,
            "venv_wheel_url": venv_wheel_url,
            "venv_index_url": venv_index_url,
            "venv_package_task_needed": venv_package_task_needed,
            "venv_argument_errors": venv_argument_errors,
        }

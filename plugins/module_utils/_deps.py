# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which installed distributions the requirements need: the dependency walk behind prune."""

from __future__ import annotations

import os
import re

from ansible_collections.wheelhouse.venv.plugins.module_utils import _pep508 as pep508
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import SEED_PACKAGES, requirement_file_lines


def _same_location(installed_url, requirement_url):
    def norm(url):
        url = re.sub(r"^[a-z]+\+", "", url.strip(), flags=re.I).split("#", 1)[0]
        scheme, sep, rest = url.partition("://")
        if sep and "@" in rest.rsplit("/", 1)[-1]:
            rest = rest.rsplit("@", 1)[0]  # a VCS revision
        return (scheme.lower() + sep + rest).rstrip("/")
    if requirement_url.startswith(("/", ".", "~")):
        requirement_url = "file://" + os.path.abspath(os.path.expanduser(requirement_url))
    return norm(installed_url) == norm(requirement_url)


def _applies(marker, env, reading):
    """Whether a marker holds as the installer reads it. One it cannot evaluate keeps what it names: pip fails on
    it rather than skip it, and prune never removes a distribution on a guess."""
    if marker is None:
        return True
    try:
        return marker.evaluate(env, reading)
    except ValueError:
        return True


def prune_candidates(spec, dists, python_version):
    """Installed distributions that nothing in the (build) requirements needs (None when that cannot be known).

    Markers are read as the installer that filled the venv reads them (pep508.reading_for): uv, or the venv's pip,
    whose vendored packaging decides where the packaging releases disagree.
    """
    env = pep508.marker_environment(python_version)
    pip = dists.get("pip")
    reading = pep508.reading_for(spec.install_tool, pip.version if pip is not None else None)
    requirements = list(spec.parsed_requirements) + list(spec.parsed_build_requirements)
    for line in requirement_file_lines(spec.requirements_files):
        parsed = pep508.metadata_requirement(line)
        if parsed is not None:
            requirements.append(parsed)
    stack = []
    for requirement in requirements:
        if not _applies(requirement.marker, env, reading):
            continue
        if requirement.name:
            stack.append((requirement.name, set(requirement.extras)))
            continue
        matches = [d for d in dists.values() if d.direct_url and _same_location(d.direct_url, requirement.url)]
        if not matches:
            return None
        stack.extend((d.name, set(requirement.extras)) for d in matches)
    needed = {}
    while stack:
        name, extras = stack.pop()
        dist = dists.get(name)
        if dist is None or (name in needed and extras <= needed[name]):
            continue
        needed[name] = needed.get(name, set()) | extras
        for text in dist.requires:
            dep = pep508.metadata_requirement(text)
            if dep is None or not dep.name:
                continue
            if not any(_applies(dep.marker, dict(env, extra=extra), reading) for extra in [""] + sorted(needed[name])):
                continue
            stack.append((dep.name, set(dep.extras)))
    return sorted(n for n in dists if n not in needed and n not in SEED_PACKAGES)


# The problem lines of pip check: NAME VERSION requires ..., has requirement ..., is not supported ...
_CHECK_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) \S+ (?:requires |has requirement |is not supported )")


def own_problems(output, packages):
    """pip check's output without the problems of distributions outside the venv's own packages.

    pip check sees every distribution the venv's Python sees: with system_site_packages those of the
    system, and the metadata linked by linked_distro_packages. Other lines are kept.
    """
    kept = []
    for line in output.splitlines():
        match = _CHECK_LINE.match(line)
        if line.strip() and (not match or pep508.canonical_name(match.group("name")) in packages):
            kept.append(line)
    return "\n".join(kept)

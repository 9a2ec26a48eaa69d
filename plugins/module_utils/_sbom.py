# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The venv's bill of materials: sbom.cdx.json (CycloneDX 1.6 JSON) in the venv's root.

Read from files only (the *.dist-info of site-packages, the wheels of local find_links folders):
standard library only, no process started. One component per installed distribution, with what
its metadata says and nothing guessed:
- licence: License-Expression (PEP 639) as an expression, else the License field, else the
  License :: classifiers, as licence names;
- hashes: the SHA-256 of the wheel it was installed from, when that wheel is in a local find_links
  folder (its METADATA and WHEEL are those installed) or the installer recorded it (direct_url.json);
- externalReferences: the SBOMs the wheel ships in its .dist-info/sboms/ (PEP 770), by path
  relative to the venv root (where this file is).
Everything but the serial number and the timestamp follows from the venv's files: sorted, stable.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import zipfile

from urllib.parse import quote, unquote, urlsplit

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._pep508 import canonical_name, marker_environment, metadata_requirement
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    SBOM_FILE,
    cfg_python_version,
    installed_distributions,
    metadata_file,
    read_metadata_headers,
    read_pyvenv_cfg,
    record_fields,
    site_packages_dir,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils._wheelbuild import parse_wheel_filename, sha256_file

SPEC_VERSION = "1.6"
# Properties of ours in the document (CycloneDX property names are free text; a prefix keeps them apart).
PROPERTY_PREFIX = "wheelhouse.venv:"
_LICENSE_CLASSIFIER = "License :: "
# A License field that says nothing (old setuptools wrote UNKNOWN when none was given).
_NO_LICENSE = ("", "unknown", "none")


def sbom_path(venv):
    return os.path.join(venv, SBOM_FILE)


def sbom_text(venv, name, find_links=(), known=None):
    """The text of the SBOM of the venv directory venv, named name (the target path's base name).

    known: {(canonical name, version): (sha256, wheel file name, where from)} of wheels known by other means
    than a local folder (the lock of this run's install, the SBOM the venv had before): see known_hashes.
    """
    return document_text(build_document(venv, name, find_links, known=known))


def known_hashes(lock_packages, installed_now, previous_sbom):
    """The wheel hashes an SBOM may state without a local wheel to compare, {(name, version): (sha256, wheel, from)}.

    lock_packages: {name: (version, sha256, wheel)} of the lock this run installed from (pylock); its hash holds
    for a distribution this run's installer put in (installed_now: canonical names, or None for every one: a venv
    built beside). previous_sbom: the text of the SBOM the venv had before the run; its hashes hold for a
    distribution the run left as it was (same name and version, not installed now).
    """
    known = {}
    for name, (version, digest, wheel) in (lock_packages or {}).items():
        name = canonical_name(name)
        if installed_now is None or name in installed_now:
            known[(name, version)] = (digest, wheel, "lock")
    try:
        components = json.loads(previous_sbom).get("components") or [] if previous_sbom else []
    except (ValueError, AttributeError):
        components = []
    for found in components:
        try:
            name, version = canonical_name(found["name"]), found["version"]
            digest = [h["content"] for h in found.get("hashes") or [] if h.get("alg") == "SHA-256"][0]
            wheel = [p["value"] for p in found.get("properties") or [] if p.get("name") == PROPERTY_PREFIX + "wheel"][0]
        except (KeyError, IndexError, TypeError, AttributeError):
            continue
        if (installed_now is not None and name not in installed_now) and (name, version) not in known:
            known[(name, version)] = (digest, wheel, "previous")
    return known


def document_text(document):
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def build_document(venv, name, find_links=(), timestamp=None, serial=None, known=None):
    """The CycloneDX document (a dict) of the venv directory venv."""
    python_version = cfg_python_version(read_pyvenv_cfg(venv))
    site_packages = site_packages_dir(venv, python_version) if python_version else None
    dists = installed_distributions(site_packages, linked=True) if site_packages else {}
    wheels = wheel_index(local_folders(find_links))
    env = marker_environment(python_version) if python_version else None
    components = [component(venv, dist, wheels, known or {})
                  for dist in sorted(dists.values(), key=lambda d: (d.name, d.version))]
    root_ref = "venv:%s" % name
    root = {"type": "application", "bom-ref": root_ref, "name": name}
    if python_version:
        root["properties"] = [{"name": PROPERTY_PREFIX + "python-version", "value": python_version}]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial or "urn:uuid:%s" % uuid.uuid4(),
        "version": 1,
        "metadata": {
            "timestamp": timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tools": {"components": [{"type": "application", "group": "wheelhouse.venv", "name": "venv_build"}]},
            "component": root,
        },
        "components": components,
        "dependencies": [{"ref": root_ref, "dependsOn": sorted(c["bom-ref"] for c in components)}]
        + dependencies(dists, env),
    }


def purl(dist):
    return "pkg:pypi/%s@%s" % (quote(dist.name, safe=""), quote(dist.version, safe=""))


def component(venv, dist, wheels, known=None):
    """The component of one installed distribution."""
    try:
        headers = read_metadata_headers(metadata_file(dist.meta_dir), follow=os.path.islink(dist.meta_dir))
    except (IOError, OSError, ValueError):  # read a moment ago: changed since, by someone else
        headers = []
    ref = purl(dist)
    found = {"type": "library", "bom-ref": ref, "name": dist.display_name, "version": dist.version, "purl": ref}
    licenses = licence_entries(headers)
    if licenses:
        found["licenses"] = licenses
    properties = [{"name": PROPERTY_PREFIX + "metadata", "value": os.path.relpath(dist.meta_dir, venv)}]
    if os.path.islink(dist.meta_dir):  # linked_distro_packages: the distribution package's files
        properties.append({"name": PROPERTY_PREFIX + "linked-from", "value": os.path.realpath(dist.meta_dir)})
    digest, wheel, source = wheel_hash(dist, wheels, known or {})
    if digest:
        found["hashes"] = [{"alg": "SHA-256", "content": digest}]
        properties.append({"name": PROPERTY_PREFIX + "wheel", "value": wheel})
        properties.append({"name": PROPERTY_PREFIX + "wheel-hash-from", "value": source})
    references = shipped_sboms(venv, dist)
    if references:
        found["externalReferences"] = references
    found["properties"] = properties
    return found


def licence_entries(headers):
    """CycloneDX licenses from metadata headers: the expression, else the License field, else the classifiers."""
    expression = [v for k, v in headers if k == "license-expression" and v.strip()]
    if expression:
        return [{"expression": expression[-1].strip()}]
    field = [v for k, v in headers if k == "license" and v.strip().lower() not in _NO_LICENSE]
    if field:
        text = field[-1].strip()
        if "\n" not in text:
            return [{"license": {"name": text}}]
        # a whole licence text: its first line names it, the text goes with it
        return [{"license": {"name": text.splitlines()[0].strip(),
                             "text": {"contentType": "text/plain", "content": text}}}]
    names = set()
    for key, value in headers:
        if key == "classifier" and value.startswith(_LICENSE_CLASSIFIER):
            last = value.split("::")[-1].strip()
            if last and last != "OSI Approved":  # 'License :: OSI Approved' alone names no licence
                names.add(last)
    return [{"license": {"name": n}} for n in sorted(names)]


def _applies(marker, env):
    """Whether a Requires-Dist marker applies; one the default reading cannot evaluate (a comparison newer packaging
    refuses) names no dependency the SBOM can vouch for, as before."""
    try:
        return marker.evaluate(env)
    except ValueError:
        return False


def dependencies(dists, env):
    """Each distribution's installed dependencies (Requires-Dist without extras, markers of the venv's Python)."""
    found = []
    for dist in sorted(dists.values(), key=lambda d: d.name):
        needs = set()
        for text in dist.requires:
            requirement = metadata_requirement(text)
            if requirement is None or not requirement.name or requirement.name not in dists:
                continue
            if requirement.marker is not None and (env is None or not _applies(requirement.marker, env)):
                continue  # an extra's requirement (extra is '' here) or one for another platform
            needs.add(purl(dists[requirement.name]))
        found.append({"ref": purl(dist), "dependsOn": sorted(needs)})
    return found


def shipped_sboms(venv, dist):
    """externalReferences to the files under the distribution's .dist-info/sboms/ (PEP 770)."""
    folder = os.path.join(dist.meta_dir, "sboms")
    references = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, venv)
            references.append({"type": "bom", "url": quote(rel.replace(os.sep, "/")),
                               "comment": "SBOM shipped in the wheel of %s %s (PEP 770)" % (dist.display_name, dist.version),
                               "hashes": [{"alg": "SHA-256", "content": sha256_file(path)}]})
    return references


# --- the wheels installed from ------------------------------------------------------------------

def local_folders(find_links):
    """The find_links locations on this host: directories (path or file:// URL) and wheel files."""
    found = []
    for location in find_links:
        if "://" in location:
            parts = urlsplit(location)
            if parts.scheme != "file":
                continue
            location = unquote(parts.path)
        if os.path.isdir(location) or (location.endswith(".whl") and os.path.isfile(location)):
            found.append(location)
    return found


def wheel_index(locations):
    """Map (canonical name, version) -> [wheel paths] of the wheels in locations."""
    index = {}
    for location in locations:
        if os.path.isdir(location):
            paths = [os.path.join(location, n) for n in sorted(os.listdir(location)) if n.endswith(".whl")]
        else:
            paths = [location]
        for path in paths:
            try:
                index.setdefault(parse_wheel_filename(path), []).append(path)
            except VenvBuildError:
                continue  # not a wheel file name: not a wheel the installer took
    return index


def wheel_hash(dist, wheels, known=None):
    """(sha256, wheel file name, where from) of the wheel the distribution was installed from, (None,)*3 if unknown.

    A wheel of a local find_links folder counts when its METADATA and WHEEL (tags) are the installed
    ones ("find_links"); two such wheels that differ leave it unknown. Else the hash the installer recorded
    in direct_url.json for a wheel installed by URL ("direct_url"); else what known says of this name and
    version (the lock of this run's install, the venv's SBOM before the run: known_hashes).
    """
    if not dist.meta_dir.endswith(".dist-info"):
        return None, None, None
    digest, wheel, source = _local_or_direct_hash(dist, wheels)
    if digest:
        return digest, wheel, source
    if (dist.name, dist.version) in (known or {}):
        return known[(dist.name, dist.version)]
    return None, None, None


def _local_or_direct_hash(dist, wheels):
    candidates = wheels.get((dist.name, dist.version.replace("_", "-")), [])
    installed = [_read_bytes(os.path.join(dist.meta_dir, n)) for n in ("METADATA", "WHEEL")]
    installed_record = None
    matches = {}
    for path in candidates:
        metadata, wheel_tags, wheel_record = _wheel_files(path)
        if [metadata, wheel_tags] != installed:
            continue
        if installed_record is None:
            installed_record = _record_hashes(_read_bytes(os.path.join(dist.meta_dir, "RECORD")) or b"")
        # the files the wheel holds are those installed (their hashes in the installed RECORD): a wheel swapped
        # after the install, with the same metadata, is not the one the venv came from
        if wheel_record and _installed_from(wheel_record, installed_record):
            matches.setdefault(sha256_file(path), os.path.basename(path))
    if len(matches) == 1:
        return list(matches.items())[0] + ("find_links",)
    if matches:
        return None, None, None
    digest, wheel = _direct_url_hash(dist.meta_dir)
    return digest, wheel, "direct_url" if digest else None


def _record_hashes(data):
    """{path: hash} of a RECORD's lines that have a hash."""
    return dict((fields[0], fields[1]) for fields in record_fields(data) if len(fields) >= 2 and fields[1])


def _installed_from(wheel_record, installed_record):
    """True when every file of the wheel (but its .data/ and RECORD) is installed with the hash the wheel gives it."""
    compared = 0
    for path, digest in wheel_record.items():
        top = path.split("/", 1)[0]
        if top.endswith(".data") or path.endswith(".dist-info/RECORD"):
            continue  # scripts and data are moved (and scripts rewritten) by the installer
        if installed_record.get(path) != digest:
            return False
        compared += 1
    return compared > 0


def _wheel_files(path):
    """[METADATA, WHEEL, {path: hash} of RECORD] of the wheel at path (None for each that is not there)."""
    try:
        with zipfile.ZipFile(path) as archive:
            found = {}
            for member in archive.namelist():
                folder, dummy, base = member.partition("/")
                if folder.endswith(".dist-info") and base in ("METADATA", "WHEEL", "RECORD"):
                    found[base] = archive.read(member)
            record = _record_hashes(found["RECORD"]) if "RECORD" in found else None
            return [found.get("METADATA"), found.get("WHEEL"), record]
    except (IOError, OSError, zipfile.BadZipfile):
        return [None, None, None]


def _read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return False  # never equal to what a wheel holds


def _direct_url_hash(meta_dir):
    """The sha256 pip/uv recorded in direct_url.json for a wheel installed from a URL (with a hash), else None."""
    try:
        with open(os.path.join(meta_dir, "direct_url.json")) as handle:
            data = json.load(handle)
        url, archive = data.get("url") or "", data.get("archive_info") or {}
        digest = (archive.get("hashes") or {}).get("sha256")
        if not digest and (archive.get("hash") or "").startswith("sha256="):
            digest = archive["hash"][len("sha256="):]
    except (IOError, OSError, ValueError, AttributeError):
        return None, None
    if digest and urlsplit(url).path.endswith(".whl"):
        return digest.lower(), os.path.basename(unquote(urlsplit(url).path))
    return None, None

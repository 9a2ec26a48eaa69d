# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Constraints files referenced in a constraint list: '-c <x>', '--constraint <x>', '--constraint=<x>'.

x is an absolute path on the host or an http(s)/file URL. The module reads the file itself (one
GET for a URL, on every run) and inlines its lines into the constraints file it writes for the
installer: the installer never sees the URL (nor its credentials), the content read is the
content fingerprinted and installed with, and a change of the content is a change of the inputs.
A referenced file holds constraint lines only: a nested -c (or any other option) is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat

from urllib.parse import unquote, urlsplit

from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking as masking, _pep508 as pep508
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError

_REFERENCE = re.compile(r"^(?:-c|--constraint)(?:\s*=\s*|\s+)(?P<target>\S+)$")
_OPTION = re.compile(r"^(?:-c|--constraint)\b")


def reference_target(line):
    """The location a '-c <x>' line names (the line as normalize_lines leaves it), else None."""
    match = _REFERENCE.match(line)
    return match.group("target") if match else None


def check_reference(line, what):
    """VenvBuildError unless line is a well-formed reference to an absolute path or an http(s)/file URL."""
    target = reference_target(line)
    if target is None:
        raise VenvBuildError("invalid %s line %r: write a referenced constraints file as '-c <path or URL>' or "
                             "'--constraint <path or URL>' (one location, no other text)" % (what, masking.mask_text(line)))
    scheme = urlsplit(target).scheme.lower() if "://" in target else ""
    if scheme and scheme not in ("http", "https", "file"):
        raise VenvBuildError("invalid %s line %r: a referenced constraints file must be an absolute path or an "
                             "http, https or file URL" % (what, masking.mask_text(line)))
    if not scheme and not os.path.isabs(target):
        raise VenvBuildError("invalid %s line %r: the path of a referenced constraints file must be absolute (the "
                             "module does not run in a folder of yours)" % (what, line))
    return target


def split_lines(lines, what):
    """(constraint lines, references): references are (index in lines, target) of the '-c <x>' lines."""
    plain, references = [], []
    for index, line in enumerate(lines):
        if isinstance(line, str) and _OPTION.match(line):
            references.append((index, check_reference(line, what)))
        else:
            plain.append(line)
    return plain, references


class Referenced(object):
    """One referenced constraints file, read: where (credentials left out), its sha256 and its lines."""

    def __init__(self, target, what, data):
        self.target = target
        self.shown = masking.strip_credentials(target)
        self.sha256 = hashlib.sha256(data).hexdigest()
        text = data.decode("utf-8", "replace").replace("\\\r\n", " ").replace("\\\n", " ")
        self.lines = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = re.sub(r"\s+", " ", pep508.strip_comment(raw))
            if not line:
                continue
            if _OPTION.match(line):
                raise VenvBuildError("%s: the constraints file %s line %d %r references another constraints file: "
                                     "nested references are not followed, list %s as a line of %s instead"
                                     % (what, self.shown, number, masking.mask_text(line),
                                        masking.mask_text(reference_target(line) or line), what))
            try:
                requirement = pep508.parse_requirement(line)
            except ValueError as exc:
                raise VenvBuildError("%s: the constraints file %s line %d %r is not a constraint: %s"
                                     % (what, self.shown, number, masking.mask_text(line), exc))
            if requirement.name is None or requirement.editable:
                raise VenvBuildError("%s: the constraints file %s line %d %r is not a constraint: a constraint must "
                                     "name its project and cannot be editable" % (what, self.shown, number, masking.mask_text(line)))
            self.lines.append(line)

    @property
    def fingerprint_line(self):
        """What identifies the reference: where (no credentials) and the content's sha256."""
        return "-c %s # sha256:%s" % (self.shown, self.sha256)

    @property
    def inlined(self):
        """The lines that stand for the reference in the file the installer reads."""
        return ["# -c %s (sha256:%s, read and inlined by wheelhouse.venv)" % (self.shown, self.sha256)] + self.lines


def not_regular(path):
    """None for a regular file; else what it is ("a FIFO", ...): reading one could wait for ever. OSError if absent."""
    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        return None
    return "a FIFO" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode) else "a device or socket"


# A referenced file (constraints, lock) larger than this is refused: reading it is bounded.
MAX_REFERENCED_FILE = 16 * 1024 * 1024


def read_reference(target, label, trusted_hosts=(), environment=None):
    """The bytes of a file a task references: a regular file on this host, or one GET of an http(s) URL.

    label names it in errors ("constraints: the constraints file", "the lock file"); VenvBuildError when
    it cannot be read, its location shown without credentials.
    """
    parts = urlsplit(target) if "://" in target else None
    if parts is not None and parts.scheme.lower() in ("http", "https"):
        # imported here: the HTTP stack is only needed for a URL
        from ansible_collections.wheelhouse.venv.plugins.module_utils import _reach as reach
        return reach.fetch(target, label, trusted_hosts, environment)
    path = unquote(parts.path) if parts is not None else target
    shown = masking.strip_credentials(target)
    try:
        kind = not_regular(path)
        if kind:
            raise VenvBuildError("%s %s is not a regular file (it is %s): reference a file" % (label, shown, kind))
        with open(path, "rb") as handle:
            data = handle.read(MAX_REFERENCED_FILE + 1)
    except (IOError, OSError) as exc:
        raise VenvBuildError("%s %s cannot be read: %s" % (label, shown, exc.strerror or exc))
    if len(data) > MAX_REFERENCED_FILE:
        raise VenvBuildError("%s %s is larger than %d MiB: reference a text file of pins"
                             % (label, shown, MAX_REFERENCED_FILE // (1024 * 1024)))
    if b"\0" in data:
        raise VenvBuildError("%s %s is binary (it holds NUL bytes): reference a text file" % (label, shown))
    return data


def load(lines, what, trusted_hosts=(), environment=None):
    """{index in lines: Referenced} of the '-c <x>' lines, each read once; nothing else is read."""
    loaded = {}
    for index, target in split_lines(lines, what)[1]:
        loaded[index] = Referenced(target, what, read_reference(target, "%s: the constraints file" % what, trusted_hosts, environment))
    return loaded


def expand(lines, loaded, inline=True):
    """lines with each reference replaced: by its inlined lines, or (inline=False) by its fingerprint line."""
    result = []
    for index, line in enumerate(lines):
        if index not in loaded:
            result.append(line)
        elif inline:
            result.extend(loaded[index].inlined)
        else:
            result.append(loaded[index].fingerprint_line)
    return result


def conflict_sides(loaded, what):
    """(name, parsed lines) of each referenced file, a side of its own in the conflict checks."""
    return [("%s (from %s)" % (what, ref.shown), pep508.parse_lines(ref.lines, what))
            for index, ref in sorted(loaded.items())]


def digests(loaded):
    """{where: sha256} of the referenced files, for the state file (no credentials)."""
    return dict((ref.shown, ref.sha256) for ref in loaded.values())

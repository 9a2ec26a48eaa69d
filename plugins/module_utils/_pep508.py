# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Requirement lines, versions, specifiers and markers (PEP 508 / PEP 440), in plain Python.

The module runs on targets whose system Python has neither pip nor packaging, so the parts
it needs are here: enough to validate input lines, compare pins and walk dependencies.
"""

from __future__ import annotations

import itertools
import operator
import os
import re

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError


def canonical_name(name):
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- readings ------------------------------------------------------------------------------
# pip reads markers and specifiers with the `packaging` it vendors, and the series read some of them differently
# (a marker that compares a string with something that looks like a version, a specifier with an epoch and a
# wildcard, ...). Each reading answers as one series does; the venv's installer decides which one applies.

PACKAGING_21 = "packaging-21"  # packaging 21.3 and older: pip before 24.1 (Debian 12's 23.0.1, Ubuntu 24.04's 24.0)
PACKAGING_24 = "packaging-24"  # packaging 22 to 25: pip 24.1 to 25.x
PACKAGING_26 = "packaging-26"  # packaging 26: pip 26 and later; uv, which follows the current specification
READINGS = (PACKAGING_21, PACKAGING_24, PACKAGING_26)


def reading_for(install_tool, pip_version):
    """The reading of the installer that fills a venv: uv's, or that of the venv's pip (pip_version None: no pip)."""
    if install_tool == "uv" or not pip_version:
        return PACKAGING_26
    try:
        release = Version(pip_version).release
    except ValueError:
        return PACKAGING_26
    if release < (24, 1):  # pip 24.1b1 was the first to vendor packaging 24 (24.0); 24.0 still had 21.3
        return PACKAGING_21
    if release < (26,):  # pip 26.0 vendors packaging 26.0
        return PACKAGING_24
    return PACKAGING_26


# --- versions (PEP 440) -----------------------------------------------------------------

_VERSION = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE_ORDER = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_PRE_LETTER = ("a", "b", "rc")


class Version(object):
    """A PEP 440 version that compares like pip compares."""

    def __init__(self, text):
        match = _VERSION.match(text)
        if not match:
            raise ValueError("invalid version %r" % text)
        self.text = text.strip()
        self.epoch = int(match.group("epoch") or 0)
        self.release = tuple(int(p) for p in match.group("release").split("."))
        self.pre = None
        if match.group("pre"):
            self.pre = (_PRE_ORDER[match.group("pre_l").lower()], int(match.group("pre_n") or 0))
        self.post = None
        if match.group("post"):
            self.post = int(match.group("post_n1") or match.group("post_n2") or 0)
        self.dev = int(match.group("dev_n") or 0) if match.group("dev") else None
        local = match.group("local")
        self.local = tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"[-_.]", local)) if local else None

    def _key(self, with_local=True):
        release = _trimmed(self.release)
        if self.pre is None and self.post is None and self.dev is not None:
            pre = (-1, 0)  # 1.0.dev0 sorts before 1.0a0
        elif self.pre is None:
            pre = (9, 0)
        else:
            pre = self.pre
        post = (-1,) if self.post is None else (self.post,)
        dev = (float("inf"),) if self.dev is None else (self.dev,)
        local = ()
        if with_local and self.local is not None:
            local = tuple((1, p, "") if isinstance(p, int) else (0, 0, p) for p in self.local)
        return (self.epoch, release, pre, post, dev, local)

    def normalized(self, release_zeros=True, local=True):
        """The version as packaging writes it (str(Version), canonicalize_version without release_zeros)."""
        release = ".".join(str(p) for p in self.release)
        if not release_zeros:
            release = re.sub(r"(\.0)+$", "", release)
        parts = ["%d!" % self.epoch if self.epoch else "", release]
        if self.pre is not None:
            parts.append("%s%d" % (_PRE_LETTER[self.pre[0]], self.pre[1]))
        if self.post is not None:
            parts.append(".post%d" % self.post)
        if self.dev is not None:
            parts.append(".dev%d" % self.dev)
        if local and self.local is not None:
            parts.append("+" + ".".join(str(p) for p in self.local))
        return "".join(parts)

    def __str__(self):
        return self.normalized()

    @property
    def public(self):
        return self.normalized(local=False)

    @property
    def base_version(self):
        return ("%d!" % self.epoch if self.epoch else "") + ".".join(str(p) for p in self.release)

    @property
    def is_prerelease(self):
        return self.pre is not None or self.dev is not None

    @property
    def is_postrelease(self):
        return self.post is not None

    def __eq__(self, other):
        return self._key() == other._key()

    def __ne__(self, other):
        return not self == other

    def __lt__(self, other):
        return self._key() < other._key()

    def __le__(self, other):
        return self._key() <= other._key()

    def __gt__(self, other):
        return self._key() > other._key()

    def __ge__(self, other):
        return self._key() >= other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return "Version(%r)" % self.text


def is_version(text):
    return bool(_VERSION.match(text))


def _version_or_none(text):
    try:
        return Version(text)
    except ValueError:
        return None


# --- specifiers ---------------------------------------------------------------------------

def _specifier_pattern(arbitrary, wildcard_with_suffixes):
    """packaging's specifier grammar: `===` takes `arbitrary`; 21.3 also allowed a pre or post-release before `.*`."""
    pre = r"(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?"
    post = r"(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?"
    dev = r"(?:[-_.]?dev[-_.]?[0-9]*)?"
    local = r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?"
    release = r"v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*"
    if wildcard_with_suffixes:
        equal = release + pre + post + r"(?:" + dev + local + r"|\.\*)?"
    else:
        equal = release + r"(?:\.\*|" + pre + post + dev + local + r")?"
    compatible = r"v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)+" + pre + post + dev
    return re.compile(
        r"^\s*(?:(?P<arbitrary>===)\s*(?P<arbitrary_v>%s)|(?P<equal>==|!=)\s*(?P<equal_v>%s)|(?P<compatible>~=)\s*"
        r"(?P<compatible_v>%s)|(?P<ordered><=|>=|<|>)\s*(?P<ordered_v>%s))\s*$"
        % (arbitrary, equal, compatible, release + pre + post + dev), re.IGNORECASE)


_SPECIFIER = {
    PACKAGING_21: _specifier_pattern(r"[^\s]*", True),
    PACKAGING_24: _specifier_pattern(r"[^\s;)]*", False),
    PACKAGING_26: _specifier_pattern(r"[^\s;)]+", False),
}
_SPECIFIER_OPS = ("arbitrary", "equal", "compatible", "ordered")
_SUFFIXES = ("dev", "a", "b", "rc", "post")
_PREFIX = re.compile(r"^([0-9]+)((?:a|b|c|rc)[0-9]+)$")


def _specifier_problem(text):
    """Why text is no specifier, in words."""
    match = re.match(r"^\s*(?P<op>~=|===|==|!=|<=|>=|<|>)\s*(?P<version>\S*)\s*$", text)
    if not match:
        return "invalid version specifier %r" % text.strip()
    op, version = match.group("op"), match.group("version")
    if version.endswith(".*") and op not in ("==", "!="):
        return "a '.*' version is only allowed with == or != in %r" % text.strip()
    if op == "~=" and "." not in version:
        return "'~=' needs at least two release segments in %r" % text.strip()
    if "+" in version and op not in ("==", "!=", "==="):
        return "a local version (+...) is only allowed with == or != in %r" % text.strip()
    return "invalid version %r in specifier %r" % (version, text.strip())


def _split_21(version):
    """packaging 21.3's _version_split: release parts, a pre-release split off its number; an epoch stays on."""
    result = []
    for item in version.split("."):
        match = _PREFIX.search(item)
        result.extend(match.groups() if match else [item])
    return result


def _split_24(version):
    """packaging 22+'s _version_split: the epoch first ('0' when none), then as 21.3."""
    epoch, dummy, rest = version.rpartition("!")
    return [epoch or "0"] + _split_21(rest)


def _pad(left, right):
    """packaging's _pad_version: zeros after the shorter release part."""
    left_release = list(itertools.takewhile(lambda x: x.isdigit(), left))
    right_release = list(itertools.takewhile(lambda x: x.isdigit(), right))
    return (left_release + ["0"] * max(0, len(right_release) - len(left_release)) + left[len(left_release):],
            right_release + ["0"] * max(0, len(left_release) - len(right_release)) + right[len(right_release):])


class Specifier(object):
    """One clause such as '>=1.2' or '==2.*', read as the packaging series `reading` reads it."""

    def __init__(self, text, reading=PACKAGING_21):
        match = _SPECIFIER[reading].match(text)
        if not match:
            raise ValueError(_specifier_problem(text))
        kind = next(k for k in _SPECIFIER_OPS if match.group(k))
        self.op = match.group(kind)
        self.version = match.group(kind + "_v").strip()
        self.reading = reading

    def __str__(self):
        return self.op + self.version

    @property
    def is_exact_pin(self):
        return self.op in ("==", "===") and not self.version.endswith(".*")

    @property
    def prereleases(self):
        """Whether the clause lets pre-releases match when the caller does not say (packaging's property)."""
        if self.op not in ("==", ">=", "<=", "~=", "==="):
            return False
        version = self.version[:-2] if self.op == "==" and self.version.endswith(".*") else self.version
        if self.reading == PACKAGING_21:
            parsed = _version_or_none(version)  # packaging 21.3 reads any other string as a LegacyVersion
            return parsed is not None and parsed.is_prerelease
        return Version(version).is_prerelease

    def contains(self, version_text, prereleases=True):
        """Whether version_text matches; prereleases as packaging's argument (None: the clause's own rule).

        A string that is no version matches nothing but '===' in packaging 21.3 and 26 and raises ValueError in
        packaging 22 to 25; packaging 26 matches pre-releases when prereleases is None.
        """
        if self.reading == PACKAGING_26:
            return self._contains_26(version_text, prereleases)
        if prereleases is None:
            prereleases = self.prereleases
        if self.reading == PACKAGING_21:
            version = _version_or_none(version_text)
            if version is None:  # a LegacyVersion: only '===' compares it (as the string it is)
                return self.op == "===" and version_text.lower() == self.version.lower()
        else:
            version = Version(version_text)
        if version.is_prerelease and not prereleases:
            return False
        return self._compare(version, self.op, self.version)

    def _compare(self, prospective, op, spec):
        """packaging 21.3 and 22-25: Specifier._compare_<op>(prospective, spec)."""
        if op == "===":
            return str(prospective).lower() == spec.lower()
        if op == "~=":
            legacy = self.reading == PACKAGING_21
            parts = list(itertools.takewhile(lambda p: not p.startswith(_SUFFIXES),
                                             _split_21(spec) if legacy else _split_24(spec)))[:-1]
            prefix = ".".join(parts) if legacy else "%s!%s" % (parts[0], ".".join(parts[1:]))
            return self._compare(prospective, ">=", spec) and self._compare(prospective, "==", prefix + ".*")
        if op in ("==", "!="):
            return self._equal(prospective, spec) is (op == "==")
        if op == "<=":
            return Version(prospective.public) <= Version(spec)
        if op == ">=":
            return Version(prospective.public) >= Version(spec)
        spec_version = Version(spec)
        same_base = Version(prospective.base_version) == Version(spec_version.base_version)
        if op == "<":
            return prospective < spec_version and not (
                not spec_version.is_prerelease and prospective.is_prerelease and same_base)
        return prospective > spec_version and not (
            (not spec_version.is_postrelease and prospective.is_postrelease and same_base)
            or (prospective.local is not None and same_base))

    def _equal(self, prospective, spec):
        if not spec.endswith(".*"):
            spec_version = Version(spec)
            if spec_version.local is None:
                prospective = Version(prospective.public)
            return prospective == spec_version
        if self.reading == PACKAGING_21:
            split_spec = _split_21(spec[:-2])
            padded_spec, padded_prospective = _pad(split_spec, _split_21(prospective.public)[: len(split_spec)])
            return padded_prospective == padded_spec
        split_spec = _split_24(Version(spec[:-2]).normalized())
        padded_prospective = _pad(_split_24(prospective.public), split_spec)[0]
        return padded_prospective[: len(split_spec)] == split_spec

    def _contains_26(self, version_text, prereleases):
        """packaging 26: a string that is no version matches nothing; '===' compares the strings."""
        if self.op == "===":
            if version_text.lower() != self.version.lower():
                return False
            version = _version_or_none(version_text)
            return prereleases is not False or version is None or not version.is_prerelease
        version = _version_or_none(version_text)
        if version is None or (prereleases is False and version.is_prerelease):
            return False
        if self.op in ("==", "!=", "<=", ">="):
            return self._compare(version, self.op, self.version)
        spec = Version(self.version)
        if self.op == "~=":  # the release without its last part, also where a pre-release is spelled 'c'
            prefix = "%d!%s.*" % (spec.epoch, ".".join(str(p) for p in spec.release[:-1]))
            return version >= spec and self._compare(version, "==", prefix)
        if (version.epoch, _trimmed(version.release)) != (spec.epoch, _trimmed(spec.release)):
            return version < spec if self.op == "<" else version > spec
        if self.op == "<":
            # '<V' is '<V.dev0' unless V is a pre-release: nothing of V's own release below it matches
            if spec.is_prerelease:
                return version < spec
            return version < Version(spec.public + ".dev0") if spec.post is not None else False
        # '>V' leaves out V's post-releases (those sharing V's pre-release part) and V's local versions
        if spec.dev is not None or spec.post is not None:
            return version > spec and not (version.local is not None and Version(version.public) == spec)
        return version > spec and version.pre != spec.pre


def _trimmed(release):
    release = list(release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return tuple(release)


def parse_specifiers(text, reading=PACKAGING_21):
    text = text.strip()
    if not text:
        return []
    return [Specifier(part, reading) for part in text.split(",")]


def specifiers_contain(specifiers, version_text):
    return all(s.contains(version_text) for s in specifiers)


# --- markers ------------------------------------------------------------------------------

_MARKER_VARS = (
    "python_version", "python_full_version", "os_name", "sys_platform", "platform_release",
    "platform_system", "platform_version", "platform_machine", "platform_python_implementation",
    "implementation_name", "implementation_version", "extra", "extras", "dependency_groups",
    # legacy spellings pip still accepts
    "os.name", "sys.platform", "platform.version", "platform.machine", "platform.python_implementation",
    "python_implementation",
)
_MARKER_TOKEN = re.compile(
    r"""\s*(?:(?P<string>'[^']*'|"[^"]*")|(?P<op>===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b)
    |(?P<bool>and\b|or\b)|(?P<paren>[()])|(?P<var>[a-zA-Z_][a-zA-Z0-9_.]*))""",
    re.VERBOSE,
)
# packaging 26 compares only these as versions; the others are strings, ordered by nothing
_VERSION_MARKERS = ("implementation_version", "platform_release", "python_full_version", "python_version")
_EQUALITY_OPS = {"==": operator.eq, "!=": operator.ne, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}
_PYTHON_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_STRING_OPS = {  # '~=' and '===' have no string form in any
    PACKAGING_21: dict(_EQUALITY_OPS, **_PYTHON_ORDER),
    PACKAGING_24: dict(_EQUALITY_OPS, **_PYTHON_ORDER),
    # packaging 26 orders no strings: '<' and '>' never hold, '<=' and '>=' hold for equal strings
    PACKAGING_26: dict(_EQUALITY_OPS, **{"<": lambda a, b: False, "<=": operator.eq, ">": lambda a, b: False,
                                         ">=": operator.eq}),
}


class Marker(object):
    """A parsed environment marker; evaluate(env, reading) answers whether it applies."""

    def __init__(self, text):
        self.text = text.strip()
        self._tokens = self._tokenize(self.text)
        self._pos = 0
        self.tree = self._parse_or()
        if self._pos != len(self._tokens):
            raise ValueError("unexpected %r in marker %r" % (self._tokens[self._pos][1], self.text))

    @staticmethod
    def _tokenize(text):
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _MARKER_TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise ValueError("cannot parse marker %r at %r" % (text, text[pos:].strip()))
            kind = match.lastgroup
            value = match.group(kind)
            if kind == "op":
                value = re.sub(r"\s+", " ", value)
            tokens.append((kind, value))
            pos = match.end()
        return tokens

    def _peek(self):
        return self._tokens[self._pos] if self._pos < len(self._tokens) else (None, None)

    def _take(self):
        token = self._peek()
        self._pos += 1
        return token

    def _parse_or(self):
        node = self._parse_and()
        while self._peek() == ("bool", "or"):
            self._take()
            node = ("or", node, self._parse_and())
        return node

    def _parse_and(self):
        node = self._parse_atom()
        while self._peek() == ("bool", "and"):
            self._take()
            node = ("and", node, self._parse_atom())
        return node

    def _parse_atom(self):
        if self._peek() == ("paren", "("):
            self._take()
            node = self._parse_or()
            if self._take() != ("paren", ")"):
                raise ValueError("missing ')' in marker %r" % self.text)
            return node
        left = self._parse_value()
        kind, op = self._take()
        if kind != "op":
            raise ValueError("expected a comparison in marker %r" % self.text)
        return ("cmp", left, op, self._parse_value())

    def _parse_value(self):
        kind, value = self._take()
        if kind == "string":
            return ("str", value[1:-1])
        if kind == "var" and value in _MARKER_VARS:
            return ("var", value.replace(".", "_"))
        raise ValueError("unknown marker variable %r in %r" % (value, self.text))

    def evaluate(self, env, reading=PACKAGING_21):
        """Whether the marker holds in env, as the packaging series `reading` answers (READINGS).

        ValueError where that packaging raises: a comparison it has no string form for ('~=', '==='), and in
        packaging 22 to 25 a string that is no version against a version clause (such as platform_machine
        != '1!3.*'). `extra` names are compared normalized (PEP 685) in every reading: pip before 24.1 compares
        the spellings, and a dependency of an extra is then kept rather than pruned.
        """
        if reading not in READINGS:
            raise ValueError("unknown marker reading %r (one of %s)" % (reading, ", ".join(READINGS)))
        return self._eval(self.tree, env, reading)

    def _eval(self, node, env, reading):
        if node[0] in ("or", "and"):
            # packaging evaluates every comparison before it combines them: one it cannot evaluate raises even
            # where the other side of the 'or' holds
            first, second = self._eval(node[1], env, reading), self._eval(node[2], env, reading)
            return (first or second) if node[0] == "or" else (first and second)
        left, op, right = node[1:]
        # as packaging does: the environment's value of the variable on the left, else of the one on the right
        if left[0] == "var":
            key, lhs, rhs = left[1], env.get(left[1], ""), right[1]
        elif right[0] == "var":
            key, lhs, rhs = right[1], left[1], env.get(right[1], "")
        else:
            raise ValueError("the marker %r compares two strings, not a marker variable" % self.text)
        if key == "extra":
            lhs, rhs = canonical_name(lhs), canonical_name(rhs)
        # As packaging reads a marker: when op + rhs is a version specifier (wildcards such as "3.11.*" included),
        # the specifier decides (packaging 26: only for the version variables); otherwise the strings are compared.
        spec = None
        if reading != PACKAGING_26 or key in _VERSION_MARKERS:
            try:
                spec = Specifier(op + rhs, reading)
            except ValueError:
                spec = None
        if spec is not None:
            try:
                # 21.3 lets a pre-release match only a clause that names one itself; later ones let it match
                return spec.contains(lhs, prereleases=None if reading == PACKAGING_21 else True)
            except ValueError:
                raise ValueError("%r is no version: the marker %r cannot compare it with %r (as %s reads it)"
                                 % (lhs, self.text, str(spec), reading))
        compare = _STRING_OPS[reading].get(op)
        if compare is None:
            raise ValueError("the marker %r compares %r %s %r, which has no meaning for strings (as %s reads it)"
                             % (self.text, lhs, op, rhs, reading))
        return compare(lhs, rhs)


def marker_environment(python_version):
    """The marker environment of a CPython venv of the given version on this host."""
    uname = os.uname()
    full = python_version
    short = ".".join(full.split(".")[:2])
    return {
        "python_version": short,
        "python_full_version": full,
        "implementation_version": full,
        "os_name": os.name,
        "sys_platform": "linux" if uname.sysname == "Linux" else uname.sysname.lower(),
        "platform_system": uname.sysname,
        "platform_release": uname.release,
        "platform_version": uname.version,
        "platform_machine": uname.machine,
        "platform_python_implementation": "CPython",
        "python_implementation": "CPython",
        "implementation_name": "cpython",
        "extra": "",
    }


# --- requirement lines --------------------------------------------------------------------

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_NAMED = re.compile(
    r"^(?P<name>" + _NAME + r")\s*(?:\[(?P<extras>[^\]]*)\])?\s*(?P<rest>.*)$"
)
_URL_SCHEME = re.compile(r"^(?:git|hg|svn|bzr)\+[a-z]+://|^(?:https?|file|ftp)://", re.IGNORECASE)
_LOCAL_URL = re.compile(r"^(?:(?:git|hg|svn|bzr)\+)?file:", re.IGNORECASE)
_EGG = re.compile(r"[#&]egg=(?P<name>[^&\s\[]+)(?:\[(?P<extras>[^\]]*)\])?")
_HASH = re.compile(r"--hash[=\s]\s*(?P<algo>sha256|sha384|sha512):(?P<digest>[0-9a-fA-F]+)")
_ARCHIVE = re.compile(r"\.(?:whl|tar\.gz|tgz|tar\.bz2|tar|zip)$", re.IGNORECASE)


class Requirement(object):
    """One requirement or constraint line, parsed.

    kind is 'named' (name, specifiers), 'url' (a direct reference, named or not) or 'path'.
    """

    def __init__(self, line, name=None, extras=(), specifiers=(), marker=None, url=None,
                 kind="named", editable=False, hashes=()):
        self.line = line
        self.name = canonical_name(name) if name else None
        self.extras = tuple(sorted(canonical_name(e) for e in extras))
        self.specifiers = list(specifiers)
        self.marker = marker
        self.url = url
        self.kind = kind
        self.editable = editable
        self.hashes = tuple(hashes)

    def applies(self, env, reading=PACKAGING_21):
        """Whether the line is for env; a marker that reading cannot evaluate (ValueError) does not apply."""
        try:
            return self.marker is None or self.marker.evaluate(env, reading)
        except ValueError:
            return False

    @property
    def exact_pin(self):
        pins = [s.version for s in self.specifiers if s.is_exact_pin]
        return pins[0] if pins else None

    def __repr__(self):
        return "Requirement(%r)" % self.line


def strip_comment(line):
    """Drop a '#' comment the way pip does: at line start or after white space."""
    return re.sub(r"(^|\s+)#.*$", "", line).strip()


def _split_extras(text):
    if not text:
        return ()
    extras = [e.strip() for e in text.split(",") if e.strip()]
    for extra in extras:
        if not re.match("^" + _NAME + "$", extra):
            raise ValueError("invalid extra %r" % extra)
    return extras


def parse_requirement(line):
    """Parse one requirement line; raise ValueError with the reason when it is not valid."""
    text = strip_comment(line)
    if not text:
        return None
    hashes = []
    for match in _HASH.finditer(text):
        hashes.append("%s:%s" % (match.group("algo"), match.group("digest").lower()))
    text = _HASH.sub("", text).strip()
    if "--hash" in text:
        raise ValueError("invalid --hash option (use --hash=sha256:<hex digest>)")
    editable = False
    edit = re.match(r"^(?:-e|--editable)(?:\s+|=)(?P<target>.+)$", text)
    if edit:
        editable, text = True, edit.group("target").strip()
    if text.startswith("-"):
        raise ValueError("options such as %r are not requirement lines; use the module's options instead"
                         % text.split()[0])
    if _URL_SCHEME.match(text):
        url, dummy, marker_text = text.partition(" ;")
        url = url.strip()
        egg = _EGG.search(url)
        name = egg.group("name") if egg else None
        if name and not re.match("^" + _NAME + "$", name):
            raise ValueError("invalid #egg= project name %r" % name)
        return Requirement(line, name=name, extras=_split_extras(egg.group("extras")) if egg else (),
                           marker=Marker(marker_text) if marker_text.strip() else None,
                           url=url, kind="url", editable=editable, hashes=hashes)
    named = _NAMED.match(text)
    direct = bool(named) and named.group("rest").strip().startswith("@")
    if text.startswith((".", "/", "~")) or (not direct and _ARCHIVE.search(text.split(";")[0].strip()) and "/" in text):
        path, dummy, marker_text = text.partition(";")
        return Requirement(line, marker=Marker(marker_text) if marker_text.strip() else None,
                           url=path.strip(), kind="path", editable=editable, hashes=hashes)
    if editable:
        raise ValueError("editable requirements need a path or a VCS URL")
    match = named
    if not match:
        raise ValueError("not a requirement: expected a project name, a URL or a path")
    name, extras, rest = match.group("name"), _split_extras(match.group("extras")), match.group("rest").strip()
    marker = None
    if rest.startswith("@"):
        url_part, sep, marker_text = rest[1:].strip().partition(" ;")
        if not sep and ";" in url_part and "://" not in url_part:
            url_part, dummy, marker_text = url_part.partition(";")
        url_part = url_part.strip()
        if not url_part:
            raise ValueError("'%s @' needs a URL after the '@'" % name)
        # pip-compile writes local URLs as file:/path and git+file:/path (one slash).
        if not (_URL_SCHEME.match(url_part) or _LOCAL_URL.match(url_part)):
            raise ValueError("'%s @ %s': a direct reference must be a URL (https://, file://, git+...)"
                             % (name, url_part))
        marker = Marker(marker_text) if marker_text.strip() else None
        return Requirement(line, name=name, extras=extras, marker=marker, url=url_part, kind="url",
                           hashes=hashes)
    spec_text, dummy, marker_text = rest.partition(";")
    spec_text = spec_text.strip()
    if spec_text.startswith("(") and spec_text.endswith(")"):
        spec_text = spec_text[1:-1]
    if spec_text and not re.match(r"^(?:~=|===|==|!=|<=|>=|<|>)", spec_text):
        raise ValueError("unexpected %r after the project name %r" % (spec_text.split()[0], name))
    specifiers = parse_specifiers(spec_text)
    marker = Marker(marker_text) if marker_text.strip() else None
    return Requirement(line, name=name, extras=extras, specifiers=specifiers, marker=marker,
                       kind="named", hashes=hashes)


def parse_lines(lines, what):
    """Parse a list of lines; raise VenvBuildError naming the first bad line of `what`."""
    parsed = []
    for number, line in enumerate(lines, 1):
        if not isinstance(line, str):
            raise VenvBuildError("%s item %d is not a string: %r" % (what, number, line))
        try:
            requirement = parse_requirement(line)
        except ValueError as exc:
            raise VenvBuildError("invalid %s line %d %r: %s" % (what, number, line.strip(), exc))
        if requirement is not None:
            parsed.append(requirement)
    return parsed


def parse_constraint_lines(lines, what):
    """Constraints are named requirements (pip also allows URLs with a name)."""
    parsed = parse_lines(lines, what)
    for requirement in parsed:
        if requirement.name is None:
            raise VenvBuildError("invalid %s line %r: a constraint must name its project" % (what, requirement.line))
        if requirement.editable:
            raise VenvBuildError("invalid %s line %r: a constraint cannot be editable" % (what, requirement.line))
    return parsed


def metadata_requirement(text):
    """Parse a Requires-Dist value from installed metadata (never raises: unknown text is skipped)."""
    try:
        return parse_requirement(text)
    except ValueError:
        return None

# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Requirement lines, versions, specifiers and markers (PEP 508 / PEP 440), in plain Python.

The module runs on targets whose system Python has neither pip nor packaging, so the parts
it needs are here: enough to validate input lines, compare pins and walk dependencies.
"""

from __future__ import annotations

import operator
import os
import re

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError


def canonical_name(name):
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- versions (PEP 440) -----------------------------------------------------------------

_VERSION = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE_ORDER = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}


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

    @property
    def public(self):
        return self.text.split("+", 1)[0]

    @property
    def is_prerelease(self):
        return self.pre is not None or self.dev is not None

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


# --- specifiers ---------------------------------------------------------------------------

_SPEC = re.compile(r"^\s*(?P<op>~=|===|==|!=|<=|>=|<|>)\s*(?P<version>[^\s,;]+)\s*$")


class Specifier(object):
    """One clause such as '>=1.2' or '==2.*'."""

    def __init__(self, text):
        match = _SPEC.match(text)
        if not match:
            raise ValueError("invalid version specifier %r" % text.strip())
        self.op = match.group("op")
        self.version = match.group("version")
        wildcard = self.version.endswith(".*") and self.op != "==="  # '===' compares any string as it is
        if wildcard and self.op not in ("==", "!="):
            raise ValueError("a '.*' version is only allowed with == or != in %r" % text.strip())
        if self.op != "===" and not is_version(self.version[:-2] if wildcard else self.version):
            raise ValueError("invalid version %r in specifier %r" % (self.version, text.strip()))
        if self.op == "~=" and "." not in self.version:
            raise ValueError("'~=' needs at least two release segments in %r" % text.strip())
        if self.op not in ("==", "!=", "===") and "+" in self.version:
            raise ValueError("a local version (+...) is only allowed with == or != in %r" % text.strip())

    def __str__(self):
        return self.op + self.version

    @property
    def names_a_prerelease(self):
        """True when the clause's own version is a pre-release (packaging then lets pre-releases match it)."""
        if self.op in ("!=", "==="):
            return False
        version = self.version[:-2] if self.version.endswith(".*") else self.version
        return Version(version).is_prerelease

    @property
    def is_exact_pin(self):
        return self.op in ("==", "===") and not self.version.endswith(".*")

    def contains(self, version_text):
        if self.op == "===":
            return version_text.strip().lower() == self.version.lower()
        version = Version(version_text)
        if self.version.endswith(".*"):  # ('===' returned above)
            prefix = Version(self.version[:-2]).release
            release = version.release + (0,) * max(0, len(prefix) - len(version.release))
            matched = version.epoch == Version(self.version[:-2]).epoch and release[: len(prefix)] == prefix
            return matched if self.op == "==" else not matched
        spec = Version(self.version)
        if self.op == "==":
            if spec.local is None:
                return version._key(with_local=False) == spec._key(with_local=False)
            return version == spec
        if self.op == "!=":
            return not Specifier("==" + self.version).contains(version_text)
        if self.op == "~=":
            epoch = "%d!" % spec.epoch if spec.epoch else ""
            prefix = epoch + ".".join(str(p) for p in spec.release[:-1]) + ".*"
            return version >= spec and Specifier("==" + prefix).contains(version_text)
        plain = Version(version.public)
        if self.op == "<=":
            return plain <= spec
        if self.op == ">=":
            return plain >= spec
        same_release = plain.epoch == spec.epoch and _trimmed(plain.release) == _trimmed(spec.release)
        if self.op == "<":
            return plain < spec and not (not spec.is_prerelease and plain.is_prerelease and same_release)
        if self.op == ">":
            return plain > spec and not (plain.post is not None and spec.post is None and same_release)
        raise ValueError(self.op)


def _trimmed(release):
    release = list(release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return tuple(release)


def parse_specifiers(text):
    text = text.strip()
    if not text:
        return []
    return [Specifier(part) for part in text.split(",")]


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


_STRING_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
               ">=": operator.ge}


class Marker(object):
    """A parsed environment marker; evaluate(env) answers whether it applies."""

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

    def evaluate(self, env):
        return self._eval(self.tree, env)

    def _eval(self, node, env):
        if node[0] == "or":
            return self._eval(node[1], env) or self._eval(node[2], env)
        if node[0] == "and":
            return self._eval(node[1], env) and self._eval(node[2], env)
        left, op, right = node[1:]
        is_extra = any(side == ("var", "extra") for side in (left, right))
        lhs, rhs = self._value(left, env), self._value(right, env)
        if is_extra:
            lhs, rhs = canonical_name(lhs), canonical_name(rhs)
        if op == "in":
            return lhs in rhs
        if op == "not in":
            return lhs not in rhs
        # As pip's packaging reads a marker: when op + rhs is a version specifier (wildcards such as "3.11.*"
        # included), the specifier decides; a value that is no version then matches none of its clauses (pip 23's
        # packaging 21.3; newer ones raise). Otherwise Python's string comparison.
        try:
            spec = Specifier(op + rhs)
        except ValueError:
            spec = None
        if spec is not None:
            if op == "===":
                return spec.contains(lhs)
            if not is_version(lhs):
                return False
            # pre-releases (and dev releases) match only a clause that names one itself, as in packaging
            if Version(lhs).is_prerelease and not spec.names_a_prerelease:
                return False
            return spec.contains(lhs)
        compare = _STRING_OPS.get(op)
        return compare(lhs, rhs) if compare else False

    @staticmethod
    def _value(node, env):
        if node[0] == "str":
            return node[1]
        return env.get(node[1], "")


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

    def applies(self, env):
        return self.marker is None or self.marker.evaluate(env)

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

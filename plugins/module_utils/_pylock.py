# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PEP 751 lock files (pylock.<name>.toml) of a wheel set, written and read without a TOML library.

The target Pythons (3.9 to 3.13) have no TOML writer, and tomllib (a reader) only from 3.11: the
small subset written here is rendered by hand, and read back by tomllib where there is one, else
by read_subset, which understands exactly that subset.

Each wheel is named by its path relative to the lock file (PEP 751 packages.wheels.path): the lock
lives in the wheel folder, so the path is the wheel's file name. A relative url is not valid (uv
refuses it), and an absolute one would tie the lock to one host name.
"""

from __future__ import annotations

import re

CREATED_BY = "wheelhouse.venv"
TOOL_KEY = "wheelhouse-venv"

# TOML basic strings: these characters are escaped by name, other control characters as \uXXXX.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]')


def toml_string(value):
    """value as a TOML basic string, quotes included."""
    def escape(match):
        char = match.group(0)
        return _ESCAPES.get(char) or "\\u%04x" % ord(char)
    return '"%s"' % _NEEDS_ESCAPE.sub(escape, str(value))


def lock_file_name(name):
    """pylock.<name>.toml; PEP 751 allows no dot in <name>, so dots become '-' (glance-29.0.0: glance-29-0-0)."""
    return "pylock.%s.toml" % name.replace(".", "-")


def requires_python(python_version):
    """'==X.Y.*' of the Python the set was resolved and built for ('' when unknown)."""
    parts = str(python_version or "").split(".")
    return "==%s.%s.*" % (parts[0], parts[1]) if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else ""


def render(wheels, python_version, wheel_set, platform):
    """The text of the lock of wheels ({name, version, filename, sha256}, one per distribution), sorted by name.

    Nothing in it depends on the time of the build: the same wheel set gives the same bytes.
    """
    lines = ['lock-version = "1.0"', "created-by = %s" % toml_string(CREATED_BY)]
    if requires_python(python_version):
        lines.append("requires-python = %s" % toml_string(requires_python(python_version)))
    for wheel in sorted(wheels, key=lambda w: (w["name"], w["version"], w["filename"])):
        lines += ["", "[[packages]]", "name = %s" % toml_string(wheel["name"]),
                  "version = %s" % toml_string(wheel["version"]),
                  "", "[[packages.wheels]]", "name = %s" % toml_string(wheel["filename"]),
                  "path = %s" % toml_string(wheel["filename"]),
                  "hashes = {sha256 = %s}" % toml_string(wheel["sha256"])]
    lines += ["", "[tool.%s]" % TOOL_KEY, "wheel-set = %s" % toml_string(wheel_set),
              "platform = %s" % toml_string(platform or "")]
    return "\n".join(lines) + "\n"


# --- reading -------------------------------------------------------------------------------------

_STRING = r'"(?:[^"\\]|\\.)*"'
_KEY_VALUE = re.compile(r'^(?P<key>[A-Za-z0-9_-]+)\s*=\s*(?P<value>%s|\{\s*sha256\s*=\s*%s\s*\})\s*$' % (_STRING, _STRING))
_UNESCAPES = {"\\": "\\", '"': '"', "b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}


def _unquote(text):
    def unescape(match):
        code = match.group(1)
        return chr(int(code[1:], 16)) if code[0] in "uU" else _UNESCAPES[code]
    return re.sub(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", unescape, text[1:-1])


def read_subset(text):
    """The dict tomllib would give for a lock render() wrote; ValueError on anything else."""
    data = {}
    table = data
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "[[packages]]":
            table = {}
            data.setdefault("packages", []).append(table)
        elif line == "[[packages.wheels]]" and data.get("packages"):
            table = {}
            data["packages"][-1].setdefault("wheels", []).append(table)
        elif line == "[tool.%s]" % TOOL_KEY:
            table = data.setdefault("tool", {}).setdefault(TOOL_KEY, {})
        else:
            match = _KEY_VALUE.match(line)
            if not match:
                raise ValueError("line %d is not of the lock files this collection writes: %r" % (number, raw))
            value = match.group("value")
            if value.startswith("{"):
                table[match.group("key")] = {"sha256": _unquote(re.search(_STRING, value).group(0))}
            else:
                table[match.group("key")] = _unquote(value)
    return data


def parse(text):
    """The lock's data: tomllib where the Python has it (3.11+), else read_subset."""
    try:
        import tomllib  # Python 3.11+
    except ImportError:
        return read_subset(text)
    return tomllib.loads(text)


def read_packages(path):
    """{name: (version, sha256, wheel file name)} of a pylock file, from its first wheel with a sha256.

    For what knows the wheels a venv was installed from (an SBOM's hashes). Raises ValueError when
    the file is not a lock of wheels, IOError/OSError when it cannot be read.
    """
    with open(path) as handle:
        return packages_of(handle.read(), path)


def packages_of(text, where="the lock"):
    """{name: (version, sha256, wheel file name)} of a pylock text (see read_packages); where names it in errors."""
    data = parse(text)
    packages = {}
    for package in data.get("packages") or []:
        for wheel in package.get("wheels") or []:
            sha256 = (wheel.get("hashes") or {}).get("sha256")
            filename = wheel.get("name") or re.split(r"[/\\]", wheel.get("path") or wheel.get("url") or "")[-1]
            if sha256 and filename:
                packages[package["name"]] = (package.get("version") or "", sha256, filename)
                break
        else:
            raise ValueError("%s: package %s has no wheel with a sha256" % (where, package.get("name")))
    return packages


def wheel_set_of(text):
    """The wheel set a lock text was written for ([tool.wheelhouse-venv] wheel-set), '' when unknown."""
    try:
        return str(((parse(text).get("tool") or {}).get(TOOL_KEY) or {}).get("wheel-set") or "")
    except ValueError:
        return ""

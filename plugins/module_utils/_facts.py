# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local facts (/etc/ansible/facts.d/*.fact INI files): merged line by line.

Sections, options and comments written by others are kept as they are; only our options change.
What cannot be read back as written is refused earlier (_inputs.py); '%' is escaped here.
"""

from __future__ import annotations

import re

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
_OPTION = re.compile(r"^\s*(?P<key>[^=:#;\s][^=:]*?)\s*[=:]")


def with_sbom(facts, sbom):
    """facts, plus option sbom (the path of the venv's SBOM) in every section they name, unless they set it there.

    No SBOM (None): facts as they are.
    """
    if not sbom:
        return list(facts)
    sections = []
    for fact in facts:
        section = str(fact["section"])
        if section not in sections:
            sections.append(section)
    own = set(str(f["section"]) for f in facts if str(f["option"]).lower() == "sbom")
    return list(facts) + [{"section": s, "option": "sbom", "value": sbom} for s in sections if s not in own]


def merge_facts(text, facts):
    """Return the INI text with every {section, option, value} of facts set, the rest untouched."""
    lines = (text or "").splitlines()
    for fact in facts:
        section, option, value = str(fact["section"]), str(fact["option"]), fact.get("value")
        # ansible.builtin.setup reads the file with configparser, which interpolates '%'
        value = "" if value is None else str(value).replace("%", "%%")
        lines = _set_option(lines, section, option, value)
    return "\n".join(lines) + "\n" if lines else ""


def _set_option(lines, section, option, value):
    new_line = "%s = %s" % (option, value)
    start = None
    for index, line in enumerate(lines):
        match = _SECTION.match(line)
        if match and match.group("name").strip() == section:
            start = index
            break
    if start is None:
        if lines and lines[-1].strip():
            lines = lines + [""]
        return lines + ["[%s]" % section, new_line]
    end = len(lines)
    for index in range(start + 1, len(lines)):
        if _SECTION.match(lines[index]):
            end = index
            break
    for index in range(start + 1, end):
        match = _OPTION.match(lines[index])
        if match and match.group("key").strip().lower() == option.lower():
            return lines[:index] + [new_line] + lines[index + 1:]
    insert_at = end
    while insert_at > start + 1 and not lines[insert_at - 1].strip():
        insert_at -= 1
    return lines[:insert_at] + [new_line] + lines[insert_at:]

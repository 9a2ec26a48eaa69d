# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write docs/role-variables.md from the role's meta/argument_specs.yml.

    python scripts/gen_role_docs.py            write docs/role-variables.md
    python scripts/gen_role_docs.py --check    exit 1 when the checked-in file is stale

The argument specs are the one source of the role's variable reference (type, default, choices,
required, description); the reference is generated so that it cannot drift from them. A computed (Jinja)
default is not in the specs (antsibull-docs wants literal defaults): it comes from defaults/main.yml.
tests/unit/test_docs_reference.py calls render() and compares.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROLE = os.path.join(ROOT, "roles", "python_venv_build")
SPECS = os.path.join(ROLE, "meta", "argument_specs.yml")
DEFAULTS = os.path.join(ROLE, "defaults", "main.yml")
OUTPUT = os.path.join(ROOT, "docs", "role-variables.md")
ENTRY_POINT = "main"

# Sections of the reference, in order. A variable not listed here still gets documented, under
# OTHER, in the order of the specs: a new variable never goes missing from the reference.
GROUPS = (
    ("Required", "Without it the role does not start.", (
        "venv_install_destination_path",
    )),
    ("What goes into the venv", "The requirements, the constraints, the interpreter and the installer.", (
        "venv_pip_packages",
        "venv_default_pip_packages",
        "venv_build_constraints",
        "venv_build_global_constraints",
        "venv_python_executable",
        "venv_install_tool",
    )),
    ("Installing on the targets", "How each target's venv is installed by `wheelhouse.venv.venv_build`.", (
        "venv_pip_package_state",
        "venv_default_pip_install_args",
        "venv_pip_install_args",
        "venv_pip_install_env",
        "venv_pip_upgrade",
        "venv_rebuild",
        "venv_packages_to_symlink",
    )),
    ("Distribution packages", "Packages of the distribution on build hosts and targets.", (
        "venv_build_base_distro_package_list",
        "venv_build_distro_package_list",
        "venv_install_base_distro_package_list",
        "venv_install_distro_package_list",
        "venv_distro_package_state",
        "venv_distro_cache_valid_time",
    )),
    ("Build hosts and wheel builds", "Who builds the wheels of each platform, and how.", (
        "venv_wheel_build_enable",
        "venv_build_group",
        "venv_build_host",
        "venv_allow_index_installs",
        "venv_build_requirements",
        "venv_build_requirements_extra",
        "venv_pip_upgrade_noconf",
        "venv_default_pip_build_args",
        "venv_pip_build_args",
        "venv_pip_build_env",
        "venv_wheels_rebuild",
        "venv_build_lock_timeout",
        "venv_build_host_wait_timeout",
        "venv_build_host_venv_path",
        "venv_build_host_requirements_path",
        "venv_build_host_wheel_path",
        "venv_build_host_user_name",
        "venv_build_host_group_name",
    )),
    ("Wheel distribution", "How the wheels reach the targets: pulled over HTTP, or pushed through the controller.", (
        "venv_wheel_repo_url",
        "venv_wheel_repo_path",
        "venv_wheel_release",
        "venv_wheel_push_controller_path",
        "venv_wheel_push_target_path",
    )),
    ("Local facts", "Facts written on a target when its venv changed.", (
        "venv_facts_when_changed",
        "venv_facts_dest",
    )),
)
OTHER = ("Other variables", "Variables not yet placed in a section of this reference.")


class SpecError(ValueError):
    """The argument specs lack something the reference needs."""


def load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def load_options(path=SPECS):
    """The options of the role's main entry point, in the order of the file."""
    data = load_yaml(path)
    try:
        entry = data["argument_specs"][ENTRY_POINT]
    except (KeyError, TypeError):
        raise SpecError("%s has no argument_specs.%s" % (path, ENTRY_POINT))
    return entry, entry.get("options") or {}


def check_option(name, option):
    """Raise SpecError when an option lacks what its reference entry shows."""
    for key in ("type", "description"):
        if not option.get(key):
            raise SpecError("argument_specs: %s has no %s" % (name, key))
    if option.get("required") and "default" in option:
        raise SpecError("argument_specs: %s is required and has a default" % name)
    if not option.get("required") and "default" not in option:
        raise SpecError("argument_specs: %s is neither required nor has a default (a literal one in the specs, or a "
                        "computed one in defaults/main.yml)" % name)
    for sub, suboption in (option.get("options") or {}).items():
        for key in ("type", "description"):
            if not suboption.get(key):
                raise SpecError("argument_specs: %s.%s has no %s" % (name, sub, key))


def markup(text, names=()):
    """Ansible doc markup to Markdown: O(), V(), C(), E(), RV(), M(), I(), B(), U(), L()."""
    def option(match):
        value = match.group(1)
        base = value.split("=", 1)[0]
        if base in names:
            return "[`%s`](#%s)" % (value, base)
        return "`%s`" % value
    text = re.sub(r"\bO\(([^)]*)\)", option, text)
    text = re.sub(r"\b(?:V|C|E|RV)\(([^)]*)\)", r"`\1`", text)
    text = re.sub(r"\bM\(([^)]*)\)", r"`\1`", text)
    text = re.sub(r"\bI\(([^)]*)\)", r"*\1*", text)
    text = re.sub(r"\bB\(([^)]*)\)", r"**\1**", text)
    text = re.sub(r"\bU\(([^)]*)\)", r"<\1>", text)
    text = re.sub(r"\bL\(([^,)]*),\s*([^)]*)\)", r"[\1](\2)", text)
    return text


def paragraphs(description, names=()):
    if isinstance(description, str):
        description = [description]
    return [markup(" ".join(str(part).split()), names) for part in description]


def type_text(option):
    kind = option["type"]
    if option.get("elements"):
        kind += " of " + option["elements"]
    return kind


def default_yaml(name, value):
    """The default as a user would write it in group_vars."""
    return yaml.safe_dump({name: value}, default_flow_style=False, sort_keys=False, width=1000,
                          allow_unicode=True).rstrip("\n")


def is_template(value):
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(is_template(v) for v in value.values())
    if isinstance(value, list):
        return any(is_template(v) for v in value)
    return False


def template_note(text):
    """What a reader needs to know about a Jinja default."""
    note = "The default is a Jinja expression evaluated for each host"
    if "_venv_build_dist_arch" in text:
        note += "; `_venv_build_dist_arch` is the host's platform key, for example `debian-12-x86_64-py3.11`"
    if re.search(r"_venv_(?!build_dist_arch)", text):
        note += ("; %s`_venv_*` names are the role's internal variables (`roles/python_venv_build/vars/main.yml`,"
                 " or facts set by `tasks/plan.yml`)" % ("other " if "_venv_build_dist_arch" in text else ""))
    return note + "."


def short_default(option):
    """A one-line default for the overview table, or a pointer to the full entry."""
    if option.get("required"):
        return "required"
    value = option.get("default")
    if is_template(value):
        return "computed"
    if isinstance(value, (list, dict)) and value:
        return "see below"
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    if text.endswith("\n...") or text.endswith("..."):
        text = text.rsplit("...", 1)[0].strip()
    return "`%s`" % text.replace("|", "\\|")


def grouped(options):
    """[(title, intro, [names])] in the order of GROUPS, then OTHER in the order of the specs."""
    placed = set()
    sections = []
    for title, intro, members in GROUPS:
        present = [n for n in members if n in options]
        placed.update(present)
        if present:
            sections.append((title, intro, present))
    rest = [n for n in options if n not in placed]
    if rest:
        sections.append((OTHER[0], OTHER[1], rest))
    return sections


def anchor(title):
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def render_option(name, option, names):
    lines = ["### `%s`" % name, ""]
    for text in paragraphs(option["description"], names):
        lines += [text, ""]
    facts = ["Type: `%s`" % type_text(option)]
    facts.append("Required: %s" % ("**yes**" if option.get("required") else "no"))
    if option.get("choices"):
        facts.append("Choices: %s" % ", ".join("`%s`" % c for c in option["choices"]))
    if option.get("no_log"):
        facts.append("Secret: not logged")
    lines += [" · ".join(facts), ""]
    if "default" in option:
        lines += ["Default:", "", "```yaml", default_yaml(name, option["default"]), "```", ""]
        if is_template(option["default"]):
            lines += [template_note(str(option["default"])), ""]
    suboptions = option.get("options") or {}
    if suboptions:
        lines += ["Keys of each item:", ""]
        for sub, suboption in suboptions.items():
            required = ", required" if suboption.get("required") else ""
            text = " ".join(paragraphs(suboption["description"], names))
            lines.append("- `%s` (`%s`%s): %s" % (sub, type_text(suboption), required, text))
        lines.append("")
    return lines


def with_computed_defaults(options, defaults_path=DEFAULTS):
    """The options, each computed default filled in from defaults/main.yml.

    The specs give literal defaults only (antsibull-docs and ansible-doc check them against the type); a
    Jinja default is left out of them, described in words, and shown here as defaults/main.yml has it.
    """
    defaults = load_yaml(defaults_path) or {}
    filled = {}
    for name, option in options.items():
        if "default" not in option and not option.get("required") and is_template(defaults.get(name)):
            option = dict(option, default=defaults[name])
        filled[name] = option
    return filled


def render(specs_path=SPECS, defaults_path=DEFAULTS):
    """The whole reference as text."""
    entry, options = load_options(specs_path)
    options = with_computed_defaults(options, defaults_path)
    for name, option in options.items():
        check_option(name, option)
    names = set(options)
    sections = grouped(options)
    lines = [
        "<!-- Generated by scripts/gen_role_docs.py from roles/python_venv_build/meta/argument_specs.yml:",
        "     do not edit; change the specs and run: python scripts/gen_role_docs.py -->",
        "# Role variables: `wheelhouse.venv.python_venv_build`",
        "",
    ]
    for text in paragraphs(entry.get("short_description") or "", names):
        lines += [text + ".", ""]
    lines += [
        "Every public variable of the role, generated from `roles/python_venv_build/meta/argument_specs.yml`",
        "(the same specs `ansible-doc -t role wheelhouse.venv.python_venv_build` shows, and that Ansible checks",
        "when the role starts: a wrong type stops the play before anything changes).",
        "Their defaults live in `roles/python_venv_build/defaults/main.yml`, commented; a unit test",
        "(`tests/unit/test_docs_reference.py`) fails when this page, the specs and the defaults disagree.",
        "How the role uses them: [role.md](role.md) and [architecture.md](architecture.md); coming from the",
        "OpenStack-Ansible role: [migration.md](migration.md).",
        "",
        "| Variable | Type | Default | Section |",
        "|---|---|---|---|",
    ]
    for title, _intro, members in sections:
        for name in members:
            option = options[name]
            lines.append("| [`%s`](#%s) | %s | %s | [%s](#%s) |"
                         % (name, name, type_text(option), short_default(option), title, anchor(title)))
    lines.append("")
    for title, intro, members in sections:
        lines += ["## %s" % title, "", intro, ""]
        for name in members:
            lines += render_option(name, options[name], names)
    return "\n".join(lines).rstrip("\n") + "\n"


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when the file differs from what would be generated")
    parser.add_argument("--output", default=OUTPUT, help="the file to write or check (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        text = render()
    except (SpecError, OSError, yaml.YAMLError) as exc:
        print("gen_role_docs: %s" % exc, file=sys.stderr)
        return 2
    shown = os.path.relpath(args.output, ROOT)
    current = read_text(args.output)
    if args.check:
        if current == text:
            print("%s is up to date" % shown)
            return 0
        print("%s is stale: it differs from what roles/python_venv_build/meta/argument_specs.yml generates.\n"
              "Run: python scripts/gen_role_docs.py   (then commit %s)" % (shown, shown), file=sys.stderr)
        diff = difflib.unified_diff((current or "").splitlines(True), text.splitlines(True),
                                    shown + " (checked in)", shown + " (generated)")
        sys.stderr.writelines(list(diff)[:80])
        return 1
    if current == text:
        print("%s is up to date" % shown)
        return 0
    with open(args.output, "w") as handle:
        handle.write(text)
    print("wrote %s" % shown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

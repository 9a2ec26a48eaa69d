"""The role's variables: upstream names all accepted, defaults/ == meta/argument_specs.yml == docs/role.md.

    python tests/unit/plugins/role/test_role_docs.py --write    regenerates the table in docs/role.md
"""

from __future__ import annotations

import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE = os.path.join(ROOT, "roles", "python_venv_build")
DOC = os.path.join(ROOT, "docs", "role.md")
BEGIN = "<!-- BEGIN VARIABLES: generated from meta/argument_specs.yml -->"
END = "<!-- END VARIABLES -->"

# The "Default variables" of the OpenStack-Ansible python_venv_build role (seed 001).
UPSTREAM = """venv_install_destination_path venv_install_tool venv_build_base_distro_package_list
venv_install_base_distro_package_list venv_build_distro_package_list venv_install_distro_package_list
venv_distro_package_state venv_pip_package_state venv_distro_cache_valid_time venv_default_pip_packages
venv_pip_packages venv_pip_upgrade_noconf venv_build_requirements venv_build_constraints
venv_build_global_constraints venv_default_pip_build_args venv_pip_build_args venv_pip_build_env
venv_default_pip_install_args venv_pip_install_args venv_pip_install_env venv_packages_to_symlink
venv_python_executable venv_rebuild venv_wheels_rebuild venv_wheel_build_enable venv_build_group
venv_build_host venv_build_host_user_name venv_build_host_group_name venv_build_host_venv_path
venv_build_host_requirements_path venv_build_host_wheel_path venv_facts_when_changed venv_facts_dest""".split()


def specs():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def defaults():
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)


def _cell(value):
    if isinstance(value, str):
        text = '""' if value == "" else value
    else:
        text = json.dumps(value)
    return "`%s`" % text.replace("|", "\\|")


def variable_table():
    rows = ["| Variable | Type | Default | Meaning |", "|---|---|---|---|"]
    for name, option in specs().items():
        default = "(required)" if option.get("required") else _cell(option.get("default"))
        kind = option["type"] + ("/" + option["elements"] if option.get("elements") else "")
        if option.get("choices"):
            kind += " (" + ", ".join(option["choices"]) + ")"
        description = option["description"]
        if isinstance(description, list):
            description = " ".join(description)
        description = re.sub(r"[CVOM]\(([^)]*)\)", r"`\1`", description).replace("|", "\\|")
        rows.append("| `%s` | %s | %s | %s |" % (name, kind, default, description))
    return "\n".join(rows) + "\n"


def doc_table():
    with open(DOC) as handle:
        text = handle.read()
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip("\n") + "\n"


def test_every_upstream_variable_is_accepted():
    assert sorted(set(UPSTREAM) - set(specs())) == []
    assert sorted(set(UPSTREAM) - set(defaults()) - {"venv_install_destination_path"}) == []


def test_defaults_and_argument_specs_declare_the_same_variables_with_the_same_defaults():
    spec = specs()
    values = defaults()
    assert sorted(set(values) ^ (set(spec) - {"venv_install_destination_path"})) == []
    for name, value in values.items():
        assert spec[name]["default"] == value, name
        assert spec[name]["description"], name


def test_internal_variables_live_in_vars_with_the_underscore_prefix():
    with open(os.path.join(ROLE, "vars", "main.yml")) as handle:
        internal = yaml.safe_load(handle)
    assert internal and all(name.startswith("_venv_") for name in internal)
    assert not any(name.startswith("_") for name in defaults())


def test_docs_variable_table_matches_the_argument_specs():
    assert doc_table() == variable_table(), "run: python tests/unit/plugins/role/test_role_docs.py --write"


def write_table():
    with open(DOC) as handle:
        text = handle.read()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(DOC, "w") as handle:
        handle.write(head + BEGIN + "\n" + variable_table() + END + tail)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    write_table()

"""The role's variables: upstream names all accepted, defaults/ == meta/argument_specs.yml.

docs/role-variables.md, the variable reference, is checked by tests/unit/test_docs_reference.py.
"""

from __future__ import annotations

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE = os.path.join(ROOT, "roles", "python_venv_build")

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


def test_every_upstream_variable_is_accepted():
    assert sorted(set(UPSTREAM) - set(specs())) == []
    assert sorted(set(UPSTREAM) - set(defaults()) - {"venv_install_destination_path"}) == []


def test_defaults_and_argument_specs_declare_the_same_variables_with_the_same_defaults():
    spec = specs()
    values = defaults()
    assert sorted(set(values) ^ (set(spec) - {"venv_install_destination_path"})) == []
    for name, value in values.items():
        # A computed (Jinja) default is described in words only: antsibull-docs wants literal defaults.
        if "{{" in yaml.safe_dump(value):
            assert "default" not in spec[name], name
        else:
            assert spec[name]["default"] == value, name
        assert spec[name]["description"], name


def test_internal_variables_live_in_vars_with_the_underscore_prefix():
    with open(os.path.join(ROLE, "vars", "main.yml")) as handle:
        internal = yaml.safe_load(handle)
    assert internal and all(name.startswith("_venv_") for name in internal)
    assert not any(name.startswith("_") for name in defaults())

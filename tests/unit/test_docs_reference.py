"""The role's variable reference cannot drift: docs/role-variables.md == what the specs generate,
and defaults/main.yml and meta/argument_specs.yml declare the same variables.

    python scripts/gen_role_docs.py     regenerates docs/role-variables.md
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR = os.path.join(ROOT, "scripts", "gen_role_docs.py")
_spec = importlib.util.spec_from_file_location("gen_role_docs", GENERATOR)
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


def options():
    return gen.load_options(gen.SPECS)[1]


def defaults():
    with open(gen.DEFAULTS) as handle:
        return yaml.safe_load(handle) or {}


def required():
    return {name for name, option in options().items() if option.get("required")}


def test_reference_is_up_to_date():
    with open(gen.OUTPUT) as handle:
        checked_in = handle.read()
    assert checked_in == gen.render(), "docs/role-variables.md is stale: run python scripts/gen_role_docs.py"


def test_check_mode_of_the_generator_agrees():
    proc = subprocess.run([sys.executable, GENERATOR, "--check"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_check_mode_fails_with_a_clear_message_on_a_stale_file(tmp_path):
    stale = tmp_path / "role-variables.md"
    stale.write_text(gen.render().replace("venv_rebuild", "venv_rebuilt", 1))
    proc = subprocess.run([sys.executable, GENERATOR, "--check", "--output", str(stale)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "is stale" in proc.stderr and "python scripts/gen_role_docs.py" in proc.stderr


def test_every_default_is_declared_in_the_argument_specs():
    assert sorted(set(defaults()) - set(options())) == []


def test_every_declared_variable_has_a_default_unless_it_is_required():
    assert sorted(set(options()) - set(defaults()) - required()) == []


def test_required_variables_have_no_default():
    assert sorted(required() & set(defaults())) == []
    assert sorted(name for name in required() if "default" in options()[name]) == []


def test_defaults_and_argument_specs_give_the_same_default():
    spec = options()
    differ = sorted(name for name, value in defaults().items()
                    if name in spec and "default" in spec[name] and spec[name]["default"] != value)
    assert differ == []


def test_computed_defaults_are_described_in_words_not_given_as_templates():
    # antsibull-docs (and ansible-doc) want a literal default of the option's type: a Jinja default stays in
    # defaults/main.yml only, and the description says what it computes ("Default - ...").
    spec = options()
    templated_in_specs = sorted(name for name, option in spec.items() if gen.is_template(option.get("default")))
    assert templated_in_specs == []
    computed = sorted(name for name, value in defaults().items() if gen.is_template(value))
    assert computed, "defaults/main.yml has computed defaults; this test expects some"
    undescribed = sorted(name for name in computed if "Default - " not in " ".join(gen.paragraphs(spec[name]["description"])))
    assert undescribed == []
    literal_but_left_out = sorted(name for name, value in defaults().items()
                                  if name in spec and "default" not in spec[name] and not gen.is_template(value))
    assert literal_but_left_out == []


def test_every_variable_is_documented_with_type_and_description():
    for name, option in gen.with_computed_defaults(options()).items():
        gen.check_option(name, option)


def test_every_default_is_commented_where_it_is_defined():
    # debops style: a comment block above each variable (or its group of consecutive variables).
    with open(gen.DEFAULTS) as handle:
        lines = handle.read().splitlines()
    uncommented = []
    for number, line in enumerate(lines):
        match = re.match(r"^([a-z_][a-z0-9_]*):", line)
        if not match:
            continue
        above = number - 1
        while above >= 0 and re.match(r"^([a-z_][a-z0-9_]*:|\s+\S)", lines[above]):
            above -= 1  # the lines of the variables just above in the same block
        if above < 0 or not lines[above].startswith("#"):
            uncommented.append(match.group(1))
    assert uncommented == []


def test_markup_becomes_markdown():
    assert gen.markup("O(venv_build_group) V(uv) C(pip wheel) M(wheelhouse.venv.venv_build)",
                      {"venv_build_group"}) == \
        "[`venv_build_group`](#venv_build_group) `uv` `pip wheel` `wheelhouse.venv.venv_build`"
    assert gen.markup("O(venv_install_tool=uv)", {"venv_install_tool"}) == "[`venv_install_tool=uv`](#venv_install_tool)"

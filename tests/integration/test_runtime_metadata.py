"""meta/runtime.yml's plugin routing: filters on their way out still work and say where to go instead."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("expression, instead", [
    ("{{ {'a': {'_venv_platform': 'p1'}} | wheelhouse.venv.venv_platforms_of(['a']) }}", "platform"),
    ("{{ {'p1': 'a'} | wheelhouse.venv.venv_build_targets([], ['a']) }}", "build_host"),
    ("{{ [] | wheelhouse.venv.venv_build_plan }}", "venv_role_plan"),
])
def test_a_deprecated_filter_still_works_and_warns_naming_its_removal_and_the_replacement(
        ansible, expression, instead):
    proc = ansible.play([{"name": "use the filter", "ansible.builtin.debug": {"msg": expression}}],
                        callback="ansible.builtin.default")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    output = " ".join((proc.stdout + proc.stderr).split())
    assert "deprecat" in output.lower() and "1.0.0" in output, output
    assert instead in output, output

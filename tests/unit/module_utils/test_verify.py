"""Verification of a venv before it goes live: the inputs, the commands and how pip check's output is read."""

from __future__ import annotations

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils._deps import own_problems
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec


def spec(**params):
    return VenvSpec(dict({"path": "/opt/app/venv", "requirements": ["alpha"]}, **params))


def test_the_dependency_check_is_on_by_default_and_uses_the_installer():
    pip = commands.verify_commands(spec(), "/stage/v")
    assert pip == [(["/stage/v/bin/python", "-m", "pip", "check", "--disable-pip-version-check"],
                    commands.DEPENDENCY_CHECK)]
    uv = commands.verify_commands(spec(install_tool="uv"), "/stage/v", uv="/usr/bin/uv")
    assert uv == [(["/usr/bin/uv", "pip", "check", "--python", "/stage/v/bin/python"], commands.DEPENDENCY_CHECK)]
    assert commands.verify_commands(spec(check_dependencies=False), "/stage/v") == []
    assert commands.verify_commands(spec(check_dependencies=None), "/stage/v"), "None (not given) is the default: on"


def test_imports_and_the_command_run_after_the_dependency_check():
    checks = commands.verify_commands(spec(verify_imports=["yaml", " email.mime.text "],
                                           verify_command=["myapp", "--self-test"]), "/stage/v")
    assert [what for argv, what in checks] == [commands.DEPENDENCY_CHECK, "verify_imports", "verify_command"]
    imports = checks[1][0]
    assert imports[:3] == ["/stage/v/bin/python", "-I", "-c"] and imports[4:] == ["yaml", "email.mime.text"]
    assert checks[2][0] == ["myapp", "--self-test"]


def test_the_checks_run_with_the_venv_first_on_path_and_virtual_env_set():
    env = commands.verify_environment(spec(environment={"PATH": "/usr/bin", "APP_CONF": "/etc/app"}), "/stage/v")
    assert env == {"PATH": "/stage/v/bin:/usr/bin", "APP_CONF": "/etc/app", "VIRTUAL_ENV": "/stage/v"}


@pytest.mark.parametrize("name", ["", "1abc", "a..b", "a-b", "a b", "import os"])
def test_a_verify_import_that_is_not_a_module_name_fails_early(name):
    with pytest.raises(VenvBuildError, match="verify_imports: .* is not a module name"):
        spec(verify_imports=[name])


def test_a_verify_command_given_as_one_string_is_refused():
    with pytest.raises(VenvBuildError, match=r"verify_command is a list of arguments.*\[myapp, --self-test\]"):
        spec(verify_command=["myapp --self-test"])
    with pytest.raises(VenvBuildError, match="verify_command: the first item must be the command"):
        spec(verify_command=["", "x"])


def test_pip_check_problems_of_distributions_outside_the_venv_are_left_out():
    output = ("pygobject 3.42.2 requires pycairo, which is not installed.\n"
              "Alpha 1.0 requires beta, which is not installed.\n"
              "gamma 1.0 has requirement delta>=2, but you have delta 1.0.\n"
              "python3-apt 2.6.0 is not supported on this platform\n")
    assert own_problems(output, {"alpha": "1.0", "gamma": "1.0"}) == (
        "Alpha 1.0 requires beta, which is not installed.\n"
        "gamma 1.0 has requirement delta>=2, but you have delta 1.0.")
    assert own_problems(output.splitlines()[0], {"alpha": "1.0"}) == ""
    crash = "/stage/v/bin/python: No module named pip"
    assert own_problems(crash, {}) == crash, "what is not a problem line of pip check is kept"

"""prune reads markers as the installer of the venv does (issue 23, point 5).

The packaging releases pip vendors read some markers differently (_pep508.READINGS): `python_version == "0!3.*"`
is false for pip before 24.1 (packaging 21.3 loses the epoch of a wildcard) and true for pip 24.1 and later;
`platform_machine != "1!3.*"` is false for packaging 21.3 and true for packaging 26 and uv (a string compared as a
string). Whatever the installer took, prune must keep; whatever it skipped, prune may remove.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sysconfig

import pytest

from conftest import ROOT, imports

UV = os.path.join(ROOT, ".venv", "bin", "uv")


@pytest.fixture(scope="module")
def pip_24(tmp_path_factory):
    """A folder holding a pip 24.x wheel (packaging 24 vendored): the dev Python's ensurepip one, else PyPI's 24.2."""
    folder = str(tmp_path_factory.mktemp("pip-24"))
    bundled = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "ensurepip", "_bundled", "pip-24.*.whl")))
    if bundled:
        shutil.copy(bundled[-1], folder)
    else:
        subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary", ":all:", "--dest", folder, "pip==24.2"],
                       env=dict(os.environ, PIP_CONFIG_FILE=os.devnull), check=True)
    return folder


@pytest.mark.parametrize("upgrade_pip, pip_takes_it", [(False, False), (True, True)], ids=["pip-23", "pip-24"])
def test_prune_follows_the_pip_of_the_venv(ansible, venv_args, pip_24, upgrade_pip, pip_takes_it):
    """The same steps with the target's pip (Debian 12: 23.0.1) and with pip 24: extra-tool is installed first,
    then only wanted where python_version == "0!3.*". pip 24 takes that line (it is already satisfied there), so
    prune keeps extra-tool; pip 23 skips it, so prune removes it. Either way the next run changes nothing."""
    args = dict(venv_args, find_links=venv_args["find_links"] + [pip_24], upgrade_pip=upgrade_pip, prune=True)
    first = ansible.module(requirements=["alpha", "extra-tool"], **args)
    assert first["changed"] is True and first["packages"].get("extra-tool") == "0.5", first.get("msg")
    assert first["packages"]["pip"].startswith("24.") is upgrade_pip

    requirements = ["alpha", "extra-tool; python_version == '0!3.*'"]
    marked = ansible.module(requirements=requirements, **args)
    assert marked["changed"] is True, marked.get("msg")
    if pip_takes_it:
        assert not marked.get("removed") and imports(args["path"], "extra-tool"), marked["commands"]
    else:
        assert marked["removed"] == {"extra-tool": "0.5"} and not imports(args["path"], "extra-tool")
    again = ansible.module(requirements=requirements, **args)
    assert again["changed"] is False and again["commands"] == [], again.get("reasons")
    assert imports(args["path"], "extra-tool") is pip_takes_it


def test_prune_keeps_what_uv_installed_on_a_marker_pip_23_refuses(ansible, venv_args):
    """uv compares platform_machine with "1!3.*" as a string: it installs extra-tool, and prune must keep it
    (packaging 21.3 would say the marker is false)."""
    assert os.access(UV, os.X_OK), "uv is a pinned dev dependency: run scripts/bootstrap.sh"
    args = dict(venv_args, install_tool="uv", uv_executable=UV, prune=True,
                requirements=["alpha", "extra-tool; platform_machine != '1!3.*'"])
    first = ansible.module(**args)
    assert first["changed"] is True and first["packages"].get("extra-tool") == "0.5", first.get("msg")
    assert "pip" not in first["packages"] and not first.get("removed"), first["commands"]
    assert imports(args["path"], "extra-tool")
    again = ansible.module(**args)
    assert again["changed"] is False and again["commands"] == [], again.get("reasons")

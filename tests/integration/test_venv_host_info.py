"""venv_host_info for real through ansible-playbook on localhost (Debian 12): platform facts, the
interpreter's version and the distribution packages as dpkg-query and apt-cache see them.

The parsing and the edge cases (rpm, no package manager, odd names) are unit-tested with stand-in
package managers: tests/unit/module_utils/test_hostinfo.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import TARGET_PYTHON

NO_SUCH_PACKAGE = "wheelhouse-no-such-package"
# Essential on every Debian: certainly installed.
PACKAGES = ["libc6", NO_SUCH_PACKAGE, "dpkg", "libc6", "dpkg=0.0"]

pytestmark = pytest.mark.skipif(not shutil.which("dpkg-query"), reason="needs a Debian host (dpkg-query)")


def host_info(ansible, calls, check=False):
    """Run one play with a venv_host_info task per item of calls; return the task results."""
    tasks = [{"name": "info %d" % i, "wheelhouse.venv.venv_host_info": args} for i, args in enumerate(calls)]
    proc = ansible.play(tasks, check=check)
    try:
        tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible-playbook printed no task result:\n%s\n%s" % (proc.stdout, proc.stderr))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(tasks) == len(calls), proc.stdout
    return [task["hosts"]["localhost"] for task in tasks]


def python_version(python):
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    return subprocess.run([python, "-c", code], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()


def apt_outdated(names):
    """The names whose Candidate differs from Installed in apt-cache policy (read here independently)."""
    outdated = []
    for name in names:
        text = subprocess.run(["apt-cache", "policy", name], stdout=subprocess.PIPE, universal_newlines=True,
                              env=dict(os.environ, LC_ALL="C"), check=True).stdout
        installed = re.search(r"^\s*Installed: (\S+)", text, re.M).group(1)
        candidate = re.search(r"^\s*Candidate: (\S+)", text, re.M).group(1)
        if candidate not in ("(none)", installed):
            outdated.append(name)
    return outdated


@pytest.fixture
def unrunnable(tmp_path):
    """An executable file that exec refuses (no interpreter line, no binary format)."""
    path = tmp_path / "python3"
    path.write_bytes(b"\x00\x01not a program\n")
    os.chmod(str(path), 0o755)
    return str(path)


def test_reads_the_platform_the_interpreter_and_the_packages(ansible, tmp_path, unrunnable):
    calls = [
        {"python": TARGET_PYTHON, "distro_packages": PACKAGES},
        {"python": str(tmp_path / "no-such-python3")},
        {"python": "no-such-python-3.99"},
        {"python": unrunnable},
    ]
    real, missing_path, missing_name, broken = host_info(ansible, calls)

    for result in (real, missing_path, missing_name, broken):
        assert result["changed"] is False and not result.get("failed"), result

    facts = real["platform_facts"]
    assert facts["distribution"] == "Debian" and facts["os_family"] == "Debian"
    assert facts["distribution_major_version"] == "12" and facts["distribution_release"] == "bookworm"
    assert facts["architecture"] == os.uname().machine
    assert facts["distribution_version"].startswith("12")

    assert real["python"] == {"executable": TARGET_PYTHON, "version": python_version(TARGET_PYTHON), "error": ""}

    packages = real["distro_packages"]
    assert packages["manager"] == "dpkg-query"
    assert packages["installed"] == ["libc6", "dpkg"]
    assert packages["missing"] == [NO_SUCH_PACKAGE, "dpkg=0.0"]
    assert packages["outdated"] == apt_outdated(["libc6", "dpkg"])
    assert isinstance(packages["cache_age"], int) and packages["cache_age"] >= 0

    # An interpreter that is missing or does not run is reported, the task does not fail.
    assert missing_path["python"]["version"] == "" and "does not exist" in missing_path["python"]["error"]
    assert missing_name["python"]["version"] == "" and "no-such-python-3.99" in missing_name["python"]["error"]
    assert broken["python"]["executable"] == unrunnable and broken["python"]["version"] == ""
    assert "Exec format error" in broken["python"]["error"]
    # No packages asked: nothing installed, nothing missing.
    assert missing_name["distro_packages"]["installed"] == [] and missing_name["distro_packages"]["missing"] == []


def test_check_mode_reads_the_same(ansible):
    args = {"python": TARGET_PYTHON, "distro_packages": PACKAGES}
    normal, = host_info(ansible, [args])
    checked, = host_info(ansible, [args], check=True)
    assert checked["changed"] is False and not checked.get("failed")
    for key in ("platform_facts", "python"):
        assert checked[key] == normal[key]
    for key in ("manager", "installed", "missing", "outdated"):
        assert checked["distro_packages"][key] == normal["distro_packages"][key]


def test_the_default_interpreter_is_python3_on_path(ansible):
    result, = host_info(ansible, [{}])
    # The play's PATH has .venv/bin first (tests/lib/playenv.py): its python3 is the one found.
    found = shutil.which("python3", path=ansible.env["PATH"])
    assert result["python"]["executable"] == found
    assert result["python"]["version"] == python_version(found) and result["python"]["error"] == ""
    assert result["distro_packages"] == {"manager": "dpkg-query", "installed": [], "missing": [],
                                         "outdated": None, "cache_age": result["distro_packages"]["cache_age"]}

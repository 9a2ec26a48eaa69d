"""The module's PEP 440/508 code against the `packaging` pip uses: thousands of generated markers and specifiers.

References, run in a subprocess each (their answers come back as JSON):
  - pip: the `packaging` vendored in the pip that the target interpreter's ensurepip puts into new venvs (the
    pip that installs there: Debian 12's pip 23.0.1 carries packaging 21.3);
  - newest: the `packaging` of .venv (requirements-dev.txt).
The module must answer as pip does. Where the two `packaging` versions answer differently, pip in the venv is
followed (the count is printed); where pip cannot evaluate a case (it raises), the case is not compared.
The generator is seeded: a failure names the case, and the same run reproduces it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _pep508 as pep508

TARGET_PYTHON = os.environ.get("WH_TARGET_PYTHON", "/usr/bin/python3")
SEED = 20261207
CASES = 3000

# Runs in the reference interpreter: reads {"markers": [[marker, env], ...], "specs": [[spec, version], ...]},
# prints the answers (true/false, or "error").
REFERENCE = r"""
import glob, json, os, sys
if sys.argv[1] == "pip":
    import ensurepip, sysconfig
    folder = sysconfig.get_config_var("WHEEL_PKG_DIR") or os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    sys.path.insert(0, sorted(glob.glob(os.path.join(folder, "pip-*.whl")))[-1])
    from pip._vendor.packaging import __version__
    from pip._vendor.packaging.markers import Marker
    from pip._vendor.packaging.specifiers import Specifier
else:
    from packaging import __version__
    from packaging.markers import Marker
    from packaging.specifiers import Specifier
cases = json.load(sys.stdin)
markers, specs = [], []
for text, env in cases["markers"]:
    try:
        markers.append(bool(Marker(text).evaluate(env)))
    except Exception:
        markers.append("error")
for text, version in cases["specs"]:
    try:
        specs.append(bool(Specifier(text).contains(version, prereleases=True)))
    except Exception:
        specs.append("error")
print(json.dumps({"version": __version__, "markers": markers, "specs": specs}))
"""

RELEASES = ["3", "3.11", "3.11.2", "3.9", "3.10", "3.12.0", "3.13.1", "1.0", "2.0.0", "0.9.8", "6.1.0", "3.11.0", "10"]
VERSION_STRINGS = ["6.1.0-18-amd64", "5.10.0-28-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1", "linux",
                   "posix", "cpython", "CPython", "x86_64", "aarch64", "Linux", "", "latest", "1..2", "foo",
                   "1.0-bar", "3.11.*", "3.*", "*", "3.11.2+", "posiy", "3.11 ", " 3.11"]
VARIABLES = ["python_version", "python_full_version", "os_name", "sys_platform", "platform_release",
             "platform_system", "platform_version", "platform_machine", "platform_python_implementation",
             "implementation_name", "implementation_version", "extra"]
OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "~=", "===", "in", "not in"]


def a_version(rng):
    """A PEP 440 version with every part that can occur: epoch, pre, post, dev, local, odd spellings."""
    text = rng.choice(RELEASES)
    if rng.random() < 0.1:
        text = "%d!%s" % (rng.choice([0, 1, 2]), text)
    if rng.random() < 0.2:
        text += rng.choice(["a", "b", "rc", "c", "alpha", "beta", "pre", "preview", ".a", "-rc", "RC"]) + \
            rng.choice(["", "0", "1", "2"])
    if rng.random() < 0.15:
        text += rng.choice([".post1", "-1", "post2", ".rev3", "-r1", ".post"])
    if rng.random() < 0.15:
        text += rng.choice([".dev0", ".dev1", "dev", "-dev2"])
    if rng.random() < 0.1:
        text += "+" + rng.choice(["local", "ubuntu1.2", "deb12u1", "1"])
    return text


def a_value(rng):
    roll = rng.random()
    if roll < 0.55:
        return a_version(rng)
    if roll < 0.75:
        return a_version(rng).split("+")[0].rsplit(".", 1)[0] + ".*"
    return rng.choice(VERSION_STRINGS)


def an_environment(rng):
    full = rng.choice(["3.11.2", "3.13.1", "3.9.18", "3.12.0rc1", "3.11.0", "3.10.13", "3.14.0a3"])
    return {
        "python_version": ".".join(full.split(".")[:2]), "python_full_version": full,
        "implementation_version": rng.choice([full, "3.11.2"]), "os_name": rng.choice(["posix", "nt"]),
        "sys_platform": rng.choice(["linux", "darwin", "win32"]),
        "platform_release": rng.choice(["6.1.0-18-amd64", "6.12.6", "5.15.0", "22.6.0", "10"]),
        "platform_system": rng.choice(["Linux", "Darwin", "Windows"]),
        "platform_version": rng.choice(["#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)", "10.0.19045"]),
        "platform_machine": rng.choice(["x86_64", "aarch64", "AMD64"]),
        "platform_python_implementation": rng.choice(["CPython", "PyPy"]),
        "implementation_name": rng.choice(["cpython", "pypy"]), "extra": rng.choice(["", "test", "Dev_Tools", "s3"]),
    }


def a_marker(rng):
    def atom():
        variable, op, value = rng.choice(VARIABLES), rng.choice(OPERATORS), a_value(rng)
        if variable == "extra":
            value = rng.choice(["test", "dev-tools", "Dev_Tools", "s3", "3.11"])
        quoted = rng.choice(['"%s"', "'%s'"]) % value.replace('"', "").replace("'", "")
        return "%s %s %s" % ((variable, op, quoted) if rng.random() < 0.8 else (quoted, op, variable))
    text = atom()
    if rng.random() < 0.3:
        text = "(%s) %s %s" % (text, rng.choice(["and", "or"]), atom())
    return text


def a_specifier(rng):
    op = rng.choice(["==", "!=", "<", "<=", ">", ">=", "~=", "==="])
    value = a_value(rng) if rng.random() < 0.9 else rng.choice(VERSION_STRINGS)
    return op + value


@pytest.fixture(scope="module")
def cases():
    rng = random.Random(SEED)
    return {"markers": [[a_marker(rng), an_environment(rng)] for dummy in range(CASES)],
            "specs": [[a_specifier(rng), a_version(rng)] for dummy in range(CASES)]}


def reference(python, which, cases):
    proc = subprocess.run([python, "-I", "-c", REFERENCE, which], input=json.dumps(cases), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def pips(cases):
    return reference(TARGET_PYTHON, "pip", cases)


@pytest.fixture(scope="module")
def newest(cases):
    return reference(sys.executable, "newest", cases)


def ours_marker(text, env):
    try:
        return bool(pep508.Marker(text).evaluate(env))
    except ValueError:
        return "error"


def ours_spec(text, version):
    try:
        return pep508.Specifier(text).contains(version)
    except ValueError:
        return "error"


def test_markers_are_read_as_pip_reads_them(cases, pips, newest):
    differ, compared, apart = [], 0, 0
    for (text, env), pip_says, newest_says in zip(cases["markers"], pips["markers"], newest["markers"]):
        apart += pip_says != newest_says
        if pip_says == "error" or pip_says != newest_says:
            continue
        compared += 1
        if ours_marker(text, env) != pip_says:
            differ.append((text, {k: env[k] for k in env if k.replace("_", ".") in text or k in text}, pip_says))
    print("markers: %d compared with pip's packaging %s; packaging %s answers %d of %d otherwise"
          % (compared, pips["version"], newest["version"], apart, len(cases["markers"])))
    assert compared > CASES // 2
    assert not differ, "%d markers read unlike pip (marker, env, pip says), first ones: %s" % (len(differ), differ[:10])


def test_specifiers_contain_what_pip_finds_in_them(cases, pips, newest):
    differ, compared, apart = [], 0, 0
    for (text, version), pip_says, newest_says in zip(cases["specs"], pips["specs"], newest["specs"]):
        apart += pip_says != newest_says
        if pip_says == "error" or pip_says != newest_says or not pep508.is_version(version):
            continue
        compared += 1
        if ours_spec(text, version) != pip_says:
            differ.append((text, version, pip_says))
    print("specifiers: %d compared with pip's packaging %s; packaging %s answers %d of %d otherwise"
          % (compared, pips["version"], newest["version"], apart, len(cases["specs"])))
    assert compared > CASES // 3
    assert not differ, "%d specifiers read unlike pip (specifier, version, pip says), first ones: %s" % (
        len(differ), differ[:10])


@pytest.mark.parametrize("marker, env, expected", [
    ('python_version == "3.11.*"', {"python_version": "3.11"}, True),
    ('python_version != "3.11.*"', {"python_version": "3.11"}, False),
    ('python_full_version == "3.11.*"', {"python_full_version": "3.11.2"}, True),
    ('os_name < "posiy"', {"os_name": "posix"}, True),
    ('python_version > "3.10.*"', {"python_version": "3.11"}, True),
    ('platform_release >= "5"', {"platform_release": "6.1.0-18-amd64"}, False),
])
def test_the_cases_found_by_outside_testing(marker, env, expected):
    assert pep508.Marker(marker).evaluate(env) is expected


def test_compatible_release_keeps_the_epoch():
    assert pep508.Specifier("~=1!3.11").contains("1!3.11.2")
    assert not pep508.Specifier("~=1!3.11").contains("3.11.2")

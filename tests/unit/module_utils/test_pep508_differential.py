"""The module's PEP 440/508 code against the `packaging` pip uses: thousands of generated markers and specifiers.

The `packaging` series read some markers and specifiers differently, and the module has one reading for each
(_pep508.READINGS): the one of the pip (or uv) that fills the venv applies. References, run in a subprocess each
(their answers come back as JSON):
  - the `packaging` vendored in the pip that the target interpreter's ensurepip puts into new venvs (Debian 12's
    pip 23.0.1 carries packaging 21.3: reading packaging-21);
  - the `packaging` vendored in the pip of the dev Python's ensurepip (pyenv's 3.13.0 bundles pip 24.2 with
    packaging 24.1: reading packaging-24);
  - the `packaging` of .venv (requirements-dev.txt; packaging 26: reading packaging-26).
Each reading must answer every case as its references do, an error (ValueError) where they raise included. One
exception: `extra` names are compared normalized in every reading (pip before 24.1 compares them as spelled); the
cases where a spelling makes the difference are not compared with packaging 21 (the count is printed).
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
# prints the answers (true/false, or "error") and the versions of packaging and pip (null for .venv's packaging).
REFERENCE = r"""
import glob, json, os, sys
pip_version = None
if sys.argv[1] == "pip":
    import ensurepip, sysconfig
    folder = sysconfig.get_config_var("WHEEL_PKG_DIR") or os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    sys.path.insert(0, sorted(glob.glob(os.path.join(folder, "pip-*.whl")))[-1])
    from pip import __version__ as pip_version
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
print(json.dumps({"version": __version__, "pip": pip_version, "markers": markers, "specs": specs}))
"""

RELEASES = ["3", "3.11", "3.11.2", "3.9", "3.10", "3.12.0", "3.13.1", "1.0", "2.0.0", "0.9.8", "6.1.0", "3.11.0", "10"]
VERSION_STRINGS = ["6.1.0-18-amd64", "5.10.0-28-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1", "linux",
                   "posix", "cpython", "CPython", "x86_64", "aarch64", "Linux", "", "latest", "1..2", "foo",
                   "1.0-bar", "3.11.*", "3.*", "*", "3.11.2+", "posiy", "3.11 ", " 3.11"]
VARIABLES = ["python_version", "python_full_version", "os_name", "sys_platform", "platform_release",
             "platform_system", "platform_version", "platform_machine", "platform_python_implementation",
             "implementation_name", "implementation_version", "extra"]
OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "~=", "===", "in", "not in"]
EXTRAS = ["test", "dev-tools", "Dev_Tools", "s3", "3.11"]  # the values compared with `extra`
ENV_EXTRAS = ["", "test", "Dev_Tools", "s3"]


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
        "implementation_name": rng.choice(["cpython", "pypy"]), "extra": rng.choice(ENV_EXTRAS),
    }


def a_marker(rng):
    def atom():
        variable, op, value = rng.choice(VARIABLES), rng.choice(OPERATORS), a_value(rng)
        if variable == "extra":
            value = rng.choice(EXTRAS)
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


def packaging_reading(version):
    """The reading that answers as this packaging release does."""
    major = int(version.split(".")[0])
    return pep508.PACKAGING_21 if major < 22 else pep508.PACKAGING_24 if major < 26 else pep508.PACKAGING_26


@pytest.fixture(scope="module")
def references(cases):
    """reading -> the references that read as it does: [(name, answers), ...]."""
    found = {}
    for which, python in (("pip", TARGET_PYTHON), ("pip", sys.executable), ("newest", sys.executable)):
        answers = reference(python, which, cases)
        reading = packaging_reading(answers["version"])
        if answers["pip"]:
            # the module tells the reading by the venv's pip: it must name the series that pip vendors
            assert pep508.reading_for("pip", answers["pip"]) == reading, answers["pip"]
            name = "pip %s's packaging %s" % (answers["pip"], answers["version"])
        else:
            name = "packaging %s" % answers["version"]
        found.setdefault(reading, []).append((name, answers))
    return found


def ours_marker(text, env, reading):
    try:
        return bool(pep508.Marker(text).evaluate(env, reading))
    except ValueError:
        return "error"


def ours_spec(text, version, reading):
    try:
        return pep508.Specifier(text, reading).contains(version)
    except ValueError:
        return "error"


def extra_spelled_otherwise(text, env):
    """The marker compares `extra` with a name that is not in its normalized spelling."""
    return "extra" in text and (env["extra"] != pep508.canonical_name(env["extra"]) or any(
        quote % value in text for value in EXTRAS if value != pep508.canonical_name(value) for quote in ("'%s'", '"%s"')))


def apart(references, kind):
    """How many cases the references answer differently among themselves."""
    answers = [a[kind] for refs in references.values() for dummy, a in refs]
    return sum(len(set(map(str, case))) > 1 for case in zip(*answers))


@pytest.mark.parametrize("reading", pep508.READINGS)
def test_markers_are_read_as_pip_reads_them(cases, references, reading):
    if reading not in references:
        pytest.skip("no reference for %s on this host (%s)" % (reading, sorted(references)))
    for name, answers in references[reading]:
        differ, compared, errors, spelled = [], 0, 0, 0
        for (text, env), says in zip(cases["markers"], answers["markers"]):
            if reading == pep508.PACKAGING_21 and extra_spelled_otherwise(text, env):
                spelled += 1
                continue
            compared += 1
            errors += says == "error"
            if ours_marker(text, env, reading) != says:
                differ.append((text, {k: env[k] for k in env if k.replace("_", ".") in text or k in text}, says))
        print("markers, %s: %d compared with %s (%d of them errors), %d with an extra name spelled otherwise not; "
              "the references answer %d of %d apart"
              % (reading, compared, name, errors, spelled, apart(references, "markers"), len(cases["markers"])))
        assert compared > CASES * 9 // 10
        assert not differ, "%d markers read unlike %s (marker, env, it says), first ones: %s" % (
            len(differ), name, differ[:10])


@pytest.mark.parametrize("reading", pep508.READINGS)
def test_specifiers_contain_what_pip_finds_in_them(cases, references, reading):
    if reading not in references:
        pytest.skip("no reference for %s on this host (%s)" % (reading, sorted(references)))
    for name, answers in references[reading]:
        differ, errors = [], 0
        for (text, version), says in zip(cases["specs"], answers["specs"]):
            errors += says == "error"
            if ours_spec(text, version, reading) != says:
                differ.append((text, version, says))
        print("specifiers, %s: %d compared with %s (%d of them errors); the references answer %d of %d apart"
              % (reading, len(cases["specs"]), name, errors, apart(references, "specs"), len(cases["specs"])))
        assert not differ, "%d specifiers read unlike %s (specifier, version, it says), first ones: %s" % (
            len(differ), name, differ[:10])


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


ERROR = "error"
LINUX = {"python_version": "3.11", "python_full_version": "3.11.2", "os_name": "posix", "platform_machine": "x86_64",
         "platform_release": "6.1.0-18-amd64", "extra": ""}


# (packaging 21.3, packaging 24.1, packaging 26.4), as they answered
@pytest.mark.parametrize("marker, answers", [
    ("platform_machine != '1!3.*'", (False, ERROR, True)),
    ("os_name > 'linux'", (True, True, False)),
    ("'3.0.dev1' < python_full_version", (False, True, True)),
    ("python_full_version < 'aarch64'", (True, True, False)),
    ("platform_release >= '5'", (False, ERROR, False)),
    ("os_name === 'posix'", (True, ERROR, ERROR)),
    ("os_name ~= '3.11'", (False, ERROR, ERROR)),
    ("(python_version == '3.11') or os_name ~= '3.11'", (True, ERROR, ERROR)),  # every comparison is evaluated
    ('python_version == "3.11.*"', (True, True, True)),
])
def test_each_reading_answers_as_its_packaging(marker, answers):
    assert tuple(ours_marker(marker, LINUX, reading) for reading in pep508.READINGS) == answers


@pytest.mark.parametrize("spec, version, answers", [
    ("==0!3.*", "3.13.1", (False, True, True)),
    ("~=3.10c0", "3.11", (False, False, True)),
    (">1.0a1", "1.0a2.post1", (False, False, True)),
    ("===", "3.11", (False, False, ERROR)),
])
def test_each_reading_contains_as_its_packaging(spec, version, answers):
    assert tuple(ours_spec(spec, version, reading) for reading in pep508.READINGS) == answers


@pytest.mark.parametrize("tool, pip, reading", [
    ("pip", "20.3.4", pep508.PACKAGING_21), ("pip", "23.0.1", pep508.PACKAGING_21), ("pip", "24.0", pep508.PACKAGING_21),
    ("pip", "24.1b1", pep508.PACKAGING_24), ("pip", "24.1", pep508.PACKAGING_24), ("pip", "25.3", pep508.PACKAGING_24),
    ("pip", "26.0", pep508.PACKAGING_26), ("pip", "26.3", pep508.PACKAGING_26), ("pip", None, pep508.PACKAGING_26),
    ("uv", "23.0.1", pep508.PACKAGING_26), ("uv", None, pep508.PACKAGING_26),
])
def test_the_reading_follows_the_installer(tool, pip, reading):
    """pip's vendor.txt: 24.0 had packaging 21.3, 24.1b1 24.0, 24.1 to 25.0 24.x, 25.1 to 25.3 25.0, 26.0 26.0."""
    assert pep508.reading_for(tool, pip) == reading

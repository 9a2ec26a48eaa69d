"""linked_distro_packages for real: dpkg-query on this host, links in a venv made from the system Python.

python3-six ships six.py and its egg-info under /usr/lib/python3/dist-packages; python3-apt adds a
C extension built for the system Python. The venv has no system site-packages, so the system's
modules import only through the links.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import tree_snapshot, venv_run

DIST = "/usr/lib/python3/dist-packages"
SIX = ["six-1.16.0.egg-info", "six.py"]


def _installed(package):
    proc = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", package], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, universal_newlines=True, check=False)
    return proc.returncode == 0 and proc.stdout == "installed"


pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/bin/dpkg-query") or not _installed("python3-six")
    or not os.path.isfile(os.path.join(DIST, "six.py")) or not os.path.isdir(os.path.join(DIST, SIX[0])),
    reason="needs dpkg with python3-six 1.16.0 installed (Debian 12)")


def site_packages(path):
    lib = os.path.join(path, "lib")
    return os.path.join(lib, [p for p in os.listdir(lib) if p.startswith("python3")][0], "site-packages")


def symlinks(path):
    site = site_packages(path)
    return dict((n, os.readlink(os.path.join(site, n))) for n in sorted(os.listdir(site))
                if os.path.islink(os.path.join(site, n)))


def imports_six_from_the_system(path):
    proc = venv_run(path, "import os, six; print(os.path.realpath(six.__file__))")
    return proc.returncode == 0 and proc.stdout.strip() == os.path.join(DIST, "six.py")


@pytest.fixture
def args(venv_args):
    return dict(requirements=["alpha"], linked_distro_packages=["python3-six"], **venv_args)


def test_create_links_then_noop_then_unlink(ansible, args):
    path = args["path"]
    made = ansible.module(diff=True, **args)
    assert made["changed"] is True, made["raw_output"]
    assert made["links"]["added"] == SIX
    assert made["links"]["present"] == dict((n, os.path.join(DIST, n)) for n in SIX)
    assert symlinks(path) == made["links"]["present"]
    assert imports_six_from_the_system(path)
    assert "six" not in made["packages"], "linked metadata is not one of the installer's packages"
    assert "six.py -> %s/six.py" % DIST in made["diff"][-1]["after"]
    state = json.load(open(os.path.join(path, "wheelhouse-venv.json")))
    assert state["links"] == made["links"]["present"]

    again = ansible.module(**args)
    assert again["changed"] is False and again["commands"] == [] and again["links"]["added"] == []
    assert ansible.module(check=True, **args)["changed"] is False

    # prune does not treat the linked egg-info as a package to remove
    args = dict(args, prune=True)
    assert ansible.module(**args)["removed"] == {}

    before = tree_snapshot(path)
    predicted = ansible.module(check=True, **dict(args, linked_distro_packages=[]))
    assert predicted["changed"] is True and predicted["links"]["removed"] == SIX
    assert tree_snapshot(path) == before

    unlinked = ansible.module(**dict(args, linked_distro_packages=[]))
    assert unlinked["changed"] is True and unlinked["links"]["removed"] == SIX
    assert unlinked["commands"] == [], "removing links runs no installer"
    assert symlinks(path) == {}
    assert not imports_six_from_the_system(path)
    assert venv_run(path, "import alpha_mod").returncode == 0
    assert os.path.isfile(os.path.join(DIST, "six.py")), "the system's file is untouched"
    assert ansible.module(**dict(args, linked_distro_packages=[]))["changed"] is False


def test_links_are_added_in_place_without_the_installer(ansible, venv_args, args):
    ansible.module(requirements=["alpha"], **venv_args)
    predicted = ansible.module(check=True, **args)
    assert predicted["changed"] is True and predicted["links"]["added"] == SIX and predicted["commands"] == []
    assert symlinks(args["path"]) == {}
    linked = ansible.module(**args)
    assert linked["changed"] is True and linked["commands"] == [] and linked["links"]["added"] == SIX
    assert imports_six_from_the_system(args["path"])
    os.unlink(os.path.join(site_packages(args["path"]), "six.py"))
    repaired = ansible.module(**args)
    assert repaired["changed"] is True and repaired["links"]["added"] == ["six.py"]
    assert imports_six_from_the_system(args["path"])


def test_check_mode_on_a_new_venv_predicts_the_links(ansible, args):
    predicted = ansible.module(check=True, **args)
    assert predicted["changed"] is True and predicted["links"]["added"] == SIX
    assert not os.path.exists(os.path.dirname(args["path"]))


@pytest.mark.skipif(not _installed("python3-apt"), reason="python3-apt is not installed")
def test_extension_module_of_the_system_python(ansible, args):
    made = ansible.module(**dict(args, linked_distro_packages=["python3-apt", "python3-six"]))
    assert made["changed"] is True, made["raw_output"]
    tag = made["python_version"].split(".")
    so = "apt_pkg.cpython-%s%s-x86_64-linux-gnu.so" % (tag[0], tag[1])
    assert so in made["links"]["added"] and "apt" in made["links"]["added"]
    assert venv_run(args["path"], "import apt_pkg, apt, six").returncode == 0


def test_unknown_package_fails_before_anything_changes(ansible, args):
    ansible.module(**args)
    before = tree_snapshot(args["path"])
    failed = ansible.module(**dict(args, requirements=["alpha", "gamma"],
                                   linked_distro_packages=["python3-six", "python3-wheelhouse-no-such-package"]))
    assert failed.get("failed") is True
    assert "python3-wheelhouse-no-such-package" in failed["msg"] and "not installed" in failed["msg"]
    assert "python3-six" not in failed["msg"]
    assert tree_snapshot(args["path"]) == before
    # a new venv is not even started
    other = dict(args, path=args["path"] + "-new", linked_distro_packages=["python3-wheelhouse-no-such-package"])
    assert ansible.module(**other).get("failed") is True
    assert not os.path.exists(other["path"])


def test_rebuild_swaps_in_a_venv_that_already_has_its_links(ansible, args, tmp_path):
    ansible.module(**args)
    play = tmp_path / "rebuild.yml"
    from test_venv_build import _write_play
    _write_play(play, dict(args, rebuild=True))
    proc = subprocess.Popen(["ansible-playbook", "-i", "localhost,", "-c", "local", str(play)],
                            env=dict(ansible.env, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"),
                            stdout=subprocess.PIPE, universal_newlines=True)
    probes = failures = 0
    while proc.poll() is None:
        probes += 1
        if not imports_six_from_the_system(args["path"]):
            failures += 1
        time.sleep(0.05)
    result = json.loads(proc.stdout.read())["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["changed"] is True and result["reasons"] == ["rebuild requested"], result
    assert result["links"] == {"present": dict((n, os.path.join(DIST, n)) for n in SIX), "added": [], "removed": []}
    assert probes > 5 and failures == 0, "the venv could not import six at some point of the rebuild"
    assert symlinks(args["path"]) == result["links"]["present"]
    assert ansible.module(**args)["changed"] is False

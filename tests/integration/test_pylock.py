"""The PEP 751 lock of a wheel set: venv_wheel_build writes it, a real consumer (uv) installs from it, venv_build records it.

The dev venv (.venv) serves as the builder venv (pip-tools, uv), as in test_venv_wheel_build.py.
pip cannot be the consumer: pip 25.x writes PEP 751 locks (pip lock) but installs from none.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tomllib

from packaging.pylock import Pylock

from conftest import ROOT
from httpserve import QuietHandler, serve

from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    STATE_FILE,
    cfg_python_version,
    installed_distributions,
    package_versions,
    read_pyvenv_cfg,
    site_packages_dir,
)

BUILDER = os.path.join(ROOT, ".venv")
# the lock requires the builder's Python minor version: the venvs are made from the same Python
BUILDER_PYTHON = os.path.realpath(os.path.join(BUILDER, "bin", "python"))
UV = os.path.join(BUILDER, "bin", "uv")
SEED = ("pip", "setuptools", "wheel")


def task_result(ansible, module, args):
    proc = ansible.play([{"name": module, "wheelhouse.venv.%s" % module: args}])
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible-playbook printed no task result:\n%s\n%s" % (proc.stdout, proc.stderr))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return result


def build_wheels(ansible, tree, wheelhouse):
    """The wheel set of alpha 1.0 and gamma, from the session's wheelhouse."""
    return task_result(ansible, "venv_wheel_build", {
        "name": "app", "builder_venv": BUILDER, "requirements": ["alpha==1.0", "gamma"],
        "requirements_path": str(tree / "repo" / "requirements"), "wheel_path": str(tree / "repo" / "wheels"),
        "build_args": "--no-index --find-links %s" % wheelhouse, "platform": "debian-12-x86_64"})


def install(ansible, tree, wheels, **changes):
    args = {"path": str(tree / "venvs" / "app"), "python": BUILDER_PYTHON, "requirements": wheels["install_requirements"],
            "find_links": [str(tree / "repo" / "wheels")], "no_index": True, "require_hashes": True,
            "lock": {"location": wheels["lock"], "sha256": wheels["lock_sha256"]},
            "log_file": str(tree / "venv_build.log"), "facts_dir": str(tree / "facts.d")}
    args.update(changes)
    return task_result(ansible, "venv_build", args)


def distributions(venv):
    dists = package_versions(installed_distributions(site_packages_dir(venv, cfg_python_version(read_pyvenv_cfg(venv)))))
    return dict((name, version) for name, version in dists.items() if name not in SEED)


def state(venv):
    with open(os.path.join(venv, STATE_FILE)) as handle:
        return json.load(handle)


def test_the_lock_is_valid_pep_751_and_uv_installs_from_it_what_the_module_installed(ansible, tmp_path, wheelhouse):
    tree = tmp_path
    wheels = build_wheels(ansible, tree, wheelhouse)
    lock = tree / "repo" / "wheels" / "pylock.app.toml"
    assert wheels["changed"] and wheels["lock"] == str(lock)
    data = tomllib.loads(lock.read_text())
    parsed = Pylock.from_dict(data)
    assert parsed.created_by == "wheelhouse.venv"
    assert str(parsed.requires_python) == "==%s.*" % cfg_python_version(read_pyvenv_cfg(BUILDER)).rsplit(".", 1)[0]
    assert [(p.name, str(p.version), p.wheels[0].path, p.wheels[0].hashes["sha256"]) for p in parsed.packages] == [
        (w["name"], w["version"], w["filename"], w["sha256"]) for w in wheels["wheels"]]

    installed = install(ansible, tree, wheels)
    venv = str(tree / "venvs" / "app")
    assert installed["changed"]
    assert installed["lock"] == state(venv)["lock"] == {"location": str(lock), "sha256": wheels["lock_sha256"]}

    # a real consumer, from the lock alone: exactly the distributions the module installed
    fresh = str(tree / "fresh")
    subprocess.run([BUILDER_PYTHON, "-m", "venv", "--without-pip", fresh], check=True)
    proc = subprocess.run([UV, "pip", "install", "--offline", "--no-config", "--python", os.path.join(fresh, "bin", "python"),
                           "-r", str(lock)], cwd=str(tree), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert distributions(fresh) == distributions(venv) == {"alpha": "1.0", "beta": "2.0", "delta": "1.0", "gamma": "1.0"}

    # no-ops: neither the lock nor the venv's state file is written again
    before = (os.stat(str(lock)).st_mtime_ns, os.stat(os.path.join(venv, STATE_FILE)).st_mtime_ns)
    again = build_wheels(ansible, tree, wheelhouse)
    assert not again["changed"] and again["lock_sha256"] == wheels["lock_sha256"]
    assert not install(ansible, tree, again)["changed"]
    assert (os.stat(str(lock)).st_mtime_ns, os.stat(os.path.join(venv, STATE_FILE)).st_mtime_ns) == before


def test_a_new_lock_of_the_same_packages_is_recorded_without_an_install(ansible, venv_args):
    venv = venv_args["path"]

    def run(lock):
        return task_result(ansible, "venv_build", dict(venv_args, requirements=["alpha"], lock=lock))

    assert run(None)["lock"] == state(venv)["lock"] == {}
    one = {"location": "/srv/repo/wheels/pylock.app.toml", "sha256": "1" * 64}
    two = {"location": "https://repo.example/wheels/pylock.app.toml", "sha256": "2" * 64}
    for lock in (one, two):
        recorded = run(lock)
        assert not recorded["changed"] and recorded["commands"] == [] and recorded["reasons"] == []
        assert recorded["lock"] == state(venv)["lock"] == lock
    written = os.stat(os.path.join(venv, STATE_FILE)).st_mtime_ns
    # none given: the recorded one stays, nothing is written
    assert run(None)["lock"] == two
    assert os.stat(os.path.join(venv, STATE_FILE)).st_mtime_ns == written


def test_a_lock_given_with_its_content_is_recorded_by_location_and_states_the_sbom_hashes(ansible, tmp_path, wheelhouse):
    # index mode: the wheels come over HTTP (no local folder to compare them with) and the lock is not where the
    # target can read it; its text comes with the option, the location names it on the build host
    tree = tmp_path
    wheels = build_wheels(ansible, tree, wheelhouse)
    assert wheels["lock_content"] == (tree / "repo" / "wheels" / "pylock.app.toml").read_text()
    location = "build1:" + wheels["lock"]
    venv = str(tree / "venvs" / "app")
    with serve(QuietHandler, tree / "repo" / "wheels") as url:
        # a content that is not the one of lock.sha256: refused before any change, naming both
        altered = wheels["lock_content"].replace('version = "1.0"', 'version = "9.9"', 1)
        proc = ansible.play([{"name": "venv_build", "wheelhouse.venv.venv_build": dict(
            install_args(tree, wheels, url), lock={"location": location, "sha256": wheels["lock_sha256"],
                                                   "content": altered})}])
        assert proc.returncode != 0
        assert "lock.content is not the lock of lock.sha256" in proc.stdout, proc.stdout
        assert hashlib.sha256(altered.encode()).hexdigest() in proc.stdout and wheels["lock_sha256"] in proc.stdout
        assert not os.path.exists(venv) and not os.path.exists(str(tree / "venv_build.log"))

        installed = task_result(ansible, "venv_build", dict(install_args(tree, wheels, url), lock={
            "location": location, "sha256": wheels["lock_sha256"], "content": wheels["lock_content"]}))
    assert installed["changed"]
    # the state records where the lock is and its sha256, never its text
    assert installed["lock"] == state(venv)["lock"] == {"location": location, "sha256": wheels["lock_sha256"]}
    with open(os.path.join(venv, STATE_FILE)) as handle:
        assert "lock-version" not in handle.read()
    with open(os.path.join(venv, "sbom.cdx.json")) as handle:
        components = dict((c["name"], c) for c in json.load(handle)["components"])
    for wheel in wheels["wheels"]:
        component = components[wheel["name"]]
        assert component["hashes"] == [{"alg": "SHA-256", "content": wheel["sha256"]}], component
        assert {"name": "wheelhouse.venv:wheel-hash-from", "value": "lock"} in component["properties"]


def install_args(tree, wheels, url):
    """venv_build's options of an install from the wheels served at url (no local wheel folder)."""
    return {"path": str(tree / "venvs" / "app"), "python": BUILDER_PYTHON, "requirements": wheels["install_requirements"],
            "find_links": [url], "no_index": True, "require_hashes": True,
            "log_file": str(tree / "venv_build.log"), "facts_dir": str(tree / "facts.d")}

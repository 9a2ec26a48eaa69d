"""The collection as a user gets it: built into a tarball, installed offline into an empty
collections path, and used by its FQCN from a playbook that knows nothing of this checkout.

The tarball is built twice: from the checkout as it is (what a release ships), and from a copy of
the checkout's files with every kind of cache and scratch output planted in it, so that build_ignore
is tested whether or not those caches happen to exist on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile

import pytest
import yaml

from collection_tarball import ROOT, build, run, tool_environment
from wheelfactory import make_wheel

TARGET_PYTHON = os.environ.get("WH_TARGET_PYTHON", "/usr/bin/python3")
ROLE = os.path.join(ROOT, "roles", "python_venv_build")

# What a development checkout accumulates and a tarball must never hold: (path to plant, why).
PLANTED = [
    (".venv/bin/python", "the development venv"),
    (".tmp/collections/x", "scratch of scripts and tests"),
    (".ansible/roles/x", "ansible-lint's cache"),
    (".pytest_cache/v/cache/nodeids", "pytest's cache"),
    (".benchmarks/x.json", "pytest-benchmark's output"),
    ("plugins/module_utils/__pycache__/sync.cpython-311.pyc", "bytecode"),
    ("tests/unit/__pycache__/conftest.cpython-311-pytest-9.2.0.pyc", "bytecode"),
    ("tests/output/junit/x.xml", "ansible-test's output"),
    ("bench/.cache/wheelhouse/x-1.0-py3-none-any.whl", "benchmark downloads"),
    ("bench/results/run.json", "benchmark raw figures"),
    ("molecule/default/.molecule/state.yml", "molecule ephemeral state"),
    ("molecule/default/.cache/x", "molecule ephemeral state"),
    ("wheelhouse-venv-0.0.1.tar.gz", "an older tarball"),
]
FORBIDDEN_PARTS = {".venv", ".tmp", ".ansible", ".pytest_cache", ".benchmarks", "__pycache__", ".molecule", ".git"}
FORBIDDEN_PREFIXES = ("tests/output/", "bench/.cache/", "bench/results/", "molecule/default/.cache/")


def members(tarball):
    with tarfile.open(tarball) as archive:
        return [member.name[2:] if member.name.startswith("./") else member.name for member in archive.getmembers()]


def checkout_files():
    """The checkout as git sees it: tracked files plus untracked ones that are not ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    return [name for name in out.split("\0") if name and os.path.isfile(os.path.join(ROOT, name))]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("package"))


@pytest.fixture(scope="module")
def empty_env(workdir):
    return tool_environment(os.path.join(workdir, "no-collections"))


@pytest.fixture(scope="module")
def release_tarball(collection_tarball):
    """Built from the checkout itself, as `ansible-galaxy collection build` in a release (once a session)."""
    return collection_tarball


@pytest.fixture(scope="module")
def planted_tarball(workdir, empty_env):
    """Built from a copy of the checkout with every known cache planted in it."""
    copy = os.path.join(workdir, "planted", "venv")
    for name in checkout_files():
        target = os.path.join(copy, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(os.path.join(ROOT, name), "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
    for name, _why in PLANTED:
        target = os.path.join(copy, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as handle:
            handle.write("planted by test_collection_package.py\n")
    return build(copy, os.path.join(workdir, "planted", "out"), empty_env)


def unwanted(names):
    bad = []
    for name in names:
        parts = name.rstrip("/").split("/")
        if FORBIDDEN_PARTS.intersection(parts) or name.startswith(FORBIDDEN_PREFIXES) \
                or name.endswith((".pyc", ".tar.gz")) or (name + "/").startswith(FORBIDDEN_PREFIXES):
            bad.append(name)
    return bad


@pytest.mark.parametrize("which", ["release_tarball", "planted_tarball"])
def test_tarball_holds_the_collection_and_no_caches(request, which):
    names = members(request.getfixturevalue(which))
    assert unwanted(names) == [], "%s holds files a release must not ship" % which
    for wanted in ("MANIFEST.json", "FILES.json", "README.md", "LICENSE", "meta/runtime.yml", "plugins/modules/venv_build.py"):
        assert wanted in names, "%s lacks %s" % (which, wanted)
    if os.path.isdir(ROLE):
        assert "roles/python_venv_build/tasks/main.yml" in names


# Every top-level entry of a release, and why it ships; anything else is development-only (galaxy.yml build_ignore).
SHIPPED = {
    "MANIFEST.json": "written by ansible-galaxy: the collection's metadata",
    "FILES.json": "written by ansible-galaxy: every file with its checksum",
    "README.md": "what it is, install, use",
    "LICENSE": "the GPL 3.0 text galaxy.yml names",
    "CHANGELOG.rst": "what changed in each release",
    "changelogs": "antsibull-changelog's data (changelog.yaml, config), as community collections ship it",
    "docs": "the documentation README.md links to; docs/docsite is where antsibull-docs reads links.yml",
    "meta": "runtime.yml (requires_ansible, action groups), execution-environment.yml (ansible-builder)",
    "plugins": "the modules, filters and module_utils",
    "roles": "the python_venv_build role",
    "playbooks": "the ready-made plays (localhost venv, wheel repository)",
    "tests": "the collection's tests, where ansible-test and contributors look for them",
}


def test_tarball_ships_each_top_level_entry_on_purpose(release_tarball):
    with tarfile.open(release_tarball) as archive:
        top = set(name.split("/", 1)[0] for name in archive.getnames())
    assert top == set(SHIPPED), "unexpected: %s; missing: %s" % (sorted(top - set(SHIPPED)), sorted(set(SHIPPED) - top))


def test_tarball_names_its_licence(release_tarball):
    """The GPL's full text ships, and the manifest points to it (ansible-galaxy and Galaxy show it)."""
    with tarfile.open(release_tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))
        licence = archive.extractfile("LICENSE").read().decode()
    assert manifest["collection_info"]["license_file"] == "LICENSE"
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 3, 29 June 2007" in licence
    assert "END OF TERMS AND CONDITIONS" in licence  # the whole text, not a stub


@pytest.fixture(scope="module")
def wheels(workdir):
    folder = os.path.join(workdir, "wheels")
    os.makedirs(folder)
    make_wheel(folder, "pkgone", "1.0", ["pkgtwo>=1"])
    make_wheel(folder, "pkgtwo", "1.0")
    return folder


@pytest.fixture(scope="module")
def installed(installed_collection):
    """The release tarball installed offline into an empty collections path (once a session)."""
    return installed_collection


def test_install_offline_into_an_empty_path(installed):
    env = tool_environment(installed)
    listing = json.loads(run(["ansible-galaxy", "collection", "list", "wheelhouse.venv", "--format", "json"],
                             cwd=installed, env=env))
    found = {path: content for path, content in listing.items() if "wheelhouse.venv" in content}
    assert list(found) == [os.path.join(installed, "ansible_collections")], \
        "wheelhouse.venv must come from the installed tarball only, found in %s" % list(found)
    assert found[os.path.join(installed, "ansible_collections")]["wheelhouse.venv"]["version"] == "0.2.0"


def module_play(play_dir, wheels):
    """Check mode creates nothing, the real run builds the venv, the second run changes nothing."""
    venv = os.path.join(play_dir, "venvs", "package_test_module")
    module_args = {
        "path": venv,
        "python": TARGET_PYTHON,
        "requirements": ["pkgone"],
        "no_index": True,
        "find_links": [wheels],
        "log_file": os.path.join(play_dir, "logs", "module.log"),
        "facts_dir": os.path.join(play_dir, "facts.d"),
    }
    tasks = [
        {"name": "Plan the venv in check mode", "wheelhouse.venv.venv_build": module_args,
         "check_mode": True, "register": "planned"},
        {"name": "Check that check mode created nothing", "ansible.builtin.stat": {"path": venv}, "register": "after_check"},
        {"name": "Build the venv", "wheelhouse.venv.venv_build": module_args, "register": "built"},
        {"name": "Build the venv again", "wheelhouse.venv.venv_build": module_args, "register": "again"},
        {"name": "Check the three runs", "ansible.builtin.assert": {"that": [
            "planned is changed",
            "not after_check.stat.exists",
            "built is changed",
            "built.packages.pkgone == '1.0'",
            "again is not changed",
            "again.commands == []",
        ]}},
    ]
    play = {"name": "Use the module wheelhouse.venv.venv_build from the tarball", "hosts": "localhost",
            "gather_facts": False, "vars": {"ansible_python_interpreter": TARGET_PYTHON}, "tasks": tasks}
    return play, venv


def role_play(play_dir, wheels):
    """The role without a build host: the target installs straight from the local wheel folder."""
    venv = os.path.join(play_dir, "venvs", "package_test_role")
    role_vars = {
        "venv_install_destination_path": venv,
        "venv_python_executable": TARGET_PYTHON,
        "venv_pip_packages": ["pkgone"],
        "venv_pip_package_state": "present",
        "venv_pip_install_args": "--no-index --find-links %s" % wheels,
        # No wheel build (it needs a builder venv from PyPI) and no distribution packages (no apt here).
        "venv_wheel_build_enable": False,
        "venv_build_requirements": [],
        "venv_install_base_distro_package_list": [],
        "venv_build_base_distro_package_list": [],
    }
    tasks = [{"name": "Install a venv with the role", "ansible.builtin.include_role": {
        "name": "wheelhouse.venv.python_venv_build"}, "vars": role_vars}]
    # Facts gathered as in playbooks/venv.yml (the distribution picks the role's package names).
    play = {"name": "Use the role wheelhouse.venv.python_venv_build from the tarball", "hosts": "localhost",
            "gather_facts": True, "vars": {"ansible_python_interpreter": TARGET_PYTHON}, "tasks": tasks}
    return play, venv


def imports_in(venv):
    check = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                            "import pkgone_mod, pkgtwo_mod; print(pkgone_mod.VERSION, pkgtwo_mod.VERSION)"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert check.returncode == 0 and check.stdout.split() == ["1.0", "1.0"], "%s: %s" % (venv, check.stdout)


def test_playbook_uses_module_and_role_by_fqcn(workdir, installed, wheels):
    """One playbook, offline, with only the installed tarball on the collections path."""
    play_dir = os.path.join(workdir, "play")
    os.makedirs(play_dir)
    plays, venvs = [], []
    builders = [module_play] + ([role_play] if os.path.isdir(ROLE) else [])
    for builder in builders:
        play, venv = builder(play_dir, wheels)
        plays.append(play)
        venvs.append(venv)
    playbook = os.path.join(play_dir, "play.yml")
    with open(playbook, "w") as handle:
        yaml.safe_dump(plays, handle, sort_keys=False)
    env = tool_environment(installed)
    run(["ansible-playbook", "-i", "localhost,", "-c", "local", playbook], cwd=play_dir, env=env)
    for venv in venvs:
        imports_in(venv)

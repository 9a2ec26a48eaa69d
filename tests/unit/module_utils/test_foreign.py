"""What inside a venv was made by someone else, at any depth (_foreign.py), and the file-system steps that keep it:
real venvs made by `python -m venv`, pip, uv and virtualenv, user files put into them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _fsops as fsops
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._foreign import foreign_entries
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import STATE_FILE
from test_fsops import real_venv, write
from wheelfactory import make_wheel

MINOR = "%d.%d" % sys.version_info[:2]
TAG = sys.implementation.cache_tag
SITE = "lib/python%s/site-packages" % MINOR
TARGET_PYTHON = os.environ.get("WH_TARGET_PYTHON", "/usr/bin/python3")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
UV = os.path.join(ROOT, ".venv", "bin", "uv")

# A build backend of one project, installed editable: a wheel holding __editable__.p660-1.0.pth that names the
# project's folder (setuptools' static mode), without setuptools or wheel, which are not at hand offline.
EDITABLE_BACKEND = '''
import base64, hashlib, os, zipfile

DIST_INFO = "p660-1.0.dist-info"
FILES = {
    DIST_INFO + "/METADATA": "Metadata-Version: 2.1\\nName: p660\\nVersion: 1.0\\n\\n",
    DIST_INFO + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    "__editable__.p660-1.0.pth": os.path.dirname(os.path.abspath(__file__)) + "\\n",
}


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    os.makedirs(os.path.join(metadata_directory, DIST_INFO))
    with open(os.path.join(metadata_directory, DIST_INFO, "METADATA"), "w") as handle:
        handle.write(FILES[DIST_INFO + "/METADATA"])
    return DIST_INFO


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    record = ["%s,sha256=%s,%d" % (path, base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())
                                   .rstrip(b"=").decode(), len(text.encode())) for path, text in sorted(FILES.items())]
    name = "p660-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path, text in sorted(FILES.items()):
            archive.writestr(path, text)
        archive.writestr(DIST_INFO + "/RECORD", "\\n".join(record + [DIST_INFO + "/RECORD,,"]) + "\\n")
    return name
'''


def installed_dist(venv, name, record_lines, site=SITE):
    """A dist-info whose RECORD lists record_lines (relative to site-packages), and the files it lists in the venv."""
    meta = os.path.join(venv, site, "%s-1.0.dist-info" % name)
    write(os.path.join(meta, "METADATA"), "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n\n" % name)
    write(os.path.join(meta, "RECORD"), "".join("%s,,\n" % line for line in record_lines))
    for line in record_lines:
        full = os.path.normpath(os.path.join(venv, site, line))
        if full.startswith(os.path.join(venv, "")) and not line.endswith("/RECORD"):
            write(full, "from %s" % name)
    return meta


def plain_env():
    env = dict(os.environ, PIP_CONFIG_FILE="/dev/null", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PIP_FIND_LINKS", None)
    return env


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A wheelhouse (alpha with a console script, beta) and two projects to install editable: p660 (a PEP 660
    build backend) and legacy (setup.py only: `setup.py develop`, which leaves legacy.egg-link and easy-install.pth)."""
    folder = tmp_path_factory.mktemp("sources")
    wheels = str(folder / "wheels")
    os.makedirs(wheels)
    make_wheel(wheels, "alpha", "1.0", ["beta>=1"], console_script=True)
    make_wheel(wheels, "beta", "1.0")
    write(folder / "p660" / "p660_mod" / "__init__.py", "X = 1\n")
    write(folder / "p660" / "editable_backend.py", EDITABLE_BACKEND)
    write(folder / "p660" / "pyproject.toml", '[build-system]\nrequires = []\nbuild-backend = "editable_backend"\n'
                                              'backend-path = ["."]\n')
    write(folder / "legacy" / "legacy_mod" / "__init__.py", "X = 1\n")
    write(folder / "legacy" / "setup.py", "from setuptools import setup\n"
                                          "setup(name='legacy', version='1.0', packages=['legacy_mod'])\n")
    return {"wheels": wheels, "p660": str(folder / "p660"), "legacy": str(folder / "legacy")}


def run(argv):
    proc = subprocess.run(argv, env=plain_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout
    return proc


def pip_venv(path, sources):
    """`python3 -m venv` with pip (and setuptools where ensurepip brings it), alpha and beta from wheels, p660
    editable, and legacy by `setup.py develop` where setuptools is there."""
    if not os.access(TARGET_PYTHON, os.X_OK):
        pytest.skip("no %s" % TARGET_PYTHON)
    run([TARGET_PYTHON, "-m", "venv", path])
    pip = [os.path.join(path, "bin", "python"), "-m", "pip", "install", "-q", "--no-index"]
    run(pip + ["--find-links", sources["wheels"], "alpha", "-e", sources["p660"]])
    modules = ["alpha_mod", "beta_mod", "p660_mod"]
    if subprocess.run([os.path.join(path, "bin", "python"), "-c", "import setuptools"], check=False,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        run(pip + ["--no-build-isolation", "--no-use-pep517", "-e", sources["legacy"]])
        modules.append("legacy_mod")
    return modules


def uv_venv(path, sources):
    """`uv venv`, then alpha, beta and p660 (editable) installed by uv."""
    if not os.access(UV, os.X_OK):
        pytest.skip("uv is a dev dependency: run scripts/bootstrap.sh")
    run([UV, "venv", "-q", "--python", TARGET_PYTHON, path])
    run([UV, "pip", "install", "-q", "--offline", "--no-index", "--python", os.path.join(path, "bin", "python"),
         "--find-links", sources["wheels"], "alpha", "-e", sources["p660"]])
    return ["alpha_mod", "beta_mod", "p660_mod"]


def virtualenv_venv(path, sources):
    """virtualenv (a dev dependency) with its seeded pip, then alpha and beta by that pip."""
    pytest.importorskip("virtualenv")
    run([sys.executable, "-m", "virtualenv", "-q", "-p", TARGET_PYTHON, path])
    run([os.path.join(path, "bin", "python"), "-m", "pip", "install", "-q", "--no-index",
         "--find-links", sources["wheels"], "alpha"])
    return ["alpha_mod", "beta_mod"]


@pytest.mark.parametrize("make", [pip_venv, uv_venv, virtualenv_venv])
def test_an_ordinary_venv_has_no_foreign_entries_but_a_user_file_deep_in_it(tmp_path, sources, make):
    path = str(tmp_path / "venv")
    modules = make(path, sources)
    python = os.path.join(path, "bin", "python")
    # imported, so that Python writes the byte code it did not write at install time
    subprocess.run([python, "-c", "import %s" % ", ".join(modules)], check=True)
    subprocess.run([python, "-m", "compileall", "-q", path], check=False, stdout=subprocess.DEVNULL)
    assert foreign_entries(path) == []
    site = [os.path.join("lib", n, "site-packages") for n in os.listdir(os.path.join(path, "lib"))][0]
    write(os.path.join(path, site, "alpha_mod", "notes.txt"))
    write(os.path.join(path, site, "user_mod.py"))
    assert foreign_entries(path) == [os.path.join(site, "alpha_mod", "notes.txt"), os.path.join(site, "user_mod.py")]


def test_user_files_at_any_depth_are_foreign_the_shortest_path_named(tmp_path):
    venv = real_venv(tmp_path / "venv")
    installed_dist(venv, "alpha", ["alpha_mod/__init__.py", "alpha_mod/core.py", "../../../bin/alpha-version",
                                   "../../../share/man/man1/alpha.1",
                                   "../../../include/site/python%s/alpha/a.h" % MINOR, "alpha-1.0.dist-info/RECORD"])
    write(os.path.join(venv, SITE, "alpha_mod", "__init__.py"), "changed by hand: still the package's")
    write(os.path.join(venv, SITE, "alpha_mod", "__pycache__", "core.%s.pyc" % TAG))
    write(os.path.join(venv, SITE, "alpha_mod", "__pycache__", "core.%s.opt-1.pyc" % TAG))
    write(os.path.join(venv, SITE, "alpha-1.0.dist-info", "INSTALLER"))
    assert foreign_entries(venv) == []

    mine = [os.path.join(SITE, "user_mod.py"), os.path.join(SITE, "__pycache__", "user_mod.%s.pyc" % TAG),
            os.path.join(SITE, "alpha_mod", "notes.txt"),
            os.path.join(SITE, "alpha_mod", "__pycache__", "notes.%s.pyc" % TAG),
            "include/my.h", "include/site/python%s/alpha/mine.h" % MINOR, "lib/readme.txt",
            "share/man/man1/mine.1", "bin/my-tool"]
    for rel in mine:
        write(os.path.join(venv, rel))
    for rel in ("share/mydata/a/b.txt", "share/mydata/c.txt", "lib/python%s/extra/x.py" % MINOR):
        write(os.path.join(venv, rel))
    os.makedirs(os.path.join(venv, "include", "empty"))
    assert foreign_entries(venv) == sorted(mine + ["share/mydata", "lib/python%s/extra" % MINOR, "include/empty"])
    # the cheap check of the kept releases stays at the top level and bin/
    from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import foreign_entries as cheap
    assert cheap(venv) == ["bin/my-tool"]


def test_only_a_real_readable_record_inside_the_venv_vouches_for_files(tmp_path):
    venv = real_venv(tmp_path / "venv")
    elsewhere = str(tmp_path / "elsewhere")
    # a linked metadata folder declares nothing: its package and the link are foreign, unless the module made the link
    meta = installed_dist(venv, "linked", ["linked_mod/__init__.py", "linked-1.0.dist-info/RECORD"])
    shutil.move(meta, os.path.join(elsewhere, "linked-1.0.dist-info"))
    os.symlink(os.path.join(elsewhere, "linked-1.0.dist-info"), meta)
    # a RECORD that is a link declares nothing; a folder without RECORD (an unfinished install) neither
    meta = installed_dist(venv, "recordlink", ["recordlink_mod/__init__.py"])
    os.rename(os.path.join(meta, "RECORD"), os.path.join(elsewhere, "RECORD"))
    os.symlink(os.path.join(elsewhere, "RECORD"), os.path.join(meta, "RECORD"))
    meta = installed_dist(venv, "unfinished", ["unfinished_mod/__init__.py"])
    os.unlink(os.path.join(meta, "RECORD"))
    # lines leaving the venv choose nothing outside it; a link to a folder outside is one entry, never walked
    installed_dist(venv, "evil", ["../../../../outside.txt", "/etc/passwd", "../../../bin/../../x"])
    os.symlink("/etc", os.path.join(venv, SITE, "etc-link"))
    os.symlink("/usr/lib", os.path.join(venv, "share"))
    assert foreign_entries(venv) == sorted(os.path.join(SITE, n) for n in (
        "etc-link", "linked-1.0.dist-info", "linked_mod", "recordlink_mod", "unfinished_mod")) + ["share"]
    # links the module made (state "links") and pip's stash of an interrupted upgrade are the venv's
    os.symlink("/usr/lib/python3/dist-packages/apt", os.path.join(venv, SITE, "apt"))
    write(os.path.join(venv, SITE, "~lpha_mod", "__init__.py"))
    state = {"format": 1, "links": {"apt": "/usr/lib/python3/dist-packages/apt",
                                    "linked-1.0.dist-info": "/usr/lib/python3/dist-packages/linked-1.0.dist-info"}}
    assert foreign_entries(venv, state) == sorted(os.path.join(SITE, n) for n in (
        "etc-link", "linked_mod", "recordlink_mod", "unfinished_mod")) + ["share"]


def test_a_directory_that_is_not_a_venv_is_foreign_entry_by_entry_in_the_layouts_folders(tmp_path):
    """What state=absent kept (foreign_files=carry makes the venv around it): lib/ is the new venv's too."""
    path = str(tmp_path / "kept")
    for rel in (SITE + "/user_mod.py", "share/mydata/x", ".gitignore", "notes.txt", "pyvenv.cfg.bak"):
        write(os.path.join(path, rel))
    assert foreign_entries(path, venv=False) == sorted([SITE + "/user_mod.py", "share/mydata", ".gitignore",
                                                        "notes.txt", "pyvenv.cfg.bak"])


def deep_user_files(venv):
    """A user file in site-packages, in a package's folder, in include/, lib/ and share/; {relative path: text}."""
    files = {os.path.join(SITE, "user_mod.py"): "user", os.path.join(SITE, "alpha_mod", "notes.txt"): "notes",
             "include/my.h": "header", "lib/readme.txt": "readme", "share/mydata/x.txt": "data"}
    for rel, text in files.items():
        write(os.path.join(venv, rel), text)
    return files


def test_remove_venv_keeps_deep_foreign_entries_and_the_folders_above_them(tmp_path):
    path = real_venv(tmp_path / "venv")
    installed_dist(path, "alpha", ["alpha_mod/__init__.py", "../../../bin/alpha-version"])
    files = deep_user_files(path)
    keep = fsops.remove_venv(path)
    assert keep == sorted(set(files) - {"share/mydata/x.txt"} | {"share/mydata"})
    left = sorted(os.path.relpath(os.path.join(root, name), path)
                  for root, dirs, names in os.walk(path) for name in names)
    assert left == sorted(files)
    assert all(open(os.path.join(path, rel)).read() == text for rel, text in files.items())
    assert sorted(os.listdir(path)) == ["include", "lib", "share"]
    assert sorted(os.listdir(str(tmp_path))) == ["venv"]


def test_swap_keeps_deep_foreign_entries_of_the_replaced_venv(tmp_path):
    path, staging = real_venv(tmp_path / "venv"), real_venv(tmp_path / ".venv.venv_build-abc")
    write(os.path.join(path, STATE_FILE), '{"format": 1}')
    installed_dist(path, "alpha", ["alpha_mod/__init__.py"])
    write(os.path.join(path, SITE, "user_mod.py"), "mine")
    kept = fsops.swap_into_place(staging, path)
    assert kept is not None and foreign_entries(kept) == [os.path.join(SITE, "user_mod.py")]
    assert open(os.path.join(kept, SITE, "user_mod.py")).read() == "mine"
    assert sorted(os.listdir(kept)) == ["lib"] and os.listdir(os.path.join(kept, SITE)) == ["user_mod.py"]


def test_carry_moves_deep_entries_makes_share_and_byte_code_folders_and_refuses_a_missing_folder(tmp_path):
    old, new = real_venv(tmp_path / "old"), real_venv(tmp_path / "new")
    installed_dist(old, "alpha", ["alpha_mod/__init__.py"])
    files = deep_user_files(old)
    write(os.path.join(old, SITE, "__pycache__", "user_mod.%s.pyc" % TAG), "code")
    entries = foreign_entries(old)
    assert os.path.join(SITE, "__pycache__", "user_mod.%s.pyc" % TAG) in entries
    # alpha is not in the new venv: its folder is not made for a file of someone else
    with pytest.raises(VenvBuildError, match="cannot carry %s from .* no folder %s" % (
            os.path.join(SITE, "alpha_mod", "notes.txt"), os.path.join(SITE, "alpha_mod"))):
        fsops.carry(old, new, entries)
    assert foreign_entries(old) == entries and not os.path.exists(os.path.join(new, "share"))

    installed_dist(new, "alpha", ["alpha_mod/__init__.py"])
    moved = fsops.carry(old, new, entries)
    assert moved == entries
    assert all(open(os.path.join(new, rel)).read() == text for rel, text in files.items())
    assert foreign_entries(new) == entries and foreign_entries(old) == []
    fsops.carry_back(old, new, moved)
    assert foreign_entries(old) == entries


def test_clean_leftovers_puts_a_deep_carried_file_back(tmp_path):
    path = real_venv(tmp_path / "app")
    staging = real_venv(tmp_path / ".app.venv_build-k1ll3d01")  # a build killed after it carried the file
    write(os.path.join(staging, SITE, "user_mod.py"), "mine")
    write(os.path.join(staging, "share", "mydata", "x.txt"), "data")  # path has no share/: the leftover is kept
    removed, kept = fsops.clean_leftovers(path)
    assert removed == [] and kept == [staging]
    assert open(os.path.join(path, SITE, "user_mod.py")).read() == "mine"
    assert foreign_entries(staging, managed=True) == ["share/mydata"] and sorted(os.listdir(staging)) == ["share"]


def test_a_staging_directory_killed_before_its_swap_is_ours_but_what_it_records_as_carried(tmp_path):
    """A build killed while it installed or copied pip leaves files no RECORD lists yet: they are the build's, not
    someone else's (put back into the live venv, they broke it; kept, they left the leftover behind). Only what the
    staging record names as carried goes back."""
    path = real_venv(tmp_path / "app")
    staging = real_venv(tmp_path / ".app.venv_build-k1ll3d02")
    write(os.path.join(staging, SITE, "pip", "_internal", "half.py"), "cut sh")  # a copy cut short
    write(os.path.join(staging, SITE, "pip_partial-1.0.dist-info", "METADATA"), "Name: x")  # no RECORD yet
    fsops.mark_staging(staging)
    assert sorted(fsops.staging_record(staging)) == []
    removed, kept = fsops.clean_leftovers(path)
    assert removed == [staging] and kept == [] and not os.path.exists(staging)
    assert not os.path.exists(os.path.join(path, SITE, "pip")), "a partial copy went into the live venv"
    # carried before the kill: goes back; a record naming a path out of the folder is no record
    staging = real_venv(tmp_path / ".app.venv_build-k1ll3d03")
    write(os.path.join(staging, SITE, "user_mod.py"), "mine")
    write(os.path.join(staging, SITE, "pip", "half.py"), "cut")
    fsops.mark_staging(staging, [os.path.join(SITE, "user_mod.py"), "notes/not-moved-yet.txt"])
    removed, kept = fsops.clean_leftovers(path)
    assert removed == [staging] and open(os.path.join(path, SITE, "user_mod.py")).read() == "mine"
    assert not os.path.exists(os.path.join(path, SITE, "pip"))
    other = real_venv(tmp_path / ".app.venv_build-k1ll3d04")
    fsops.mark_staging(other, ["../../etc/passwd"])
    assert fsops.staging_record(other) is None

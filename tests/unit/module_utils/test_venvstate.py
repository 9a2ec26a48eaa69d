"""What venvstate reads from a venv's files: stash entries, damaged metadata, RECORD entries, the state file's shape."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    STATE_FILE,
    VenvOnDisk,
    installed_distributions,
    installer_leftovers,
    name_from_meta_dir,
    read_state,
    record_rows,
    venv_interpreter_problem,
)

PY = "%d.%d.%d" % sys.version_info[:3]


def make_venv(path):
    """A venv-shaped directory with alpha 1.0 installed as pip installs a wheel: module, script, RECORD."""
    site = os.path.join(path, "lib", "python%s" % PY.rsplit(".", 1)[0], "site-packages")
    meta = os.path.join(site, "alpha-1.0.dist-info")
    os.makedirs(os.path.join(site, "alpha_mod", "__pycache__"))
    os.makedirs(meta)
    os.makedirs(os.path.join(path, "bin"))
    with open(os.path.join(path, "pyvenv.cfg"), "w") as handle:
        handle.write("home = /usr/bin\nversion = %s\n" % PY)
    files = {
        os.path.join(site, "alpha_mod", "__init__.py"): "VERSION = '1.0'\n",
        os.path.join(site, "alpha_mod", "core.py"): "",
        os.path.join(site, "single.py"): "",
        os.path.join(path, "bin", "alpha-version"): "#!/usr/bin/python\n",
        os.path.join(meta, "METADATA"): "Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n\n",
        os.path.join(meta, "RECORD"): "\n".join([
            "alpha_mod/__init__.py,sha256=x,16",
            "alpha_mod/core.py,sha256=x,0",
            "alpha_mod/__pycache__/core.cpython-311.pyc,,",
            "single.py,sha256=x,0",
            "../../../bin/alpha-version,sha256=x,20",
            "/usr/share/outside/file,,",
            "alpha-1.0.dist-info/METADATA,,",
            "alpha-1.0.dist-info/RECORD,,",
        ]) + "\n",
    }
    for name, text in files.items():
        with open(name, "w") as handle:
            handle.write(text)
    return site


def test_pip_stash_entries_are_not_installed_distributions(tmp_path):
    site = make_venv(str(tmp_path))
    # an interrupted upgrade: pip renamed the old files to names starting with '~'
    shutil.copytree(os.path.join(site, "alpha-1.0.dist-info"), os.path.join(site, "~lpha-0.9.dist-info"))
    with open(os.path.join(site, "~lpha-0.9.dist-info", "METADATA"), "w") as handle:
        handle.write("Name: alpha\nVersion: 0.9\n\n")
    os.makedirs(os.path.join(site, "~lpha_mod"))
    assert installed_distributions(site)["alpha"].version == "1.0"
    assert installer_leftovers(site) == [os.path.join(site, "~lpha-0.9.dist-info"), os.path.join(site, "~lpha_mod")]
    assert VenvOnDisk(str(tmp_path)).packages == {"alpha": "1.0"}


@pytest.mark.parametrize("content, why", [
    (None, "cannot be read"),
    (b"\x00\x01\x02\xff binary garbage\x00", "binary data"),
    (b"Metadata-Version: 2.1\nSummary: no name\n\n", "no Name or no Version"),
])
def test_damaged_metadata_is_named_not_raised(tmp_path, content, why):
    site = make_venv(str(tmp_path))
    meta_file = os.path.join(site, "alpha-1.0.dist-info", "METADATA")
    os.unlink(meta_file)
    if content is not None:
        with open(meta_file, "wb") as handle:
            handle.write(content)
    damaged = {}
    assert installed_distributions(site, damaged) == {}
    assert list(damaged) == [os.path.join(site, "alpha-1.0.dist-info")]
    message = damaged[os.path.join(site, "alpha-1.0.dist-info")]
    assert message.startswith("%s is damaged (" % meta_file) and why in message


def test_name_from_meta_dir():
    assert name_from_meta_dir("Alpha_Pkg-1.0.dist-info") == ("alpha-pkg", "1.0")
    assert name_from_meta_dir("beta-2.0-py3.11.egg-info") == ("beta", "2.0")
    assert name_from_meta_dir("odd.dist-info") == ("odd", None)


def test_record_check_finds_files_removed_by_hand(tmp_path):
    venv = str(tmp_path)
    site = make_venv(venv)
    assert VenvOnDisk(venv).missing_files() == {}
    # compiled files, entries outside the venv and the metadata folder are not checked
    shutil.rmtree(os.path.join(site, "alpha_mod", "__pycache__"))
    assert VenvOnDisk(venv).missing_files() == {}
    os.unlink(os.path.join(site, "alpha_mod", "__init__.py"))
    os.unlink(os.path.join(site, "single.py"))
    rel = os.path.relpath(site, venv)
    assert VenvOnDisk(venv).missing_files() == {"alpha": [os.path.join(rel, "alpha_mod", "__init__.py"),
                                                          os.path.join(rel, "single.py")]}
    shutil.rmtree(os.path.join(site, "alpha_mod"))
    assert VenvOnDisk(venv).missing_files()["alpha"] == [os.path.join(rel, "alpha_mod"), os.path.join(rel, "single.py")]


def test_record_check_covers_every_file_and_its_size(tmp_path):
    """A file deeper than a package's __init__.py, removed or changed in size, is drift (import would fail)."""
    venv = str(tmp_path)
    site = make_venv(venv)
    rel = os.path.relpath(site, venv)
    os.unlink(os.path.join(site, "alpha_mod", "core.py"))
    assert VenvOnDisk(venv).missing_files() == {"alpha": [os.path.join(rel, "alpha_mod", "core.py")]}
    with open(os.path.join(site, "alpha_mod", "core.py"), "w") as handle:
        handle.write("raise ImportError\n")  # RECORD says 0 bytes
    assert VenvOnDisk(venv).missing_files() == {"alpha": [os.path.join(rel, "alpha_mod", "core.py") + " (changed)"]}
    # scripts are rewritten when a staged venv is moved into place: their size is not checked, their presence is
    with open(os.path.join(venv, "bin", "alpha-version"), "w") as handle:
        handle.write("#!/srv/app/bin/python\n")
    with open(os.path.join(site, "alpha_mod", "core.py"), "w") as handle:
        handle.write("")
    assert VenvOnDisk(venv).missing_files() == {}


def test_record_rows_read_sizes_and_quoted_paths():
    data = b'a/b.py,sha256=x,12\n"a/with,comma.py",sha256=y,3\na/c.pyc,,\nbad\n\n'
    assert record_rows(data) == {"a/b.py": 12, "a/with,comma.py": 3, "a/c.pyc": None, "bad": None}


def test_venv_interpreter_problem(tmp_path):
    real = os.path.realpath(sys.executable)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    assert "is not %s" % real in venv_interpreter_problem(str(venv), real)  # missing
    os.symlink(sys.executable, str(python))
    assert venv_interpreter_problem(str(venv), real) is None
    assert "leads to %s, not to /usr/bin/nothing" % real in venv_interpreter_problem(str(venv), "/usr/bin/nothing")
    python.unlink()
    python.write_text("#!/bin/sh\nexit 1\n")  # a broken executable in its place
    python.chmod(0o755)
    assert "nor a copy of it" in venv_interpreter_problem(str(venv), real)
    shutil.copy(real, str(python))  # venv --copies
    assert venv_interpreter_problem(str(venv), real) is None


def test_thorough_record_check_after_an_interrupted_install(tmp_path):
    """After an interrupted install every listed file counts, and a RECORD that does not list itself is cut short."""
    venv = str(tmp_path)
    site = make_venv(venv)
    rel = os.path.relpath(site, venv)
    shutil.rmtree(os.path.join(site, "alpha_mod", "__pycache__"))
    assert VenvOnDisk(venv).missing_files(thorough=True) == {}
    os.unlink(os.path.join(site, "alpha_mod", "core.py"))
    os.unlink(os.path.join(venv, "bin", "alpha-version"))
    assert VenvOnDisk(venv).missing_files(thorough=True) == {
        "alpha": [os.path.join("bin", "alpha-version"), os.path.join(rel, "alpha_mod", "core.py")]}
    record = os.path.join(site, "alpha-1.0.dist-info", "RECORD")
    for cut in (b"", b"alpha_mod/__init__.py,sha256=x,16\nalpha_mod/co"):
        with open(record, "wb") as handle:
            handle.write(cut)
        assert VenvOnDisk(venv).missing_files(thorough=True)["alpha"][0] == \
            os.path.join(rel, "alpha-1.0.dist-info", "RECORD") + " (incomplete)"
        assert "(incomplete)" not in str(VenvOnDisk(venv).missing_files())  # only after an interrupted install


def test_dist_info_without_record_is_damaged(tmp_path):
    site = make_venv(str(tmp_path))
    os.unlink(os.path.join(site, "alpha-1.0.dist-info", "RECORD"))
    damaged = {}
    assert installed_distributions(site, damaged) == {}
    assert damaged == {os.path.join(site, "alpha-1.0.dist-info"): "%s is damaged (it is missing: the install of alpha 1.0 "
                       "did not finish)" % os.path.join(site, "alpha-1.0.dist-info", "RECORD")}


@pytest.mark.parametrize("content, problem", [
    ('{"format": 1, "packages": "x"}', "packages is not a mapping"),
    ('[1, 2]', "not a JSON object"),
    ('{"format": 1, "python": 3}', "python is not a JSON object"),
    ('{"format": 1, "python": {"version": 3}}', "python has a realpath, version or signature of the wrong type"),
    ('{"format": 1, "links": {"a": 1}}', "links is not a mapping"),
    ('{"format": 1, "constraint_files": ["/srv/upper.txt"]}', "constraint_files is not a mapping"),
    ('{"format": 1, "lock": "/srv/wheels/pylock.app.toml"}', "lock is not a mapping"),
    ('{"format": 1, "fingerprint": ["x"]}', "fingerprint is not a string"),
    ('{"format": 1, "facts_pending": "yes"}', "facts_pending is not true or false"),
    ('{"format": 2}', "format is 2"),
    ('{"format": 1, "packa', "is not valid JSON"),
    ('\udcff', "is not valid JSON"),
])
def test_state_file_of_the_wrong_shape_is_named(tmp_path, content, problem):
    with open(str(tmp_path / STATE_FILE), "wb") as handle:
        handle.write(content.encode("utf-8", "surrogateescape"))
    state, why = read_state(str(tmp_path))
    assert state is None
    assert why.startswith(str(tmp_path / STATE_FILE)) and problem in why


def test_good_and_missing_state_files(tmp_path):
    assert read_state(str(tmp_path)) == (None, None)
    good = {"format": 1, "fingerprint": "f", "packages": {"alpha": "1.0"}, "links": {},
            "python": {"realpath": "/usr/bin/python3", "signature": [1, 2, 3], "version": PY}, "facts_pending": True}
    (tmp_path / STATE_FILE).write_text(json.dumps(good))
    assert read_state(str(tmp_path)) == (good, None)


# --- a venv may belong to another user: what is read from it is checked for form, links are not followed ---

@pytest.mark.parametrize("field, value", [
    ("release", "../../x"),
    ("release", "1-20261207T120000/../../x"),
    ("retired", "../x"),
    ("entries", ["bin", "../outside"]),
    ("entries", ["lib/python3.11"]),
    ("entries", "bin"),
    ("links", {"../../../etc": "/usr/lib/python3/dist-packages/apt"}),
    ("rolled_back_from", {"release": "../x", "at": "", "fingerprint": "", "inputs_id": ""}),
])
def test_state_field_of_a_foreign_form_is_dropped_and_named(tmp_path, field, value):
    with open(os.path.join(str(tmp_path), STATE_FILE), "w") as handle:
        json.dump({"format": 1, "fingerprint": "f", "release": "3-20261207T120000", field: value}, handle)
    warnings = []
    state, problem = read_state(str(tmp_path), warnings)
    assert problem is None and field not in state and state["fingerprint"] == "f"
    assert len(warnings) == 1 and "its field %s " % field in warnings[0] and "treated as missing" in warnings[0]


def test_state_fields_of_the_module_s_own_form_are_kept(tmp_path):
    state = {"format": 1, "release": "12-20261207T120000", "retired": "1796637600.123456", "entries": ["bin", ".uv"],
             "links": {"apt": "/usr/lib/python3/dist-packages/apt"},
             "rolled_back_from": {"release": "11-20261206T090000", "at": "x", "fingerprint": "", "inputs_id": ""}}
    with open(os.path.join(str(tmp_path), STATE_FILE), "w") as handle:
        json.dump(state, handle)
    warnings = []
    assert read_state(str(tmp_path), warnings) == (state, None) and warnings == []


def test_state_file_that_is_a_link_is_not_followed(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"format": 1, "fingerprint": "planted"}')
    venv = tmp_path / "venv"
    venv.mkdir()
    os.symlink(str(secret), str(venv / STATE_FILE))
    state, problem = read_state(str(venv))
    assert state is None and "symbolic link" in problem


def test_state_file_that_is_a_fifo_is_not_waited_on(tmp_path):
    os.mkfifo(os.path.join(str(tmp_path), STATE_FILE))  # open() for reading would block until a writer came
    state, problem = read_state(str(tmp_path))
    assert state is None and "not a regular file" in problem


def test_oversized_state_file_is_not_read_whole(tmp_path, monkeypatch):
    from ansible_collections.wheelhouse.venv.plugins.module_utils import _venvstate
    monkeypatch.setattr(_venvstate, "MAX_STATE_BYTES", 64)
    with open(os.path.join(str(tmp_path), STATE_FILE), "w") as handle:
        json.dump({"format": 1, "fingerprint": "f" * 100}, handle)
    state, problem = read_state(str(tmp_path))
    assert state is None and "larger than 64 bytes" in problem


def test_installer_files_and_metadata_behind_links_are_not_read(tmp_path):
    """requirements.txt, pyvenv.cfg and METADATA planted as links to root's files: never read through them."""
    site = make_venv(str(tmp_path / "venv"))
    secret = tmp_path / "shadow"
    secret.write_text("Name: alpha\nVersion: 9.9\n\nroot:$6$secret\n")
    os.symlink(str(secret), str(tmp_path / "venv" / "requirements.txt"))
    disk = VenvOnDisk(str(tmp_path / "venv"))
    assert disk.files["requirements.txt"] is None and disk.packages == {"alpha": "1.0"}
    os.unlink(os.path.join(site, "alpha-1.0.dist-info", "METADATA"))
    os.symlink(str(secret), os.path.join(site, "alpha-1.0.dist-info", "METADATA"))
    damaged = {}
    assert installed_distributions(site, damaged) == {}
    assert list(damaged) == [os.path.join(site, "alpha-1.0.dist-info")]
    cfg = tmp_path / "venv" / "pyvenv.cfg"
    cfg.unlink()
    os.symlink(str(secret), str(cfg))
    assert VenvOnDisk(str(tmp_path / "venv")).is_venv is False

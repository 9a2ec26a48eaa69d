"""plugins/module_utils/_pylock.py: the PEP 751 lock of a wheel set, written by hand and read back."""

from __future__ import annotations

import pathlib
import sys
import tomllib

import pytest
from packaging.pylock import Pylock, is_valid_pylock_path

from ansible_collections.wheelhouse.venv.plugins.module_utils import _pylock as pylock

SHA_A = "a" * 64
SHA_B = "b" * 64
WHEELS = [
    {"name": "zeta-pkg", "version": "2.0.post1", "filename": "zeta_pkg-2.0.post1-py3-none-any.whl", "sha256": SHA_B},
    {"name": "alpha", "version": "1.0", "filename": "alpha-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "sha256": SHA_A},
]


def test_toml_string_escapes_what_toml_requires_and_round_trips():
    for value in ['plain', 'with "quotes"', "back\\slash", "tab\tnew\nline\r", "bell\x07del\x7f", "ünïcode €"]:
        assert tomllib.loads("k = %s" % pylock.toml_string(value))["k"] == value
        assert pylock.read_subset("[tool.wheelhouse-venv]\nwheel-set = %s\n" % pylock.toml_string(value)) == {
            "tool": {"wheelhouse-venv": {"wheel-set": value}}}


def test_lock_file_name_is_a_valid_pep_751_name():
    assert pylock.lock_file_name("app") == "pylock.app.toml"
    assert pylock.lock_file_name("glance-29.0.0") == "pylock.glance-29-0-0.toml"
    for name in ("app", "glance-29.0.0", "my_venv"):
        assert is_valid_pylock_path(pathlib.Path(pylock.lock_file_name(name)))


def test_requires_python_is_the_minor_version_the_set_was_built_for():
    assert pylock.requires_python("3.11") == "==3.11.*"
    assert pylock.requires_python("3.9.18") == "==3.9.*"
    assert pylock.requires_python("") == ""


def test_render_is_a_valid_pylock_sorted_by_name_and_the_same_for_the_same_set():
    text = pylock.render(WHEELS, "3.11", "app", "debian-12-x86_64")
    assert text == pylock.render(list(reversed(WHEELS)), "3.11", "app", "debian-12-x86_64")
    data = tomllib.loads(text)
    lock = Pylock.from_dict(data)
    assert str(lock.lock_version) == "1.0" and lock.created_by == "wheelhouse.venv"
    assert str(lock.requires_python) == "==3.11.*"
    assert [(p.name, str(p.version)) for p in lock.packages] == [("alpha", "1.0"), ("zeta-pkg", "2.0.post1")]
    wheel = lock.packages[1].wheels[0]
    assert (wheel.name, wheel.path, wheel.url, dict(wheel.hashes)) == (
        "zeta_pkg-2.0.post1-py3-none-any.whl", "zeta_pkg-2.0.post1-py3-none-any.whl", None, {"sha256": SHA_B})
    assert data["tool"]["wheelhouse-venv"] == {"wheel-set": "app", "platform": "debian-12-x86_64"}


def test_read_subset_gives_what_tomllib_gives():
    text = pylock.render(WHEELS, "3.11", "a \"quoted\" \\ set", "")
    assert pylock.read_subset(text) == tomllib.loads(text)
    with pytest.raises(ValueError):
        pylock.read_subset(text + "other = [1, 2]\n")


def test_read_packages_maps_names_to_version_sha256_and_file(tmp_path):
    path = tmp_path / "pylock.app.toml"
    path.write_text(pylock.render(WHEELS, "3.11", "app", "x"))
    assert pylock.read_packages(str(path)) == {
        "alpha": ("1.0", SHA_A, "alpha-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        "zeta-pkg": ("2.0.post1", SHA_B, "zeta_pkg-2.0.post1-py3-none-any.whl")}
    # a lock of another tool: the file name comes from the path or url when the wheel has no name
    path.write_text('lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "beta"\nversion = "2"\n'
                    '[[packages.wheels]]\nurl = "https://h/w/beta-2-py3-none-any.whl"\nhashes = {sha256 = "%s"}\n' % SHA_B)
    assert pylock.read_packages(str(path)) == {"beta": ("2", SHA_B, "beta-2-py3-none-any.whl")}
    path.write_text('lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "beta"\n'
                    '[packages.directory]\npath = "src"\n')
    with pytest.raises(ValueError, match="beta has no wheel"):
        pylock.read_packages(str(path))


def test_wheel_set_of_names_the_set_or_nothing():
    assert pylock.wheel_set_of(pylock.render(WHEELS, "3.11", "app", "")) == "app"
    assert pylock.wheel_set_of('lock-version = "1.0"\n') == ""
    assert pylock.wheel_set_of("not toml [") == ""


def test_without_tomllib_the_lock_is_read_by_the_subset_reader(tmp_path, monkeypatch):
    path = tmp_path / "pylock.app.toml"
    path.write_text(pylock.render(WHEELS, "3.9", "app", "el9"))
    with_tomllib = pylock.read_packages(str(path))
    monkeypatch.setitem(sys.modules, "tomllib", None)  # Python 3.9 and 3.10 have none
    with pytest.raises(ImportError):
        import tomllib as _absent  # noqa: F401 pylint: disable=unused-import,reimported
    assert pylock.read_packages(str(path)) == with_tomllib
    assert pylock.wheel_set_of(path.read_text()) == "app"

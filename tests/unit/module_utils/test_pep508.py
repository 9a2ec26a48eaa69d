from __future__ import annotations

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _pep508 as pep508
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError

ENV = pep508.marker_environment("3.11.2")


@pytest.mark.parametrize("name, canonical", [
    ("Flask", "flask"), ("zope.interface", "zope-interface"), ("ruamel_yaml", "ruamel-yaml"),
    ("A__B--c..d", "a-b-c-d"),
])
def test_canonical_name(name, canonical):
    assert pep508.canonical_name(name) == canonical


@pytest.mark.parametrize("lower, higher", [
    ("1.0", "1.0.1"), ("1.0a1", "1.0"), ("1.0.dev0", "1.0a1"), ("1.0", "1.0.post1"),
    ("1.0rc1", "1.0"), ("2.0", "1!0.1"), ("1.0", "1.0+local"), ("2.0", "10.0"), ("1.0b2", "1.0rc1"),
])
def test_version_order(lower, higher):
    assert pep508.Version(lower) < pep508.Version(higher)
    assert pep508.Version(higher) >= pep508.Version(lower)


def test_versions_equal_with_trailing_zeros():
    assert pep508.Version("1.0") == pep508.Version("1.0.0")


@pytest.mark.parametrize("spec, version, expected", [
    ("==1.0", "1.0.0", True), ("==1.0", "1.0.1", False), ("==1.*", "1.9", True), ("==1.*", "2.0", False),
    ("!=1.*", "2.0", True), (">=2.31", "2.32.3", True), (">=2.31", "2.30", False), ("<2", "2.0a1", False),
    ("<2", "1.9", True), ("~=1.4.2", "1.4.9", True), ("~=1.4.2", "1.5.0", False), ("~=2.2", "2.9", True),
    (">1.0", "1.0.post1", False), ("<=1.0", "1.0", True), ("===1.0-foo", "1.0-foo", True),
    ("==1.0", "1.0+local.7", True), ("==1.0+abc", "1.0+abc", True),
])
def test_specifier_contains(spec, version, expected):
    assert pep508.Specifier(spec).contains(version) is expected


@pytest.mark.parametrize("bad", ["=1.0", ">=1.0.*", "~=1", "==not a version"])
def test_invalid_specifiers(bad):
    with pytest.raises(ValueError):
        pep508.Specifier(bad)


@pytest.mark.parametrize("marker, expected", [
    ('python_version >= "3.8"', True),
    ('python_version < "3.10"', False),
    ('sys_platform == "win32" or python_full_version == "3.11.2"', True),
    ('(os_name == "posix" and platform_system == "Linux") and implementation_name == "cpython"', True),
    ('"linux" in sys_platform', True),
    ('platform_system not in "Windows Darwin"', True),
    ('extra == "socks"', False),
])
def test_marker_evaluation(marker, expected):
    assert pep508.Marker(marker).evaluate(ENV) is expected


def test_marker_extra_is_normalized():
    env = dict(ENV, extra="Security_Extra")
    assert pep508.Marker('extra == "security-extra"').evaluate(env)


@pytest.mark.parametrize("bad", ['python_version >= ', 'nonsense == "1"', '(python_version == "3"', 'python_version ~ "3"'])
def test_invalid_markers(bad):
    with pytest.raises(ValueError):
        pep508.Marker(bad)


def test_parse_named_requirement():
    req = pep508.parse_requirement('Requests[Socks, security] >=2.31,<3 ; python_version >= "3.8"  # web')
    assert req.name == "requests"
    assert req.extras == ("security", "socks")
    assert [str(s) for s in req.specifiers] == [">=2.31", "<3"]
    assert req.applies(ENV)
    assert req.kind == "named"


def test_parse_direct_reference_and_vcs():
    direct = pep508.parse_requirement("mylib @ git+https://git.example.com/mylib.git@v1.2")
    assert (direct.name, direct.kind, direct.url) == ("mylib", "url", "git+https://git.example.com/mylib.git@v1.2")
    egg = pep508.parse_requirement("git+file:///srv/repo#egg=Other_Lib")
    assert (egg.name, egg.kind) == ("other-lib", "url")
    unnamed = pep508.parse_requirement("https://files.example.com/pkg-1.0-py3-none-any.whl")
    assert unnamed.name is None and unnamed.kind == "url"
    # A direct reference to an archive is named, not a path; pip-compile writes local URLs with one slash.
    archive = pep508.parse_requirement("pkg @ https://files.example.com/pkg-1.0.tar.gz")
    assert (archive.name, archive.kind) == ("pkg", "url")
    for line in ("wh-alpha @ git+file:/srv/git/wh-alpha", "local-pkg @ file:/srv/local-pkg-1.0.tar.gz"):
        local = pep508.parse_requirement(line)
        assert local.name and local.kind == "url", line


def test_parse_paths_editables_and_hashes():
    assert pep508.parse_requirement("./src/app").kind == "path"
    assert pep508.parse_requirement("/srv/wheels/app-1.0-py3-none-any.whl").kind == "path"
    editable = pep508.parse_requirement("-e /srv/src/app")
    assert editable.editable and editable.kind == "path"
    hashed = pep508.parse_requirement("six==1.16.0 --hash=sha256:" + "AB" * 32)
    assert hashed.hashes == ("sha256:" + "ab" * 32,) and hashed.exact_pin == "1.16.0"


def test_blank_and_comment_lines_are_skipped():
    assert pep508.parse_requirement("   ") is None
    assert pep508.parse_requirement("# only a comment") is None


@pytest.mark.parametrize("line, reason", [
    ("requests>=", "invalid version"),
    ("requests 2.0", "unexpected '2.0'"),
    ("--index-url https://x", "not requirement lines"),
    ("requests[bad extra]", "invalid extra"),
    ("pkg @ ", "needs a URL"),
    ("pkg @ not-a-url", "must be a URL"),
    ('pkg ; python_version >>> "3"', "marker"),
    ("six==1.0 --hash=md5:abc", "--hash"),
    ("-e requests", "editable"),
])
def test_invalid_requirement_lines(line, reason):
    with pytest.raises(ValueError, match=reason):
        pep508.parse_requirement(line)


def test_parse_lines_names_the_bad_line():
    with pytest.raises(VenvBuildError) as exc:
        pep508.parse_lines(["flask", "requests>=", "six"], "requirements")
    assert "requirements line 2 'requests>='" in exc.value.msg


def test_constraints_must_be_named():
    with pytest.raises(VenvBuildError, match="must name its project"):
        pep508.parse_constraint_lines(["./local/path"], "constraints")


def test_metadata_requirement_old_style_parentheses():
    req = pep508.metadata_requirement('charset-normalizer (<4,>=2) ; extra == "x"')
    assert req.name == "charset-normalizer" and len(req.specifiers) == 2
    assert pep508.metadata_requirement("!!! not a requirement") is None

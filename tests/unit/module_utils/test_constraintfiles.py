"""Referenced constraints files ('-c <path or URL>' in a constraint list): read, checked, fingerprinted, inlined, masked."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _constraintfiles as cfiles, _pep508 as pep508
from ansible_collections.wheelhouse.venv.plugins.module_utils import _wheelbuild as wb
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import inputs_changed_reason

from httpserve import basic_auth, serve
from test_wheelbuild import FakePip, params

SECRET = "c0nstr-s3cret"


@pytest.fixture
def served(tmp_path):
    """(folder served, base URL) of a local HTTP server; paths under /private/ only to deploy:SECRET."""
    folder = tmp_path / "served"
    folder.mkdir()
    with serve(basic_auth("deploy", SECRET, protected="/private/", strip=True), folder) as url:
        yield folder, url


def spec(**params_):
    return VenvSpec(dict({"path": "/opt/app/venv", "requirements": ["alpha"]}, **params_))


@pytest.mark.parametrize("line", ["-c /srv/upper.txt", "--constraint /srv/upper.txt", "--constraint=/srv/upper.txt",
                                  "-c=/srv/upper.txt", "--constraint   https://h.example/u.txt",
                                  "-c file:///srv/upper.txt"])
def test_the_three_spellings_of_a_reference_are_recognised(line):
    assert cfiles.split_lines(["beta==1.0", " ".join(line.split())], "constraints")[0] == ["beta==1.0"]
    assert cfiles.reference_target(" ".join(line.split())) in ("/srv/upper.txt", "https://h.example/u.txt",
                                                               "file:///srv/upper.txt")


@pytest.mark.parametrize("line, reason", [
    ("-c upper.txt", "must be absolute"),
    ("-c ftp://h.example/u.txt", "http, https or file URL"),
    ("-c /a.txt /b.txt", "one location"),
    ("--constraintx /a.txt", "not requirement lines"),
])
def test_a_malformed_reference_fails_when_the_spec_is_made(line, reason):
    with pytest.raises(VenvBuildError, match=reason):
        spec(constraints=[line])


def test_a_local_file_is_inlined_fingerprinted_and_recorded_without_its_comments(tmp_path):
    upper = tmp_path / "upper.txt"
    upper.write_text("# upper constraints\nbeta===1.0  # pinned\n\ngamma==1.0 ; python_version >= '3'\n")
    s = spec(constraints=["delta==1.0", "-c %s" % upper])
    assert s.constraints_text == ("delta==1.0\n# -c %s (sha256:%s, read and inlined by wheelhouse.venv)\n"
                                  "beta===1.0\ngamma==1.0 ; python_version >= '3'\n"
                                  % (upper, s.constraint_file_digests[str(upper)]))
    before = s.fingerprint("3.11.2")
    assert spec(constraints=["delta==1.0", "-c %s" % upper]).fingerprint("3.11.2") == before, "same content, no change"
    upper.write_text("beta===2.0\n")
    changed = spec(constraints=["delta==1.0", "-c %s" % upper])
    assert changed.fingerprint("3.11.2") != before, "a change of the referenced content is a change of the inputs"
    reason = inputs_changed_reason(changed, {"constraint_files": s.constraint_file_digests})
    assert reason == "the inputs changed: the content of the constraints file %s changed" % upper


def test_lists_without_references_keep_their_fingerprint():
    """A venv made before referenced files were accepted is not reinstalled by an upgrade of the collection."""
    s = spec(constraints=["beta==1.0"], global_constraints=["gamma==1.0"])
    inputs = s.fingerprint_inputs("3.11.2")
    assert inputs["constraints"] == ["beta==1.0"] and inputs["global_constraints"] == ["gamma==1.0"]
    assert s.constraint_file_digests == {}


@pytest.mark.parametrize("kind", ["directory", "fifo", "missing"])
def test_a_local_reference_must_be_a_regular_file(tmp_path, kind):
    target = tmp_path / "upper"
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(str(target))
    s = spec(global_constraints=["--constraint=%s" % target])
    expected = {"directory": "is not a regular file \\(it is a directory\\)",
                "fifo": "is not a regular file \\(it is a FIFO\\)", "missing": "cannot be read: No such file"}[kind]
    with pytest.raises(VenvBuildError, match="global_constraints: the constraints file %s %s" % (target, expected)):
        s.load_constraint_files()


def test_nested_references_and_options_in_a_referenced_file_are_refused(tmp_path):
    upper = tmp_path / "upper.txt"
    upper.write_text("beta==1.0\n-c https://deploy:%s@h.example/more.txt\n" % SECRET)
    with pytest.raises(VenvBuildError, match="nested references are not followed") as info:
        spec(constraints=["-c %s" % upper]).load_constraint_files()
    assert SECRET not in str(info.value)
    upper.write_text("--index-url https://h.example/simple\nbeta==1.0\n")
    with pytest.raises(VenvBuildError, match="line 1 .* is not a constraint: options such as '--index-url'"):
        spec(constraints=["-c %s" % upper]).load_constraint_files()
    upper.write_text("./local/pkg\n")
    with pytest.raises(VenvBuildError, match="a constraint must name its project"):
        spec(constraints=["-c %s" % upper]).load_constraint_files()


def test_a_referenced_pin_conflicting_with_a_requirement_fails_naming_the_file(tmp_path):
    upper = tmp_path / "upper.txt"
    upper.write_text("alpha===1.0\n")
    s = spec(requirements=["alpha>=1.1"], global_constraints=["-c %s" % upper])
    with pytest.raises(VenvBuildError, match="requirements line 'alpha>=1.1' conflicts with global_constraints "
                                             "\\(from %s\\) line 'alpha===1.0'" % upper):
        s.check_conflicts(pep508.marker_environment("3.11.2"))
    spec(requirements=["alpha>=1.0"], global_constraints=["-c %s" % upper]).check_conflicts(
        pep508.marker_environment("3.11.2"))


def test_a_url_is_read_with_its_credentials_which_are_never_shown_nor_fingerprinted(served):
    folder, base = served
    (folder / "upper.txt").write_text("beta===1.0\n")
    url = base.replace("http://", "http://deploy:%s@" % SECRET) + "private/upper.txt"
    s = spec(constraints=["-c %s" % url])
    shown = base + "private/upper.txt"
    assert list(s.constraint_file_digests) == [shown]
    assert SECRET not in s.constraints_text and "# -c %s (sha256:" % shown in s.constraints_text
    assert SECRET not in json.dumps(s.fingerprint_inputs("3.11.2"))
    with pytest.raises(VenvBuildError, match="refused access \\(HTTP 401\\)") as info:
        spec(constraints=["-c %s" % url.replace(SECRET, "wrong-pw")]).load_constraint_files()
    assert "wrong-pw" not in str(info.value) and "deploy:********@" in str(info.value)
    with pytest.raises(VenvBuildError, match="constraints: the constraints file %s cannot be read: HTTP 404"
                                             % (base + "gone.txt")):
        spec(constraints=["-c %sgone.txt" % base]).load_constraint_files()


def test_a_percent_quoted_password_is_sent_unquoted_as_pip_sends_it(tmp_path):
    """A password with '@', '/' or ':' can only be written quoted in a URL; pip unquotes it, so must the module."""
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "upper.txt").write_text("beta===1.0\n")
    with serve(basic_auth("deploy", "p@ss/w:rd", protected="/private/", strip=True), folder) as base:
        url = base.replace("http://", "http://deploy:p%40ss%2Fw%3Ard@") + "private/upper.txt"
        assert spec(constraints=["-c %s" % url]).constraints_text.count("beta===1.0") == 1


class RecordingPip(FakePip):
    """FakePip that keeps what the resolver's constraints files held."""

    def __call__(self, argv, env, cwd):
        if "--output-file" in argv:
            folder = os.path.dirname(argv[-1])
            self.read = dict((name, open(os.path.join(folder, name)).read())
                             for name in ("constraints.txt", "global-constraints.txt"))
        return FakePip.__call__(self, argv, env, cwd)


def test_the_wheel_build_resolves_with_the_referenced_content_and_rebuilds_when_it_changes(tmp_path, served):
    folder, base = served
    (folder / "upper.txt").write_text("alpha===1.0\n")
    url = base.replace("http://", "http://deploy:%s@" % SECRET) + "private/upper.txt"
    pip = RecordingPip([("alpha", "1.0")])
    built = wb.WheelBuilder(params(tmp_path, global_constraints=["--constraint %s" % url]), pip).execute()
    assert built["status"] == "new"
    assert "alpha===1.0\n" in pip.read["global-constraints.txt"] and SECRET not in pip.read["global-constraints.txt"]
    recorded = (tmp_path / "p" / "requirements" / "app-global-constraints.txt").read_text()
    assert "alpha===1.0\n" in recorded
    assert SECRET not in (tmp_path / "p" / "requirements" / "app-build.json").read_text() + recorded
    assert not wb.WheelBuilder(params(tmp_path, global_constraints=["--constraint %s" % url]), pip).execute()["changed"]
    (folder / "upper.txt").write_text("alpha===1.1\n")
    again = wb.WheelBuilder(params(tmp_path, global_constraints=["--constraint %s" % url]), pip, check_mode=True).execute()
    assert again["changed"] and again["status"] == "inputs changed"
    with pytest.raises(VenvBuildError, match="nested references"):
        (folder / "upper.txt").write_text("-c /srv/other.txt\n")
        wb.WheelBuilder(params(tmp_path, constraints=["-c %s" % (folder / "upper.txt")]), pip).execute()

"""plugins/module_utils/_publish.py through WheelBuilder's publish option: a real HTTP index (simple pages and files
of a folder, tests/lib/pkgindex.py); a stand-in for twine that 'uploads' by adding the file and its page entry.

The real twine against a real index server (pypiserver) runs in molecule/index, and under kill -9 in
tests/faults/test_publish_faults.py.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from httpserve import QuietHandler, basic_auth, serve
from pkgindex import Index

from ansible_collections.wheelhouse.venv.plugins.module_utils import _publish as publish, _wheelbuild as wb
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError

from test_wheelbuild import FakePip, params

SECRET = "s3cr@t/pw"


class Twine(FakePip):
    """pip-compile and pip wheel as FakePip; `twine upload` adds each file to the index (skip_all: adds none), and
    prints what twine prints: `Uploading <file>` before each (folded), and stops with rc 1 at a file the index already holds
    (pypiserver answers twine 400, other clients 409) or at the file named `refused` (the server fails it)."""

    def __init__(self, pins, index, skip_all=False, cut=False, meanwhile=None, refused=None):
        FakePip.__init__(self, pins)
        self.index = index
        self.skip_all = skip_all
        self.cut = cut  # as twine killed while it sends the first file: the index keeps its first half
        self.meanwhile = meanwhile  # what another build does as twine starts (called once, with the file paths)
        self.refused = refused
        self.uploads = []

    def __call__(self, argv, env, cwd):
        if not argv[0].endswith("/twine"):
            return FakePip.__call__(self, argv, env, cwd)
        self.calls.append((list(argv), dict(env), cwd))
        files = argv[argv.index("--repository-url") + 2:]
        self.uploads.append([os.path.basename(f) for f in files])
        if self.meanwhile:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile(files)
        url = argv[argv.index("--repository-url") + 1]
        out = "Uploading distributions to %s\n" % url
        for path in files if not self.skip_all else []:
            name = os.path.basename(path)
            # twine's console folds a long line at its width (80 columns; 24 here, for these short names)
            line = "Uploading %s" % name
            out += "\n".join(line[i:i + 24] for i in range(0, len(line), 24)) + "\n"
            if os.path.exists(str(self.index.root / "packages" / name)) or name == self.refused:
                return 1, out, "ERROR    HTTPError: 409 Conflict from %s\n" % url
            with open(path, "rb") as handle:
                data = handle.read()
            if self.cut:
                self.index.add(name, data[:len(data) // 2])
                return -9, out, ""
            self.index.add(name, data)
        return 0, out, ""


def builder_with_twine(tmp_path):
    p = params(tmp_path)
    twine = os.path.join(p["builder_venv"], "bin", "twine")
    os.makedirs(os.path.dirname(twine), exist_ok=True)
    with open(twine, "w") as handle:
        handle.write("#!/bin/sh\nexit 1\n")  # never run: the runner stands in for it
    os.chmod(twine, 0o755)
    return p


def publish_params(tmp_path, url, user="", password=""):
    return dict(builder_with_twine(tmp_path), publish={"url": url, "index_url": url + "simple/",
                                                       "username": user, "password": password})


def test_only_what_the_index_lacks_is_uploaded_and_a_second_run_uploads_nothing(tmp_path):
    index = Index(tmp_path / "index")
    with serve(QuietHandler, tmp_path / "index") as url:
        pip = Twine([("alpha", "1.0"), ("beta", "1.0")], index)
        first = wb.WheelBuilder(publish_params(tmp_path, url), pip).execute()
        assert first["changed"] and first["published"] == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"]
        assert pip.uploads == [first["published"]]
        twine_argv = pip.calls[-1][0]
        assert twine_argv[1:6] == ["--no-color", "upload", "--disable-progress-bar", "--repository-url", url]

        again = wb.WheelBuilder(publish_params(tmp_path, url), pip).execute()
        assert again["changed"] is False and again["published"] == [] and len(pip.uploads) == 1
        assert again["commands"] == []

        # a file gone from the index (another release cleaned up): only that one goes up again, a no-op build
        index.remove("beta-1.0-py3-none-any.whl")
        predicted = wb.WheelBuilder(publish_params(tmp_path, url), pip, check_mode=True).execute()
        assert predicted["changed"] and predicted["published"] == ["beta-1.0-py3-none-any.whl"]
        assert len(pip.uploads) == 1  # check mode uploads nothing
        repaired = wb.WheelBuilder(publish_params(tmp_path, url), pip).execute()
        assert repaired["changed"] and repaired["status"] == "current"
        assert pip.uploads[-1] == ["beta-1.0-py3-none-any.whl"] == repaired["published"]


def test_without_publish_nothing_is_read_or_uploaded(tmp_path):
    pip = Twine([("alpha", "1.0")], None)
    result = wb.WheelBuilder(builder_with_twine(tmp_path), pip).execute()
    assert result["published"] == [] and pip.uploads == []


@pytest.mark.parametrize("hashes", [True, False], ids=["sha256 on the page", "sha256 of the file"])
def test_a_file_of_the_same_name_with_other_bytes_fails_before_anything_is_uploaded(tmp_path, hashes):
    index = Index(tmp_path / "index", hashes=hashes)
    index.add("alpha-1.0-py3-none-any.whl", b"not the wheel the build made")
    with serve(QuietHandler, tmp_path / "index") as url:
        pip = Twine([("alpha", "1.0"), ("beta", "1.0")], index)
        with pytest.raises(VenvBuildError) as failed:
            wb.WheelBuilder(publish_params(tmp_path, url), pip).execute()
    held = hashlib.sha256(b"not the wheel the build made").hexdigest()
    assert "holds alpha-1.0-py3-none-any.whl with sha256 %s, but the wheel set has it with sha256" % held in failed.value.msg
    assert "would refuse it" in failed.value.msg and "nothing was uploaded" in failed.value.msg
    assert pip.uploads == []


def test_a_file_cut_short_by_a_killed_upload_is_named_so_and_uploaded_whole_once_removed(tmp_path):
    """An index server that keeps the start of an upload cut off (pypiserver): the next run says what it holds."""
    index = Index(tmp_path / "index")
    with serve(QuietHandler, tmp_path / "index") as url:
        with pytest.raises(VenvBuildError) as killed:
            wb.WheelBuilder(publish_params(tmp_path, url), Twine([("alpha", "1.0"), ("beta", "1.0")], index, cut=True)).execute()
        assert "the upload to %s failed (rc=-9)" % url in killed.value.msg
        pip = Twine([("alpha", "1.0"), ("beta", "1.0")], index)
        with pytest.raises(VenvBuildError) as failed:
            wb.WheelBuilder(publish_params(tmp_path, url), pip).execute()
        size = os.path.getsize(str(tmp_path / "p" / "wheels" / "alpha-1.0-py3-none-any.whl"))
        assert ("holds alpha-1.0-py3-none-any.whl cut short: its %d bytes are the start of the wheel of the set (%d bytes)"
                % (size // 2, size)) in failed.value.msg, failed.value.msg
        assert "Remove that file from the index" in failed.value.msg and pip.uploads == []
        index.remove("alpha-1.0-py3-none-any.whl")
        repaired = wb.WheelBuilder(publish_params(tmp_path, url), pip).execute()
    assert repaired["published"] == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"] == pip.uploads[0]


def another_build_uploads(index, *names):
    """What a build host of another platform with the same files does as twine starts: uploads them first."""
    def upload(paths):
        for path in paths:
            if os.path.basename(path) in names:
                with open(path, "rb") as handle:
                    index.add(os.path.basename(path), handle.read())
    return upload


def test_a_file_another_build_uploads_at_the_same_time_is_taken_and_the_rest_uploaded(tmp_path):
    """Two build hosts publish the same pure wheel to one index at once: twine fails on it; it is listed with
    the set's sha256, so the run uploads the files still lacking, warns, and reports only its own uploads."""
    index = Index(tmp_path / "index")
    with serve(QuietHandler, tmp_path / "index") as url:
        pip = Twine([("alpha", "1.0"), ("beta", "1.0"), ("gamma", "1.0")], index,
                    meanwhile=another_build_uploads(index, "beta-1.0-py3-none-any.whl"))
        builder = wb.WheelBuilder(publish_params(tmp_path, url), pip)
        result = builder.execute()
        assert result["changed"] and result["published"] == ["alpha-1.0-py3-none-any.whl", "gamma-1.0-py3-none-any.whl"]
        assert pip.uploads == [["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl", "gamma-1.0-py3-none-any.whl"],
                               ["gamma-1.0-py3-none-any.whl"]]
        assert len(builder.warnings) == 1 and builder.warnings[0].startswith(
            "twine could not upload beta-1.0-py3-none-any.whl to %s, and the index now lists it with the sha256 of "
            "the set: another build uploaded it at the same time" % url), builder.warnings
        again = wb.WheelBuilder(publish_params(tmp_path, url), pip).execute()
        assert again["changed"] is False and again["published"] == [] and len(pip.uploads) == 2


def test_a_set_another_build_uploaded_whole_meanwhile_is_no_change_of_this_run(tmp_path):
    index = Index(tmp_path / "index")
    pins = [("alpha", "1.0"), ("beta", "1.0")]
    wb.WheelBuilder(builder_with_twine(tmp_path), Twine(pins, None)).execute()  # built before, not published
    with serve(QuietHandler, tmp_path / "index") as url:
        pip = Twine(pins, index, meanwhile=another_build_uploads(index, "alpha-1.0-py3-none-any.whl",
                                                                 "beta-1.0-py3-none-any.whl"))
        builder = wb.WheelBuilder(publish_params(tmp_path, url), pip)
        result = builder.execute()
    assert result["changed"] is False and result["status"] == "current" and result["published"] == []
    assert len(pip.uploads) == 1 and "alpha-1.0-py3-none-any.whl" in builder.warnings[0]


@pytest.mark.parametrize("case", ["refused", "other bytes"])
def test_a_failed_upload_of_a_file_the_index_does_not_list_as_the_set_has_it_fails(tmp_path, case):
    """twine fails on a file that the index still lacks (the server refused it), or that another build uploaded
    with other bytes: no retry, the run fails naming it."""
    index = Index(tmp_path / "index")
    with serve(QuietHandler, tmp_path / "index") as url:
        if case == "refused":
            pip = Twine([("alpha", "1.0"), ("beta", "1.0")], index, refused="beta-1.0-py3-none-any.whl")
        else:
            pip = Twine([("alpha", "1.0"), ("beta", "1.0")], index,
                        meanwhile=lambda paths: index.add("beta-1.0-py3-none-any.whl", b"another build's beta"))
        with pytest.raises(VenvBuildError) as failed:
            wb.WheelBuilder(publish_params(tmp_path, url), pip).execute()
    assert len(pip.uploads) == 1
    if case == "refused":
        assert "the upload to %s failed (rc=1)" % url in failed.value.msg and "409 Conflict" in failed.value.msg
    else:
        assert "holds beta-1.0-py3-none-any.whl with sha256 %s" % hashlib.sha256(b"another build's beta").hexdigest() \
            in failed.value.msg


def test_an_upload_the_index_does_not_list_afterwards_fails(tmp_path):
    index = Index(tmp_path / "index")
    with serve(QuietHandler, tmp_path / "index") as url:
        pip = Twine([("alpha", "1.0")], index, skip_all=True)
        with pytest.raises(VenvBuildError) as failed:
            wb.WheelBuilder(publish_params(tmp_path, url), pip).execute()
    assert "does not list alpha-1.0-py3-none-any.whl" in failed.value.msg


def test_credentials_read_the_index_and_reach_twine_only_through_its_environment(tmp_path):
    index = Index(tmp_path / "index")
    with serve(basic_auth("uploader", SECRET), tmp_path / "index") as url:
        pip = Twine([("alpha", "1.0")], index)
        result = wb.WheelBuilder(publish_params(tmp_path, url, "uploader", SECRET), pip).execute()
        assert result["published"] == ["alpha-1.0-py3-none-any.whl"]
        argv, env, _cwd = pip.calls[-1]
        assert env["TWINE_USERNAME"] == "uploader" and env["TWINE_PASSWORD"] == SECRET
        assert SECRET not in " ".join(argv) and SECRET not in str(result)
        assert SECRET not in (tmp_path / "logs" / "build.log").read_text()
        # the lock the targets get with their install names the wheels by file name, not the index nor its user
        lock = open(result["lock"]).read()
        assert result["lock_content"] == lock and "path = \"alpha-1.0-py3-none-any.whl\"" in lock
        assert not any(word in lock for word in ("uploader", SECRET, "127.0.0.1", "http", "url"))
        # a wrong password: the page refuses, the message says so and shows no password
        with pytest.raises(VenvBuildError) as failed:
            wb.WheelBuilder(publish_params(tmp_path, url, "uploader", "wrong-pw"), pip).execute()
    assert "refused access (HTTP 401): check the credentials" in failed.value.msg
    assert "wrong-pw" not in failed.value.msg


def test_simple_page_links_are_read_with_their_sha256_and_absolute_urls():
    html = ('<a href="../../packages/Alpha-1.0-py3-none-any.whl#sha256=ABC">x</a>'
            '<a href="https://files.example/b/beta-2.0.tar.gz#md5=1">y</a><a>no link</a>')
    assert publish.parse_simple_page(html, "http://idx/simple/alpha/") == {
        "Alpha-1.0-py3-none-any.whl": ("abc", "http://idx/packages/Alpha-1.0-py3-none-any.whl"),
        "beta-2.0.tar.gz": ("", "https://files.example/b/beta-2.0.tar.gz")}
    assert publish.canonical_name("Zope.Interface_x") == "zope-interface-x"

"""Module inputs: parameters checked and normalized before anything changes, and the commands they make."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec, default_log_file, escaped_path

FILES = {"requirements": "/v/requirements.txt", "constraints": "/v/c.txt", "global_constraints": "/v/g.txt"}


def spec(**params):
    return VenvSpec(dict({"path": "/opt/app/venv", "requirements": ["alpha"]}, **params))


def test_credentialed_locations_go_to_the_environment_and_are_shown_masked():
    s = spec(index_url="https://deploy:pw1@idx.example/simple", extra_index_urls=["https://a.example/s"],
             find_links=["/srv/wheels"], extra_args="--extra-index-url https://tok2@b.example/s --no-build-isolation")
    argv = commands.install_command(s, s.path, FILES)
    assert not any("pw1" in a or "tok2" in a for a in argv)
    assert argv.env == {"PIP_INDEX_URL": "https://deploy:pw1@idx.example/simple",
                        "PIP_EXTRA_INDEX_URL": "https://a.example/s https://tok2@b.example/s"}
    assert "--extra-index-url" not in argv and "--index-url" not in argv
    assert argv[argv.index("--find-links") + 1] == "/srv/wheels", "a location kind without credentials stays"
    assert "--no-build-isolation" in argv
    shown = commands.display(argv)
    assert shown.startswith("PIP_EXTRA_INDEX_URL='https://a.example/s https://********@b.example/s' "
                            "PIP_INDEX_URL='https://deploy:********@idx.example/simple' /opt/app/venv/bin/python ")
    env = commands.run_environment(argv, commands.installer_environment(s))
    assert env["PIP_INDEX_URL"] == "https://deploy:pw1@idx.example/simple" and env["PIP_NO_INPUT"] == "1"


def test_the_installer_runs_with_the_bin_of_the_venv_it_installs_into_first_on_path():
    s = spec(environment={"PATH": "/opt/tools/bin:/usr/bin", "X": "1"})
    env = commands.installer_environment(s, "/opt/.app.staging")
    assert env["PATH"] == "/opt/.app.staging/bin:/opt/tools/bin:/usr/bin" and env["X"] == "1"
    assert "PATH" not in commands.installer_environment(spec())


def test_uv_reads_find_links_separated_by_commas():
    s = spec(install_tool="uv", find_links=["https://u:pw@w.example/a/", "/srv/wheels"], extra_args="-f /srv/more")
    argv = commands.install_command(s, s.path, FILES, uv="/usr/bin/uv")
    assert argv.env == {"UV_FIND_LINKS": "https://u:pw@w.example/a/,/srv/wheels,/srv/more"}
    assert not any("pw" in a for a in argv)
    with pytest.raises(VenvBuildError, match="comma"):
        commands.install_command(spec(install_tool="uv", find_links=["https://u:pw@w.example/a,b/"]),
                                 "/v", FILES, uv="/usr/bin/uv")


def test_uv_revalidates_its_cache_of_wheels_from_an_http_find_links_page():
    """A wheel set built again keeps the wheels' names: uv, which caches such wheels by URL, must ask the server."""
    remote = spec(install_tool="uv", find_links=["http://repo1:8181/wheels/"], require_hashes=True)
    assert "--refresh" in commands.install_command(remote, remote.path, FILES, uv="/usr/bin/uv")
    assert "--refresh" in commands.repair_command(remote, remote.path, FILES, {"alpha": "1.0"}, uv="/usr/bin/uv")
    local = spec(install_tool="uv", find_links=["/srv/wheels"])  # uv checks a local wheel's modification time
    assert "--refresh" not in commands.install_command(local, local.path, FILES, uv="/usr/bin/uv")
    pip = spec(find_links=["http://repo1:8181/wheels/"])
    assert "--refresh" not in commands.install_command(pip, pip.path, FILES)


def test_uv_bootstrap_passes_credentials_to_pip_in_its_environment():
    s = spec(install_tool="uv", index_url="https://u:pw@idx.example/simple")
    argv = commands.uv_bootstrap_command(s, s.path, FILES)
    assert argv.env == {"PIP_INDEX_URL": "https://u:pw@idx.example/simple"} and not any("pw" in a for a in argv)


def test_locations_without_credentials_stay_on_the_command_line():
    s = spec(index_url="https://idx.example/simple", find_links=["/srv/wheels"])
    argv = commands.install_command(s, s.path, FILES)
    assert argv.env == {} and "--index-url" in argv and "--find-links" in argv
    assert not commands.display(argv).startswith("PIP_")


# --- mode, as ansible.builtin.file takes it -------------------------------------------------

DIR_755 = os.stat_result((stat.S_IFDIR | 0o755, 0, 0, 0, 0, 0, 0, 0, 0, 0))


@pytest.mark.parametrize("mode, wanted", [
    (0o755, 0o755),        # YAML's 0755 arrives as the int 493
    (0o644, 0o644),
    ("0755", 0o755), ("755", 0o755), ("0o750", 0o750), ("2775", 0o2775),
    ("u=rwx,g=rx,o=", 0o750),
    ("g+w", 0o775),        # relative to the current mode, like chmod
    ("o-rx", 0o750),
])
def test_mode_is_taken_as_ansible_builtin_file_takes_it(mode, wanted):
    assert spec(mode=mode).wanted_mode(DIR_755) == wanted


@pytest.mark.parametrize("mode", ["0855", "rwxr-xr-x", "u=rwz", 0o17777, -1, "", True])
def test_a_mode_that_is_not_one_fails_before_anything_changes(mode):
    with pytest.raises(VenvBuildError, match="mode"):
        spec(mode=mode)


# --- requirements, the paths people put there ------------------------------------------------

def test_a_requirements_file_in_requirements_points_to_requirements_files(tmp_path):
    listed = tmp_path / "requirements.txt"
    listed.write_text("alpha\n")
    for line in [str(listed), "./requirements.txt", "requirements.txt", "../app/requirements-prod.txt"]:
        with pytest.raises(VenvBuildError, match="requirements_files"):
            spec(requirements=[line])


def test_local_archives_and_names_ending_like_files_stay_requirements(tmp_path):
    wheel = tmp_path / "alpha-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    assert spec(requirements=[str(wheel), "zope.txt", "alpha @ file://%s" % wheel]).requirements[0] == str(wheel)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_among_requirements_files_fails_instead_of_hanging(tmp_path):
    fifo = tmp_path / "reqs.fifo"
    os.mkfifo(str(fifo))
    with pytest.raises(VenvBuildError, match="reqs.fifo.*not a regular file"):
        spec(requirements=[], requirements_files=[str(fifo)]).fingerprint("3.11.2")
    including = tmp_path / "requirements.txt"
    including.write_text("-c reqs.fifo\nalpha\n")
    with pytest.raises(VenvBuildError, match="reqs.fifo.*not a regular file"):
        spec(requirements=[], requirements_files=[str(including)]).fingerprint("3.11.2")
    with pytest.raises(VenvBuildError, match="null.*not a regular file"):
        spec(requirements=[], requirements_files=["/dev/null"]).fingerprint("3.11.2")


# --- the default log file ------------------------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="the /var/log default is root's")
def test_default_log_file_is_unique_per_venv_path():
    assert default_log_file("/opt/a/venv") == "/var/log/wheelhouse-venv/opt-a-venv.log"
    assert default_log_file("/opt/b/venv") == "/var/log/wheelhouse-venv/opt-b-venv.log"
    # as systemd-escape --path writes it: a '-' of the path is escaped, so no two paths share a name
    assert default_log_file("/opt/a-b/venv") == "/var/log/wheelhouse-venv/opt-a\\x2db-venv.log"
    assert default_log_file("/opt/a/b-venv") == "/var/log/wheelhouse-venv/opt-a-b\\x2dvenv.log"
    assert default_log_file("/srv/.hidden/ü") == "/var/log/wheelhouse-venv/srv-.hidden-\\xc3\\xbc.log"


@pytest.mark.skipif(not shutil.which("systemd-escape"), reason="no systemd-escape here")
def test_escaped_path_is_what_systemd_escape_writes():
    for path in ["/opt/my-app/venv", "/srv/.hidden/ü", "/a:b_c/x@y+z", "/.x/y z"]:
        out = subprocess.run(["systemd-escape", "--path", path], stdout=subprocess.PIPE, check=True).stdout
        assert escaped_path(path) == out.decode().strip()


def test_inputs_id_moves_the_fingerprint_only_when_given():
    # venvs made without one keep their fingerprint (no install after an upgrade of the collection)
    assert spec(requirements=["alpha"]).fingerprint("3.11.2") == spec(requirements=["alpha"], inputs_id="").fingerprint("3.11.2")
    one = spec(requirements=["alpha"], inputs_id="one").fingerprint("3.11.2")
    assert one != spec(requirements=["alpha"]).fingerprint("3.11.2")
    assert one != spec(requirements=["alpha"], inputs_id="two").fingerprint("3.11.2")


def test_lock_is_recorded_without_credentials_and_stays_out_of_the_fingerprint():
    assert spec().lock == {}
    sha = "AB" * 32
    given = spec(lock={"location": " https://deploy:pw@repo.example/w/pylock.app.toml ", "sha256": sha})
    assert given.lock == {"location": "https://repo.example/w/pylock.app.toml", "sha256": sha.lower()}
    assert spec(lock={"location": "/srv/w/pylock.app.toml"}).lock == {"location": "/srv/w/pylock.app.toml", "sha256": ""}
    # the lock names where the packages came from; the requirements (with their hashes) decide the venv
    assert given.fingerprint("3.11.2") == spec().fingerprint("3.11.2")


def test_a_lock_given_with_its_content_records_location_and_sha256_only():
    text = 'lock-version = "1.0"\ncreated-by = "wheelhouse.venv"\n'
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    given = spec(lock={"location": "build1:/srv/w/pylock.app.toml", "sha256": digest.upper(), "content": text})
    assert given.lock == {"location": "build1:/srv/w/pylock.app.toml", "sha256": digest}
    assert given.lock_content == text and given.lock_source == "build1:/srv/w/pylock.app.toml"
    # no sha256 given: that of the content is known, and recorded
    assert spec(lock={"location": "build1:/srv/w/pylock.app.toml", "content": text}).lock["sha256"] == digest
    assert spec(lock={"location": "/srv/w/pylock.app.toml", "sha256": digest}).lock_content is None


def test_a_lock_content_that_is_not_the_one_of_its_sha256_is_refused_naming_both():
    text = 'lock-version = "1.0"\n'
    other = hashlib.sha256(b"another lock\n").hexdigest()
    with pytest.raises(VenvBuildError) as failed:
        spec(lock={"location": "build1:/srv/w/pylock.app.toml", "sha256": other, "content": text})
    assert "lock.content is not the lock of lock.sha256" in failed.value.msg
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() in failed.value.msg and other in failed.value.msg


@pytest.mark.parametrize("lock, problem", [
    ({"location": " "}, "lock.location must name the lock file"),
    ({"location": "/w/pylock.app.toml", "sha256": "abc"}, "lock.sha256 must be 64 hexadecimal digits"),
])
def test_a_bad_lock_is_refused_naming_the_option(lock, problem):
    with pytest.raises(VenvBuildError, match=problem):
        spec(lock=lock)


@pytest.mark.parametrize("path", ["/usr", "/etc", "/root", "/var", "/tmp", "/home", "/opt", "/srv", "/usr/local",
                                  "/usr/lib", "/var/lib", "/var/log", "/usr/local/bin", "/usr/local/lib", "/etc/",
                                  "/usr/../etc", "/home/alice"])
def test_system_and_home_directories_are_never_venv_paths(path):
    for extra in ({}, {"foreign_files": "carry"}, {"state": "absent"}):
        with pytest.raises(VenvBuildError) as raised:
            spec(path=path, **extra)
        assert "path %s is " % os.path.normpath(path) in str(raised.value)
        assert "Give the venv a folder of its own" in str(raised.value)


def test_a_users_home_directory_is_refused_by_its_name(tmp_path, monkeypatch):
    import pwd
    home = str(tmp_path / "svc")
    entry = pwd.struct_passwd(("svc", "x", 990, 990, "", home, "/usr/sbin/nologin"))
    monkeypatch.setattr(pwd, "getpwall", lambda: [entry])
    with pytest.raises(VenvBuildError) as raised:
        spec(path=home)
    assert "is the home directory of the user svc" in str(raised.value)
    assert spec(path=os.path.join(home, "venvs", "app")).path == os.path.join(home, "venvs", "app")


def test_a_link_to_a_system_directory_is_refused_by_where_it_leads(tmp_path):
    link = tmp_path / "venv"
    link.symlink_to("/usr")
    with pytest.raises(VenvBuildError) as raised:
        spec(path=str(link))
    assert "path %s (which leads to /usr) is a system directory" % link in str(raised.value)


@pytest.mark.parametrize("path", ["/opt/venvs/app", "/srv/app/venv", "/var/lib/app/venv", "/usr/local/venvs/app",
                                  "/home/alice/venvs/app", "/openstack/venvs/nova-28.0.0", "/venv"])
def test_folders_of_their_own_are_venv_paths(path):
    assert spec(path=path).path == path


def test_a_requirements_file_that_includes_itself_is_refused_naming_the_circle(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("alpha\n-r b.txt\n")
    second.write_text("beta\n-c ./a.txt\n")
    with pytest.raises(VenvBuildError) as raised:
        spec(requirements=[], requirements_files=[str(first)]).fingerprint("3.11.2")
    assert "includes itself through %s -> %s -> %s" % (first, second, first) in str(raised.value)
    itself = tmp_path / "self.txt"
    itself.write_text("-r self.txt\n")
    with pytest.raises(VenvBuildError) as raised:
        spec(requirements=[], requirements_files=[str(itself)]).fingerprint("3.11.2")
    assert "includes itself through %s -> %s" % (itself, itself) in str(raised.value)
    # prune's reading of the lines stops at the circle instead of recursing for ever
    from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import requirement_file_lines
    assert requirement_file_lines([str(first)]) == ["alpha", "beta"]


def test_a_file_included_twice_without_a_circle_is_fine(tmp_path):
    (tmp_path / "common.txt").write_text("beta\n")
    (tmp_path / "a.txt").write_text("-r common.txt\nalpha\n")
    (tmp_path / "b.txt").write_text("-r common.txt\n-r a.txt\n")
    digests = spec(requirements=[], requirements_files=[str(tmp_path / "b.txt")]).fingerprint_inputs("3.11.2")
    assert [d["path"] for d in digests["requirements_files"]] == [
        str(tmp_path / "b.txt"), str(tmp_path / "common.txt"), str(tmp_path / "a.txt")]


@pytest.mark.parametrize("content, message", [
    (b"alpha\n\x00\x01\x02", "is binary"),
    (b"\xff\xfe a\x00l\x00", "is binary"),
    (b"alpha\n" + b"#" * (4 * 1024 * 1024), "is larger than 4 MiB"),
])
def test_binary_or_oversized_requirements_files_are_refused_naming_them(tmp_path, content, message):
    outer, inner = tmp_path / "requirements.txt", tmp_path / "inner.bin"
    outer.write_text("-r inner.bin\n")
    inner.write_bytes(content)
    with pytest.raises(VenvBuildError) as raised:
        spec(requirements=[], requirements_files=[str(outer)]).fingerprint("3.11.2")
    assert "requirements file %s (included by %s) %s" % (inner, outer, message) in str(raised.value)


@pytest.mark.parametrize("content, message", [
    (b"alpha==1.0\n\x00", "is binary"),
    (b"#" * (16 * 1024 * 1024 + 1), "is larger than 16 MiB"),
])
def test_binary_or_oversized_constraints_files_are_refused_naming_them(tmp_path, content, message):
    pins = tmp_path / "pins.txt"
    pins.write_bytes(content)
    with pytest.raises(VenvBuildError) as raised:
        spec(constraints=["-c %s" % pins]).load_constraint_files()
    assert "constraints file %s %s" % (pins, message) in str(raised.value)

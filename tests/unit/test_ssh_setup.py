"""scripts/env.sh wh_ssh_setup: the SSH side of the test bed, made in a folder without harming what else is there."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from playenv import ROOT

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ssh-keygen"), reason="needs ssh-keygen")


@pytest.fixture
def tmp_path():
    """A short folder: ssh's control sockets live in the folder, and pytest's own tmp_path is too long for them."""
    path = tempfile.mkdtemp(prefix="whssh", dir="/tmp")
    yield pathlib.Path(path)
    shutil.rmtree(path)


def _setup(folder):
    script = '. "%s/scripts/env.sh" && wh_ssh_setup "$1"' % ROOT
    return subprocess.run(["bash", "-c", script, "wh_ssh_setup", str(folder)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)


def test_makes_key_pair_known_hosts_and_config_in_a_new_folder(tmp_path):
    folder = tmp_path / "ssh"
    proc = _setup(folder)
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(folder)) == [".wh_ssh_setup", "config", "id_ed25519", "id_ed25519.pub", "known_hosts"]
    assert "IdentityFile %s/id_ed25519" % folder in (folder / "config").read_text()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"


def test_a_folder_it_did_not_make_is_refused_and_left_as_it_was(tmp_path):
    # A user's ~/.ssh: its key pair is not ours to replace.
    folder = tmp_path / "dot-ssh"
    folder.mkdir()
    (folder / "id_ed25519").write_text("the user's private key\n")
    (folder / "notes").write_text("mine\n")
    proc = _setup(folder)
    assert proc.returncode != 0
    assert "was not made by wh_ssh_setup" in proc.stderr and str(folder) in proc.stderr
    assert sorted(os.listdir(folder)) == ["id_ed25519", "notes"]
    assert (folder / "id_ed25519").read_text() == "the user's private key\n"


def test_a_second_call_renews_its_own_files_only(tmp_path):
    folder = tmp_path / "ssh"
    assert _setup(folder).returncode == 0
    old_key = (folder / "id_ed25519.pub").read_text()
    (folder / "keep-me").write_text("a file of the user beside ours\n")
    proc = _setup(folder)
    assert proc.returncode == 0, proc.stderr
    assert (folder / "id_ed25519.pub").read_text() != old_key
    assert (folder / "keep-me").read_text() == "a file of the user beside ours\n"


def test_an_empty_folder_of_the_user_is_used(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    assert _setup(folder).returncode == 0
    assert (folder / "config").exists()

"""Module inputs: parameters checked and normalized before anything changes, and the commands they make."""

from __future__ import annotations

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import commands
from ansible_collections.wheelhouse.venv.plugins.module_utils.errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils.inputs import VenvSpec

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


def test_uv_reads_find_links_separated_by_commas():
    s = spec(install_tool="uv", find_links=["https://u:pw@w.example/a/", "/srv/wheels"], extra_args="-f /srv/more")
    argv = commands.install_command(s, s.path, FILES, uv="/usr/bin/uv")
    assert argv.env == {"UV_FIND_LINKS": "https://u:pw@w.example/a/,/srv/wheels,/srv/more"}
    assert not any("pw" in a for a in argv)
    with pytest.raises(VenvBuildError, match="comma"):
        commands.install_command(spec(install_tool="uv", find_links=["https://u:pw@w.example/a,b/"]),
                                 "/v", FILES, uv="/usr/bin/uv")


def test_uv_bootstrap_passes_credentials_to_pip_in_its_environment():
    s = spec(install_tool="uv", index_url="https://u:pw@idx.example/simple")
    argv = commands.uv_bootstrap_command(s, s.path, FILES)
    assert argv.env == {"PIP_INDEX_URL": "https://u:pw@idx.example/simple"} and not any("pw" in a for a in argv)


def test_locations_without_credentials_stay_on_the_command_line():
    s = spec(index_url="https://idx.example/simple", find_links=["/srv/wheels"])
    argv = commands.install_command(s, s.path, FILES)
    assert argv.env == {} and "--index-url" in argv and "--find-links" in argv
    assert not commands.display(argv).startswith("PIP_")

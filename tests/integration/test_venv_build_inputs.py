"""What users hand the module: credentials kept off command lines and out of readable files, inputs a new user writes."""

from __future__ import annotations

import glob
import os
import stat

import pytest

from conftest import imports
from httpserve import BasicAuthHandler, basic_auth, serve

SECRET = "s3cr3t-pw-4711"


def _cmdlines_holding(secret):
    """Every process whose command line (readable by any local user) holds secret: pid -> command line."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if secret.encode() in cmdline:
            found[pid] = cmdline.replace(b"\0", b" ").decode("utf-8", "replace")
    return found


class _Handler(BasicAuthHandler):
    """Serves the wheelhouse to deploy:SECRET only; on every request, looks for the secret on command lines."""

    seen = None

    def authorized(self):
        self.seen["requests"] += 1
        self.seen["cmdlines"].update(_cmdlines_holding(SECRET))
        allowed = super().authorized()
        self.seen["authorized"] += int(allowed)
        return allowed


@pytest.fixture
def private_wheelhouse(wheelhouse):
    """The session wheelhouse over HTTP behind basic auth: (base URL with credentials, what the server saw)."""
    seen = {"requests": 0, "authorized": 0, "cmdlines": {}}
    handler = basic_auth("deploy", SECRET, base=type("Handler", (_Handler,), {"seen": seen}))
    with serve(handler, wheelhouse) as url:
        yield url.replace("http://", "http://deploy:%s@" % SECRET), seen


def _mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


@pytest.mark.parametrize("tool", ["pip", "uv"])
def test_credentials_never_reach_a_command_line_and_files_holding_them_are_private(ansible, venv_args, tmp_path,
                                                                                   private_wheelhouse, wheelhouse, tool):
    url, seen = private_wheelhouse
    beta = os.path.basename(glob.glob(os.path.join(wheelhouse, "beta-1.0-*.whl"))[0])
    args = dict(venv_args, find_links=[url], install_tool=tool,
                requirements=["alpha==1.0", "beta @ %s%s" % (url, beta)])
    result = ansible.module(**args)
    assert result["rc_run"] == 0 and result["changed"], result["raw_output"]
    assert imports(args["path"], "alpha", "beta")
    assert seen["authorized"] > 0, "the installer fetched the wheels with the credentials"
    assert seen["cmdlines"] == {}, "the secret was on a command line: %s" % seen["cmdlines"]
    variable = "UV_FIND_LINKS" if tool == "uv" else "PIP_FIND_LINKS"
    install = [c for c in result["commands"] if " install " in c]
    assert install and install[0].startswith("%s='http://deploy:********@127.0.0.1:" % variable), install
    log = tmp_path / "venv_build.log"
    assert SECRET not in result["raw_output"] and SECRET not in log.read_text()
    assert _mode(log) == 0o600
    venv = tmp_path / "venvs" / "app"
    assert SECRET in (venv / "requirements.txt").read_text()
    assert _mode(venv / "requirements.txt") == 0o600
    assert _mode(venv / "constraints.txt") == 0o644, "a file without a credential keeps the usual mode"


def test_a_readable_installer_file_or_log_with_a_credential_is_made_private(ansible, venv_args, tmp_path,
                                                                            private_wheelhouse, wheelhouse):
    url, _seen = private_wheelhouse
    alpha = os.path.basename(glob.glob(os.path.join(wheelhouse, "alpha-1.0-*.whl"))[0])
    args = dict(venv_args, find_links=[url], requirements=["alpha @ %s%s" % (url, alpha)])
    assert ansible.module(**args)["changed"]
    venv = tmp_path / "venvs" / "app"
    # as an earlier version left them: the credential in world-readable files
    os.chmod(str(venv / "requirements.txt"), 0o644)
    os.chmod(str(tmp_path / "venv_build.log"), 0o644)
    checked = ansible.module(check=True, **args)
    assert checked["changed"] and _mode(venv / "requirements.txt") == 0o644
    repaired = ansible.module(**args)
    assert repaired["rc_run"] == 0 and repaired["changed"] and repaired["commands"] == [], repaired["raw_output"]
    assert _mode(venv / "requirements.txt") == 0o600 and _mode(tmp_path / "venv_build.log") == 0o600
    assert ansible.module(**args)["changed"] is False


def test_mode_written_the_usual_yaml_way_or_symbolic(ansible, venv_args, tmp_path):
    venv = tmp_path / "venvs" / "app"
    args = dict(venv_args, requirements=["alpha==1.0"], mode=0o750)  # YAML's mode: 0750 arrives as the int 488
    made = ansible.module(**args)
    assert made["rc_run"] == 0 and made["changed"], made["raw_output"]
    assert _mode(venv) == 0o750
    assert ansible.module(**args)["changed"] is False
    args["mode"] = "u=rwx,g=rx,o=rx"
    assert ansible.module(**args)["changed"] and _mode(venv) == 0o755
    assert ansible.module(**args)["changed"] is False

"""The environment every test's ansible-playbook runs in: plain pip, the collection from this checkout."""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plain_pip_environment(dev_tools_on_path=True):
    """os.environ without this machine's pip config, with .tmp/collections and (optionally) .venv/bin on PATH.

    WH_ANSIBLE_VENV names another venv for .venv (its ansible-playbook then runs the plays): the stage
    `cores` of scripts/test.sh sets it to .venv-core-<X.Y>.
    """
    env = dict(os.environ)
    env.pop("PIP_FIND_LINKS", None)
    bin_dir = os.path.join(ROOT, os.environ.get("WH_ANSIBLE_VENV") or ".venv", "bin")
    env.update({
        "PIP_CONFIG_FILE": "/dev/null",
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".tmp", "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
    })
    if not dev_tools_on_path:
        # As on a fresh target: no uv (nor the other dev tools) on PATH.
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p and os.path.realpath(p) != os.path.realpath(bin_dir))
    return env

"""The collection as a user gets it: `ansible-galaxy collection build` and an offline install, run with
the environment of a user's controller. Shared by tests/integration/test_collection_package.py and the
tests of the docsite and the execution environment (tests/integration/conftest.py builds it once a session).
"""

from __future__ import annotations

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def tool_environment(collections_path, bin_dir=VENV_BIN):
    """The environment of a user's controller: only the given collections path, plain pip."""
    env = dict(os.environ)
    for name in ("PIP_FIND_LINKS", "PYTHONPATH", "ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATHS"):
        env.pop(name, None)
    env.update({
        "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
        "PIP_CONFIG_FILE": "/dev/null",
        # Only the installed tarball; the scan of sys.path finds the collections bundled with `ansible`.
        "ANSIBLE_COLLECTIONS_PATH": collections_path,
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "true",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
    })
    return env


def run(argv, cwd, env, stdout_only=False):
    """argv's output (stdout and stderr; stdout_only: stdout alone, for output that is parsed); fails on rc != 0."""
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE if stdout_only else subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, "%s failed (rc=%d):\n%s%s" % (" ".join(argv), proc.returncode, proc.stdout,
                                                               proc.stderr or "")
    return proc.stdout


def build(source, output, env):
    os.makedirs(output)
    run(["ansible-galaxy", "collection", "build", "--output-path", output, source], cwd=output, env=env)
    (tarball,) = [os.path.join(output, name) for name in os.listdir(output) if name.endswith(".tar.gz")]
    return tarball


def install(tarball, path, env):
    """Install the tarball offline into path (an empty collections path); return path."""
    os.makedirs(path)
    run(["ansible-galaxy", "collection", "install", "--offline", "-p", path, tarball], cwd=path, env=env)
    return path

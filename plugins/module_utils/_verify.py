# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification of a venv the installer changed: pip check / uv pip check, imports, a command (verify_timeout).
"""

from __future__ import annotations

import os
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking as masking
from ansible_collections.wheelhouse.venv.plugins.module_utils._deps import own_problems
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._faults import fault_point
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import find_on_path
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    cfg_python_version,
    installed_distributions,
    package_versions,
    read_pyvenv_cfg,
    site_packages_dir,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils._runctx import changes_text


def verify(ctx, venv, uv, unverified=None, changed=False):
    """Run the verifications on venv (the installer ran); VenvBuildError naming the first that fails.

    A staged venv (unverified None) is then not swapped in. An in-place change first records the
    new state, unverified, marked verify_failed: the next run installs and verifies again.
    """
    spec = ctx.spec
    checks = commands.verify_commands(spec, venv, uv)
    if checks:
        fault_point("verifying")
    for argv, what in checks:
        env = commands.verify_environment(spec, venv)
        if find_on_path(argv[0], env["PATH"]) if os.sep not in argv[0] else os.access(argv[0], os.X_OK):
            rc, out, err = ctx.runner(argv, env, spec.verify_timeout)
        else:  # the runner would end the module on a command that does not exist
            ctx.commands.append(commands.display(argv))
            rc, out, err = 127, "", "%s: command not found (PATH=%s)" % (argv[0], env["PATH"])
        output = ((err or "") + "\n" + (out or "")).strip()
        if rc != 0 and output and what == commands.DEPENDENCY_CHECK and spec.install_tool == "pip":
            output = own_problems(output, package_versions(installed_distributions(
                site_packages_dir(venv, cfg_python_version(read_pyvenv_cfg(venv))))))
            rc = rc if output else 0  # every problem was one of a distribution outside the venv
        if rc == 0:
            continue
        if unverified is None:
            after = ("the new venv was not swapped in and is removed: the venv at %s is as it was before this run, "
                     "nothing else changed" % spec.path)
        else:
            ctx.write_state(venv, dict(unverified, verify_failed="%s failed, %s"
                                       % (what, time.strftime("%Y-%m-%dT%H:%M:%S%z"))))
            what_changed = (changes_text(ctx.in_place.packages, unverified["packages"]) or "its files") if changed else ""
            after = ("the venv at %s %s and is marked unverified: the next run installs and verifies again"
                     % (spec.path, "changed (%s)" % what_changed if changed else "did not change"))
        timed_out = rc == -9 and (err or "").endswith(commands.TIMEOUT_NOTE % spec.verify_timeout)
        ended = ("timed out after %d s (verify_timeout) and was killed" % spec.verify_timeout if timed_out
                 else "exited with code %d" % rc)
        ctx.log("verification failed: %s %s" % (what, ended))
        raise VenvBuildError("verification failed: %s %s; %s. See %s. Output:\n%s"
                             % (what, ended, after, spec.log_file, masking.mask_text(output)[-3000:] or "(none)"),
                             rc=rc, changed=changed, log_file=spec.log_file, commands=list(ctx.commands))

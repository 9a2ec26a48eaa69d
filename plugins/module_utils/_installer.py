# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installer step: making a venv (seeded pip, virtualenv or uv), the files the installer reads, uv, and pip or uv
installing the requirements (build requirements first, prune after).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ansible_collections.wheelhouse.venv.plugins.module_utils import _commands as commands
from ansible_collections.wheelhouse.venv.plugins.module_utils import _seed as seed_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._deps import prune_candidates
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._faults import fault_point
from ansible_collections.wheelhouse.venv.plugins.module_utils._fsops import staging_prefix
from ansible_collections.wheelhouse.venv.plugins.module_utils._hostfiles import private_mode
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import find_on_path
from ansible_collections.wheelhouse.venv.plugins.module_utils._plan import FILE_KEYS, packages_text
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import (
    BUILD_REQUIREMENTS_FILE,
    UV_TOOL_DIR,
    cfg_python_version,
    installed_distributions,
    package_versions,
    read_pyvenv_cfg,
    site_packages_dir,
)
from ansible_collections.wheelhouse.venv.plugins.module_utils._runctx import write_host_file


def pip_seeder(ctx, interp):
    """The pip seed of interp (_seed.py) for `python -m venv`; None for virtualenv or without ensurepip."""
    if ctx.spec.virtualenv_command != "venv":
        return None
    seeder = seed_mod.Seeder(interp, ctx.spec.seed_cache or seed_mod.default_root(), ctx.raw_run)
    if not seeder.prepare():
        ctx.log("pip seed cache not used: %s" % seeder.reason)
        return None
    return seeder


def create_venv(ctx, interp, dest, seed_pip):
    """Make the venv dest; with pip (seed_pip) copied from the seed cache where it can be, else by ensurepip."""
    spec = ctx.spec
    what = "creating the venv with %s" % spec.virtualenv_command
    seeder = pip_seeder(ctx, interp) if seed_pip else None
    source = None
    if seeder:
        source = seeder.usable_entry()
        if source is None and seeder.cache_state() == "miss":
            source = seeder.make_entry(ctx.runner, ctx.log)
        if source is None:
            ctx.log("pip seed cache not used: %s" % seeder.reason)
            if seeder.cache_state() is None:  # a cache it cannot trust, as opposed to one it could not make
                ctx.warnings.append("the pip seed cache is not used: %s; pip was installed by ensurepip"
                                    % seeder.reason)
    ctx.run(commands.create_venv_command(spec, interp.executable, dest, virtualenv_executable(ctx),
                                         seed_pip=seed_pip and source is None), {}, what)
    if source:
        seeder.seed(source, dest)
        ctx.log("pip seeded from %s" % source)


def virtualenv_executable(ctx):
    if ctx.spec.virtualenv_command != "virtualenv":
        return None
    return find_on_path("virtualenv")


def find_uv(ctx, venv):
    spec = ctx.spec
    if spec.install_tool != "uv":
        return None
    if spec.uv_executable:
        if not os.access(spec.uv_executable, os.X_OK):
            raise VenvBuildError("uv_executable %s does not exist or is not executable" % spec.uv_executable)
        return spec.uv_executable
    on_path = find_on_path("uv")
    if on_path:
        return on_path
    bundled = os.path.join(venv, UV_TOOL_DIR, "bin", "uv")
    return bundled if os.access(bundled, os.X_OK) else None


def write_installer_files(ctx, folder, plan):
    spec = ctx.spec
    files = {}
    for key, name in FILE_KEYS:
        files[key] = os.path.join(folder, name)
        text = getattr(spec, key + "_text")
        write_host_file(files[key], text, "the installer file", private_mode(text))
    if plan.pins:
        files["pins"] = os.path.join(folder, "recorded-pins.txt")
        write_host_file(files["pins"], packages_text(plan.pins), "the installer file")
    return files


def ensure_uv(ctx, venv, files):
    uv = find_uv(ctx, venv)
    if uv is None and ctx.spec.install_tool == "uv":
        ctx.run(commands.uv_bootstrap_command(ctx.spec, venv, files), commands.installer_environment(ctx.spec, venv),
                "installing uv into %s" % os.path.join(ctx.spec.path, UV_TOOL_DIR))
        uv = os.path.join(venv, UV_TOOL_DIR, "bin", "uv")
    return uv


def upgrades_pip(ctx):
    return ctx.spec.upgrade_pip and ctx.spec.install_tool == "pip"


def install(ctx, venv, files, plan, uv):
    spec = ctx.spec
    if upgrades_pip(ctx):  # before anything it installs: a current pip reads what an old one refuses
        ctx.run(commands.pip_upgrade_command(spec, venv, files), commands.installer_environment(spec, venv),
                "pip install --upgrade pip (upgrade_pip)")
    install_build_requirements(ctx, venv, files, uv)
    if spec.has_requirements:
        argv = commands.install_command(spec, venv, files, uv=uv, pins_file=files.get("pins"),
                                        upgrade=spec.package_state == "latest")
        ctx.run(argv, commands.installer_environment(spec, venv), "%s install" % spec.install_tool)
    version = cfg_python_version(read_pyvenv_cfg(venv))
    site_packages = site_packages_dir(venv, version)
    dists = installed_distributions(site_packages)
    if spec.prune:
        extra = prune_candidates(spec, dists, version)
        if extra is None:
            ctx.warnings.append("prune skipped: a URL or path requirement matches no installed distribution")
        elif extra:
            ctx.run(commands.uninstall_command(spec, venv, extra, uv=uv), commands.installer_environment(spec, venv),
                    "removing packages not needed (prune)")
            dists = installed_distributions(site_packages)
    return package_versions(dists)


def write_build_requirements(ctx, folder):
    path = os.path.join(folder, BUILD_REQUIREMENTS_FILE)
    text = ctx.spec.build_requirements_text
    write_host_file(path, text, "the installer file", private_mode(text))
    return path


def install_build_requirements(ctx, venv, files, uv):
    """The build requirements, by an installer run of their own before the requirements: a build tool is
    then in the venv when an sdist of the requirements is prepared (in the same run it is not there yet)."""
    spec = ctx.spec
    if not spec.build_requirements:
        return
    folder = tempfile.mkdtemp(prefix=staging_prefix(spec.path, "files-"), dir=os.path.dirname(spec.path))
    try:
        argv = commands.build_requirements_command(spec, venv, files, write_build_requirements(ctx, folder),
                                                   uv=uv, pins_file=files.get("pins"),
                                                   upgrade=spec.package_state == "latest")
        ctx.run(argv, commands.installer_environment(spec, venv), "%s install of the build requirements"
                % spec.install_tool)
        fault_point("build-requirements-installed")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

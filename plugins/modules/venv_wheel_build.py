#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: venv_wheel_build
short_description: Build the complete, pinned wheel set of a venv on a build host
version_added: 0.2.0
description:
  - Resolves O(requirements) with O(constraints) and O(global_constraints) into a complete pinned set
    (C(pip-compile) from pip-tools, or C(uv pip compile) with O(tool=uv)), builds or fetches one wheel of
    every pinned distribution with C(pip wheel) from the builder venv O(builder_venv), and puts them in
    O(wheel_path), the folder the targets install from.
  - Decides from files alone whether anything must run - the normalized inputs (requirements, both
    constraint lists, O(tool), O(build_args), the builder venv's Python version, O(platform) and the
    versions of the O(tool_wheels) and O(build_tools)) are fingerprinted, and when C(<name>-build.json) under
    O(requirements_path) records the same fingerprint and every wheel it lists is in O(wheel_path) with
    its recorded sha256, no command runs and RV(commands) is empty.
  - A build runs under a lock file in O(requirements_path) (concurrent plays wait up to O(lock_timeout)),
    builds into a temporary folder beside O(wheel_path) and then moves the wheels in. It writes
    C(<name>-requirements.txt), C(<name>-source-constraints.txt), C(<name>-global-constraints.txt),
    C(<name>-compiled.txt), C(<name>-constraints.txt) (exact pins), C(<name>-hashes.txt) (pins with the
    sha256 of every wheel) and the state file C(<name>-build.json) last, so an interrupted build is
    redone by the next run and never leaves a half wheel set that a target would use.
  - A wheel file that another venv's build already put in O(wheel_path) is kept (its hash is recorded);
    with O(rebuild), it is replaced and the hashes of the other venvs' sets that name it are updated.
  - A recorded wheel whose content changed since the build fails the task, unless O(rebuild).
  - Credentials inside URLs (C(https://user:secret@host/...)) are masked in results, errors, the
    recorded files and the log file, and are not part of the fingerprint.
  - Used by the role C(wheelhouse.venv.python_venv_build) on its build hosts.
author:
  - wheelhouse.venv contributors (@wheelhouse)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Touches nothing and runs no command; reports RV(status) and whether a build would run, from the
        state file and the wheels. RV(install_requirements) and RV(install_constraints) are empty when a
        build would run, since the set it would make is not known.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  name:
    description:
      - Name of the wheel set, usually the venv's directory name; the files under O(requirements_path)
        are named after it (characters other than letters, digits, C(.), C(_) and C(-) become C(_)).
      - It names the lock file C(pylock.<name>.toml) in O(wheel_path) too (see RV(lock)), where a C(.) becomes
        C(-), since PEP 751 allows no dot there. Two sets whose names give the same lock file name fail
        the task before anything changes.
    type: str
    required: true
  builder_venv:
    description:
      - The venv whose C(pip), C(pip-compile) (or C(uv)) and Python build the wheels. It must exist
        (M(wheelhouse.venv.venv_build) makes it, or this module with O(builder)), except in check mode.
    type: path
    required: true
  builder:
    description:
      - Keep the builder venv O(builder_venv) too, before the build - created, or its packages brought to
        O(builder.requirements), exactly as M(wheelhouse.venv.venv_build) with these options would (owned by
        O(owner) and O(group)); on a no-op it runs no command. One task on the build host then does what two
        did, which is one remote call less on every converge. RV(builder) reports what it did.
      - Without it the builder venv is left as it is.
    type: dict
    version_added: 0.2.0
    suboptions:
      python:
        description: The interpreter the builder venv is made with.
        type: str
        default: python3
      requirements:
        description: Requirement lines of the builder venv (for example C(pip-tools), C(uv), C(setuptools>=77)).
        type: list
        elements: str
        required: true
      environment:
        description: Environment variables for the builder venv's installer (credentials in them are masked).
        type: dict
        default: {}
  requirements:
    description:
      - Requirement lines of the venv (names with specifiers, direct references, VCS URLs with C(#egg=)).
        Editable requirements cannot become wheels.
    type: list
    elements: str
    required: true
  constraints:
    description:
      - Constraint lines of this venv, applied while resolving.
      - A line may reference a constraints file, C(-c <x>), C(--constraint <x>) or C(--constraint=<x>), where
        C(<x>) is an absolute path on the build host or an C(http), C(https) or C(file) URL (the -c/--constraint
        form since 0.2.0). The module reads it on every run (one GET for a URL; C(--trusted-host) of
        O(build_args) and the CA bundle of O(environment) apply) and hands its lines to the resolver in place
        of the reference; C(<name>-source-constraints.txt) records them, credentials masked. Its content is
        part of the fingerprint, so a changed file builds the set again. A file that cannot be read, a nested
        C(-c) or another option in it fails the task before anything changes.
    type: list
    elements: str
    default: []
  global_constraints:
    description:
      - Constraint lines shared by many venvs, applied while resolving.
      - A line may reference a constraints file as in O(constraints) (the -c/--constraint form since 0.2.0);
        C(<name>-global-constraints.txt) records its lines.
    type: list
    elements: str
    default: []
  requirements_path:
    description:
      - Folder of the files that define the build (C(<name>-build.json), C(<name>-hashes.txt), ...) and of
        the lock file C(.wheel-build.lock). Made when missing.
    type: path
    required: true
  wheel_path:
    description:
      - Folder the wheels are put in; several venvs' sets may share it. Made when missing. Its parent
        holds the temporary build folders (C(.build-<name>-*)).
      - Holds the lock file of each set, C(pylock.<name>.toml) (RV(lock)).
    type: path
    required: true
  tool:
    description:
      - The resolver - V(pip) runs C(pip-compile) of the builder venv, V(uv) runs its C(uv pip compile)
        (with the index options of O(build_args) in uv's spelling). The wheels are built with C(pip wheel)
        either way.
    type: str
    choices: [pip, uv]
    default: pip
  build_args:
    description:
      - Arguments for pip, split like a shell would (index options, C(--no-build-isolation),
        C(--find-links), ...), given to the resolver and to C(pip wheel). May carry credentials inside
        URLs; they are masked in all output.
    type: str
    default: ''
  environment:
    description:
      - Environment variables for the resolver and C(pip wheel) (for example C(PIP_INDEX_URL), C(PIP_CERT)).
      - Values holding URL credentials, and the values of variables whose names contain C(PASSWORD),
        C(TOKEN), C(SECRET), C(CREDENTIAL), C(AUTH) or C(API_KEY), never show in the task result.
    type: dict
    default: {}
  rebuild:
    description:
      - Resolve and build again without caches (C(--rebuild)/C(--no-cache), C(--no-cache-dir)) even when
        the recorded build is current or a wheel was altered, and replace the wheel files.
    type: bool
    default: false
  platform:
    description:
      - The platform the wheels are for (for example V(debian-12-x86_64)); part of the fingerprint and of
        the log.
    type: str
    default: ''
  tool_wheels:
    description:
      - Distributions whose binary wheels are fetched beside the set, pinned to the version installed in
        the builder venv (V(uv), so that targets without uv install the same uv from O(wheel_path)).
        They are returned in RV(tool_wheels), not in the install lines.
    type: list
    elements: str
    default: []
  build_tools:
    description:
      - Requirement lines of build-time tools that build backends run as commands (for example C(cython),
        C(maturin)). With O(builder) they are installed into the builder venv with O(builder.requirements);
        without it the builder venv must have them.
      - The builder venv's C(bin) comes first on C(PATH) for the resolver and C(pip wheel) either way, so
        these tools and the console scripts of the builder's other requirements are found.
      - The version of each tool in the builder venv is part of the fingerprint - a new version builds
        the set again.
      - Python tools (C(cython)) run by a build need C(--no-build-isolation) in O(build_args), because pip
        builds every sdist in an isolated environment otherwise, where the builder venv's packages cannot
        be imported. The role passes it by default; the module warns when it is missing.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  publish:
    description:
      - Upload the wheel set (its wheels and O(tool_wheels)) to a package index after the build, or when the set is
        current, only the files the index lacks - the PEP 503 page of each project of the set under
        O(publish.index_url) is read (one GET per project); the missing files are uploaded with C(twine upload)
        of the builder venv (it must hold C(twine)) to O(publish.url); then the pages are read again and every
        uploaded file must be listed with its sha256. RV(published) names the uploaded files; RV(changed) is true
        only when a file was uploaded (or a build ran).
      - A file the index already holds under the same name with another sha256 fails the task before anything is
        uploaded - targets installing the set with hash checking would refuse it. When that file is the start of the
        set's wheel (an upload cut off - pypiserver keeps what it received when twine is killed mid-upload or its disk
        is full), the message says it is cut short; once it is removed from the index the next run uploads it whole.
        When twine fails, the message holds its output and what the index holds afterwards.
      - Build hosts of several platforms publishing to one index at once share the wheels that are the same on every
        platform (pure-Python wheels from PyPI). When another build uploads such a file between this task's reading
        of the page and its upload, twine fails on it; the task reads the pages again and, when the index lists that
        file with the set's sha256, uploads the files still lacking and warns. RV(published) names only the files
        this task uploaded.
      - The credentials go to twine through its environment (C(TWINE_USERNAME), C(TWINE_PASSWORD)), never on a
        command line; O(publish.password) shows in no result or log. A plain C(http) index needs no certificate;
        for C(https) the CA bundle variables of O(environment) (C(REQUESTS_CA_BUNDLE), C(PIP_CERT)) apply.
      - In check mode the pages are read and RV(published) lists what would be uploaded; nothing is uploaded.
    type: dict
    version_added: 0.3.0
    suboptions:
      url:
        description: The upload endpoint (the legacy upload API twine uses), for example pypiserver's C(http://host:8080/)
          or devpi's C(https://host/user/index/).
        type: str
        required: true
      index_url:
        description: The PEP 503 simple index of the same server, from which the targets install (for example
          C(http://host:8080/simple/)).
        type: str
        required: true
      username:
        description: The user name for uploading and for reading the index.
        type: str
        default: ''
      password:
        description: The password.
        type: str
        default: ''
  owner:
    description:
      - Owner (name or uid) of the folders, files and wheels this module makes.
    type: str
  group:
    description:
      - Group (name or gid) of the folders, files and wheels this module makes.
    type: str
  lock_timeout:
    description:
      - Seconds to wait for another build holding the lock of O(requirements_path) before failing.
    type: int
    default: 3600
  log_file:
    description:
      - Where the commands, their whole output, exit codes and durations are appended (credentials
        masked). Error messages name it. Empty writes no log.
    type: path
notes:
  - Deleting C(<name>-build.json) makes the next run build again.
  - "The lock file C(pylock.<name>.toml) (PEP 751) lists every distribution of the set (not the O(tool_wheels))
    with its version and its wheel - file name, C(path) relative to the lock file (the wheel's file name: the lock
    is in the wheel folder) and sha256; C(requires-python) is the builder's Python minor version, and
    C([tool.wheelhouse-venv]) names the set and the platform. It holds no time stamp: the same set gives the same
    bytes. It is written when it differs from the recorded set - after a build, or when it is missing or was
    altered (then with RV(changed) true and RV(status) V(current), no build); a no-op writes nothing."
  - "A C(path) and not a C(url): PEP 751 wants a URL absolute (uv refuses a relative one) and an absolute one would
    tie the lock to one host name; the relative path stays right wherever the folder is copied or served.
    C(uv pip install -r pylock.<name>.toml) and C(uv pip sync) install from a local copy of the folder (uv 0.13
    reads the paths of a lock given by URL relative to its working directory, not to the URL). pip (up to 25.x) can
    write a PEP 751 lock (C(pip lock)) but not install from one."
  - Changing only the password in an index URL does not count as a change of inputs.
seealso:
  - module: wheelhouse.venv.venv_build
    description: Makes the builder venv, and installs the targets' venvs from the wheels.
"""

EXAMPLES = r"""
- name: Keep the builder venv and build the wheels of the app's venv
  wheelhouse.venv.venv_wheel_build:
    name: app
    builder_venv: /opt/wheel-builder
    builder:
      requirements:
        - pip-tools
        - wheel
    requirements:
      - flask>=3
      - gunicorn
    constraints:
      - flask==3.1.0
    requirements_path: /var/www/repo/os-releases/1.0/debian-12-x86_64/requirements
    wheel_path: /var/www/repo/os-releases/1.0/debian-12-x86_64/wheels
    platform: debian-12-x86_64
    log_file: /var/log/wheelhouse-venv/wheel-build-app.log
  register: app_wheels

- name: Install the venv from exactly those wheels
  wheelhouse.venv.venv_build:
    path: /opt/app/venv
    requirements: "{{ app_wheels.install_requirements }}"
    find_links:
      - /var/www/repo/os-releases/1.0/debian-12-x86_64/wheels
    no_index: true
    require_hashes: true

- name: Resolve with uv from a private index, and fetch uv's own wheel for the targets
  wheelhouse.venv.venv_wheel_build:
    name: tools
    builder_venv: /opt/wheel-builder
    requirements:
      - internal-tool==2.4.1
    requirements_path: /srv/wheels/requirements
    wheel_path: /srv/wheels/wheels
    tool: uv
    tool_wheels:
      - uv
    build_args: "--index-url https://deploy:{{ vault_index_password }}@pypi.example.com/simple"
    owner: www-data
    group: www-data
"""

RETURN = r"""
changed:
  description: Whether a build ran, the lock file RV(lock) was written, a file was uploaded (O(publish)) or the builder
    venv changed (in check mode - would).
  returned: always
  type: bool
  sample: true
builder:
  description: What was done to the builder venv (O(builder)), as M(wheelhouse.venv.venv_build) reports it.
  returned: when O(builder) is given
  type: dict
  contains:
    changed:
      description: Whether the builder venv was created or changed.
      type: bool
    reasons:
      description: Why it changed.
      type: list
      elements: str
    commands:
      description: The commands run for it (empty on a no-op).
      type: list
      elements: str
    packages:
      description: Its packages after the run, name to version.
      type: dict
    python_version:
      description: Its Python version.
      type: str
  sample:
    changed: false
    reasons: []
    commands: []
    packages: {pip: "25.3", pip-tools: "7.5.2", uv: "0.9.7"}
    python_version: "3.11.2"
status:
  description:
    - What the recorded build said before this run - V(current) (nothing to do), V(new), V(inputs changed),
      V(wheels missing), V(tampered) (check mode only; a real run fails) or V(rebuild).
  returned: always
  type: str
  sample: inputs changed
problem:
  description: The missing wheel files (status V(wheels missing)) or the altered wheel (V(tampered)); empty otherwise.
  returned: always
  type: str
  sample: beta-1.0-py3-none-any.whl
wheels:
  description: The wheels of the set, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Canonical distribution name.
      type: str
      returned: always
    version:
      description: The version.
      type: str
      returned: always
    filename:
      description: The wheel's file name in the wheel folder.
      type: str
      returned: always
    sha256:
      description: sha256 of the wheel file.
      type: str
      returned: always
  sample: [{"name": "flask", "version": "3.1.0", "filename": "flask-3.1.0-py3-none-any.whl", "sha256": "3f5b..."}]
tool_wheels:
  description: The wheels of O(tool_wheels), with the same keys as RV(wheels).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "uv", "version": "0.9.5", "filename": "uv-0.9.5-py3-none-manylinux_2_17_x86_64.whl", "sha256": "a1b2..."}]
install_requirements:
  description:
    - One C(name==version --hash=sha256:...) line per wheel, for an install in hash-checking mode.
      Empty in check mode when a build would run.
  returned: always
  type: list
  elements: str
  sample: ["flask==3.1.0 --hash=sha256:3f5b..."]
install_constraints:
  description: One C(name==version) line per wheel. Empty in check mode when a build would run.
  returned: always
  type: list
  elements: str
  sample: ["flask==3.1.0", "werkzeug==3.1.3"]
published:
  description:
    - The files uploaded to the package index of O(publish) (in check mode, the files that would be). Empty
      without O(publish), or when the index held every file already.
  returned: always
  type: list
  elements: str
  sample: ["markupsafe-3.0.3-cp311-cp311-linux_x86_64.whl"]
  version_added: 0.3.0
commands:
  description: The command lines this run executed, credentials masked. Empty when nothing had to be built.
  returned: always
  type: list
  elements: str
  sample: ["/opt/wheel-builder/bin/pip-compile --quiet ... /srv/wheels/.build-app-x/requirements.in"]
lock:
  description:
    - The lock file of this wheel set, C(pylock.<name>.toml) (PEP 751) in O(wheel_path) (in check mode, where it
      is or would be written).
  returned: always
  type: str
  sample: /srv/wheels/wheels/pylock.app.toml
  version_added: 0.3.0
lock_sha256:
  description:
    - sha256 of the lock file's content, what a venv installed from this set records with the lock
      (O(wheelhouse.venv.venv_build#module:lock)). Empty in check mode when a build would run.
  returned: always
  type: str
  sample: 9b1d3e...
  version_added: 0.3.0
lock_content:
  description:
    - The text of the lock file (RV(lock_sha256) is its sha256), for a target that cannot read the lock where it
      is - the role passes it to targets that install from a package index
      (O(wheelhouse.venv.venv_build#module:lock.content)). The lock names each wheel by its file name and its
      sha256, no index and no URL (no credentials).
    - Empty when RV(lock_sha256) is.
  returned: always
  type: str
  sample: "lock-version = \"1.0\"\ncreated-by = \"wheelhouse.venv\"\n..."
  version_added: 0.3.0
state_file:
  description: The state file of this wheel set.
  returned: always
  type: str
  sample: /srv/wheels/requirements/app-build.json
fingerprint:
  description: sha256 of the normalized inputs (credentials excluded) recorded in the state file.
  returned: always
  type: str
  sample: 4f6c0e9d1c0b3f9e6c5a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._masking import environment_secrets, find_secrets_in, mask_text, register_secrets
from ansible_collections.wheelhouse.venv.plugins.module_utils._wheelbuild import (
    WheelBuilder, ensure_builder, isolation_warning)

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    builder_venv=dict(type="path", required=True),
    builder=dict(type="dict", options=dict(
        python=dict(type="str", default="python3"),
        requirements=dict(type="list", elements="str", required=True),
        environment=dict(type="dict", default={}),
    )),
    requirements=dict(type="list", elements="str", required=True),
    constraints=dict(type="list", elements="str", default=[]),
    global_constraints=dict(type="list", elements="str", default=[]),
    requirements_path=dict(type="path", required=True),
    wheel_path=dict(type="path", required=True),
    tool=dict(type="str", default="pip", choices=["pip", "uv"]),
    build_args=dict(type="str", default=""),
    environment=dict(type="dict", default={}),
    rebuild=dict(type="bool", default=False),
    platform=dict(type="str", default=""),
    tool_wheels=dict(type="list", elements="str", default=[]),
    build_tools=dict(type="list", elements="str", default=[]),
    publish=dict(type="dict", options=dict(
        url=dict(type="str", required=True),
        index_url=dict(type="str", required=True),
        username=dict(type="str", default=""),
        password=dict(type="str", default="", no_log=True),
    )),
    owner=dict(type="str"),
    group=dict(type="str"),
    lock_timeout=dict(type="int", default=3600),
    log_file=dict(type="path"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)

    def run(argv, env, cwd):
        return module.run_command(argv, environ_update=env, cwd=cwd, check_rc=False)

    # Ansible strips these strings from everything it returns, the invocation included.
    module.no_log_values.update(find_secrets_in(module.params))
    module.no_log_values.update(environment_secrets(module.params["environment"]))
    if module.params["builder"]:
        module.no_log_values.update(environment_secrets(module.params["builder"]["environment"]))
    register_secrets(module.no_log_values)  # the module's log strips them too
    builder = WheelBuilder(module.params, run, check_mode=module.check_mode)
    kept = None
    try:
        kept, warnings = ensure_builder(module.params, module.check_mode, run)
        isolated = isolation_warning(module.params["build_tools"], module.params["build_args"],
                                     module.params["environment"])
        for warning in warnings + ([isolated] if isolated else []):
            module.warn(mask_text(warning))
        result = builder.execute()
        for warning in builder.warnings:
            module.warn(mask_text(warning))
    except VenvBuildError as exc:
        details = dict(exc.details)
        details.setdefault("commands", list(builder.commands))
        if kept is not None:
            details["builder"] = kept
        module.fail_json(msg=mask_text(exc.msg), **details)
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg=mask_text("wheel build %s: %s" % (builder.name, exc)), commands=list(builder.commands))
    if kept is not None:
        result["builder"] = kept
        result["changed"] = bool(result.get("changed") or kept["changed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()

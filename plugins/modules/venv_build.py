#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: venv_build
short_description: Python virtual environments from requirements and constraints, idempotent without running pip
version_added: 0.1.0
description:
  - Makes the Python virtual environment at O(path) contain exactly what O(requirements),
    O(requirements_files), O(build_requirements), O(constraints) and O(global_constraints) ask for,
    installed with C(pip) or C(uv).
  - Decides from files alone whether anything must change - C(pyvenv.cfg), the installed
    C(*.dist-info) metadata and a state file the module keeps inside the venv
    (C(wheelhouse-venv.json)) with a fingerprint of the normalized inputs and the installed set.
    A re-run with the same inputs and an intact venv starts no pip, no uv and no venv Python,
    and RV(commands) is empty.
  - Drift is repaired - a package upgraded, downgraded or removed by hand is put back to the
    version recorded by the last successful run; a package whose files were removed or changed in size
    by hand (every file its C(RECORD) lists is checked) or whose C(METADATA) is damaged is reinstalled
    at its installed version; a venv whose C(bin/python) is not the interpreter it was made from, whose
    base interpreter is gone, or that was made from another Python minor version, is rebuilt.
  - A new venv, and every rebuild, is built in a hidden directory beside O(path) and then swapped
    into place (an atomic C(renameat2) exchange where the kernel and file system support it). If the
    build fails, the venv that was at O(path) is still there and still works. Changes to an existing
    venv are made in place by the installer, which resolves and builds everything before it
    touches the venv; the state file is written last, so a failed or interrupted run is retried by
    the next one. Before an in-place install the state file is marked (C(install_started)); a run
    that finds the mark (or pip's C(~) stash entries in site-packages) installs again without
    trusting the recorded versions, and removes the stash entries.
  - Writes C(requirements.txt), C(constraints.txt) and C(global-constraints.txt) inside the venv,
    as the OpenStack-Ansible C(python_venv_build) role does, and passes both constraint files to
    the installer.
  - Writes the venv's bill of materials C(sbom.cdx.json) (CycloneDX 1.6 JSON) in its root whenever it
    changes the venv's distributions or links - into a new or rebuilt venv before it is swapped in,
    after the install for an in-place change; a no-op writes nothing. One component per distribution
    in C(site-packages), those linked by O(linked_distro_packages) included - name, version, purl
    C(pkg:pypi/<name>@<version>), the licence its metadata states (C(License-Expression), else
    C(License), else the C(License ::) classifiers; nothing guessed), the SHA-256 of the wheel it was
    installed from when that wheel is in a local O(find_links) folder (its C(METADATA) and C(WHEEL) are
    the installed ones) or the installer recorded it (C(direct_url.json)), the SBOMs the wheel ships
    in C(.dist-info/sboms/) (PEP 770) as references of type C(bom) by path relative to the venv root, and
    the installed dependencies from C(Requires-Dist) (without extras). Only the serial number and the
    timestamp differ between two documents of the same venv. The file is the module's - not a foreign
    entry; a venv the module never managed that already holds a file of that name is refused.
  - Credentials inside URLs (C(https://user:secret@host/...)) are masked in results, warnings,
    errors, diffs and the log file. Index locations that carry one reach the installer in its
    environment, never on its command line (which every local user can read); the installer files
    inside the venv that hold one are mode 0600, and log files are 0600.
author:
  - wheelhouse.venv contributors (@wheelhouse)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Touches nothing (no directory, no file, no fact). When packages of an existing venv would
        change, the installer is asked with C(--dry-run) so that C(changed) and the diff are
        truthful; that needs the package index to be reachable.
  diff_mode:
    support: full
    details:
      - Shows the text changes of the requirements and constraints files and the package versions
        before and after, and which links of O(linked_distro_packages) are added or removed.
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - Absolute path of the venv directory.
      - When O(path) is a symbolic link (a release layout like C(current -> releases/r1)), the link
        is followed - the venv it points to is made, updated or replaced (a rebuild is built beside
        the link's target and swapped in there) and the link itself is kept. A link to nothing fails
        with O(state=present). The lock and the leftovers of killed runs are those of the target.
      - A mount point cannot be replaced by a venv built beside it; a run that would create or
        rebuild the venv at a mount point fails before any change. Make the venv in a directory below it.
      - System directories and home directories are never venvs, whatever O(foreign_files) says and in
        check mode too; the run fails before any change, naming the path. Refused are C(/) and its
        system folders (C(/usr), C(/etc), C(/var), C(/opt), C(/srv), C(/tmp), C(/root), C(/home)...),
        the system's folders in C(/usr), C(/usr/local) and C(/var) (C(/usr/local), C(/usr/lib),
        C(/var/lib), C(/var/log)...), every user's home directory and every folder of C(/home); a
        path whose link leads to one of them too. A folder below them is fine (C(/opt/venvs/app),
        C(/home/alice/venvs/app)).
    type: path
    required: true
  state:
    description:
      - V(present) makes the venv; V(absent) removes it (only a directory that is a venv).
      - V(absent) removes only what a venv consists of (see O(foreign_files)); other entries, at any depth
        (a module a user put into C(site-packages), a file in C(share)), are kept with the directory and the
        folders above them, named in a warning and in RV(kept). The venv is first renamed away
        beside O(path), so that an interrupted removal never leaves a half-deleted venv at O(path).
        With O(path) a symbolic link, the venv it points to and the link are removed; a link to
        nothing is removed. The directory an earlier V(absent) kept (noted in the lock file beside it) is left as
        it is by the next V(absent), with C(changed=false) and its entries named in the warning and in RV(kept)
        the same way; any other directory that is not a venv fails.
      - Every run that changes something on O(path) takes the same lock (C(.NAME.venv_build.lock)
        beside the venv), V(absent) too. Runs first remove what killed runs left behind
        (C(.NAME.venv_build-*) directories beside the venv, temporary files inside it) and warn;
        that alone does not report a change. Check mode only names them in RV(reasons).
    type: str
    choices: [present, absent]
    default: present
  python:
    description:
      - The interpreter the venv is made from, a name looked up on E(PATH) or an absolute path.
      - When the venv exists but was made from another Python minor version (C(pyvenv.cfg)), it is
        rebuilt. Patch releases (3.11.2 to 3.11.4) do not rebuild.
      - Its version is asked once per change of the binary, waiting at most 60 seconds; an interpreter
        that does not answer in time is killed and the run fails naming it, before any change.
    type: str
    default: python3
  virtualenv_command:
    description:
      - V(venv) uses the standard library's C(venv) module; V(virtualenv) uses the C(virtualenv)
        command found on E(PATH), or C(python -m virtualenv).
      - Changing it rebuilds the venv.
    type: str
    choices: [venv, virtualenv]
    default: venv
  seed_cache:
    description:
      - Where V(venv) keeps the pip it seeds into new venvs. C(python -m venv) installs pip (and, up to
        Python 3.11, setuptools) with ensurepip, which byte-compiles them, about 3 s of CPU a venv. The
        module does that once per interpreter, in this folder, and makes every later venv
        C(--without-pip) with a copy of those files (the same wheels, RECORDs and scripts, the byte-code
        included), as C(virtualenv)'s app-data seeder does.
      - An entry is keyed by the interpreter's real path, its version and the pip its ensurepip bundles;
        a new Python or a new bundled pip makes a new entry. A folder that is not this user's own, or
        that others may write, is not used; neither is an entry that fails its checks. Then, and when
        the interpreter has no ensurepip, the venv is made by C(python -m venv) with pip as before, and
        the log says why.
      - Defaults to C(/var/cache/wheelhouse-venv-seed) when running as root, otherwise to
        C(wheelhouse-venv-seed) under E(XDG_CACHE_HOME) or C(~/.cache) (beside, not in, the folder the role pushes wheels to). Not used with
        O(virtualenv_command=virtualenv), nor where O(install_tool=uv) needs no pip.
    type: path
  system_site_packages:
    description:
      - Give the venv access to the base interpreter's site-packages. Changing it rebuilds the venv.
    type: bool
    default: false
  requirements:
    description:
      - Requirement lines - PEP 508 names with specifiers, extras and markers (V(requests>=2.31)),
        direct references (V(name @ https://host/name-1.0.tar.gz), V(name @ git+https://host/repo@v1)),
        VCS URLs (V(git+https://host/repo.git@v1#egg=name)), wheel or sdist URLs and local paths.
      - A line may carry C(--hash=sha256:...) options for hash-checking mode, or start with C(-e) for
        an editable install. Other installer options belong in the options of this module.
      - Each line is validated before anything changes; an invalid line fails the task and is named.
        A line that names a requirements file (V(/srv/app/requirements.txt), V(./requirements.txt))
        fails too - such files belong in O(requirements_files).
      - C(requirements.txt) inside the venv is mode 0600 when a line carries a URL credential
        (V(name @ https://user:secret@host/name-1.0.whl)), otherwise 0644; a readable one holding a
        credential is repaired (reported as a change).
    type: list
    elements: str
    default: []
  requirements_files:
    description:
      - Requirements files already on the host, passed to the installer with C(-r). Their content
        (and that of files they include with C(-r)/C(-c)) is part of the fingerprint.
      - Each of them, and each file they include, must be a regular file (not a FIFO or a device);
        otherwise the task fails before anything changes, naming the file.
    type: list
    elements: path
    default: []
  build_requirements:
    description:
      - Requirement lines of what the installs of the requirements need at build time - build
        backends and tools such as V(setuptools), V(wheel), V(pbr), V(cython) or V(maturin) when the
        requirements include sdists built without build isolation (C(--no-build-isolation) in
        O(extra_args)), or built by a backend that runs such a tool as a command (the venv's C(bin)
        is first on E(PATH) for the installer).
      - Installed into the venv by an installer run of their own just before the requirements, each
        time the requirements are installed (a new venv, a rebuild, an install in place), so that
        they are there when an sdist of the requirements is prepared; in the same run they would not
        be. The run has the same options as the install of the requirements - O(constraints) and
        O(global_constraints) apply, and the index options, O(extra_args), O(environment),
        O(require_hashes) and O(package_state). With O(install_tool=uv), uv installs them.
      - They stay in the venv - their versions are among RV(packages), repaired when they drift, and
        O(prune) keeps them and what they need. They are part of the fingerprint - changing them
        runs the installer. They are checked like O(requirements) before anything changes.
      - Written, for the installer, to C(build-requirements.txt) in a hidden C(.NAME.venv_build-files-*)
        directory beside the venv that is removed afterwards; not kept inside the venv.
      - An empty list (the default) adds no installer run and leaves the fingerprint of a venv as it was.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  constraints:
    description:
      - Constraint lines (named requirements, usually exact pins), written to C(constraints.txt)
        inside the venv and passed with C(-c).
      - A constraint whose exact pin contradicts a requirement (or the other way round) fails the task
        before anything changes.
      - A line may also reference a constraints file, C(-c <x>), C(--constraint <x>) or
        C(--constraint=<x>), where C(<x>) is an absolute path on the host or an C(http), C(https) or
        C(file) URL (the -c/--constraint form since 0.2.0), as OpenStack-Ansible passes its upper constraints.
        The module reads the file itself on every run (one GET for a URL, with its credentials, O(trusted_hosts)
        and the CA bundle of O(environment)) and writes its lines into C(constraints.txt) in place of the
        reference, after a comment naming the location (without credentials) and the sha256 of the content.
        The installer never sees the location. Its content is part of the fingerprint, so a changed file makes
        the next run install (RV(reasons) names the file), and its pins are checked against the other
        lines like inline ones.
      - A referenced file that cannot be read (unreachable URL, HTTP error, missing file, a directory or FIFO)
        fails the task before anything changes, naming it. It must hold constraint lines only; a nested
        C(-c) or any other option in it is refused (list that file as a line of its own). A relative path is
        refused.
    type: list
    elements: str
    default: []
  global_constraints:
    description:
      - Constraint lines shared by many venvs, written to C(global-constraints.txt) and passed with C(-c)
        as well.
      - A line may reference a constraints file as in O(constraints) (the -c/--constraint form since 0.2.0).
    type: list
    elements: str
    default: []
  find_links:
    description:
      - Locations (local directories or URLs) to look for wheels in, passed with C(--find-links).
      - Each location is checked to be reachable before anything changes.
      - When one of them carries a credential, all of them (with the C(--find-links) of O(extra_args)) are
        passed in the installer's environment instead - E(PIP_FIND_LINKS) (space separated), or for uv
        E(UV_FIND_LINKS) (comma separated, so such a location must not contain a comma). RV(commands) and
        the log show them masked before the command (C(PIP_FIND_LINKS='https://user:********@host/' ...)).
    type: list
    elements: str
    default: []
  index_url:
    description:
      - Base URL of the package index (C(--index-url)). May carry credentials; they are masked in all output.
      - With a credential it is passed as E(PIP_INDEX_URL) (uv - E(UV_INDEX_URL)) in the installer's
        environment, which only the installer's own user can read, not on its command line.
    type: str
  extra_index_urls:
    description:
      - Further package indexes (C(--extra-index-url)).
      - When one of them (or an C(--extra-index-url) of O(extra_args)) carries a credential, all are passed
        as E(PIP_EXTRA_INDEX_URL) (uv - E(UV_EXTRA_INDEX_URL)), space separated, in the installer's
        environment instead of its command line.
    type: list
    elements: str
    default: []
  no_index:
    description:
      - Ignore package indexes, install from O(find_links) only (C(--no-index)).
    type: bool
    default: false
  trusted_hosts:
    description:
      - Hosts whose TLS certificate is not verified (pip C(--trusted-host), uv C(--allow-insecure-host)).
    type: list
    elements: str
    default: []
  extra_args:
    description:
      - Further arguments for the installer, split like a shell would (for example V(--no-build-isolation)).
      - Its C(--index-url)/C(-i), C(--extra-index-url) and C(--find-links)/C(-f) options are merged with
        O(index_url), O(extra_index_urls) and O(find_links) when those carry a credential.
    type: str
    default: ''
  environment:
    description:
      - Environment variables for the installer (for example C(PIP_CERT), C(UV_CACHE_DIR)).
      - The installer runs with the C(bin) of the venv it installs into first on E(PATH) (before the E(PATH)
        given here, else the module's), so that build backends run without build isolation find the venv's
        tools (for example C(cython), C(maturin)) as commands.
    type: dict
    default: {}
  install_tool:
    description:
      - The installer. V(uv) is found in this order - O(uv_executable); C(uv) on E(PATH); a uv the
        module installed earlier in C(<path>/.uv/); otherwise the module installs the C(uv) package
        with the venv's pip from the same index options into C(<path>/.uv/) (outside site-packages,
        so it is not one of the venv's packages).
      - With V(uv) at hand (not installed by the module), a new or rebuilt venv is made without pip
        (C(python -m venv --without-pip), C(virtualenv --no-seed)), since uv installs into it and seeding
        pip would only cost time.
    type: str
    choices: [pip, uv]
    default: pip
  uv_executable:
    description:
      - Path of the uv binary to use with O(install_tool=uv).
    type: path
  require_hashes:
    description:
      - Pass C(--require-hashes) - every requirement must be pinned with C(==) and carry C(--hash).
    type: bool
    default: false
  upgrade_pip:
    description:
      - With O(install_tool=pip), bring the venv's pip to the newest version the index options and the
        constraints allow, by an installer run of its own before O(build_requirements) and the requirements,
        each time they are installed (a new venv, a rebuild, an install in place) - as the upstream role
        upgrades its install tool first. The pip a distribution's C(python3 -m venv) brings may be too old
        for the requirements (Debian 12's pip 23.0.1 refuses C(name @ git+file:///...) lines).
      - Not part of the fingerprint and not run on a no-op - a newer pip on the index changes nothing by
        itself. Ignored with O(install_tool=uv). Cannot be used with O(require_hashes) (pip's own wheel
        would be installed without a hash) - pin pip with its hash in O(build_requirements) instead.
    type: bool
    default: false
    version_added: 0.3.0
  package_state:
    description:
      - V(present) installs what is missing and keeps what satisfies the requirements.
      - V(latest) re-resolves on every run (the installer runs every time) and upgrades to the newest
        allowed versions; it reports changed only when a version actually changed.
    type: str
    choices: [present, latest]
    default: present
  prune:
    description:
      - After installing, remove distributions that nothing in the requirements needs (like
        C(pip-sync)), found by walking the installed metadata from the requirements. C(pip),
        C(setuptools) and C(wheel) are kept.
      - Without O(prune), packages installed by hand beside the requirements are left alone and are not
        drift.
    type: bool
    default: false
  linked_distro_packages:
    description:
      - Distribution packages (dpkg or rpm names, not PyPI names) whose Python files are linked into the
        venv - bindings that only the distribution provides and pip cannot install, such as
        C(python3-apt) or C(python3-libvirt). This is the OpenStack-Ansible role's C(venv_packages_to_symlink).
      - The package manager found on E(PATH) is asked which files each package installed -
        C(dpkg-query --listfiles) (Debian family), otherwise C(rpm --query --list) (Red Hat family). The
        top-level entries under C(/usr/lib/python3/dist-packages), C(/usr/lib{,64}/python3.X/site-packages)
        (or C(dist-packages)) with X the venv's Python minor version are symlinked into the venv's
        C(site-packages) under the same name, metadata folders (C(*.egg-info), C(*.dist-info))
        included. Bytecode caches, C(.pth) files and extension modules built for another CPython version
        are left out. The venv should be made from the distribution's own Python (O(python)) so that the
        versions match.
      - A package that is not installed fails the task before anything changes, naming it; so does a
        wanted name that already exists in C(site-packages) and is not a symlink (for example the same
        module installed by the installer). A symlink of that name pointing elsewhere is re-pointed.
      - A new or rebuilt venv gets its links before it is swapped into place; an existing venv gets
        missing or wrong links repaired in place. Links are not part of the fingerprint - changing this
        list never runs the installer.
      - The links the module made are recorded in its state file. When a package leaves the list (or no
        longer ships an entry), the links made for it are removed - only symlinks the module made that
        still point where it made them; nothing else in C(site-packages) is ever removed.
      - Linked metadata is not one of the venv's packages for RV(packages), drift and O(prune); the
        links are reported in RV(links).
      - With a non-empty list every run asks the package manager (read-only, not listed in RV(commands)).
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  check_dependencies:
    description:
      - After the installer ran, run its consistency check on the venv - C(python -m pip check), or
        C(uv pip check) with O(install_tool=uv) - and fail when an installed distribution's requirements
        are not met (a missing or conflicting dependency, for example after C(--no-deps) in O(extra_args)).
      - The checks of O(check_dependencies), O(verify_imports) and O(verify_command) run in this order, in
        every run that starts the installer, and never in a run that has nothing to install (a no-op starts
        no process). A new or rebuilt venv is verified where it is built, beside O(path), before it is
        swapped in - when a check fails the venv at O(path) stays as it was, the new one is removed, and
        the error shows the failing check's output (its last lines, credentials masked). A change made in
        place is verified after the install - when a check fails the task fails with C(changed=true) when
        packages changed, and the venv is marked unverified in its state file (C(verify_failed)), so that
        the next run installs and verifies again (RV(reasons) says so) and reports changed when it succeeds.
      - They are not part of the fingerprint - adding or changing one does not run the installer; it applies
        from the next run that installs (O(rebuild=true) verifies now). In check mode RV(commands) lists them.
      - With O(install_tool=pip), problems that pip reports for distributions outside the venv's own
        C(site-packages) (those of the system with O(system_site_packages), linked metadata of
        O(linked_distro_packages)) are ignored.
    type: bool
    default: true
    version_added: 0.2.0
  verify_imports:
    description:
      - Module names (V(yaml), V(email.mime.text)) the venv's Python must import after the installer ran,
        in one C(bin/python -I -c ...) process (isolated - neither the working directory nor E(PYTHONPATH)
        count). See O(check_dependencies) for when the checks run and what a failure does.
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  verify_command:
    description:
      - A command (a list of arguments, run without a shell, for example V([myapp, --self-test])) that must
        exit with 0 after the installer ran and the other checks passed. It runs with the venv's C(bin)
        first on E(PATH), E(VIRTUAL_ENV) set to the venv and the variables of O(environment) - as in an
        activated venv, so the venv's console scripts are found by name.
      - A new or rebuilt venv is checked before it is swapped in, in the hidden directory it is built in
        beside O(path) (E(VIRTUAL_ENV) names it) - run its commands by name, or with E(VIRTUAL_ENV), not by
        their path under O(path) (that is still the old venv). See O(check_dependencies).
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  verify_timeout:
    description:
      - Seconds each verification (O(check_dependencies), O(verify_imports), O(verify_command)) may run.
        One that runs longer is killed with its whole process group and counts as failed, exactly like
        one that exits with an error - a new venv is not swapped in and the previous one stays live; an
        in-place change is marked unverified - and the message says it timed out.
    type: int
    default: 300
  rebuild:
    description:
      - Build the venv from scratch (beside O(path), then swapped in). The old venv serves until the
        new one is in place; if the build fails, the old venv stays.
    type: bool
    default: false
  keep_previous:
    description:
      - How many earlier venvs to keep for O(rollback) (releases, as Capistrano keeps C(releases/)).
      - With a number above V(0), every change of the package set (new inputs, drift, a repair, newer versions
        with O(package_state=latest), O(prune)) builds a new venv beside O(path) and swaps it in atomically, as a
        rebuild does - no install changes the live venv in place. The venv it replaces is kept - renamed, never
        copied - in the hidden folder C(.NAME.releases/<id>) beside O(path) (NAME is the base name of O(path),
        the folder is made with mode 0700). O(path) stays a real directory, so services pointing at it need no
        change.
      - A release id is C(<n>-<YYYYmmddTHHMMSS>), n counting the builds of O(path); the live venv's id is
        recorded in its state file. After each build the oldest kept releases beyond this number are removed
        (V(0) removes those kept earlier at the next build). RV(release) and RV(releases) name them.
      - Only releases of this module are removed - a directory whose state file names it. Any other entry in
        the releases folder (or an entry in a kept venv that is not part of a venv, see O(foreign_files)) makes
        a run that would change the folder fail before any change, naming it.
      - A venv with entries of someone else in it is kept only with O(foreign_files=carry) (they move into the
        new venv first), as for every rebuild.
      - Not part of the inputs (the fingerprint); changing it changes nothing until the next change of the venv.
    type: int
    default: 0
    version_added: 0.3.0
  rollback:
    description:
      - Switch back to the newest kept venv older than the live one (see O(keep_previous)), atomically
        (renameat2 exchange); the live venv becomes a kept release. The other inputs are not used (only
        O(path), O(foreign_files), O(facts), O(log_file) matter) and no installer runs. Always reports
        C(changed=true); RV(reasons) names both releases.
      - Processes running from the live venv keep running, with the files they opened; the venv moved aside is
        not deleted.
      - A second rollback goes further back (to the next older kept venv), it does not toggle; moving forward
        is a build - change the inputs, or O(rebuild=true).
      - The venv rolled back to records in its state file the inputs it was rolled back from. A later run with
        those inputs keeps it as it is, with a warning (no flapping back and forth); other inputs build a new
        release; O(rebuild=true) builds those inputs again.
      - With no older venv kept, the task fails before any change. Entries in the live venv that are not part of
        a venv fail it too, unless O(foreign_files=carry) moves them into the venv rolled back to.
    type: bool
    default: false
    version_added: 0.3.0
  foreign_files:
    description:
      - What a run that replaces the venv (a rebuild, see O(rebuild), O(python), O(system_site_packages),
        O(virtualenv_command), a broken C(bin/python) or C(pyvenv.cfg)) does with entries in it that
        are not part of a venv, such as a venv made with C(python3 -m venv .) inside a project
        directory next to C(src/) and configuration files.
      - A venv consists of what its creator lays down (C(pyvenv.cfg), C(.gitignore), C(CACHEDIR.TAG), the
        folders C(bin), C(include), C(lib/pythonX.Y/site-packages) and C(share), the C(lib64) link, the venv's
        scripts in C(bin) such as C(activate*), C(python*), C(pip*), C(pydoc*)), the files of this module
        (C(wheelhouse-venv.json), C(requirements.txt), C(constraints.txt), C(global-constraints.txt),
        C(sbom.cdx.json), C(.uv)) and the top-level entries its own builds made, every file the C(RECORD) of
        an installed distribution lists (in C(site-packages), console scripts in C(bin), data files, headers
        in C(include)) with its C(*.dist-info) folder, the byte code Python writes for those files
        (C(__pycache__)), the links of O(linked_distro_packages), and the folders holding these.
      - Anything else is foreign, at any depth - a module a user put into C(site-packages), a file in
        C(include), C(lib) or C(share), notes kept in the folder of an installed package. A foreign folder
        is named as one entry. A file a C(RECORD) lists is the package's even when it was changed; a
        C(RECORD) that is a symbolic link or cannot be read vouches for nothing, nor does a line of it that
        leads out of the venv. Links are never followed.
      - V(refuse) - the run fails before any change, naming the foreign entries.
      - V(carry) - they are moved (renamed, never copied) into the rebuilt venv just before it is
        swapped in, so they are at the same relative path afterwards; RV(reasons) names them. A folder the
        new venv lacks for them is made when it is C(share), C(include), C(include/site) or a
        C(__pycache__); for any other (the folder of a package the new venv does not have, C(lib/pythonX.Y)
        of another Python version) the run fails naming them after the build, before the swap, and the
        venv at O(path) is unchanged. Check mode cannot foresee which folders the new venv will have. The
        same holds for a directory at O(path) that is not a venv (for example what V(absent) kept) - the venv
        is made there with its entries carried in, those in C(bin), C(include), C(lib) and C(share) one by
        one; with V(refuse) such a directory is refused.
      - A run killed while carrying leaves the entries in the hidden C(.NAME.venv_build-*) directory
        beside O(path); the next run moves them back before anything else.
    type: str
    choices: [refuse, carry]
    default: refuse
    version_added: 0.2.0
  owner:
    description:
      - Owner of every file of the venv tree.
    type: str
  group:
    description:
      - Group of every file of the venv tree.
    type: str
  mode:
    description:
      - Mode of the venv directory itself; files inside keep the modes the tools gave them.
      - As M(ansible.builtin.file) takes it - a number (an unquoted 0755 in YAML arrives as the integer 493,
        which is mode 0755), an octal string (V('0755'), V('755'), V('0o755')) or a symbolic mode
        (V(u=rwx,g=rx,o=rx), V(g+w)), applied to the current mode as C(chmod) does.
    type: raw
  facts:
    description:
      - Local facts to set when this run changed the venv, written to
        C(<facts_dir>/<facts_file>.fact) (INI, mode 0644) so that M(ansible.builtin.setup) shows them as
        C(ansible_local[facts_file][section][option]). Sections and options written by others are kept,
        bytes that are not UTF-8 included.
      - Values are written so that M(ansible.builtin.setup) reads them back exactly (C(%) is escaped).
        What its INI loader would change fails the task before anything changes, naming the fact -
        a value with a line break or leading/trailing white space, an option containing C(:) or
        starting with C(#) or C(;), the section C(DEFAULT). The loader lowercases option names.
      - Every section named here also gets the option C(sbom), the path of the venv's SBOM (RV(sbom)),
        unless the facts set C(sbom) in that section themselves.
      - A change is recorded in the state file as C(facts_pending) until its facts are written. When
        writing them fails (or the run is killed first), the task fails with C(changed=true) and the
        next run writes them and reports C(changed=true) (reason C(the facts of an earlier change
        were not written yet)).
    type: list
    elements: dict
    default: []
    suboptions:
      section:
        description: INI section.
        type: str
        required: true
      option:
        description: INI option.
        type: str
        required: true
      value:
        description: The value.
        type: raw
  facts_file:
    description:
      - Base name of the facts file, without C(.fact). Defaults to the venv directory's name.
    type: str
  facts_dir:
    description:
      - Directory of local facts files.
    type: path
    default: /etc/ansible/facts.d
  inputs_id:
    description:
      - An identifier of the inputs the caller made this venv's requirements from (the role
        C(wheelhouse.venv.python_venv_build) passes the fingerprint of its settings, so that a later
        converge can tell from M(wheelhouse.venv.venv_host_info) alone that the venv is up to date).
      - Recorded in the state file as it is given; part of the inputs, so a new value runs the installer once
        (which changes nothing when the requirements give the same packages). Empty - nothing is recorded.
    type: str
    default: ""
    version_added: 0.2.0
  lock:
    description:
      - The PEP 751 lock file the packages come from, as M(wheelhouse.venv.venv_wheel_build) wrote it beside the
        wheels (its RV(wheelhouse.venv.venv_wheel_build#module:lock) and
        RV(wheelhouse.venv.venv_wheel_build#module:lock_sha256)); the role C(wheelhouse.venv.python_venv_build)
        passes it. The venv is installed from O(requirements) (with their hashes), not from the lock; a run that
        installs reads it (with the credentials of its URL) for the hashes of the SBOM's wheels, when its content
        has the O(lock.sha256) given. With O(lock.content) it reads nothing - the content given is the lock.
      - Recorded in the state file (key C(lock)) and returned in RV(lock). It is not part of the inputs - a new
        lock of an otherwise unchanged venv is recorded without running anything and with C(changed=false) (no
        handler runs for a new reference to the same packages); an install records the lock given, or none.
        Not given, a run that installs nothing keeps the recorded one.
    type: dict
    version_added: 0.3.0
    suboptions:
      location:
        description: Path or URL of the lock file (credentials in a URL are not recorded).
        type: str
        required: true
      sha256:
        description:
          - sha256 of the lock file's content (64 hexadecimal digits); empty - not recorded (with O(lock.content) -
            the sha256 of the content is recorded).
        type: str
        default: ""
      content:
        description:
          - The lock file's text, for a target that cannot read the lock at O(lock.location) - the role passes it
            when the targets install from a package index (its RV(wheelhouse.venv.venv_wheel_build#module:lock_content)),
            with O(lock.location) naming the build host and the path there (C(<build host>:<path>)).
          - Given, O(lock.location) is not read; the SBOM's wheel hashes come from this text. Its sha256 must be
            O(lock.sha256) (when given), else the module fails before any change, naming both.
          - Never recorded nor returned - the state file and RV(lock) have O(lock.location) and O(lock.sha256) only.
        type: str
        version_added: 0.3.0
  log_file:
    description:
      - Where the commands this module runs, their output, exit codes and durations are appended (credentials masked).
      - Defaults to C(/var/log/wheelhouse-venv/<escaped path>.log) when running as root, where
        C(<escaped path>) is the venv's whole path as C(systemd-escape --path) writes it
        (C(/opt/a/venv) - C(opt-a-venv.log), C(/opt/my-app/venv) - C(opt-my\x2dapp-venv.log)), so two venvs
        never share a log; otherwise to C(.<name>.venv_build.log) beside the venv. Error messages name it.
      - The log file is mode 0600 (the installer echoes lines of the files it reads); a folder the module
        makes for it, and C(/var/log/wheelhouse-venv), are 0700. Wider modes of existing ones are repaired.
    type: path
notes:
  - The state file C(wheelhouse-venv.json) inside the venv is how the module knows a venv is up to
    date without running pip; deleting it makes the next run call the installer once (and report
    changed only if something did change). A state file that is not valid JSON or has the wrong
    shape is treated the same way, with a warning naming it.
  - Changing only the password in an index URL does not count as a change of inputs.
  - pip itself passes the index URLs to the pip it starts to install build dependencies of an sdist
    (build isolation) on that process's command line; install wheels, or use C(--no-build-isolation),
    where credentials must stay private.
  - Runs that would change the same venv are serialized with a lock file C(.<name>.venv_build.lock)
    beside the venv.
  - "From M(ansible.builtin.pip), option by option (docs/module.md has the whole table):
    O(ansible.builtin.pip#module:name) and O(ansible.builtin.pip#module:version) become requirement lines
    in O(requirements) (pins better in O(constraints));
    O(ansible.builtin.pip#module:requirements) (a file) becomes O(requirements_files);
    O(ansible.builtin.pip#module:virtualenv) becomes O(path);
    O(ansible.builtin.pip#module:virtualenv_python) becomes O(python);
    O(ansible.builtin.pip#module:virtualenv_site_packages) becomes O(system_site_packages);
    O(ansible.builtin.pip#module:virtualenv_command) becomes O(virtualenv_command) (V(venv) or V(virtualenv));
    O(ansible.builtin.pip#module:state=latest) becomes O(package_state=latest);
    O(ansible.builtin.pip#module:state=absent) of a package becomes dropping its line with O(prune=true);
    O(ansible.builtin.pip#module:state=forcereinstall) becomes O(rebuild=true);
    index options in O(ansible.builtin.pip#module:extra_args) become O(index_url), O(extra_index_urls),
    O(find_links), O(no_index), O(trusted_hosts);
    O(ansible.builtin.pip#module:umask) becomes O(owner), O(group), O(mode);
    O(ansible.builtin.pip#module:chdir) and O(ansible.builtin.pip#module:executable) have no equivalent."
seealso:
  - module: ansible.builtin.pip
    description: The builtin module this one replaces for venvs; the notes map its options to these.
  - module: community.general.pipx
    description: >-
      Installs Python applications, each in a venv of its own that pipx manages; this module manages
      one venv with a whole requirement set (a service's dependencies), pinned and idempotent.
  - name: OpenStack-Ansible python_venv_build role
    description: >-
      The role this collection's role C(wheelhouse.venv.python_venv_build) replaces with the same
      variables; ours builds wheels once per platform and uses this module on every target
      (C(ansible-doc -t role wheelhouse.venv.python_venv_build)).
    link: https://docs.openstack.org/ansible-role-python_venv_build/latest/
"""

EXAMPLES = r"""
- name: Make /opt/app/venv with pinned requirements
  wheelhouse.venv.venv_build:
    path: /opt/app/venv
    requirements:
      - flask>=3
      - gunicorn
    constraints:
      - flask==3.1.0
      - gunicorn==23.0.0

- name: Install from a local wheelhouse only, with uv, and remove what is not needed
  wheelhouse.venv.venv_build:
    path: /opt/app/venv
    install_tool: uv
    requirements_files:
      - /opt/app/requirements.txt
    find_links:
      - /srv/wheels
    no_index: true
    prune: true

- name: A venv from a private index (the password never shows in output)
  wheelhouse.venv.venv_build:
    path: /opt/tools/venv
    python: python3.11
    requirements:
      - internal-tool==2.4.1
    index_url: "https://deploy:{{ vault_index_password }}@pypi.example.com/simple"
    owner: tools
    group: tools

- name: Record the deployed version as a local fact when the venv changed
  wheelhouse.venv.venv_build:
    path: /opt/glance/venv
    requirements:
      - glance==29.0.0
    facts:
      - section: glance
        option: venv_tag
        value: "29.0.0"
    facts_file: openstack_ansible
  notify: restart glance

- name: Sdists built in the venv without build isolation, with their build tools installed first
  wheelhouse.venv.venv_build:
    path: /opt/app/venv
    build_requirements:
      - setuptools
      - wheel
      - cython
    requirements:
      - some-sdist-only-package==1.2
    extra_args: --no-build-isolation

- name: A venv that imports the distribution's apt bindings (python3-apt must be installed)
  wheelhouse.venv.venv_build:
    path: /opt/updater/venv
    python: /usr/bin/python3
    requirements:
      - requests
    linked_distro_packages:
      - python3-apt

- name: Verify the new venv before it goes live (the old one stays when a check fails)
  wheelhouse.venv.venv_build:
    path: /opt/app/venv
    requirements:
      - flask
      - gunicorn
    check_dependencies: true
    verify_imports:
      - flask
    verify_command: [gunicorn, --version]

- name: Rebuild the venv from scratch (the old one serves until the new one is in place)
  wheelhouse.venv.venv_build:
    path: /opt/app/venv
    requirements:
      - flask
    rebuild: true

- name: Keep the two venvs before the live one; every change builds a new one beside it
  wheelhouse.venv.venv_build:
    path: /opt/app/venv
    requirements:
      - flask==3.1.0
    keep_previous: 2

- name: Switch back to the venv before the live one (atomically)
  wheelhouse.venv.venv_build:
    path: /opt/app/venv
    rollback: true

- name: Remove a venv
  wheelhouse.venv.venv_build:
    path: /opt/old/venv
    state: absent
"""

RETURN = r"""
path:
  description: The venv directory.
  returned: always
  type: str
  sample: /opt/app/venv
python_version:
  description: The version of the venv's Python (X.Y.Z).
  returned: always
  type: str
  sample: 3.11.2
packages:
  description: Installed distributions after the run (predicted in check mode), canonical name to version.
  returned: always
  type: dict
  sample: {"flask": "3.1.0", "pip": "23.0.1", "werkzeug": "3.1.3"}
added:
  description: Distributions this run installed (name to version).
  returned: always
  type: dict
  sample: {"gunicorn": "23.0.0"}
removed:
  description:
    - Distributions this run removed (name to version).
    - With O(system_site_packages), a distribution the venv's own C(site-packages) no longer holds because the
      system's C(site-packages) satisfy its requirement is not listed (the venv still imports it); RV(reasons) names
      it with the version and folder it is used from.
  returned: always
  type: dict
  sample: {"six": "1.16.0"}
upgraded:
  description: Distributions whose version changed (name to before/after).
  returned: always
  type: dict
  sample: {"flask": {"before": "3.0.3", "after": "3.1.0"}}
fingerprint:
  description: sha256 of the normalized inputs (credentials excluded) recorded in the venv's state file.
  returned: always
  type: str
  sample: 4f6c0e9d1c0b3f9e6c5a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4
commands:
  description:
    - The command lines this run executed (in check mode - would execute), credentials masked.
      Empty when nothing had to be done.
    - The verifications (O(check_dependencies), O(verify_imports), O(verify_command)) are among them, after
      the installer (in check mode - those a real run would start).
  returned: always
  type: list
  elements: str
  sample: ["/opt/app/venv/bin/python -m pip install --disable-pip-version-check --no-input -r /opt/app/.app.venv_build-x/requirements.txt -c ..."]
facts_written:
  description: Whether the local facts file was written (in check mode - would be).
  returned: always
  type: bool
  sample: true
log_file:
  description: The log file of this venv.
  returned: always
  type: str
  sample: /var/log/wheelhouse-venv/opt-app-venv.log
links:
  description:
    - The symlinks of O(linked_distro_packages) in the venv's C(site-packages) (in check mode - as they
      would be).
  returned: always
  type: dict
  version_added: 0.2.0
  contains:
    present:
      description: Every link the module keeps after the run, entry name to the system path it points to.
      type: dict
      returned: always
      sample: {"apt": "/usr/lib/python3/dist-packages/apt", "six.py": "/usr/lib/python3/dist-packages/six.py"}
    added:
      description:
        - Links this run made or re-pointed in the venv that was at O(path) (a new venv - all of them).
          A rebuild makes every link again in the new venv but lists here only those the old venv lacked.
      type: list
      elements: str
      returned: always
      sample: ["apt", "apt_pkg.cpython-311-x86_64-linux-gnu.so"]
    removed:
      description: Links of packages no longer listed that this run removed.
      type: list
      elements: str
      returned: always
      sample: ["six.py"]
release:
  description:
    - The id of the live venv (C(<n>-<YYYYmmddTHHMMSS>)), see O(keep_previous); V(null) for a venv without one
      (made before 0.3.0 and not built again since). In check mode - as before the run, but for O(rollback).
    - When O(facts) are written and releases are kept, the option C(live) of the section C(releases) of the
      facts file holds it too (C(kept) holds RV(releases) joined by commas).
  returned: success
  type: str
  sample: 4-20250611T101500
  version_added: 0.3.0
releases:
  description: The ids of the kept earlier venvs, newest first (see O(keep_previous)).
  returned: success
  type: list
  elements: str
  sample: ["3-20250610T163000", "2-20250609T090000"]
  version_added: 0.3.0
kept:
  description: With O(state=absent), the entries (relative to O(path), at any depth, a foreign folder as one entry)
    that are not part of a venv and were kept, with the folders above them.
  returned: when state=absent
  type: list
  elements: str
  sample: ["lib/python3.11/site-packages/local_settings.py", "setup.cfg", "src"]
  version_added: 0.2.0
sbom:
  description:
    - The venv's bill of materials C(sbom.cdx.json) (CycloneDX 1.6 JSON) in the venv directory (the directory
      O(path) points to when it is a symbolic link), written by every run that changes the venv's distributions or
      links; null when the venv has none (a venv no run of this version changed yet, O(state=absent)).
    - In check mode, when the venv would change - the file the run would write (the diff says so too).
  returned: always
  type: str
  sample: /opt/app/venv/sbom.cdx.json
  version_added: 0.3.0
lock:
  description:
    - The lock file the venv's state file records after the run (O(lock)), with keys C(location) and C(sha256);
      empty when none is recorded (in check mode - as it would be).
  returned: always
  type: dict
  version_added: 0.3.0
  sample: {"location": "http://repo.example:8181/wheelhouse/main/debian-12-x86_64/wheels/pylock.app.toml",
           "sha256": "9b1d3e5c..."}
reasons:
  description: Why the run had to act (empty on a no-op).
  returned: always
  type: list
  elements: str
  sample: ["the inputs changed"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wheelhouse.venv.plugins.module_utils._commands import run_with_timeout
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec
from ansible_collections.wheelhouse.venv.plugins.module_utils._masking import environment_secrets, find_secrets_in, mask_text, register_secrets
from ansible_collections.wheelhouse.venv.plugins.module_utils._sync import sync

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    python=dict(type="str", default="python3"),
    virtualenv_command=dict(type="str", default="venv", choices=["venv", "virtualenv"]),
    system_site_packages=dict(type="bool", default=False),
    requirements=dict(type="list", elements="str", default=[]),
    requirements_files=dict(type="list", elements="path", default=[]),
    build_requirements=dict(type="list", elements="str", default=[]),
    constraints=dict(type="list", elements="str", default=[]),
    global_constraints=dict(type="list", elements="str", default=[]),
    find_links=dict(type="list", elements="str", default=[]),
    index_url=dict(type="str"),
    extra_index_urls=dict(type="list", elements="str", default=[]),
    no_index=dict(type="bool", default=False),
    trusted_hosts=dict(type="list", elements="str", default=[]),
    extra_args=dict(type="str", default=""),
    environment=dict(type="dict", default={}),
    install_tool=dict(type="str", default="pip", choices=["pip", "uv"]),
    uv_executable=dict(type="path"),
    require_hashes=dict(type="bool", default=False),
    upgrade_pip=dict(type="bool", default=False),
    package_state=dict(type="str", default="present", choices=["present", "latest"]),
    prune=dict(type="bool", default=False),
    linked_distro_packages=dict(type="list", elements="str", default=[]),
    rebuild=dict(type="bool", default=False),
    keep_previous=dict(type="int", default=0),
    rollback=dict(type="bool", default=False),
    foreign_files=dict(type="str", default="refuse", choices=["refuse", "carry"]),
    check_dependencies=dict(type="bool", default=True),
    verify_imports=dict(type="list", elements="str", default=[]),
    verify_command=dict(type="list", elements="str", default=[]),
    verify_timeout=dict(type="int", default=300),
    owner=dict(type="str"),
    group=dict(type="str"),
    mode=dict(type="raw"),
    facts=dict(type="list", elements="dict", default=[], options=dict(
        section=dict(type="str", required=True),
        option=dict(type="str", required=True),
        value=dict(type="raw"),
    )),
    facts_file=dict(type="str"),
    facts_dir=dict(type="path", default="/etc/ansible/facts.d"),
    log_file=dict(type="path"),
    seed_cache=dict(type="path"),
    inputs_id=dict(type="str", default=""),
    lock=dict(type="dict", options=dict(
        location=dict(type="str", required=True),
        sha256=dict(type="str", default=""),
        content=dict(type="str"),
    )),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    # The result's path is the venv, not a file this module manages: no stat fields (uid, state, ...).
    module.add_path_info = lambda kwargs: kwargs

    def run(argv, env, timeout=None):
        if timeout is None:
            return module.run_command(argv, environ_update=env, check_rc=False)
        return run_with_timeout(argv, env, timeout)

    # Ansible strips these strings from everything it returns, the invocation included.
    module.no_log_values.update(find_secrets_in(module.params))
    module.no_log_values.update(environment_secrets(module.params["environment"]))
    register_secrets(module.no_log_values)  # and the module's log strips them too
    try:
        spec = VenvSpec(module.params)
        result, warnings = sync(spec, module.check_mode, run)
    except VenvBuildError as exc:
        module.fail_json(msg=mask_text(exc.msg), **exc.details)
    for warning in warnings:
        module.warn(mask_text(warning))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

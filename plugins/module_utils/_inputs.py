# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The desired venv: module parameters validated, normalized and fingerprinted.

Everything here is decided before anything on the host changes, so bad input fails early.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shlex
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wheelhouse.venv.plugins.module_utils import _constraintfiles as cfiles, _masking as masking, _pep508 as pep508
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._hostfiles import LOG_DIR

FINGERPRINT_FORMAT = 1
# Distributions the venv tools put there themselves; prune never removes them.
SEED_PACKAGES = ("pip", "setuptools", "wheel")
# Options of a requirements file that point at other files whose content matters too.
_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s+|=)(?P<path>\S+)")


def normalize_lines(lines):
    """Requirement lines as the installer sees them: comments, blank lines and extra blanks gone."""
    result = []
    for line in lines or []:
        text = pep508.strip_comment(line)
        if text:
            result.append(re.sub(r"\s+", " ", text))
    return result


def render_lines(lines):
    return "".join(line + "\n" for line in lines)


def check_regular_file(path):
    """VenvBuildError unless path is a regular file: reading a FIFO or a device could wait for ever."""
    kind = cfiles.not_regular(path)
    if kind:
        raise VenvBuildError("requirements file %s is not a regular file (it is %s): requirements files and the "
                             "files they include with -r/-c must be regular files" % (path, kind))


# A requirements file larger than this is refused: no real one comes near it, and reading it is bounded.
MAX_REQUIREMENTS_FILE = 4 * 1024 * 1024


def read_requirements_file(path, chain=()):
    """The text of a requirements file (or a file it includes): a regular UTF-8 text file of bounded size.

    chain: the files that include this one, outermost first, named in the errors. VenvBuildError naming the
    file (and the chain) when it cannot be read, is not a regular file, is too large or is binary.
    """
    via = " (included by %s)" % " -> ".join(chain) if chain else ""
    try:
        check_regular_file(path)
        with open(path, "rb") as handle:
            data = handle.read(MAX_REQUIREMENTS_FILE + 1)
    except (IOError, OSError) as exc:
        raise VenvBuildError("requirements file %s%s cannot be read: %s" % (path, via, exc.strerror or exc))
    if len(data) > MAX_REQUIREMENTS_FILE:
        raise VenvBuildError("requirements file %s%s is larger than %d MiB: that is no requirements file"
                             % (path, via, MAX_REQUIREMENTS_FILE // (1024 * 1024)))
    try:
        if b"\0" in data:
            raise ValueError("a NUL byte")
        text = data.decode("utf-8")
    except ValueError:
        raise VenvBuildError("requirements file %s%s is binary (not UTF-8 text): name a requirements file" % (path, via))
    return data, text


def _included(path, text, pattern):
    """The local files text includes (pattern: -r/-c, or -r alone), as absolute paths."""
    found = []
    for line in text.splitlines():
        match = pattern.match(line)
        if match and "://" not in match.group("path"):
            found.append(os.path.abspath(os.path.join(os.path.dirname(path), match.group("path"))))
    return found


def _check_cycle(path, chain):
    if path in chain:
        circle = " -> ".join(list(chain[chain.index(path):]) + [path])
        raise VenvBuildError("requirements file %s includes itself through %s: remove the -r/-c line that closes "
                             "the circle" % (path, circle))


def file_digests(paths, seen=None, chain=()):
    """sha256 of each requirements file and of every file it includes with -r/-c, in order.

    A file that includes itself, directly or through others, is refused naming the circle.
    """
    seen = seen if seen is not None else []
    digests = []
    for path in paths:
        path = os.path.abspath(path)
        _check_cycle(path, chain)
        if path in seen:
            continue
        seen.append(path)
        data, text = read_requirements_file(path, chain)
        digests.append({"path": path, "sha256": hashlib.sha256(data).hexdigest()})
        digests.extend(file_digests(_included(path, text, _INCLUDE), seen, tuple(chain) + (path,)))
    return digests


_REQUIREMENT_INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s+|=)(?P<path>\S+)")


def requirement_file_lines(paths, chain=()):
    """The requirement lines of requirements files (options skipped, -r followed), for pruning."""
    lines = []
    for path in paths:
        path = os.path.abspath(path)
        if path in chain:
            continue  # a circle: file_digests refused it before any change
        try:
            content = read_requirements_file(path, chain)[1]
        except VenvBuildError:
            continue
        for line in content.replace("\\\n", " ").splitlines():
            text = pep508.strip_comment(line)
            include = _REQUIREMENT_INCLUDE.match(text)
            if include:
                lines.extend(requirement_file_lines(_included(path, text, _REQUIREMENT_INCLUDE), tuple(chain) + (path,)))
            elif text and (not text.startswith("-") or re.match(r"^(?:-e|--editable)\b", text)):
                lines.append(text)
    return lines


def find_on_path(name, search_path=None):
    """The first executable file called name in the folders of PATH (or search_path), or None."""
    for folder in (search_path if search_path is not None else os.environ.get("PATH", "")).split(os.pathsep):
        candidate = os.path.join(folder, name)
        if folder and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_interpreter(python, search_path=None):
    """Absolute path of the interpreter named by `python`, or VenvBuildError naming it."""
    if os.sep in python:
        if os.path.isfile(python) and os.access(python, os.X_OK):
            return os.path.abspath(python)
        raise VenvBuildError("python interpreter %s does not exist or is not executable" % python)
    found = find_on_path(python, search_path)
    if found:
        return found
    raise VenvBuildError("python interpreter %r was not found on PATH (%s)"
                         % (python, search_path if search_path is not None else os.environ.get("PATH", "")))


def _check_fact(item):
    """Refuse a fact that ansible.builtin.setup would not read back as written (its INI loader is configparser)."""
    if not isinstance(item, dict) or not all(item.get(k) not in (None, "") for k in ("section", "option")):
        raise VenvBuildError("facts: every item needs a section and an option, got %r" % (item,))
    section, option, value = str(item["section"]), str(item["option"]), item.get("value")
    for key, text in (("section", section), ("option", option)):
        if re.search(r"[\[\]=\n\r]", text) or text != text.strip():
            raise VenvBuildError("facts: %s %r may not contain '[', ']', '=', a line break, nor start or end with "
                                 "white space" % (key, text))
    if section == "DEFAULT":
        raise VenvBuildError("facts: section 'DEFAULT' is the INI loader's defaults for every section, not a "
                             "section of its own: choose another name")
    if ":" in option or option[0] in "#;":
        raise VenvBuildError("facts: option %r may not contain ':' nor start with '#' or ';' (the INI loader reads "
                             "them as a separator or a comment)" % option)
    value = "" if value is None else str(value)
    if re.search(r"[\n\r]", value) or value != value.strip():
        raise VenvBuildError("facts: the value of %s.%s (%r) may not contain a line break nor start or end with white "
                             "space: ansible.builtin.setup would not read it back as written"
                             % (section, option, masking.mask_text(value)))


def _check_url_list(values, option):
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise VenvBuildError("%s: empty or non-string item %r" % (option, value))
        if re.search(r"\s", value.strip()):
            raise VenvBuildError("%s: %r contains white space" % (option, masking.mask_text(value)))


def _lock_record(lock):
    """{location, sha256} of the lock option (credentials stripped from the location), {} when not given.

    With lock.content, the sha256 is that of the content: lock.sha256, when given, must be the same.
    """
    if not lock:
        return {}
    location = masking.strip_credentials(str(lock.get("location") or "").strip())
    sha256 = str(lock.get("sha256") or "").strip().lower()
    if not location:
        raise VenvBuildError("lock.location must name the lock file (a path or URL of pylock.<name>.toml), got %r"
                             % lock.get("location"))
    if sha256 and not re.match(r"^[0-9a-f]{64}$", sha256):
        raise VenvBuildError("lock.sha256 must be 64 hexadecimal digits (the sha256 of the lock file's content, as "
                             "venv_wheel_build returns it in lock_sha256), got %r" % lock.get("sha256"))
    content = lock.get("content")
    if content is not None:
        digest = hashlib.sha256(str(content).encode("utf-8")).hexdigest()
        if sha256 and digest != sha256:
            raise VenvBuildError("lock.content is not the lock of lock.sha256: the content given has sha256 %s, "
                                 "lock.sha256 is %s (pass the text venv_wheel_build returns in lock_content with "
                                 "its lock_sha256, unchanged)" % (digest, sha256))
        sha256 = digest
    return {"location": location, "sha256": sha256}


def _check_verifications(verify_imports, verify_command):
    for name in verify_imports:
        if not name or not all(part.isidentifier() for part in name.split(".")):
            raise VenvBuildError("verify_imports: %r is not a module name: give names as an import statement takes "
                                 "them (yaml, email.mime.text)" % name)
    if verify_command and not verify_command[0].strip():
        raise VenvBuildError("verify_command: the first item must be the command to run (a name looked up on PATH with "
                             "the venv's bin first, or an absolute path), got %r" % masking.mask_text(verify_command[0]))
    if len(verify_command) == 1 and re.search(r"\s", verify_command[0].strip()) and not os.path.exists(verify_command[0]):
        raise VenvBuildError("verify_command is a list of arguments, run without a shell; %r is one argument: split "
                             "it, e.g. [%s]" % (masking.mask_text(verify_command[0]),
                                                ", ".join(masking.mask_text(verify_command[0]).split())))


# Local archives pip installs from a path; any other existing file named in requirements is a requirements file.
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar")


def _check_not_a_requirements_file(line, option="requirements"):
    """Refuse a requirements line that names a requirements file (the ansible.builtin.pip habit)."""
    token = line.split(" ")[0]
    if "://" in token or token.startswith("-") or " @ " in line:
        return
    path = os.path.expanduser(token)
    is_path = "/" in token or token.startswith("~")
    named_like_one = re.search(r"(?:^|/)(?:requirements|constraints)[\w.-]*\.txt$", token, re.I)
    if named_like_one or (token.lower().endswith(".txt") and (is_path or os.path.isfile(path))) or \
            (is_path and os.path.isfile(path) and not token.lower().endswith(_ARCHIVES)):
        what = "list it in requirements_files instead" if option == "requirements" else "list its lines instead"
        raise VenvBuildError("%s: %r is a requirements file, not a requirement: %s" % (option, token, what))


# Folders a venv never is: the file system's top level as the FHS and the distributions lay it out, and the
# children of /usr, /usr/local and /var that hold the system's own files. A venv there would mix with what
# the system keeps in it, and a rebuild, foreign_files=carry or state=absent would move or remove it.
SYSTEM_TOP = ("bin", "boot", "dev", "efi", "etc", "home", "lib", "lib32", "lib64", "libx32", "lost+found", "media",
              "mnt", "opt", "proc", "root", "run", "sbin", "snap", "srv", "sys", "tmp", "usr", "var")
SYSTEM_CHILDREN = {
    "/usr": ("bin", "games", "include", "lib", "lib32", "lib64", "libexec", "libx32", "local", "sbin", "share", "src"),
    "/usr/local": ("bin", "etc", "games", "include", "lib", "lib64", "libexec", "man", "sbin", "share", "src"),
    "/var": ("backups", "cache", "db", "empty", "games", "lib", "local", "lock", "log", "mail", "opt", "run", "spool",
             "tmp", "www"),
}


def system_directory_problem(path):
    """Why path (absolute, normalized) may not be a venv, or None: a system directory or a user's home directory.

    The path as given and the folder it resolves to (through links) are both checked, so a link to /usr is
    refused too.
    """
    homes = {}
    try:
        for entry in pwd.getpwall():
            home = os.path.normpath(entry.pw_dir or "/")
            if home != "/":
                homes.setdefault(home, entry.pw_name)
    except (OSError, KeyError):  # no user database readable: the other rules still hold
        pass
    for candidate in (path, os.path.realpath(path)):
        parent, name = os.path.split(candidate)
        if candidate == "/" or (parent == "/" and name in SYSTEM_TOP) or name in SYSTEM_CHILDREN.get(parent, ()):
            what = "a system directory"
        elif candidate in homes:
            what = "the home directory of the user %s" % homes[candidate]
        elif parent == "/home":
            what = "a home directory (a folder of /home)"
        else:
            continue
        shown = path if candidate == path else "%s (which leads to %s)" % (path, candidate)
        return ("path %s is %s: a venv there would mix with what is kept in it, and a rebuild or state=absent would "
                "move or remove those files. Give the venv a folder of its own, such as /opt/venvs/<name> or "
                "<home>/venvs/<name>" % (shown, what))
    return None


class VenvSpec(object):
    """The venv the user asked for (module parameters, checked and normalized)."""

    def __init__(self, params):
        self.path = params["path"]
        if not self.path or not os.path.isabs(self.path):
            raise VenvBuildError("path must be an absolute path, got %r" % self.path)
        self.path = os.path.normpath(self.path)
        if self.path == "/":
            raise VenvBuildError("path must not be /")
        problem = system_directory_problem(self.path)
        if problem:
            raise VenvBuildError(problem)
        self.state = params.get("state") or "present"
        self.python = params.get("python") or "python3"
        self.virtualenv_command = params.get("virtualenv_command") or "venv"
        self.system_site_packages = bool(params.get("system_site_packages"))
        self.install_tool = params.get("install_tool") or "pip"
        self.uv_executable = params.get("uv_executable")
        self.package_state = params.get("package_state") or "present"
        self.prune = bool(params.get("prune"))
        self.rebuild = bool(params.get("rebuild"))
        # earlier venvs kept beside the live one (_releases.py), and the switch back to the newest of them
        self.keep_previous = params.get("keep_previous") or 0
        self.rollback = bool(params.get("rollback"))
        self.foreign_files = params.get("foreign_files") or "refuse"
        if self.foreign_files not in ("refuse", "carry"):
            raise VenvBuildError("foreign_files must be refuse or carry, got %r" % self.foreign_files)
        self.require_hashes = bool(params.get("require_hashes"))
        # pip brought to the newest version the index and constraints allow, before each install (pip only)
        self.upgrade_pip = bool(params.get("upgrade_pip"))
        if self.upgrade_pip and self.require_hashes:
            raise VenvBuildError("upgrade_pip cannot be used with require_hashes: pip's own wheel would be installed "
                                 "without a hash. Pin pip with its hash in build_requirements instead "
                                 "(pip==X.Y --hash=sha256:...)")
        self.owner = params.get("owner")
        self.group = params.get("group")
        self.mode = params.get("mode")
        self.facts = params.get("facts") or []
        self.facts_dir = params.get("facts_dir") or "/etc/ansible/facts.d"
        self.facts_file = params.get("facts_file") or os.path.basename(self.path)
        self.log_file = params.get("log_file") or default_log_file(self.path)
        self.seed_cache = params.get("seed_cache")  # None: the user's default (_seed.default_root)
        self.verify_timeout = params.get("verify_timeout")
        if self.verify_timeout is None:
            self.verify_timeout = 300
        if not isinstance(self.verify_timeout, int) or isinstance(self.verify_timeout, bool) or self.verify_timeout < 1:
            raise VenvBuildError("verify_timeout must be a whole number of seconds of 1 or more, got %r"
                                 % (self.verify_timeout,))
        self.inputs_id = (params.get("inputs_id") or "").strip()
        # the lock file the packages come from, recorded in the state file (not part of the fingerprint)
        self.lock = _lock_record(params.get("lock"))
        # where to read it, as given (credentials kept: never shown, logged nor recorded): its hashes go in the SBOM
        self.lock_source = str((params.get("lock") or {}).get("location") or "").strip()
        # or its text, given with it (the lock is not where the target can read it): read instead of lock_source
        content = (params.get("lock") or {}).get("content")
        self.lock_content = None if content is None else str(content)

        self.requirements = normalize_lines(params.get("requirements"))
        self.requirements_files = [os.path.abspath(p) for p in params.get("requirements_files") or []]
        # installed by an installer run of their own before the requirements (build tools, setuptools)
        self.build_requirements = normalize_lines(params.get("build_requirements"))
        self.constraints = normalize_lines(params.get("constraints"))
        self.global_constraints = normalize_lines(params.get("global_constraints"))
        self.find_links = [v.strip() for v in params.get("find_links") or []]
        self.index_url = (params.get("index_url") or "").strip() or None
        self.extra_index_urls = [v.strip() for v in params.get("extra_index_urls") or []]
        self.no_index = bool(params.get("no_index"))
        self.trusted_hosts = [v.strip() for v in params.get("trusted_hosts") or []]
        extra_args = params.get("extra_args") or ""
        try:
            self.extra_args = shlex.split(extra_args)
        except ValueError as exc:
            raise VenvBuildError("extra_args cannot be split into arguments (%s): %s"
                                 % (exc, masking.mask_text(extra_args)))
        self.linked_distro_packages = []
        for name in params.get("linked_distro_packages") or []:
            name = str(name).strip()
            if name not in self.linked_distro_packages:
                self.linked_distro_packages.append(name)
        self.environment = dict((str(k), "" if v is None else str(v)) for k, v in (params.get("environment") or {}).items())
        # verifications after the installer ran (not part of the fingerprint: they change nothing in the venv)
        self.check_dependencies = params.get("check_dependencies") is not False
        self.verify_imports = [str(name).strip() for name in params.get("verify_imports") or []]
        self.verify_command = ["" if arg is None else str(arg) for arg in params.get("verify_command") or []]
        self._validate()

    def _validate(self):
        if self.state not in ("present", "absent"):
            raise VenvBuildError("state must be present or absent, got %r" % self.state)
        if isinstance(self.keep_previous, bool) or not isinstance(self.keep_previous, int) or self.keep_previous < 0:
            raise VenvBuildError("keep_previous must be a number of earlier venvs to keep (0 keeps none), got %r"
                                 % (self.keep_previous,))
        if self.rollback and (self.rebuild or self.state == "absent"):
            raise VenvBuildError("rollback=true switches back to a kept venv: it cannot go with %s"
                                 % ("rebuild=true" if self.rebuild else "state=absent"))
        self.parsed_requirements = pep508.parse_lines(self.requirements, "requirements")
        self.parsed_build_requirements = pep508.parse_lines(self.build_requirements, "build_requirements")
        # '-c <path or URL>' lines are checked here (form only) and read by load_constraint_files
        self.parsed_constraints = pep508.parse_constraint_lines(cfiles.split_lines(self.constraints, "constraints")[0],
                                                                "constraints")
        self.parsed_global_constraints = pep508.parse_constraint_lines(
            cfiles.split_lines(self.global_constraints, "global_constraints")[0], "global_constraints")
        self._referenced = None
        _check_url_list(self.find_links, "find_links")
        _check_url_list(self.extra_index_urls, "extra_index_urls")
        if self.index_url:
            _check_url_list([self.index_url], "index_url")
        for item in self.facts:
            _check_fact(item)
        for name in self.linked_distro_packages:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9.+_:~-]*$", name):
                raise VenvBuildError("linked_distro_packages: %r is not a distribution package name" % name)
        if "/" in self.facts_file:
            raise VenvBuildError("facts_file must be a file name without '/', got %r" % self.facts_file)
        if self.mode is not None:
            try:
                self.wanted_mode(os.stat_result((stat.S_IFDIR | 0o755,) + (0,) * 9))
            except ValueError as exc:
                raise VenvBuildError("mode must be an octal number (0755, '0755', '755') or a symbolic mode "
                                     "('u=rwx,g=rx,o=rx', 'g+w') as ansible.builtin.file takes it, got %r: %s"
                                     % (self.mode, exc))
        for line in self.requirements:
            _check_not_a_requirements_file(line)
        for line in self.build_requirements:
            _check_not_a_requirements_file(line, "build_requirements")
        _check_verifications(self.verify_imports, self.verify_command)

    def wanted_mode(self, path_stat):
        """The permission bits mode asks for, given the directory's current stat (symbolic modes are relative)."""
        mode = self.mode
        if isinstance(mode, bool) or (isinstance(mode, str) and not mode.strip()):
            raise ValueError("neither a boolean nor an empty string is a mode")
        if isinstance(mode, str) and re.match(r"^(?:0o?)?[0-7]{1,4}$", mode.strip()):
            mode = int(re.sub(r"^0o", "", mode.strip()), 8)
        elif isinstance(mode, str):
            # ansible-core's own parser of symbolic modes, as ansible.builtin.file uses it
            mode = AnsibleModule._symbolic_mode_to_octal(path_stat, mode)  # pylint: disable=protected-access
        if not isinstance(mode, int) or mode < 0 or mode != stat.S_IMODE(mode):
            raise ValueError("only permission bits (0 to 07777) are allowed")
        return mode

    # --- what the installer gets ---------------------------------------------------------

    @property
    def requirements_text(self):
        lines = list(self.requirements)
        lines.extend("-r %s" % path for path in self.requirements_files)
        return render_lines(lines)

    def load_constraint_files(self):
        """Read the constraints files that '-c <x>' lines reference (once): {key: {index: Referenced}}."""
        if self._referenced is None:
            self._referenced = dict(
                (key, cfiles.load(getattr(self, key), key, self.trusted_hosts, self.environment))
                for key in ("constraints", "global_constraints"))
        return self._referenced

    @property
    def constraint_file_digests(self):
        """{where: sha256} of the referenced constraints files (no credentials), recorded in the state file."""
        found = {}
        for loaded in self.load_constraint_files().values():
            found.update(cfiles.digests(loaded))
        return found

    @property
    def constraints_text(self):
        return render_lines(cfiles.expand(self.constraints, self.load_constraint_files()["constraints"]))

    @property
    def global_constraints_text(self):
        return render_lines(cfiles.expand(self.global_constraints, self.load_constraint_files()["global_constraints"]))

    @property
    def build_requirements_text(self):
        return render_lines(self.build_requirements)

    @property
    def has_requirements(self):
        return bool(self.requirements or self.requirements_files)

    @property
    def installs(self):
        """Whether an install runs the installer at all (build requirements, requirements or both)."""
        return bool(self.build_requirements) or self.has_requirements

    def fingerprint_inputs(self, python_version):
        """What decides the venv's content; credentials are left out so a rotated password rebuilds nothing."""
        inputs = {
            "format": FINGERPRINT_FORMAT,
            "python": ".".join(python_version.split(".")[:2]),
            "virtualenv_command": self.virtualenv_command,
            "system_site_packages": self.system_site_packages,
            "install_tool": self.install_tool,
            "requirements": self.requirements,
            "requirements_files": file_digests(self.requirements_files),
            # a referenced file counts with its content (its sha256), not its credentials
            "constraints": cfiles.expand(self.constraints, self.load_constraint_files()["constraints"], inline=False),
            "global_constraints": cfiles.expand(self.global_constraints, self.load_constraint_files()["global_constraints"],
                                                inline=False),
            "find_links": [masking.strip_credentials(v) for v in self.find_links],
            "index_url": masking.strip_credentials(self.index_url or ""),
            "extra_index_urls": [masking.strip_credentials(v) for v in self.extra_index_urls],
            "no_index": self.no_index,
            "trusted_hosts": self.trusted_hosts,
            "extra_args": [masking.strip_credentials(a) for a in self.extra_args],
            "environment": dict((k, masking.strip_credentials(v)) for k, v in self.environment.items()),
            "require_hashes": self.require_hashes,
            "package_state": self.package_state,
            "prune": self.prune,
        }
        if self.build_requirements:  # only when given: venvs made before the option keep their fingerprint
            inputs["build_requirements"] = self.build_requirements
        return inputs

    def fingerprint(self, python_version):
        inputs = self.fingerprint_inputs(python_version)
        if self.inputs_id:  # only when given: the fingerprints of venvs made without one stay the same
            inputs["inputs_id"] = self.inputs_id
        data = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(data.encode("utf-8")).hexdigest()

    def check_conflicts(self, env):
        """Fail when an exact pin on one side cannot satisfy the other side (requirements vs constraints)."""
        loaded = self.load_constraint_files()
        sides = [("requirements", self.parsed_requirements), ("build_requirements", self.parsed_build_requirements),
                 ("constraints", self.parsed_constraints)]
        sides += cfiles.conflict_sides(loaded["constraints"], "constraints")
        sides.append(("global_constraints", self.parsed_global_constraints))
        sides += cfiles.conflict_sides(loaded["global_constraints"], "global_constraints")
        for i, (name_a, side_a) in enumerate(sides):
            for name_b, side_b in sides[i + 1:]:
                for a in side_a:
                    if not a.name or not a.applies(env):
                        continue
                    for b in side_b:
                        if b.name != a.name or not b.applies(env):
                            continue
                        for pinned, other, pinned_in, other_in in ((a, b, name_a, name_b), (b, a, name_b, name_a)):
                            pin = pinned.exact_pin
                            if pin and other.specifiers and not _pin_satisfies(pin, other.specifiers):
                                raise VenvBuildError(
                                    "%s line %r conflicts with %s line %r: %s %s is not allowed by %s"
                                    % (other_in, other.line.strip(), pinned_in, pinned.line.strip(), a.name, pin,
                                       ",".join(str(s) for s in other.specifiers)))


def _pin_satisfies(pin, specifiers):
    try:
        return pep508.specifiers_contain(specifiers, pin)
    except ValueError:
        return True  # an arbitrary '===' pin: leave the verdict to the installer


def escaped_path(path):
    """path as systemd-escape --path writes it: '/' -> '-'; '-', a first '.' and other bytes -> \\xNN."""
    name = []
    for index, char in enumerate(path.strip("/").encode("utf-8")):
        char = chr(char)
        if char == "/":
            name.append("-")
        elif (char.isalnum() and char.isascii()) or char in ":_" or (char == "." and index > 0):
            name.append(char)
        else:
            name.append("\\x%02x" % ord(char))
    return "".join(name) or "-"


def default_log_file(path):
    """Root logs under /var/log like other services, named after the whole venv path; anyone else next to the venv."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return os.path.join(LOG_DIR, escaped_path(os.path.normpath(path)) + ".log")
    name = os.path.basename(path.rstrip("/")) or "venv"
    return os.path.join(os.path.dirname(path.rstrip("/")), "." + name + ".venv_build.log")

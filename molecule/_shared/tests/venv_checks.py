"""Checks of the demo venv (molecule/_shared/vars/demo_venv.yml) on one target, shared by the scenarios' tests.

Each function takes a testinfra host and asserts; the scenarios' test modules call them per target. Each check asks
its host once (one `podman exec`: state() or probe()), not once per file, command or package as testinfra's
host.file, host.exists and host.package do: a `podman exec` costs about 0.12 s of CPU (podman, conmon and runc),
and verify made some 130 of them in scenario default.
"""

import functools
import json
import os
import re
import subprocess

import testinfra
import testinfra.utils.ansible_runner

VENV = "/opt/venvs/demo"
MODULES = ("six", "idna", "markupsafe", "markupsafe._speedups", "wh_alpha", "wh_beta", "apt_pkg")
FACT_FILE = "/etc/ansible/facts.d/wheelhouse_venv.fact"
HANDLER_LOG = "/var/tmp/wh-venv-changed.log"

# Prints what the venv's Python sees: installed versions, and where each module comes from.
_PROBE = r"""
import importlib, importlib.metadata as md, json, os, re, sys
mods = {}
for name in sys.argv[1:]:
    m = importlib.import_module(name)
    mods[name] = {"file": m.__file__, "real": os.path.realpath(m.__file__)}
dists, installers, tags = {}, {}, {}
for d in md.distributions():
    key = re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
    dists[key] = d.version
    installers[key] = (d.read_text("INSTALLER") or "").strip()
    tags[key] = [l.split(":", 1)[1].strip() for l in (d.read_text("WHEEL") or "").splitlines() if l.startswith("Tag:")]
constraints = os.path.join(sys.prefix, "constraints.txt")
constraints = open(constraints).read() if os.path.exists(constraints) else None
print(json.dumps({"modules": mods, "dists": dists, "installers": installers, "tags": tags, "prefix": sys.prefix,
                  "constraints": constraints}))
"""

# Prints, for the files, commands and packages asked for, what testinfra's host.file(...) (exists, is_file,
# is_directory, mode as `stat -L`, listdir as `ls -1`; content_string of the files to read), host.exists
# (`command -v`) and host.package(...).is_installed (dpkg-query) would answer, and the inode and mtime as
# `stat -c %i` / `%Y` (no -L).
_STATE = r"""
import json, os, stat, subprocess, sys
want = json.loads(sys.argv[1])
out = {"files": {}, "commands": {}, "packages": {}}
for path in want["files"] + want["read"]:
    f = out["files"][path] = {"exists": os.path.exists(path), "is_file": os.path.isfile(path),
                              "is_directory": os.path.isdir(path)}
    if os.path.lexists(path):
        st = os.lstat(path)
        f.update(inode=st.st_ino, mtime=int(st.st_mtime))
    if f["exists"]:
        f["mode"] = stat.S_IMODE(os.stat(path).st_mode)
    if path in want["read"] and f["is_file"]:
        with open(path, "rb") as fh:
            f["content"] = fh.read().decode()
    if f["is_directory"]:
        f["entries"] = sorted(e for e in os.listdir(path) if not e.startswith("."))
for name in want["commands"]:
    out["commands"][name] = subprocess.run(["sh", "-c", 'command -v "$1"', "sh", name],
                                           stdout=subprocess.DEVNULL).returncode == 0
for name in want["packages"]:
    r = subprocess.run(["dpkg-query", "-f", "${Status}", "-W", name], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        sys.exit("dpkg-query %s: %s" % (name, r.stderr))
    words = r.stdout.split()
    out["packages"][name] = r.returncode == 0 and words[:1] in (["install"], ["hold"]) and words[1:3] == ["ok", "installed"]
print(json.dumps(out))
"""


def normalize(name):
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


@functools.lru_cache(maxsize=None)
def _inventory():
    """The scenario's inventory, read once per verify run: each AnsibleRunner runs `ansible-inventory --list`
    again (about 1 s of CPU), and the inventory does not change while the tests run."""
    return testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])


def host_names(group):
    """The inventory names of an inventory group's hosts (never empty)."""
    names = _inventory().get_hosts(group)
    assert names, f"inventory group {group} is empty"
    return names


def hosts_of(group):
    """Host specs of an inventory group, for testinfra_hosts (podman exec, not an ansible run per command)."""
    return [f"podman://{name}" for name in host_names(group)]


def inventory_var(host, name):
    """A variable of this host (a testinfra host or an inventory name) in the scenario's inventory (molecule.yml),
    for example venv_install_tool: the host's own value, its host_vars over its groups' group_vars."""
    hostname = host if isinstance(host, str) else host.backend.name
    return _inventory().get_variables(hostname)[name]


def _run_json(host, argv):
    return json.loads(host.check_output(" ".join(["%s"] * len(argv)), *argv))


def state(host, files=(), read=(), commands=(), packages=()):
    """What the host holds, asked in one command: {"files": {path: {exists, is_file, is_directory, mode, inode, mtime,
    entries (directories), content (the files in read, as text)}}, "commands": {name: on PATH}, "packages": {name:
    installed}}."""
    want = {"files": list(files), "read": list(read), "commands": list(commands), "packages": list(packages)}
    return _run_json(host, ["python3", "-c", _STATE, json.dumps(want)])


def probe(host, venv=VENV, modules=MODULES):
    """Imports the modules with the venv's Python; returns what it saw, and the text of its constraints.txt (None
    without one), in one command (fails when an import fails)."""
    return _run_json(host, [f"{venv}/bin/python", "-c", _PROBE, *modules])


def parse_pins(text):
    """The exact pins of a constraints file's text: {normalized name: version}."""
    assert text is not None, "the venv has no constraints.txt"
    result = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and "@" not in line:
            name, version = line.split("==", 1)
            result[normalize(name.split("[")[0])] = version.split(";")[0].strip()
    return result


def assert_imports_and_pins(host, venv=VENV, pinned=("six", "idna", "markupsafe", "wh-alpha", "wh-beta")):
    seen = probe(host, venv)
    assert seen["prefix"] == venv
    # markupsafe was built from its sdist (a wheel from PyPI would be tagged manylinux), with its C extension.
    assert seen["modules"]["markupsafe._speedups"]["file"].endswith(".so")
    assert seen["tags"]["markupsafe"] and all(t.endswith("-linux_x86_64") for t in seen["tags"]["markupsafe"]), seen["tags"]
    # apt_pkg is the distribution's, linked into the venv.
    apt = seen["modules"]["apt_pkg"]
    assert apt["file"].startswith(venv + "/"), apt
    assert apt["real"].startswith("/usr/lib/python3/dist-packages/"), apt
    assert seen["constraints"] is not None, f"no {venv}/constraints.txt"
    expected = parse_pins(seen["constraints"])
    for name in pinned:
        assert name in expected, f"{name} has no exact pin in {venv}/constraints.txt: {expected}"
    for name, version in expected.items():
        assert seen["dists"].get(name) == version, f"{name}: installed {seen['dists'].get(name)}, pinned {version}"
    # Each distribution records the tool that installed it (INSTALLER): the scenario's, not another.
    tool = inventory_var(host, "venv_install_tool")
    for name in expected:
        assert seen["installers"].get(name) == tool, f"{name} installed by {seen['installers'].get(name)!r}, not {tool}"
    return seen


def assert_no_compiler(host):
    tools, packages = ("gcc", "cc", "x86_64-linux-gnu-gcc"), ("python3-dev", "libc6-dev", "build-essential")
    seen = state(host, commands=tools, packages=packages)
    for tool in tools:
        assert not seen["commands"][tool], f"{tool} on a target"
    for package in packages:
        assert not seen["packages"][package], f"{package} on a target"


def assert_facts(host, venv=VENV):
    """The facts file records the venv; returns its text."""
    fact = state(host, read=[FACT_FILE])["files"][FACT_FILE]
    assert fact["is_file"]
    assert fact["mode"] == 0o644
    text = fact["content"]
    assert "[demo]" in text
    assert f"venv_path = {venv}" in text or f"venv_path={venv}" in text, text
    return text


def handler_runs(host):
    """How many converges changed the venv: the converge's 'venv changed' handler appends a line each time."""
    log = state(host, read=[HANDLER_LOG])["files"][HANDLER_LOG]
    assert log["is_file"], "the 'venv changed' handler never ran"
    return len(log["content"].splitlines())


def assert_ssh_logins(host):
    """sshd on the host logged logins with this run's key (scripts/env.sh wh_ssh_setup): the plays came over SSH."""
    public_key = os.path.join(os.environ["WH_SSH_DIR"], "id_ed25519.pub")
    # "256 SHA256:... comment (ED25519)": sshd logs the key by this fingerprint.
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", public_key], check=True, capture_output=True,
                                 text=True).stdout.split()[1]
    log = host.file("/var/log/sshd.log").content_string
    accepted = [line for line in log.splitlines() if line.startswith("Accepted publickey for root ")]
    assert accepted, f"sshd accepted no login: the plays did not come over SSH\n{log[-2000:]}"
    assert all(line.endswith(fingerprint) for line in accepted), (fingerprint, accepted)

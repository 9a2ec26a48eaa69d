# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet benchmark (issue 5): the role on podman containers, 1 to 8 targets, against index installs.

  .venv/bin/python bench/fleet_bench.py [--runs 3] [--sizes 1,2,4,8] [--phases cold,warm,noop]
                                        [--only role-pip,role-uv,role-nowheels,builtin-pip,empty] [--write-docs]

Hosts: a build host whb-repo (image bookworm-build, nginx serving the wheel tree) and N targets
whb-t1..whb-tN (image bookworm, no compiler) on the podman network whb-net, reached with the
containers.podman.podman connection, forks N+1. Workload: bench/workloads/service40 (40 pinned
distributions; markupsafe and simplejson compiled from their sdists by every contender that builds:
PIP_NO_BINARY / UV_NO_BINARY_PACKAGE in its build environment).

Contenders (the same workload, the same forks): role-pip and role-uv (the role with the build host,
targets pulling wheels over HTTP, venv_install_tool pip or uv), role-nowheels (the role with
venv_wheel_build_enable false: every target installs the compiler and builds), builtin-pip (a plain
play: apt build-essential python3-dev, ansible.builtin.pip with the requirements file and -c
constraints) and empty (facts and one ping: what every play costs anyway).

Phases, for every N: cold (fresh targets and a fresh build host without wheels), warm (fresh targets,
the build host already holding the wheels of both tools; the floors, by hand in a fresh target with
podman exec, at N=1), no-op (the same play again on converged targets). Every run starts from fresh
containers of images prepared once (untimed; `podman commit`), contenders rotate round after round
(benchlib.measure), and all whb- containers are removed at exit. Figures go to bench/results/ (JSON
and Markdown), the chart to docs/img/fleet_bench.png; --write-docs also fills docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib as bl  # noqa: E402  (bench/ is not a package)

WORK = os.path.join(bl.CACHE, "work", "fleet_bench")
DOC = os.path.join(bl.REPO, "docs", "benchmarks.md")

os.environ.setdefault("CONTAINERS_CONF", os.path.join(bl.REPO, "tests", "podman", "containers.conf"))

PREFIX = "whb-"
NETWORK = "whb-net"
REPO_HOST = "whb-repo"
BASE_TARGET_IMAGE = "localhost/wheelhouse-test:bookworm"
BASE_BUILD_IMAGE = "localhost/wheelhouse-test:bookworm-build"
IMAGES = {
    "target-prepared": "localhost/whb-target:prepared",
    "repo-prepared": "localhost/whb-repo:prepared",
    "repo-warm": "localhost/whb-repo:warm",  # the wheels of both tools built
    "target-converged": "localhost/whb-target:converged",  # the venvs of every contender installed
}
REPO_URL = "http://%s:8181" % REPO_HOST
# Containers carry this label: cleanup removes only what a run of this script started.
OWNER_LABEL = "whb.owner=fleet_bench"
REPO_PATH = "/var/www/repo"
FILES_DIR = "/opt/bench-files"
APT_VALID = 604800  # the images carry this week's package lists (scripts/images.sh)

NO_BINARY = ("markupsafe", "simplejson")
NO_BINARY_ENV = {"PIP_NO_BINARY": ",".join(NO_BINARY), "UV_NO_BINARY_PACKAGE": " ".join(NO_BINARY)}

PHASES = ("ping", "cold", "warm", "noop")
CONVERGE_PHASES = PHASES[1:]
# How the plays reach the hosts (--connection): ssh as operators do (sshd in every container, this run's key pair,
# known_hosts and ssh config from scripts/env.sh wh_ssh_setup, pipelining, ControlPersist), or podman's own
# connection plugin (several podman exec per task). The phase ping measures both, whatever --connection says.
CONNECTIONS = ("ssh", "podman")
SSH_DIR = os.path.join(bl.REPO, ".tmp", "ssh", "fleet")
SSHD = "/usr/sbin/sshd -D -E /var/log/sshd.log"
SETUP = {"connection": "ssh"}
PING_CONTENDERS = ("ping-ssh", "ping-podman")
PINGS = 10  # ping tasks of bench/playbooks/fleet_ping.yml
CONTENDERS = ("role-pip", "role-uv", "role-nowheels", "builtin-pip", "empty")
LABELS = {
    "role-pip": "role, build host, pip",
    "role-uv": "role, build host, uv",
    "role-nowheels": "role, wheel building disabled",
    "builtin-pip": "ansible.builtin.pip play",
    "empty": "empty play (facts + ping)",
    "floor-pip": "floor: venv + pip install",
    "floor-uv": "floor: uv install + uv venv + uv pip install",
    "ping-ssh": "%d ping tasks over ssh (pipelining, ControlPersist)" % PINGS,
    "ping-podman": "%d ping tasks over containers.podman.podman" % PINGS,
}
VENVS = {"role-pip": "/opt/venvs/svc-pip", "role-uv": "/opt/venvs/svc-uv",
         "role-nowheels": "/opt/venvs/svc-nowheels", "builtin-pip": "/opt/venvs/svc-builtin"}
ROLE_CONTENDERS = ("role-pip", "role-uv", "role-nowheels")
# Contenders that never use the build host: their warm converge is their cold one (not measured twice).
NO_BUILD_HOST = ("role-nowheels", "builtin-pip")

INSTALL_TASK = re.compile(r"(^|: )Install the venv( |$)")
BUILD_TASK = re.compile(r"(^|: )Build the wheels of ")
PING_TASK = re.compile(r"(^|: )Answer ping$")
PING_N_TASK = re.compile(r"(^|: )Ping (\d+)$")

GOAL_FLOOR = 1.3
GOAL_COLD_SPEEDUP = 3.0
GOAL_COLD_SPEEDUP_N = 4
GOAL_NOOP_OVERHEAD = 5.0
GOAL_NOOP_WALL = 1.3

# Rounds of the expensive cells, at most: cold converges at 4 and 8 targets (the default run is estimated
# at about 100 minutes from ESTIMATE; --cold-runs and --cold-sizes cut it down, see bench/README.md).
MAX_RUNS = {("cold", 8): 1, ("cold", 4): 2}
# Seconds of one run (timed play + untimed fresh containers and checks): a + b * N, from development runs.
ESTIMATE = {
    ("cold", "role-pip"): (75, 3), ("cold", "role-uv"): (75, 3), ("cold", "role-nowheels"): (60, 25),
    ("cold", "builtin-pip"): (50, 25), ("cold", "empty"): (8, 1),
    ("warm", "role-pip"): (20, 3), ("warm", "role-uv"): (20, 3), ("warm", "empty"): (8, 1),
    ("warm", "floor-pip"): (15, 0), ("warm", "floor-uv"): (20, 0),
    ("noop", "role-pip"): (12, 1.5), ("noop", "role-uv"): (12, 1.5), ("noop", "role-nowheels"): (12, 1.5),
    ("noop", "builtin-pip"): (12, 2), ("noop", "empty"): (6, 1),
    ("ping", "ping-ssh"): (4, 0.5), ("ping", "ping-podman"): (12, 1),
}
SETUP_ESTIMATE = 300  # prepared images (when missing) and the warm/converged images


def log(text):
    print("fleet: " + text, file=sys.stderr, flush=True)


def doc_marker():
    """The block of docs/benchmarks.md a run fills: one per connection (the podman run of issue 13 stays)."""
    return "fleet_bench" if SETUP["connection"] == "podman" else "fleet_bench_" + SETUP["connection"]


def chart_path():
    return os.path.join(bl.REPO, "docs", "img", doc_marker() + ".png")


# --- podman ---------------------------------------------------------------------------------------

def podman(*args, check=True):
    dummy, proc = bl.run(["podman"] + list(args), env=bl.clean_env(), check=check)
    return proc.stdout.strip()


def our_containers():
    """The containers a run of this script started (by its label), not others that share the name prefix."""
    names = podman("ps", "-a", "--filter", "label=" + OWNER_LABEL, "--format", "{{.Names}}").split()
    return [n for n in names if n.startswith(PREFIX)]


def remove_containers(names=None):
    names = [n for n in (our_containers() if names is None else names) if n.startswith(PREFIX)]
    close_masters(names)
    if names:
        podman("rm", "--force", "--time", "0", *names, check=False)


def cleanup():
    remove_containers()
    if _network_exists():
        podman("network", "rm", "--force", NETWORK, check=False)


def _network_exists():
    dummy, proc = bl.run(["podman", "network", "exists", NETWORK], env=bl.clean_env(), check=False)
    return proc.returncode == 0


def image_label(image, label):
    out = podman("image", "inspect", "--format", "{{index .Labels \"%s\"}}" % label, image, check=False)
    return "" if out.startswith("<no value>") or "Error" in out else out


def image_exists(image):
    dummy, proc = bl.run(["podman", "image", "exists", image], env=bl.clean_env(), check=False)
    return proc.returncode == 0


def start(name, image, repo=False):
    """A container that answers both connections: sshd in the foreground with this run's key (and nginx first on
    the build host)."""
    command = "nginx -c /etc/nginx/nginx.conf; exec %s" % SSHD if repo else "exec %s" % SSHD
    podman("run", "--detach", "--name", name, "--hostname", name, "--network", NETWORK, "--label", OWNER_LABEL,
           "--volume", "%s/id_ed25519.pub:/root/.ssh/authorized_keys:ro" % SSH_DIR, image, "sh", "-c", command)


# --- ssh ------------------------------------------------------------------------------------------

def ssh_setup():
    """This run's key pair, known_hosts and ssh config in SSH_DIR (scripts/env.sh wh_ssh_setup, as molecule's)."""
    script = '. "%s/scripts/env.sh" && wh_ssh_setup "$1"' % bl.REPO
    bl.run(["bash", "-c", script, "ssh_setup", SSH_DIR], env=bl.clean_env())


def close_masters(names):
    """Stop the ssh master connections to these hosts (ControlPersist): a container of the same name started
    next must not be reached through the master of one removed."""
    for name in names:
        if os.path.exists(os.path.join(SSH_DIR, name)):
            bl.run(["ssh", "-F", os.path.join(SSH_DIR, "config"), "-O", "exit", name], env=bl.clean_env(), check=False)


def connection_vars(connection):
    """Inventory variables that reach the hosts over connection."""
    if connection == "podman":
        return {"ansible_connection": "containers.podman.podman"}
    return {"ansible_connection": "ssh", "ansible_ssh_args": "-F %s" % os.path.join(SSH_DIR, "config"),
            "ansible_pipelining": True, "ansible_host_key_checking": True}


def targets(n):
    return ["%st%d" % (PREFIX, i) for i in range(1, n + 1)]


def fresh_fleet(n, repo_image, target_image):
    """Remove every whb- container, start the build host and n targets from these images (untimed)."""
    remove_containers()
    start(REPO_HOST, repo_image, repo=True)
    for name in targets(n):
        start(name, target_image)
    if repo_image != BASE_BUILD_IMAGE:
        wait_for_nginx()


def wait_for_nginx():
    probe = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8181/', timeout=2)"
    for dummy in range(50):
        dummy, proc = bl.run(["podman", "exec", REPO_HOST, "python3", "-c", probe], env=bl.clean_env(), check=False)
        if proc.returncode == 0:
            return
        time.sleep(0.2)
    raise bl.BenchError("nginx does not answer on %s" % REPO_HOST)


def commit(container, image, stamp):
    podman("commit", "--quiet", "--change", "LABEL whb.stamp=%s" % stamp, container, image)


# --- the plays ------------------------------------------------------------------------------------

def write_inventory(n, connection=None):
    connection = connection or SETUP["connection"]
    inventory = {"all": {
        "vars": dict(connection_vars(connection), ansible_python_interpreter="/usr/bin/python3",
                     venv_distro_cache_valid_time=APT_VALID),
        "children": {"repo_all": {"hosts": {REPO_HOST: {}}},
                     "fleet_targets": {"hosts": dict((t, {}) for t in targets(n))}}}}
    path = os.path.join(WORK, "inventory-%d-%s.json" % (n, connection))
    with open(path, "w") as handle:
        json.dump(inventory, handle, indent=1)
    return path


def play_vars(workload, contender):
    if contender == "empty" or contender.startswith("ping-"):
        return {}
    if contender == "builtin-pip":
        return {"bench_venv": VENVS[contender], "bench_files_dir": FILES_DIR,
                "bench_requirements_file": workload.requirements_file,
                "bench_constraints_file": workload.constraints_file,
                "bench_installer_env": NO_BINARY_ENV, "bench_apt_cache_valid_time": APT_VALID}
    data = {
        "venv_install_destination_path": VENVS[contender],
        "venv_pip_packages": workload.requirements,
        "venv_build_constraints": workload.constraints,
        # Debian 12's setuptools 66 cannot build markupsafe 3 (PEP 639) under --no-build-isolation.
        "venv_build_requirements": ["pip>=24", "setuptools>=77", "wheel"],
        "venv_pip_build_env": NO_BINARY_ENV,
        "venv_pip_package_state": "present",
        "venv_install_tool": "uv" if contender == "role-uv" else "pip",
        "venv_wheel_repo_url": REPO_URL,
    }
    if contender == "role-nowheels":
        data.update({"venv_wheel_build_enable": False, "venv_allow_index_installs": True,
                     "venv_pip_install_env": dict(NO_BINARY_ENV, REQUESTS_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt")})
    return data


def playbook_of(contender):
    name = {"empty": "fleet_empty.yml", "builtin-pip": "fleet_pip.yml", "ping-ssh": "fleet_ping.yml",
            "ping-podman": "fleet_ping.yml"}.get(contender, "fleet_role.yml")
    return os.path.join(bl.PLAYBOOKS, name)


def converge(workload, contender, n):
    """One timed ansible-playbook run of contender on n targets; fails when any host failed. The run gets
    `busy`: the CPU seconds the whole machine spent meanwhile (controller, ssh, podman and containers)."""
    connection = contender[len("ping-"):] if contender.startswith("ping-") else None
    before = bl.machine_cpu()
    run = bl.playbook(playbook_of(contender), play_vars(workload, contender), inventory=write_inventory(n, connection),
                      connection=None, args=["--forks", str(n + 1)])
    run.busy = bl.machine_cpu() - before
    return run


def task_seconds(run, pattern):
    found = [t for t in run.tasks if pattern.search(t["name"])]
    return found[0]["seconds"] if found else 0.0


def ping_figures(run):
    """fleet_ping.yml: the first ping task (it opens the connections) and the median of the others."""
    found = sorted((int(PING_N_TASK.search(t["name"]).group(2)), t["seconds"]) for t in run.tasks
                   if PING_N_TASK.search(t["name"]))
    if len(found) != PINGS:
        raise bl.BenchError("fleet_ping.yml ran %d ping tasks, not %d" % (len(found), PINGS))
    return {"first": found[0][1], "ping": statistics.median(s for dummy, s in found[1:])}


def changed_hosts(run):
    return dict((h, s["changed"]) for h, s in run.stats.items() if s.get("changed"))


CHECK_SCRIPT = r"""
import glob, json, os, sys
out = {}
for d in glob.glob(sys.argv[1] + '/lib/python3*/site-packages/*.dist-info'):
    name, version = os.path.basename(d)[:-len('.dist-info')].split('-')[:2]
    tags = []
    if os.path.exists(d + '/WHEEL'):
        tags = [l.split(':', 1)[1].strip() for l in open(d + '/WHEEL') if l.startswith('Tag:')]
    out[name.lower().replace('_', '-').replace('.', '-')] = [version, tags]
print(json.dumps(out))
"""


def check_venvs(workload, contender, venv, hosts):
    """Every pin installed at its version on every host, and the two sdists built here (linux_x86_64)."""
    for host in hosts:
        installed = json.loads(podman("exec", host, "python3", "-c", CHECK_SCRIPT, venv) or "{}")
        wrong = dict((n, (installed.get(n) or [None])[0]) for n, v in workload.pins.items()
                     if (installed.get(n) or [None])[0] != v)
        if wrong:
            raise bl.BenchError("%s left %s on %s without the pinned versions: %s" % (contender, venv, host, wrong))
        for name in NO_BINARY:
            tags = installed[name][1]
            if not tags or not all(t.endswith("-linux_x86_64") for t in tags):
                raise bl.BenchError("%s on %s: %s was not built from its sdist (wheel tags %s)" % (contender, host, name, tags))


def check_build(run, contender, built):
    """The wheel build on the build host ran (cold) or found everything built (warm)."""
    results = [r for t in run.tasks if BUILD_TASK.search(t["name"]) for r in t["hosts"].values()]
    if not results:
        raise bl.BenchError("%s: no wheel build task ran" % contender)
    if any(bool(r.get("changed")) != built for r in results):
        raise bl.BenchError("%s: the wheel build reported changed=%s, expected %s (%s)"
                            % (contender, [r.get("changed") for r in results], built, LABELS[contender]))


def wheel_url():
    """The URL of the wheel folder of the build host's platform (one platform here)."""
    found = podman("exec", REPO_HOST, "sh", "-c", "ls -d %s/wheelhouse/main/*/wheels" % REPO_PATH).split()
    if len(found) != 1:
        raise bl.BenchError("expected one wheel folder on %s, found %s" % (REPO_HOST, found))
    return REPO_URL + found[0][len(REPO_PATH):] + "/"


def check_wheels():
    names = podman("exec", REPO_HOST, "sh", "-c", "ls %s/wheelhouse/main/*/wheels" % REPO_PATH).split()
    for name in NO_BINARY:
        if not any(w.startswith(name + "-") and w.endswith("-cp311-cp311-linux_x86_64.whl") for w in names):
            raise bl.BenchError("the build host has no wheel of %s built from its sdist: %s" % (name, names))
    return names


# --- images (untimed) ----------------------------------------------------------------------------------

def _digest(paths, extra=""):
    sha = hashlib.sha256(extra.encode())
    for top in paths:
        top = os.path.join(bl.REPO, top)
        walk = [(top, [], [""])] if os.path.isfile(top) else os.walk(top)
        for folder, dirs, files in walk:
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name) if name else folder
                if "__pycache__" in path or path.endswith(".pyc"):
                    continue
                sha.update(path.encode())
                with open(path, "rb") as handle:
                    sha.update(handle.read())
    return sha.hexdigest()[:16]


def base_ids():
    return podman("image", "inspect", "--format", "{{.Id}}", BASE_TARGET_IMAGE, BASE_BUILD_IMAGE)


def prepare_images(workload, rebuild=False):
    """localhost/whb-*:prepared once (kept while their inputs stay the same), then, every time the role,
    the plays or the workload changed, :warm (build host with the wheels of both tools) and :converged
    (a target with the venvs of all four contenders). Returns the setup's notes."""
    prepared = _digest(["bench/playbooks/fleet_prepare.yml", "molecule/_shared/prepare.yml", "playbooks"], base_ids())
    if rebuild or any(image_label(IMAGES[k], "whb.stamp") != prepared for k in ("target-prepared", "repo-prepared")):
        log("preparing localhost/whb-target:prepared and localhost/whb-repo:prepared (untimed, ~1 min)")
        fresh_fleet(1, BASE_BUILD_IMAGE, BASE_TARGET_IMAGE)
        bl.playbook(os.path.join(bl.PLAYBOOKS, "fleet_prepare.yml"), {}, inventory=write_inventory(1), connection=None)
        commit("%st1" % PREFIX, IMAGES["target-prepared"], prepared)
        commit(REPO_HOST, IMAGES["repo-prepared"], prepared)
    converged = _digest(["roles", "plugins", "bench/playbooks", "bench/workloads/%s" % workload.name], prepared)
    if rebuild or any(image_label(IMAGES[k], "whb.stamp") != converged for k in ("repo-warm", "target-converged")):
        log("building localhost/whb-repo:warm and localhost/whb-target:converged (untimed, ~4 min)")
        fresh_fleet(1, IMAGES["repo-prepared"], IMAGES["target-prepared"])
        for contender in ("role-pip", "role-uv", "role-nowheels", "builtin-pip"):
            started = time.time()
            converge(workload, contender, 1)
            check_venvs(workload, contender, VENVS[contender], targets(1))
            log("  %s converged on one target in %.0f s" % (contender, time.time() - started))
            again = changed_hosts(converge(workload, contender, 1))
            if again and contender in ROLE_CONTENDERS:
                raise bl.BenchError("%s: the second converge changed %s" % (contender, again))
        check_wheels()
        commit(REPO_HOST, IMAGES["repo-warm"], converged)
        commit("%st1" % PREFIX, IMAGES["target-converged"], converged)
    remove_containers()


# --- cells ----------------------------------------------------------------------------------------

class Progress(object):
    """Estimated seconds of the remaining cells, corrected by how fast the finished ones went."""

    def __init__(self, plan):
        self.plan = plan  # list of (phase, n, contenders, runs)
        self.started = time.time()
        self.done_estimate = 0.0

    @staticmethod
    def cell_estimate(phase, n, contenders, runs):
        return runs * sum(ESTIMATE[(phase, c)][0] + ESTIMATE[(phase, c)][1] * n for c in contenders)

    def total(self):
        return sum(self.cell_estimate(*cell) for cell in self.plan)

    def finished(self, cell):
        self.done_estimate += self.cell_estimate(*cell)

    def eta(self):
        elapsed = time.time() - self.started
        scale = elapsed / self.done_estimate if self.done_estimate else 1.0
        return (self.total() - self.done_estimate) * scale


def cell_runs(phase, n, runs, cold_runs=None):
    if phase == "cold" and cold_runs:
        runs = min(runs, cold_runs)
    return min(runs, MAX_RUNS.get((phase, n), runs))


def cell_contenders(phase, n, only):
    names = [c for c in CONTENDERS if c in only]
    if phase == "ping":
        return list(PING_CONTENDERS)
    if phase == "warm":
        names = [c for c in names if c not in NO_BUILD_HOST]
        if n == 1:
            names += [f for f, c in (("floor-pip", "role-pip"), ("floor-uv", "role-uv")) if c in only]
    return names


def run_cell(workload, phase, n, names, runs, profiles, progress_log):
    hosts = targets(n)
    images = {"ping": (IMAGES["repo-prepared"], IMAGES["target-prepared"]),
              "cold": (IMAGES["repo-prepared"], IMAGES["target-prepared"]),
              "warm": (IMAGES["repo-warm"], IMAGES["target-prepared"]),
              "noop": (IMAGES["repo-warm"], IMAGES["target-converged"])}[phase]
    noop_changes = dict((c, []) for c in names)
    floor_state = {}

    def prepare(name):
        fresh_fleet(n, *images)
        if name.startswith("floor-"):
            floor_state["url"] = wheel_url()
            podman("exec", hosts[0], "mkdir", "-p", FILES_DIR)
            for path in (workload.requirements_file, workload.constraints_file):
                podman("cp", path, "%s:%s/" % (hosts[0], FILES_DIR))

    def play(contender):
        def run_once():
            run = converge(workload, contender, n)
            figures = {"wall": run.wall, "cpu": run.cpu, "busy": run.busy}
            if phase == "ping":
                figures.update(ping_figures(run))
                return figures
            figures["ping"] = task_seconds(run, PING_TASK)
            if contender in ROLE_CONTENDERS:
                figures["install"] = task_seconds(run, INSTALL_TASK)
            if contender in ("role-pip", "role-uv"):
                figures["build"] = task_seconds(run, BUILD_TASK)
            profiles.setdefault("%s/%d/%s" % (phase, n, contender), []).append(
                [(t["name"], round(t["seconds"], 3)) for t in run.tasks])
            changed = changed_hosts(run)
            if phase == "noop":
                noop_changes[contender].append(sum(changed.values()))
                if changed and contender != "builtin-pip":
                    raise bl.BenchError("the no-op converge of %s on %d targets changed %s" % (contender, n, changed))
            elif contender != "empty":
                if contender in ("role-pip", "role-uv"):
                    check_build(run, contender, built=(phase == "cold"))
                check_venvs(workload, contender, VENVS[contender], hosts)
            return figures
        return run_once

    def floor(tool):
        def run_once():
            url, files = floor_state["url"], FILES_DIR
            pins = "-r %s/requirements.txt -c %s/constraints.txt" % (files, files)
            if tool == "pip":
                steps = ["python3 -m venv /opt/venvs/floor",
                         "/opt/venvs/floor/bin/python -m pip install -q --no-index --trusted-host %s --find-links %s %s"
                         % (REPO_HOST, url, pins)]
            else:
                # A fresh target has no uv, like the role's targets: getting it, from the same wheels, is timed too.
                steps = ["python3 -m venv /opt/uvtool && /opt/uvtool/bin/pip install -q --no-index --trusted-host %s "
                         "--find-links %s uv" % (REPO_HOST, url),
                         "/opt/uvtool/bin/uv venv -q --python /usr/bin/python3 /opt/venvs/floor",
                         "/opt/uvtool/bin/uv pip install -q --python /opt/venvs/floor/bin/python --no-index "
                         "--find-links %s %s" % (url, pins)]
            times = [bl.run(["podman", "exec", hosts[0], "sh", "-c", step], env=bl.clean_env())[0] for step in steps]
            check_venvs(workload, "floor-" + tool, "/opt/venvs/floor", hosts[:1])
            figures = {"wall": sum(times), "venv": times[-2], "install": times[-1]}
            if tool == "uv":
                figures["tool"] = times[0]
            return figures
        return run_once

    contenders = [(c, floor(c[len("floor-"):]) if c.startswith("floor-") else play(c)) for c in names]
    samples = bl.measure(contenders, runs, prepare=prepare, log=progress_log)
    return {"samples": samples, "noop_changes": noop_changes if phase == "noop" else None}


# --- figures --------------------------------------------------------------------------------------

def med(samples, figure="wall"):
    return statistics.median(s[figure] for s in samples)


def least_squares(points):
    """(slope, intercept) of y = a x + b through points [(x, y)]; slope None with fewer than two x."""
    xs = [p[0] for p in points]
    if len(set(xs)) < 2:
        return None, None
    mx, my = statistics.mean(xs), statistics.mean(p[1] for p in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


def goals(cells):
    """The goals of issue 5 from the cells measured: list of [goal, figure, threshold, verdict]."""
    rows = []

    def verdict(ok):
        return "met" if ok else "**missed**"

    warm1 = cells.get("warm/1")
    if warm1:
        s = warm1["samples"]
        for ours, floor in (("role-pip", "floor-pip"), ("role-uv", "floor-uv")):
            if ours in s and floor in s:
                ratio = bl.ratio_summary(s[ours], s[floor], "install", "wall")
                rows.append(["warm install on one target (venv_build task) / %s" % LABELS[floor], bl.fmt_ratio(ratio),
                             "<= %.1fx" % GOAL_FLOOR, verdict(ratio["of_medians"] <= GOAL_FLOOR), ours, "warm/1"])
    cold = cells.get("cold/%d" % GOAL_COLD_SPEEDUP_N)
    if cold and "role-nowheels" in cold["samples"]:
        for ours in ("role-pip", "role-uv"):
            if ours in cold["samples"]:
                ratio = bl.ratio_summary(cold["samples"]["role-nowheels"], cold["samples"][ours], "wall")
                rows.append(["cold converge, %d targets: wheel building disabled / %s" % (GOAL_COLD_SPEEDUP_N, LABELS[ours]),
                             bl.fmt_ratio(ratio), ">= %.0fx" % GOAL_COLD_SPEEDUP,
                             verdict(ratio["of_medians"] >= GOAL_COLD_SPEEDUP), ours, "cold/%d" % GOAL_COLD_SPEEDUP_N])
    for key in sorted((k for k in cells if k.startswith("noop/")), key=lambda k: int(k.split("/")[1])):
        n, s = int(key.split("/")[1]), cells[key]["samples"]
        if "empty" not in s:
            continue
        base = med(s["empty"])
        over = dict((c, (med(s[c]) - base) / n) for c in s if c != "empty")
        for ours in ("role-pip", "role-uv"):
            if ours in over and "builtin-pip" in over:
                ratio = over["builtin-pip"] / over[ours] if over[ours] > 0 else float("inf")
                rows.append(["no-op, %d target(s): overhead per host over the empty play, builtin.pip / %s"
                             % (n, LABELS[ours]), "%.2f s / %.2f s = %.1fx" % (over["builtin-pip"], over[ours], ratio),
                             ">= %.0fx" % GOAL_NOOP_OVERHEAD, verdict(ratio >= GOAL_NOOP_OVERHEAD), ours, key])
            if ours in s:
                ratio = bl.ratio_summary(s[ours], s["empty"], "wall")
                rows.append(["no-op, %d target(s): %s converge / empty play" % (n, LABELS[ours]), bl.fmt_ratio(ratio),
                             "<= %.1fx" % GOAL_NOOP_WALL, verdict(ratio["of_medians"] <= GOAL_NOOP_WALL), ours, key])
    for phase, ours in [(p, c) for p in ("warm", "noop") for c in ("role-pip", "role-uv", "empty")]:
        points = [(int(k.split("/")[1]), med(c["samples"][ours])) for k, c in cells.items()
                  if k.startswith(phase + "/") and ours in c["samples"]]
        slope, intercept = least_squares(points)
        if slope is not None:
            rows.append(["%s converge, %s: seconds per added target (least squares over N=%s)"
                         % (phase, LABELS[ours], ",".join(str(p[0]) for p in sorted(points))),
                         "%.2f s/target (intercept %.1f s)" % (slope, intercept), "reported", "-", ours, None])
    return rows


def cpu_note(samples, n):
    """The CPU behind a wall time: the controller's (ansible-playbook and what it waited for) and the whole
    machine's (containers included), medians, and how much of the cores' time the run kept busy."""
    if "busy" not in samples[0]:
        return None
    wall = med(samples)
    busy = med(samples, "busy")
    return "CPU controller %.1f s, machine %.1f s (%.0f%% of %d cores)" % (
        med(samples, "cpu"), busy, 100.0 * busy / (wall * (os.cpu_count() or 1)), os.cpu_count() or 1)


def render_pings(cells):
    """Phase ping: the cost of one task over each connection (the nine pings after the first), per N."""
    keys = sorted((k for k in cells if k.startswith("ping/")), key=lambda k: int(k.split("/")[1]))
    rows = []
    for key in keys:
        n, s = int(key.split("/")[1]), cells[key]["samples"]
        for name in PING_CONTENDERS:
            if name in s:
                rows.append([n, name[len("ping-"):], bl.fmt_seconds(bl.figure_summary(s[name], "ping")),
                             bl.fmt_seconds(bl.figure_summary(s[name], "first")),
                             bl.fmt_seconds(bl.figure_summary(s[name], "wall")), cpu_note(s[name], n) or "-",
                             len(s[name])])
    if not rows:
        return ""
    return ("Ten `ansible.builtin.ping` tasks on N targets (`fleet_ping.yml`, no facts, forks N+1), fresh containers "
            "every run: the task seconds of pings 2-10 (median of the nine, then median (min-max) over the runs), "
            "the first ping (it opens the connections: the ssh handshake and master) and the whole play.\n\n"
            + bl.markdown_table(["N", "connection", "one more task, s", "first task, s", "play wall, s", "CPU",
                                 "runs"], rows))


def render_cells(cells):
    parts = []
    for phase in CONVERGE_PHASES:
        keys = sorted((k for k in cells if k.startswith(phase + "/")), key=lambda k: int(k.split("/")[1]))
        if not keys:
            continue
        rows = []
        for key in keys:
            n, s = int(key.split("/")[1]), cells[key]["samples"]
            base = med(s["empty"]) if "empty" in s else None
            for name in list(CONTENDERS) + ["floor-pip", "floor-uv"]:
                if name not in s:
                    continue
                wall = bl.figure_summary(s[name], "wall")
                extra = []
                if "install" in s[name][0]:
                    extra.append("install task %s" % bl.fmt_seconds(bl.figure_summary(s[name], "install")))
                if s[name][0].get("build"):
                    extra.append("build task %s" % bl.fmt_seconds(bl.figure_summary(s[name], "build")))
                if name.startswith("floor-"):
                    extra = ["%s %s" % (label, bl.fmt_seconds(bl.figure_summary(s[name], key)))
                             for key, label in (("tool", "uv itself"), ("venv", "venv"), ("install", "install"))
                             if key in s[name][0]]
                elif cpu_note(s[name], n):
                    extra.append(cpu_note(s[name], n))
                over = "-" if base is None or name == "empty" or name.startswith("floor-") \
                    else "%+.2f s (%.2f s/host)" % (wall["median"] - base, (wall["median"] - base) / n)
                rows.append([n, LABELS[name], bl.fmt_seconds(wall), over, "; ".join(extra) or "-", wall["n"]])
        title = {"cold": "Cold converge (fresh targets, fresh build host without wheels)",
                 "warm": "Warm converge (fresh targets, the build host holds the wheels)",
                 "noop": "No-op converge (the same play again on converged targets)"}[phase]
        note = ""
        if phase == "warm":
            note = ("\n\nrole-nowheels and builtin-pip never use the build host: their warm converge is their cold "
                    "one (not measured twice). The floors run by hand in a fresh target (podman exec), from the "
                    "same wheels over the same HTTP.")
        elif phase == "noop":
            note = "\n\nNo-op changes reported (sum over hosts, per run): %s." % "; ".join(
                "%s: %s" % (k, ", ".join("%s %s" % (c, v) for c, v in cells[k]["noop_changes"].items()))
                for k in keys)
        parts.append("#### %s\n\n%s%s" % (title, bl.markdown_table(
            ["N", "contender", "wall, median (min-max)", "over the empty play", "tasks", "runs"], rows), note))
    return "\n\n".join(parts)


def render_profiles(goal_rows, profiles):
    """For every missed goal: where the time of our contender goes, per task (median over its runs)."""
    parts = []
    seen = set()
    for row in goal_rows:
        if row[3] != "**missed**" or not row[5] or (row[4], row[5]) in seen:
            continue
        seen.add((row[4], row[5]))
        runs = profiles.get("%s/%s" % (row[5], row[4]), [])
        if not runs:
            continue
        per_task = {}
        for run in runs:
            for name, seconds in run:
                per_task.setdefault(name, []).append(seconds)
        top = sorted(per_task.items(), key=lambda kv: -statistics.median(kv[1]))[:10]
        total = sum(statistics.median(v) for v in per_task.values())
        parts.append("Profile of %s, %s (%d runs; tasks by median seconds, %d tasks, %.1f s in all):\n\n%s" % (
            LABELS[row[4]], row[5], len(runs), len(per_task), total,
            bl.markdown_table(["task", "median s"], [[n, "%.2f" % statistics.median(v)] for n, v in top])))
    return "\n\n".join(parts)


def noop_task_vs_ping(cells):
    """On one host: the role's venv_build task against the ping in the same play (no-op)."""
    cell = cells.get("noop/1")
    rows = []
    if cell:
        for ours in ROLE_CONTENDERS:
            s = cell["samples"].get(ours)
            if s:
                rows.append([LABELS[ours], bl.fmt_seconds(bl.figure_summary(s, "install")),
                             bl.fmt_seconds(bl.figure_summary(s, "ping")), bl.fmt_ratio(bl.ratio_summary(s, s, "install", "ping"))])
    return bl.markdown_table(["no-op, one target", "venv_build task", "ping task (same play)", "ratio"], rows) if rows else ""


def chart(cells, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    for ax, phase in zip(axes, CONVERGE_PHASES):
        for name in CONTENDERS:
            source = "cold" if phase == "warm" and name in NO_BUILD_HOST else phase
            points = sorted((int(k.split("/")[1]), c["samples"][name]) for k, c in cells.items()
                            if k.startswith(source + "/") and name in c["samples"])
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = [med(p[1]) for p in points]
            lo = [y - min(s["wall"] for s in p[1]) for y, p in zip(ys, points)]
            hi = [max(s["wall"] for s in p[1]) - y for y, p in zip(ys, points)]
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3,
                        linestyle="--" if source != phase else "-", label=LABELS[name])
        ax.set_title({"cold": "cold (no wheels yet)", "warm": "warm (wheels built; dashed: = cold)",
                      "noop": "no-op (converged)"}[phase])
        ax.set_xlabel("targets (N)")
        ax.set_ylabel("ansible-playbook wall time, s")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
            break
    fig.suptitle("wheelhouse.venv fleet benchmark over %s: converge time vs fleet size (median, min-max)"
                 % SETUP["connection"])
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def render(info, workload, command, plan, elapsed, cells, profiles):
    """The Markdown of a run (and the chart): (markdown, goal rows)."""
    goal_rows = goals(cells)
    chart(cells, chart_path())
    markdown = "\n\n".join(part for part in [
        "### Machine and run\n\n" + render_machine(info, workload, command, plan, elapsed),
        "### Goals\n\n" + bl.markdown_table(["goal", "figure (median; per-round min-max)", "threshold", ""],
                                            [r[:4] for r in goal_rows]),
        "### One task over each connection\n\n" + render_pings(cells) if render_pings(cells) else "",
        "### Converge times\n\nansible-playbook wall time in seconds, median (min-max); \"over the empty play\": "
        "the contender's median minus the empty play's in the same cell, and that per host. Connection: %s.\n\n"
        "![converge time vs fleet size](img/%s)\n\n" % (SETUP["connection"], os.path.basename(chart_path()))
        + render_cells(cells),
        "### No-op: the venv_build task against a ping\n\n" + noop_task_vs_ping(cells) if "noop/1" in cells else "",
        "### Where the time goes (missed goals)\n\n" + render_profiles(goal_rows, profiles)
        if render_profiles(goal_rows, profiles) else "",
    ] if part)
    return markdown, goal_rows


ROUND_LINE = re.compile(r"^fleet: (ping|cold|warm|noop)/(\d+) round (\d+)/(\d+) (\S+)\s+(.*)$")
START_LINE = re.compile(r"^fleet: started (.+ UTC), load average ([\d.]+) ([\d.]+) ([\d.]+): (.*)$")


def from_log(path):
    """The finished cells of a run from its log (stderr), for a run stopped before its end: every round of a cell
    that finished all its rounds, as logged (figures rounded to 10 ms). Returns (start line or None, plan, cells)."""
    rounds, start = {}, None
    with open(path) as handle:
        for line in handle:
            found = START_LINE.match(line.rstrip("\n"))
            if found:
                start = (found.group(1), [float(found.group(x)) for x in (2, 3, 4)], found.group(5))
            found = ROUND_LINE.match(line.rstrip("\n"))
            if not found:
                continue
            phase, n, dummy, runs, name, figures = found.groups()
            cell = rounds.setdefault((phase, int(n)), {"runs": int(runs), "samples": {}})
            cell["samples"].setdefault(name, []).append(
                dict((k, float(v)) for k, v in re.findall(r"(\w+) (-?[\d.]+)s", figures)))
    plan, cells = [], {}
    for (phase, n), cell in rounds.items():
        names = [c for c in list(CONTENDERS) + ["floor-pip", "floor-uv"] + list(PING_CONTENDERS) if c in cell["samples"]]
        if any(len(cell["samples"][c]) < cell["runs"] for c in names):
            continue  # the cell was cut short: left out
        plan.append((phase, n, names, cell["runs"]))
        # The no-op changes are not logged: a role contender or the empty play that changed anything stops a run.
        cells["%s/%d" % (phase, n)] = {"samples": cell["samples"], "noop_changes": dict(
            (c, "not logged" if c == "builtin-pip" else [0] * cell["runs"]) for c in names) if phase == "noop" else None}
    return start, plan, cells


def render_log(path, workload_name, write_docs):
    """--from-log: the cells a stopped run finished, rendered like a run (the load average at the end is now's)."""
    start, plan, cells = from_log(path)
    if start is None or not cells:
        raise bl.BenchError("%s has no start line or no finished cell of fleet_bench.py" % path)
    info = bl.machine_info()
    info.update(date=start[0], loadavg_start=start[1], loadavg_end=os.getloadavg(), podman=podman("--version"))
    elapsed = os.path.getmtime(path) - time.mktime(time.strptime(start[0], "%Y-%m-%d %H:%M UTC")) + time.timezone
    last = "%s/%d" % plan[-1][:2]
    command = "%s (stopped after the cell %s; rendered from its log with --from-log)" % (start[2], last)
    found = re.search(r"--connection (\w+)", start[2])
    SETUP["connection"] = found.group(1) if found else "ssh"
    markdown, goal_rows = render(info, bl.Workload(workload_name), command, plan, elapsed, cells, {})
    data = {"machine": info, "workload": workload_name, "plan": plan, "cells": cells, "profiles": {},
            "goals": goal_rows, "elapsed": elapsed, "command": command, "log": os.path.abspath(path),
            "connection": SETUP["connection"]}
    return bl.finish("fleet_bench", data, markdown, DOC if write_docs else None, doc_marker(), log)


def render_machine(info, workload, command, plan, elapsed):
    rows = [
        ["date", info["date"]],
        ["CPU", "%s, %d cores (nproc)" % (info["cpu"], info["nproc"])],
        ["RAM", "%s GiB" % info["ram_gib"]],
        ["OS, kernel", "%s, %s" % (info["os"], info["kernel"])],
        ["podman", info["podman"]],
        ["images", "targets from %s, build host from %s (prepared once, then `podman commit`)"
         % (BASE_TARGET_IMAGE, BASE_BUILD_IMAGE)],
        ["controller", "Python %s, %s" % (info["controller_python"], info["ansible_core"])],
        ["connection", {"ssh": "ssh (OpenSSH client of the controller, sshd in every container, pipelining, "
                               "ControlMaster/ControlPersist 120 s, ProxyCommand tests/podman/ssh_proxy.py)",
                        "podman": "containers.podman.podman (podman exec)"}[SETUP["connection"]]],
        ["load average at start / end", "%s / %s" % (" ".join("%.2f" % x for x in info["loadavg_start"]),
                                                     " ".join("%.2f" % x for x in info["loadavg_end"]))],
        ["workload", "%s: %d requirements, %d pinned distributions; %s built from sdist"
         % (workload.name, len(workload.requirements), len(workload.pins), " and ".join(NO_BINARY))],
        ["cells (phase/N: runs)", ", ".join("%s/%d: %d" % (p, n, r) for p, n, dummy, r in plan)],
        ["duration", "%.1f min (setup included)" % (elapsed / 60)],
        ["command", "`%s`" % command],
    ]
    return bl.markdown_table(["", ""], rows)


# --- main ---------------------------------------------------------------------------------------------

def _terminate(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3,
                        help="timed rounds per cell (default 3; cold at N=4 at most 2, cold at N=8 at most 1)")
    parser.add_argument("--sizes", default="1,2,4,8", help="fleet sizes N (default 1,2,4,8)")
    parser.add_argument("--phases", default=",".join(PHASES), help="ping,cold,warm,noop (default all)")
    parser.add_argument("--connection", default="ssh", choices=CONNECTIONS,
                        help="how the converges reach the hosts (default ssh; the phase ping measures both)")
    parser.add_argument("--cold-runs", type=int, default=0, help="at most this many rounds of cold cells (default: --runs)")
    parser.add_argument("--cold-sizes", default="", help="fleet sizes of the cold phase (default: --sizes)")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="contenders (default all: %s)" % ",".join(CONTENDERS))
    parser.add_argument("--workload", default="service40", help="a folder of bench/workloads (default service40)")
    parser.add_argument("--rebuild-images", action="store_true", help="prepare the localhost/whb-* images again")
    parser.add_argument("--keep", action="store_true", help="leave the last containers running (debugging)")
    parser.add_argument("--write-docs", action="store_true", help="put the tables into docs/benchmarks.md")
    parser.add_argument("--from-log", metavar="LOG", help="run nothing: the figures of the cells that the run which "
                        "wrote LOG (its stderr) finished, for a run stopped before its end (no task profiles)")
    args = parser.parse_args(argv)
    sizes = sorted(int(x) for x in args.sizes.split(","))
    phases = [p for p in PHASES if p in args.phases.split(",")]
    only = args.only.split(",")
    unknown = set(only) - set(CONTENDERS) | set(args.phases.split(",")) - set(PHASES)
    if unknown:
        parser.error("unknown contenders or phases: %s" % ", ".join(sorted(unknown)))
    if args.from_log:
        return render_log(args.from_log, args.workload, args.write_docs)
    SETUP["connection"] = args.connection
    command = "python bench/fleet_bench.py" + "".join(
        " %s %s" % (flag, value) for flag, value, default in (
            ("--connection", args.connection, "ssh"),
            ("--runs", str(args.runs), "3"), ("--sizes", args.sizes, "1,2,4,8"), ("--phases", args.phases, ",".join(PHASES)),
            ("--only", args.only, ",".join(CONTENDERS)), ("--cold-runs", str(args.cold_runs), "0"),
            ("--cold-sizes", args.cold_sizes, "")) if value != default)

    signal.signal(signal.SIGTERM, _terminate)
    bl.bootstrap()
    workload = bl.Workload(args.workload)
    os.makedirs(WORK, exist_ok=True)
    cold_sizes = [int(x) for x in args.cold_sizes.split(",")] if args.cold_sizes else sizes
    plan = [(phase, n, cell_contenders(phase, n, only), cell_runs(phase, n, args.runs, args.cold_runs))
            for n in sizes for phase in phases if phase != "cold" or n in cold_sizes]
    plan = [cell for cell in plan if cell[2]]
    progress = Progress(plan)
    log("plan: %s; estimated %.0f min plus setup (up to %.0f min)"
        % (", ".join("%s/%d x%d" % (p, n, r) for p, n, dummy, r in plan), progress.total() / 60, SETUP_ESTIMATE / 60))
    started = time.time()
    info = bl.machine_info()
    info["podman"] = podman("--version")
    log("started %s, load average %s: %s" % (info["date"], " ".join("%.2f" % x for x in info["loadavg_start"]), command))
    cells, profiles = {}, {}
    try:
        cleanup()
        ssh_setup()
        podman("network", "create", NETWORK)
        prepare_images(workload, args.rebuild_images)
        progress.started = time.time()
        for cell in plan:
            phase, n, names, runs = cell
            key = "%s/%d" % (phase, n)
            log("cell %s: %s, %d round(s); ETA of the run %.0f min" % (key, ", ".join(names), runs, progress.eta() / 60))

            def progress_log(text, key=key):
                log("%s %s" % (key, text))
            cells[key] = run_cell(workload, phase, n, names, runs, profiles, progress_log)
            progress.finished(cell)
    except KeyboardInterrupt:
        log("interrupted: removing the whb- containers")
        raise
    finally:
        if not args.keep:
            cleanup()
    elapsed = time.time() - started
    info["loadavg_end"] = os.getloadavg()
    # The raw figures first: a failure while rendering must not lose a run.
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, "last-run.json"), "w") as handle:
        json.dump({"machine": info, "plan": plan, "cells": cells, "profiles": profiles, "command": command}, handle)
    markdown, goal_rows = render(info, workload, command, plan, elapsed, cells, profiles)
    data = {"machine": info, "workload": workload.name, "plan": plan, "cells": cells, "profiles": profiles,
            "goals": goal_rows, "elapsed": elapsed, "command": command, "connection": SETUP["connection"]}
    log("chart written to %s (%.1f min)" % (os.path.relpath(chart_path(), bl.REPO), elapsed / 60))
    return bl.finish("fleet_bench", data, markdown, DOC if args.write_docs else None, doc_marker(), log)


if __name__ == "__main__":
    bl.run_main(main)

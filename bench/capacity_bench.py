# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity benchmark (issue 15): the wheel server under load, and the controller's memory per fork.

  .venv/bin/python bench/capacity_bench.py [--levels 1,4,16,64] [--forks 1,8,16] [--write-docs]

Wheel server: the build host image of fleet_bench.py with its wheels (localhost/whb-repo:warm: nginx as
playbooks/wheel_repo.yml configures it, the service40 wheel set) runs as whc-server on the podman network
whc-net; a client container whc-client on the same network plays C targets at once, each fetching what
`pip install --find-links URL` fetches: the folder's listing, then every wheel of the set, one after the
other. Each level is bounded: 2*C installs (at least 8), then it stops by itself; no request leaves the
test network. Measured: wall time, requests and bytes per second, seconds per install (median, p95),
errors, and the CPU seconds nginx's processes used (from /proc in the server container).

Controller: the empty play (facts and one ping) on F targets (whc-t1..whc-tF, over ssh as fleet_bench.py
reaches its hosts, or --connection podman) with --forks F; the resident memory of every ansible-playbook process (the controller and its
workers) is sampled every 50 ms, the peak of their sum reported with the number of processes.

Both share the 2 cores of this machine with the containers they measure: the server's figures are what
it gives while its clients compete for the same CPU, a lower bound. Figures go to bench/results/;
--write-docs fills the capacity_bench block of docs/capacity.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib as bl  # noqa: E402  (bench/ is not a package)
import fleet_bench as fb  # noqa: E402

PREFIX = "whc-"
NETWORK = "whc-net"
SERVER = "whc-server"
CLIENT = "whc-client"
DOC = os.path.join(bl.REPO, "docs", "capacity.md")
WORK = os.path.join(bl.CACHE, "work", "capacity_bench")
OWNER_LABEL = "whb.owner=capacity_bench"

# What one target does: the listing, then every wheel in turn (pip downloads one file at a time).
CLIENT_SCRIPT = r'''
import json, re, statistics, sys, threading, time, urllib.request
base, concurrency, installs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
listing = urllib.request.urlopen(base, timeout=30).read().decode()
wheels = sorted(set(re.findall(r'href="([^"]+\.whl)"', listing)))
lock = threading.Lock()
todo = list(range(installs))
result = {"wheels": len(wheels), "requests": 0, "bytes": 0, "errors": [], "install_seconds": []}
def one_install():
    got = 0
    for path in [""] + wheels:
        with urllib.request.urlopen(base + path, timeout=60) as response:
            got += len(response.read())
    return got
def worker():
    while True:
        with lock:
            if not todo:
                return
            todo.pop()
        started = time.perf_counter()
        try:
            got = one_install()
        except Exception as exc:
            with lock:
                result["errors"].append(str(exc)[:200])
            continue
        with lock:
            result["install_seconds"].append(time.perf_counter() - started)
            result["requests"] += len(wheels) + 1
            result["bytes"] += got
started = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
result["wall"] = time.perf_counter() - started
print(json.dumps(result))
'''

# CPU seconds (user + system) of the nginx processes, read inside the server container.
NGINX_CPU = r'''
import os
ticks = os.sysconf("SC_CLK_TCK")
total = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open("/proc/%s/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)
        if "(nginx" not in fields[0]:
            continue
        rest = fields[1].split()
        total += int(rest[11]) + int(rest[12])
    except (OSError, IndexError, ValueError):
        pass
print(total / ticks)
'''


def log(text):
    sys.stderr.write("capacity: %s\n" % text)
    sys.stderr.flush()


def podman(*args, check=True):
    return fb.podman(*args, check=check)


def our_containers():
    """The containers a run of this script started (by its label), not others that share the name prefix."""
    names = podman("ps", "-a", "--filter", "label=" + OWNER_LABEL, "--format", "{{.Names}}").split()
    return [n for n in names if n.startswith(PREFIX)]


def cleanup():
    names = our_containers()
    fb.close_masters(names)
    if names:
        podman("rm", "--force", "--time", "0", *names, check=False)
    podman("network", "rm", "--force", NETWORK, check=False)


def start(name, image, command, ssh=False):
    """A container of this run; with ssh, reachable as fleet_bench.py's are (this run's key for root)."""
    extra = ["--volume", "%s/id_ed25519.pub:/root/.ssh/authorized_keys:ro" % fb.SSH_DIR] if ssh else []
    podman("run", "--detach", "--name", name, "--hostname", name, "--network", NETWORK, "--label", OWNER_LABEL,
           *extra, image, *command)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else None


# --- the wheel server ---------------------------------------------------------------------------------

def wheel_server(levels):
    start(SERVER, fb.IMAGES["repo-warm"], ["sh", "-c", "nginx -c /etc/nginx/nginx.conf; exec sleep infinity"])
    start(CLIENT, fb.BASE_TARGET_IMAGE, ["sleep", "infinity"])
    folder = podman("exec", SERVER, "sh", "-c", "ls -d %s/wheelhouse/main/*/wheels" % fb.REPO_PATH).split()
    if len(folder) != 1:
        raise bl.BenchError("expected one wheel folder on %s, found %s" % (SERVER, folder))
    url = "http://%s:8181%s/" % (SERVER, folder[0][len(fb.REPO_PATH):])
    size = int(podman("exec", SERVER, "sh", "-c", "cat %s/*.whl | wc -c" % folder[0]).strip())
    for dummy in range(50):
        dummy, proc = bl.run(["podman", "exec", CLIENT, "python3", "-c",
                              "import urllib.request; urllib.request.urlopen(%r, timeout=2)" % url],
                             env=bl.clean_env(), check=False)
        if proc.returncode == 0:
            break
        time.sleep(0.2)
    else:
        raise bl.BenchError("nginx on %s does not answer at %s" % (SERVER, url))
    rows = []
    for level in levels:
        installs = max(8, 2 * level)
        cpu_before = float(podman("exec", SERVER, "python3", "-c", NGINX_CPU))
        dummy, proc = bl.run(["podman", "exec", CLIENT, "python3", "-c", CLIENT_SCRIPT, url, str(level), str(installs)],
                             env=bl.clean_env())
        cpu_after = float(podman("exec", SERVER, "python3", "-c", NGINX_CPU))
        figures = json.loads(proc.stdout)
        figures.update(level=level, installs=installs, nginx_cpu=cpu_after - cpu_before, set_bytes=size,
                       loadavg=os.getloadavg())
        rows.append(figures)
        log("server: %d at once, %d installs: %.1f s, %.0f MB/s, %d errors"
            % (level, installs, figures["wall"], figures["bytes"] / figures["wall"] / 1e6, len(figures["errors"])))
    return url, size, rows


# --- the controller ----------------------------------------------------------------------------------

def ansible_rss(inventory):
    """(sum of resident kB, count) of the ansible-playbook processes of this run (the controller and its
    workers: forks, whose command line names our inventory), not those of other runs on the machine."""
    total, count = 0, 0
    mark = inventory.encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read()
            if b"ansible-playbook" not in argv or mark not in argv:
                continue
            with open("/proc/%s/status" % pid) as handle:
                rss = [line for line in handle if line.startswith("VmRSS:")]
        except OSError:
            continue
        if rss:
            total += int(rss[0].split()[1])
            count += 1
    return total, count


def sample_peak(inventory, peak, done):
    """Until done is set: peak[:] = the highest (RSS kB, processes) of the run with this inventory seen."""
    while not done.is_set():
        total, count = ansible_rss(inventory)
        if total > peak[0]:
            peak[:] = [total, count]
        time.sleep(0.05)


def controller(forks_levels, connection):
    rows = []
    most = max(forks_levels)
    for i in range(1, most + 1):
        start("%st%d" % (PREFIX, i), fb.BASE_TARGET_IMAGE, ["sh", "-c", "exec " + fb.SSHD], ssh=True)
    os.makedirs(WORK, exist_ok=True)
    for forks in forks_levels:
        hosts = ["%st%d" % (PREFIX, i) for i in range(1, forks + 1)]
        inventory = os.path.join(WORK, "inventory-%d.json" % forks)
        with open(inventory, "w") as handle:
            json.dump({"all": {"vars": dict(fb.connection_vars(connection),
                                            ansible_python_interpreter="/usr/bin/python3"),
                               "children": {"fleet_targets": {"hosts": dict((h, {}) for h in hosts)}}}}, handle)
        peak = [0, 0]
        done = threading.Event()
        sampler = threading.Thread(target=sample_peak, args=(inventory, peak, done))
        sampler.start()
        try:
            run = bl.playbook(os.path.join(bl.PLAYBOOKS, "fleet_empty.yml"), {}, inventory=inventory, connection=None,
                              args=("--forks", str(forks)))
        finally:
            done.set()
            sampler.join()
        rows.append({"forks": forks, "wall": run.wall, "cpu": run.cpu, "peak_rss_kb": peak[0], "processes": peak[1]})
        log("controller: %d forks: peak %.0f MB in %d processes, %.1f s" % (forks, peak[0] / 1024, peak[1], run.wall))
    return rows


# --- report ------------------------------------------------------------------------------------------

def render(info, url, size, server_rows, controller_rows, command, connection):
    lines = ["### Machine and run", "", bl.markdown_table(["", ""], [
        ("date", info["date"]), ("CPU", "%s, %s cores (nproc)" % (info["cpu"], info["nproc"])),
        ("RAM", "%s GiB" % info["ram_gib"]), ("controller", "Python %s, %s" % (info["controller_python"], info["ansible_core"])),
        ("load average at start / end", "%s / %s" % (" ".join("%.2f" % x for x in info["loadavg_start"]),
                                                     " ".join("%.2f" % x for x in info["loadavg_end"]))),
        ("wheel set", "%s: %d wheels, %.1f MB (service40's 40 and the tool wheels, uv among them)"
         % (url, server_rows[0]["wheels"], size / 1e6)),
        ("command", "`%s`" % command)]), ""]
    lines += ["### Wheel server (nginx of playbooks/wheel_repo.yml, one container)", "",
              "One install = the listing + every wheel of the set, one after the other, as pip fetches them.", ""]
    rows = []
    for r in server_rows:
        installs = r["install_seconds"]
        rows.append((r["level"], r["installs"], "%.1f" % r["wall"], "%.0f" % (r["requests"] / r["wall"]),
                     "%.0f" % (r["bytes"] / r["wall"] / 1e6), "%.2f" % (len(installs) / r["wall"]),
                     "%.2f / %.2f" % (percentile(installs, 0.5), percentile(installs, 0.95)) if installs else "-",
                     "%.1f" % r["nginx_cpu"], len(r["errors"])))
    lines += [bl.markdown_table(["targets at once", "installs", "wall s", "requests/s", "MB/s", "installs/s",
                                 "s per install (median / p95)", "nginx CPU s", "errors"], rows), ""]
    lines += ["### Controller memory (empty play: facts + ping, %s connection)" % connection, "",
              "The ansible-playbook processes only: over ssh each host also has its ssh master process "
              "(ControlPersist), not counted here.", ""]
    rows = [(r["forks"], r["processes"], "%.0f" % (r["peak_rss_kb"] / 1024),
             "%.0f" % (r["peak_rss_kb"] / 1024 / max(1, r["processes"])), "%.1f" % r["wall"], "%.1f" % r["cpu"])
            for r in controller_rows]
    lines += [bl.markdown_table(["forks = targets", "ansible-playbook processes at the peak", "peak RSS, MB (sum)",
                                 "MB per process", "wall s", "controller CPU s"], rows)]
    return "\n".join(lines)


def _terminate(signum, frame):
    raise KeyboardInterrupt()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--levels", default="1,4,16,64", help="targets fetching at once (default 1,4,16,64)")
    parser.add_argument("--forks", default="1,8,16", help="forks = targets of the controller runs (default 1,8,16)")
    parser.add_argument("--connection", default="ssh", choices=fb.CONNECTIONS,
                        help="how the controller runs reach their targets (default ssh)")
    parser.add_argument("--write-docs", action="store_true", help="put the tables into docs/capacity.md")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    forks_levels = [int(x) for x in args.forks.split(",")]
    if min(levels + forks_levels) < 1:
        parser.error("--levels and --forks take positive numbers")
    defaults = (("--levels", args.levels, "1,4,16,64"), ("--forks", args.forks, "1,8,16"),
                ("--connection", args.connection, "ssh"))
    command = "python bench/capacity_bench.py" + "".join(
        " %s %s" % (flag, value) for flag, value, default in defaults if value != default)
    signal.signal(signal.SIGTERM, _terminate)
    bl.bootstrap()
    info = bl.machine_info()
    started = time.time()
    try:
        cleanup()
        fb.ssh_setup()
        podman("network", "create", NETWORK)
        if not fb.image_exists(fb.IMAGES["repo-warm"]):  # the build host with its wheels, made by fleet_bench.py
            log("no %s: building it as fleet_bench.py does (untimed, ~5 min)" % fb.IMAGES["repo-warm"])
            fb.cleanup()
            podman("network", "create", fb.NETWORK)
            try:
                fb.prepare_images(bl.Workload("service40"))
            finally:
                fb.cleanup()
        url, size, server_rows = wheel_server(levels)
        controller_rows = controller(forks_levels, args.connection)
    finally:
        cleanup()
    info["loadavg_end"] = os.getloadavg()
    markdown = render(info, url, size, server_rows, controller_rows, command, args.connection)
    log("done in %.1f min" % ((time.time() - started) / 60))
    return bl.finish("capacity_bench", {"machine": info, "server": server_rows, "controller": controller_rows,
                                        "url": url, "set_bytes": size, "command": command,
                                        "connection": args.connection}, markdown,
                     DOC if args.write_docs else None, "capacity_bench", log)


if __name__ == "__main__":
    bl.run_main(main)

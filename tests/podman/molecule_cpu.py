"""CPU seconds of one molecule scenario, per step: the controller's and its containers'.

    python3 tests/podman/molecule_cpu.py LOG JSON CONTAINER... -- molecule test -s SCENARIO

Runs the command with its output in LOG, in a cpuacct cgroup of its own (cgroup v1, root): everything the
command starts on the controller (molecule, ansible-playbook and its forks, ssh and its master connections,
podman clients, pytest) is counted there, whatever else runs on the machine. The containers' processes run in
podman's cgroups (libpod_parent/libpod-<id>), read every half second and at each step's start: a stopped and
started container (scenario failure) begins again from zero, which is added on. podman's conmon processes, and
the runc of each `podman exec` (testinfra's podman:// backend: about 50 ms of CPU there per command, as much as the
podman client's), run in one cgroup that every container on the machine shares (libpod_parent/conmon): its
seconds are a column of their own, exact only while no other containers run. A step starts at molecule's line
`[<scenario> > <step>] Executing`. Prints a table of wall, controller, container and conmon seconds per step and
writes it to JSON; exits with the command's status. scripts/molecule.sh runs every scenario through it when
WH_MOLECULE_CPU=1.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time

CPUACCT = "/sys/fs/cgroup/cpuacct"
PODS = os.path.join(CPUACCT, "libpod_parent")
CONMON = os.path.join(PODS, "conmon")
STEP = re.compile(r"^INFO\s+\[[^\]>]+>\s*([a-z_]+)\]\s+Executing$")
HZ = os.sysconf("SC_CLK_TCK")


def read_stat(cgroup):
    """(user, system) CPU seconds of a cgroup, or None once it is gone."""
    try:
        with open(os.path.join(cgroup, "cpuacct.stat")) as f:
            fields = dict(line.split() for line in f)
    except OSError:
        return None
    return int(fields["user"]) / HZ, int(fields["system"]) / HZ


class Containers:
    """CPU seconds of the named containers, summed, across restarts and until they are removed."""

    def __init__(self, names):
        self.names = set(names)
        self.ids = {}  # container id -> name
        self.last = {}  # container id -> (user, system) read last from its current cgroup
        self.done = {}  # container id -> (user, system) of its cgroups that are gone (stop, restart)
        self.lock = threading.Lock()

    def _refresh_ids(self):
        out = subprocess.run(["podman", "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"],
                             capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            cid, dummy, name = line.partition(" ")
            if name in self.names:
                self.ids[cid] = name

    def sample(self):
        with self.lock:
            try:
                present = {d[len("libpod-"):] for d in os.listdir(PODS) if d.startswith("libpod-")}
            except OSError:
                present = set()
            if present - set(self.ids) - getattr(self, "_foreign", set()):
                self._refresh_ids()
                self._foreign = present - set(self.ids)
            for cid in self.ids:
                now = read_stat(os.path.join(PODS, "libpod-" + cid)) if cid in present else None
                before = self.last.get(cid)
                if now is None or (before and now[0] + now[1] < before[0] + before[1]):
                    # gone, or a new cgroup of the same container (restarted): keep what the old one counted
                    if before:
                        d = self.done.get(cid, (0.0, 0.0))
                        self.done[cid] = (d[0] + before[0], d[1] + before[1])
                        self.last.pop(cid)
                    before = None
                if now is not None:
                    self.last[cid] = now

    def total(self):
        with self.lock:
            parts = list(self.last.values()) + list(self.done.values())
        return sum(u for u, dummy in parts), sum(s for dummy, s in parts)

    def by_name(self):
        """{container name: CPU seconds} over the whole run."""
        result = {}
        with self.lock:
            for cid, name in self.ids.items():
                for u, s in (self.last.get(cid, (0.0, 0.0)), self.done.get(cid, (0.0, 0.0))):
                    result[name] = round(result.get(name, 0.0) + u + s, 2)
        return dict(sorted(result.items()))


def main(argv):
    if "--" not in argv or argv.index("--") < 3:
        sys.exit(__doc__)
    split = argv.index("--")
    log_path, json_path, names, command = argv[1], argv[2], argv[3:split], argv[split + 1:]

    cgroup = os.path.join(CPUACCT, f"wh-molecule-{os.getpid()}")
    os.mkdir(cgroup)

    def enter_cgroup():
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    containers = Containers(names)
    steps = []  # [name, wall start, controller (u, s) at start, containers (u, s) at start]

    def mark(name):
        containers.sample()
        steps.append([name, time.monotonic(), read_stat(cgroup), containers.total(), read_stat(CONMON) or (0.0, 0.0)])

    stop = threading.Event()

    def poll():
        while not stop.wait(0.5):
            containers.sample()

    mark("start")
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=enter_cgroup, env=env)
        for raw in proc.stdout:
            log.write(raw)
            log.flush()
            m = STEP.match(raw.decode(errors="replace").rstrip())
            if m:
                mark(m.group(1))
        rc = proc.wait()
    mark("end")
    stop.set()
    poller.join()

    # ssh master connections (ControlPersist) outlive the run: move them out so that the cgroup can go.
    with open(os.path.join(cgroup, "cgroup.procs")) as f:
        left = f.read().split()
    for pid in left:
        try:
            with open(os.path.join(CPUACCT, "cgroup.procs"), "w") as f:
                f.write(pid)
        except OSError:
            pass
    try:
        os.rmdir(cgroup)
    except OSError as e:
        print(f"molecule_cpu: {cgroup} stays: {e}", file=sys.stderr)

    rows = []
    for (name, t0, c0, k0, m0), (dummy, t1, c1, k1, m1) in zip(steps, steps[1:]):
        if name == "start":
            name = "molecule start"
        rows.append({"step": name, "wall": round(t1 - t0, 1),
                     "controller_user": round(c1[0] - c0[0], 2), "controller_sys": round(c1[1] - c0[1], 2),
                     "containers_user": round(k1[0] - k0[0], 2), "containers_sys": round(k1[1] - k0[1], 2),
                     "conmon": round(m1[0] + m1[1] - m0[0] - m0[1], 2)})
    total = {k: round(sum(r[k] for r in rows), 2) for k in rows[0] if k != "step"}
    with open(json_path, "w") as f:
        json.dump({"command": command, "rc": rc, "steps": rows, "total": total, "containers": containers.by_name()},
                  f, indent=1)
    print(f"{'step':16} {'wall s':>7} {'controller s':>13} {'containers s':>13} {'conmon s':>9}")
    for r in rows + [dict(total, step="total")]:
        print(f"{r['step']:16} {r['wall']:7.1f} {r['controller_user'] + r['controller_sys']:13.1f}"
              f" {r['containers_user'] + r['containers_sys']:13.1f} {r['conmon']:9.1f}")
    print("containers: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in containers.by_name().items()))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))

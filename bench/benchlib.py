# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pieces of the benchmarks in bench/: workloads and their wheelhouses, a clean environment,
timed processes, ansible-playbook runs with per-task durations, interleaved rounds, statistics and
Markdown tables.

Nothing here is specific to one benchmark or to localhost: a benchmark script lists its contenders
(each a callable that runs once and returns its timings), and `measure` runs them in rotating order,
round after round, so that every ratio compares figures taken side by side under the same load.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
CACHE = os.path.join(BENCH, ".cache")
RESULTS = os.path.join(BENCH, "results")
WORKLOADS = os.path.join(BENCH, "workloads")
PLAYBOOKS = os.path.join(BENCH, "playbooks")
DEV_VENV = os.path.join(REPO, ".venv")
COLLECTIONS_PATH = os.path.join(REPO, ".tmp", "collections")
TARGET_PYTHON = os.environ.get("WH_TARGET_PYTHON", "/usr/bin/python3")

# Variables of this machine's pip configuration that would add indexes, find-links or constraints to
# every pip run; a benchmark uses exactly the wheels it names. PIP_CERT stays (TLS to PyPI needs it).
_PIP_LEAKS = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "PIP_REQUIREMENT",
              "PIP_NO_INDEX", "PIP_TARGET", "PIP_PREFIX", "PIP_USER")
_UV_LEAKS = ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX", "UV_FIND_LINKS", "UV_CONSTRAINT",
             "UV_NO_INDEX", "UV_OFFLINE", "UV_CONFIG_FILE", "UV_LINK_MODE", "UV_COMPILE_BYTECODE")


class BenchError(Exception):
    """A benchmark cannot go on (a contender failed, or did not do what it must)."""


def run_main(main):
    """A bench script's entry point: exit with main()'s code, or 1 with the reason of a BenchError."""
    try:
        sys.exit(main())
    except BenchError as exc:
        print("bench: FAILED: %s" % exc, file=sys.stderr)
        sys.exit(1)


# --- environment ---------------------------------------------------------------------------------

def clean_env(extra=None):
    """os.environ without the pip/uv settings that would change what gets installed from where."""
    env = dict(os.environ)
    for key in _PIP_LEAKS + _UV_LEAKS:
        env.pop(key, None)
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env.update(extra or {})
    return env


def ansible_env(extra=None):
    """clean_env plus what scripts/env.sh sets for the main job and the tests."""
    env = clean_env()
    env.update({
        "PATH": os.path.join(DEV_VENV, "bin") + os.pathsep + env.get("PATH", ""),
        "VIRTUAL_ENV": DEV_VENV,
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS_PATH,
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "true",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
    })
    env.update(extra or {})
    return env


def bootstrap():
    """scripts/bootstrap.sh: the pinned .venv and the collection linked into ANSIBLE_COLLECTIONS_PATH."""
    proc = subprocess.run(["bash", os.path.join(REPO, "scripts", "bootstrap.sh")], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError("scripts/bootstrap.sh failed:\n" + proc.stdout[-3000:])
    link = os.path.join(COLLECTIONS_PATH, "ansible_collections", "wheelhouse", "venv")
    if os.path.realpath(link) != os.path.realpath(REPO):
        raise BenchError("%s does not point to this checkout" % link)


def dev_tool(name):
    return os.path.join(DEV_VENV, "bin", name)


# --- processes -----------------------------------------------------------------------------------

def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_cpu():
    """CPU seconds the whole machine has spent busy since boot, all cores (/proc/stat: everything but idle and
    iowait): the difference over a run counts what the containers used too, not only the controller."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def run(argv, env=None, cwd=None, check=True):
    """Run argv to completion; return (seconds of wall time, CompletedProcess). Output is captured.

    The CompletedProcess gets a `cpu` attribute: user+system seconds of the process and every
    descendant it waited for (less sensitive than wall time to other load on the machine).
    """
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - start
    proc.cpu = _children_cpu() - cpu_before
    if check and proc.returncode != 0:
        raise BenchError("%s exited with %d:\n%s\n%s"
                         % (" ".join(argv), proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return seconds, proc


def remove_tree(path):
    if os.path.lexists(path):
        shutil.rmtree(path)


# --- workloads and wheelhouses ---------------------------------------------------------------------

def _requirement_lines(path):
    lines = []
    with open(path) as handle:
        for line in handle:
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def canonical_name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class Workload(object):
    """bench/workloads/<name>/: requirements.txt (what users ask for) and constraints.txt (exact pins)."""

    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(WORKLOADS, name)
        self.requirements_file = os.path.join(self.dir, "requirements.txt")
        self.constraints_file = os.path.join(self.dir, "constraints.txt")
        if not os.path.isfile(self.requirements_file):
            raise BenchError("no workload %s (%s is missing)" % (name, self.requirements_file))

    @property
    def requirements(self):
        return _requirement_lines(self.requirements_file)

    @property
    def constraints(self):
        return _requirement_lines(self.constraints_file)

    @property
    def pins(self):
        """canonical name -> version, from constraints.txt."""
        pins = {}
        for line in self.constraints:
            name, sep, version = line.partition("==")
            if sep:
                pins[canonical_name(name.strip())] = version.strip()
        return pins

    def digest(self):
        sha = hashlib.sha256()
        for path in (self.requirements_file, self.constraints_file):
            with open(path, "rb") as handle:
                sha.update(handle.read())
        return sha.hexdigest()[:16]

    def wheelhouse(self, python=TARGET_PYTHON):
        """A directory holding a wheel of every pinned distribution for python, downloaded once.

        Reused while requirements, constraints and python's X.Y and platform stay the same (a stamp
        file records them); pip download runs with this machine's pip configuration switched off.
        """
        tag = python_tag(python)
        folder = os.path.join(CACHE, "wheelhouse", "%s-%s" % (self.name, tag))
        stamp = os.path.join(folder, ".stamp")
        want = "%s %s\n" % (self.digest(), tag)
        if os.path.isfile(stamp):
            with open(stamp) as handle:
                if handle.read() == want:
                    return folder
        remove_tree(folder)
        os.makedirs(folder)
        print("bench: downloading the wheels of %s for %s into %s" % (self.name, python, folder), file=sys.stderr)
        run([python, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary", ":all:",
             "-d", folder, "-r", self.requirements_file, "-c", self.constraints_file], env=clean_env())
        missing = sorted(set(self.pins) - set(wheel_names(folder)))
        if missing:
            raise BenchError("the wheelhouse %s lacks %s" % (folder, ", ".join(missing)))
        with open(stamp, "w") as handle:
            handle.write(want)
        return folder

    def repin(self, python=TARGET_PYTHON):
        """Resolve requirements.txt afresh from PyPI (no constraints) and rewrite constraints.txt."""
        scratch = os.path.join(CACHE, "repin-%s" % self.name)
        remove_tree(scratch)
        run([python, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary", ":all:",
             "-d", scratch, "-r", self.requirements_file], env=clean_env())
        pins = wheel_names(scratch)
        remove_tree(scratch)
        with open(self.constraints_file) as handle:
            header = [line for line in handle if line.startswith("#")]
        with open(self.constraints_file, "w") as handle:
            handle.writelines(header)
            for name in sorted(pins):
                handle.write("%s==%s\n" % (name, pins[name]))
        return pins


def wheel_names(folder):
    """canonical name -> version of the wheels in folder."""
    found = {}
    for entry in os.listdir(folder):
        if entry.endswith(".whl"):
            name, version = entry.split("-")[:2]
            found[canonical_name(name)] = version
    return found


def python_tag(python):
    """cp311-x86_64 for a CPython 3.11 on x86_64: what decides which wheels fit."""
    probe = ("import sys, platform; i = sys.implementation.name; "
             "print('%s%d%d-%s' % ('cp' if i == 'cpython' else i, sys.version_info[0], sys.version_info[1], platform.machine()))")
    dummy, proc = run([python, "-c", probe])
    return proc.stdout.strip()


def installed_set(venv):
    """canonical name -> version of what is installed in a venv, read from its *.dist-info."""
    found = {}
    lib = os.path.join(venv, "lib")
    for pyver in os.listdir(lib):
        site = os.path.join(lib, pyver, "site-packages")
        if not os.path.isdir(site):
            continue
        for entry in os.listdir(site):
            if entry.endswith(".dist-info"):
                name, version = entry[:-len(".dist-info")].split("-")[:2]
                found[canonical_name(name)] = version
    return found


# --- ansible-playbook ---------------------------------------------------------------------------------

class PlaybookRun(object):
    """One ansible-playbook process: its wall time and, per task, its duration and per-host results."""

    def __init__(self, wall, output, cpu=None):
        self.wall = wall
        self.cpu = cpu
        self.output = output
        self.tasks = []
        for play in output.get("plays", []):
            for task in play.get("tasks", []):
                info = task["task"]
                end = info["duration"].get("end")
                if not end and not task.get("hosts"):
                    # A task that ran on no host (meta: flush_handlers with nothing notified) has no end.
                    end = info["duration"]["start"]
                self.tasks.append({
                    "name": info["name"],
                    "seconds": _iso_seconds(end) - _iso_seconds(info["duration"]["start"]),
                    "hosts": task.get("hosts", {}),
                })
        self.stats = output.get("stats", {})

    def task(self, name):
        """The task named name (its first occurrence)."""
        for task in self.tasks:
            if task["name"] == name:
                return task
        raise BenchError("no task %r in the play (tasks: %s)" % (name, ", ".join(t["name"] for t in self.tasks)))


def _iso_seconds(stamp):
    if not stamp:
        raise BenchError("a task has no end time: it did not finish")
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def playbook(playbook_path, extra_vars, inventory="localhost,", connection="local", env=None, args=()):
    """Run ansible-playbook once; return a PlaybookRun. Fails when any host failed or was unreachable.

    extra_vars is written to a JSON file passed with -e @file, so lists and dicts arrive as they are.
    """
    vars_file = os.path.join(CACHE, "vars-%d.json" % os.getpid())
    os.makedirs(CACHE, exist_ok=True)
    with open(vars_file, "w") as handle:
        json.dump(extra_vars, handle)
    argv = [dev_tool("ansible-playbook"), "-i", inventory, "-e", "@" + vars_file]
    if connection:
        argv += ["-c", connection]
    argv += list(args) + [playbook_path]
    wall, proc = run(argv, env=env or ansible_env(), cwd=REPO, check=False)
    try:
        output = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        raise BenchError("ansible-playbook %s printed no JSON (exit code %d):\n%s\n%s"
                         % (playbook_path, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    result = PlaybookRun(wall, output, proc.cpu)
    bad = dict((h, s) for h, s in result.stats.items() if s.get("failures") or s.get("unreachable"))
    if proc.returncode != 0 or bad:
        failed = [dict(task=t["name"], host=h, msg=r.get("msg"), stderr=str(r.get("stderr", ""))[-2000:])
                  for t in result.tasks for h, r in t["hosts"].items() if r.get("failed") or r.get("unreachable")]
        raise BenchError("ansible-playbook %s failed (exit code %d): %s"
                         % (playbook_path, proc.returncode, json.dumps(failed, indent=1)[-4000:]))
    return result


# --- measuring --------------------------------------------------------------------------------------

def measure(contenders, runs, prepare=None, log=None):
    """Run every contender once per round, rotating who goes first; return name -> list of samples.

    contenders: list of (name, callable); each callable runs its contender once and returns a dict of
    figures in seconds (e.g. {"wall": ..., "task": ...}). prepare(name), if given, runs untimed before
    each contender's run (e.g. to delete the venv a fresh install makes).
    """
    samples = dict((contender[0], []) for contender in contenders)
    for round_no in range(runs):
        shift = round_no % len(contenders)
        for name, func in contenders[shift:] + contenders[:shift]:
            if prepare is not None:
                prepare(name)
            figures = func()
            samples[name].append(figures)
            if log is not None:
                shown = "  ".join("%s %.2fs" % kv for kv in sorted(figures.items()))
                log("round %d/%d %-28s %s" % (round_no + 1, runs, name, shown))
    return samples


def summary(values):
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1], "n": len(values)}


def figure_summary(samples, figure):
    """median/min/max/n of one figure of one contender's samples."""
    return summary([s[figure] for s in samples if figure in s])


def ratio_summary(samples_a, samples_b, figure_a, figure_b=None):
    """a/b: the ratio of medians, and min-max of the per-round ratios (same round, same load)."""
    figure_b = figure_b or figure_a
    pairs = [(a[figure_a], b[figure_b]) for a, b in zip(samples_a, samples_b)]
    per_round = sorted(a / b for a, b in pairs if b > 0)
    medians = statistics.median(p[0] for p in pairs) / statistics.median(p[1] for p in pairs)
    return {"of_medians": medians, "round_min": per_round[0], "round_max": per_round[-1]}


def fmt_seconds(stats):
    return "%.2f s (%.2f-%.2f)" % (stats["median"], stats["min"], stats["max"])


def fmt_ratio(ratio):
    return "%.2fx (%.2f-%.2f)" % (ratio["of_medians"], ratio["round_min"], ratio["round_max"])


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for dummy in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the machine ------------------------------------------------------------------------------------

def _first_match(path, pattern):
    try:
        with open(path) as handle:
            for line in handle:
                match = re.match(pattern, line)
                if match:
                    return match.group(1).strip()
    except (IOError, OSError):
        pass
    return None


def _version_of(argv, env=None):
    try:
        dummy, proc = run(argv, env=env or clean_env(), check=False)
    except OSError:
        return None
    return (proc.stdout.strip() or proc.stderr.strip()).splitlines()[0] if proc.returncode == 0 else None


def machine_info(target_python=TARGET_PYTHON):
    mem_kb = _first_match("/proc/meminfo", r"MemTotal:\s+(\d+)")
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _first_match("/proc/cpuinfo", r"model name\s*:\s*(.*)"),
        "nproc": os.cpu_count(),
        "ram_gib": round(int(mem_kb) / 1024 / 1024, 1) if mem_kb else None,
        "kernel": platform.release(),
        "os": _first_match("/etc/os-release", r'PRETTY_NAME="?([^"]*)"?'),
        "target_python": _version_of([target_python, "--version"]),
        "target_pip": _version_of([target_python, "-m", "pip", "--version"]),
        "controller_python": sys.version.split()[0],
        "ansible_core": _version_of([dev_tool("ansible-playbook"), "--version"]),
        "ansible_posix": _ansible_posix_version(),
        "uv": _version_of([dev_tool("uv"), "--version"]),
        "loadavg_start": os.getloadavg(),
        "env_notes": dict((k, os.environ[k]) for k in ("PYTHONDONTWRITEBYTECODE",) if k in os.environ),
    }
    return info


def _ansible_posix_version():
    site = os.path.join(DEV_VENV, "lib", "python%d.%d" % sys.version_info[:2], "site-packages", "ansible_collections")
    try:
        with open(os.path.join(site, "ansible", "posix", "MANIFEST.json")) as handle:
            return json.load(handle)["collection_info"]["version"]
    except (IOError, OSError, ValueError, KeyError):
        return None


def write_results(name, data, markdown):
    """bench/results/<name>-<UTC time>.json and .md; return the .md path."""
    os.makedirs(RESULTS, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = os.path.join(RESULTS, "%s-%s" % (name, stamp))
    with open(base + ".json", "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True, default=str)
    with open(base + ".md", "w") as handle:
        handle.write(markdown + "\n")
    return base + ".md"


def finish(name, data, markdown, doc=None, marker=None, log=None):
    """The end of a bench script's run: the figures to bench/results/ (write_results), the Markdown printed, and
    with doc the block marker of that file replaced by it. Returns 0, main()'s exit code."""
    path = write_results(name, data, markdown)
    print(markdown)
    say = log or (lambda text: print(text, file=sys.stderr))
    say("figures written to %s" % os.path.relpath(path, REPO))
    if doc:
        replace_marked_block(doc, marker or name, markdown)
        say("tables written to %s" % os.path.relpath(doc, REPO))
    return 0


def replace_marked_block(path, marker, text):
    """Replace what lies between <!-- marker:begin --> and <!-- marker:end --> in path with text."""
    begin, end = "<!-- %s:begin -->" % marker, "<!-- %s:end -->" % marker
    with open(path) as handle:
        doc = handle.read()
    if begin not in doc or end not in doc:
        raise BenchError("%s has no %s ... %s block" % (path, begin, end))
    head, rest = doc.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as handle:
        handle.write(head + begin + "\n" + text.strip("\n") + "\n" + end + tail)

# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the venv_build module on localhost (issue 2): no-op and fresh install.

  .venv/bin/python bench/module_bench.py [--runs 7] [--only noop|fresh] [--write-docs]

No-op: three ansible-playbook runs per round on already-installed venvs of the same workload - an
empty play (ping only), a play with one venv_build task, a play with one ansible.builtin.pip task
(each of the last two after a ping). Figures: the whole process's wall time and the task's duration
(ansible.posix.json callback).

Fresh install: venv_build (pip, uv) making a new venv from the local wheelhouse, against
python -m venv + pip install and uv venv + uv pip install of the same wheels. Venvs are deleted
between runs; uv's cache is a fixed directory, warmed before timing, for both uv contenders.

Contenders run in rotating order, round after round; ratios come from the same run. Figures go to
bench/results/ (JSON and Markdown); --write-docs also puts the tables into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib as bl  # noqa: E402  (bench/ is not a package)

WORK = os.path.join(bl.CACHE, "work", "module_bench")
UV_CACHE = os.path.join(bl.CACHE, "uv")
DOC = os.path.join(bl.REPO, "docs", "benchmarks.md")
GOAL_NOOP_SPEEDUP = 10.0
GOAL_FRESH_OVERHEAD = 1.3

VB_TASK = "Build the venv with venv_build"
PIP_TASK = "Build the venv with ansible.builtin.pip"
FLOOR_TASK = "Answer ping again"


def log(text):
    print("bench: " + text, file=sys.stderr, flush=True)


def play_vars(workload, wheelhouse, venv, **extra):
    data = {
        "ansible_python_interpreter": bl.TARGET_PYTHON,
        "bench_python": bl.TARGET_PYTHON,
        "bench_venv": venv,
        "bench_requirements": workload.requirements,
        "bench_constraints": workload.constraints,
        "bench_requirements_file": workload.requirements_file,
        "bench_constraints_file": workload.constraints_file,
        "bench_wheelhouse": wheelhouse,
        "bench_log_file": os.path.join(WORK, "venv_build.log"),
    }
    data.update(extra)
    return data


def host_result(run, task_name):
    results = run.task(task_name)["hosts"]
    if len(results) != 1:
        raise bl.BenchError("expected one host result for %r, got %d" % (task_name, len(results)))
    return list(results.values())[0]


def check_installed(venv, workload, who):
    """Every pinned distribution is installed at its pinned version (read from *.dist-info)."""
    installed = bl.installed_set(venv)
    wrong = dict((n, installed.get(n)) for n, v in workload.pins.items() if installed.get(n) != v)
    if wrong:
        raise bl.BenchError("%s left %s without the pinned versions: %s" % (who, venv, wrong))
    return installed


# --- no-op ----------------------------------------------------------------------------------------

def bench_noop(workload, wheelhouse, runs):
    vb_venv = os.path.join(WORK, "noop-venv_build")
    pip_venv = os.path.join(WORK, "noop-pip")
    for path in (vb_venv, pip_venv):
        bl.remove_tree(path)
    vb_vars = play_vars(workload, wheelhouse, vb_venv)
    pip_vars = play_vars(workload, wheelhouse, pip_venv)
    vb_play = os.path.join(bl.PLAYBOOKS, "venv_build.yml")
    pip_play = os.path.join(bl.PLAYBOOKS, "pip.yml")
    ping_play = os.path.join(bl.PLAYBOOKS, "ping.yml")

    log("no-op: installing the venvs (untimed)")
    first = host_result(bl.playbook(vb_play, vb_vars), VB_TASK)
    if not first.get("changed") or not first.get("commands"):
        raise bl.BenchError("venv_build's first run into an empty path did not install: %s" % first.get("msg"))
    bl.playbook(pip_play, pip_vars)
    vb_set = check_installed(vb_venv, workload, "venv_build")
    pip_set = check_installed(pip_venv, workload, "ansible.builtin.pip")
    if vb_set != pip_set:
        raise bl.BenchError("the two venvs differ: venv_build %s, ansible.builtin.pip %s"
                            % (sorted(set(vb_set.items()) - set(pip_set.items())),
                               sorted(set(pip_set.items()) - set(vb_set.items()))))

    def checked_noop(result):
        # Never time a broken no-op: a re-run must change nothing and start no installer.
        if result.get("changed") or result.get("commands"):
            raise bl.BenchError("venv_build's re-run is not a no-op: changed=%s commands=%s reasons=%s"
                                % (result.get("changed"), result.get("commands"), result.get("reasons")))

    checked_noop(host_result(bl.playbook(vb_play, vb_vars), VB_TASK))
    pip_changed = []

    def figures(run, task_name):
        task, floor = run.task(task_name)["seconds"], run.task(FLOOR_TASK)["seconds"]
        return {"wall": run.wall, "cpu": run.cpu, "task": task, "floor": floor, "over_floor": task - floor}

    def run_ping():
        return figures(bl.playbook(ping_play, {"ansible_python_interpreter": bl.TARGET_PYTHON}), FLOOR_TASK)

    def run_vb():
        run = bl.playbook(vb_play, vb_vars)
        checked_noop(host_result(run, VB_TASK))
        return figures(run, VB_TASK)

    def run_pip():
        run = bl.playbook(pip_play, pip_vars)
        pip_changed.append(bool(host_result(run, PIP_TASK).get("changed")))
        return figures(run, PIP_TASK)

    contenders = [("empty play (ping)", run_ping), ("venv_build", run_vb), ("ansible.builtin.pip", run_pip)]
    log("no-op: warm-up round (untimed)")
    bl.measure(contenders, 1)
    del pip_changed[:]
    log("no-op: %d timed rounds" % runs)
    samples = bl.measure(contenders, runs, log=log)
    return {"samples": samples, "pip_reported_changed": pip_changed, "packages": len(vb_set),
            "workload_distributions": len(workload.pins)}


def render_noop(data):
    s = data["samples"]
    ping, vb, pip = s["empty play (ping)"], s["venv_build"], s["ansible.builtin.pip"]
    rows = []
    for name, samples in (("empty play (two pings)", ping), ("venv_build", vb), ("ansible.builtin.pip", pip)):
        task = "-" if samples is ping else bl.fmt_seconds(bl.figure_summary(samples, "task"))
        rows.append([name, bl.fmt_seconds(bl.figure_summary(samples, "wall")),
                     bl.fmt_seconds(bl.figure_summary(samples, "cpu")), task,
                     bl.fmt_seconds(bl.figure_summary(samples, "floor"))])
    speedup = bl.ratio_summary(pip, vb, "task")
    met = speedup["of_medians"] >= GOAL_NOOP_SPEEDUP
    ratios = [
        ["ansible.builtin.pip task / venv_build task", bl.fmt_ratio(speedup),
         ">= %.0fx" % GOAL_NOOP_SPEEDUP, "met" if met else "**missed**"],
        ["the same, each minus the ping in its play", bl.fmt_ratio(bl.ratio_summary(pip, vb, "over_floor")), "-", ""],
        ["the same, wall of each play minus the empty play's", "%.2fx" % _over_ratio(pip, vb, ping, "wall"), "-", ""],
        ["the same, CPU of each play minus the empty play's", "%.2fx" % _over_ratio(pip, vb, ping, "cpu"), "-", ""],
        ["venv_build task / ping task in the same play", bl.fmt_ratio(bl.ratio_summary(vb, vb, "task", "floor")),
         "-", ""],
        ["venv_build play / empty play, wall", bl.fmt_ratio(bl.ratio_summary(vb, ping, "wall")), "-", ""],
    ]
    text = [
        "Already-installed venvs (the workload's %d distributions plus pip and setuptools, the same in both), "
        "%d rounds; median (min-max) in seconds. CPU: user+system time of the whole ansible-playbook process "
        "tree, modules included." % (data["workload_distributions"], len(vb)),
        "",
        bl.markdown_table(["contender", "ansible-playbook wall", "CPU", "task time", "ping task in the same play"],
                          rows),
        "",
        bl.markdown_table(["ratio (same run)", "median (per-round min-max)", "goal", ""], ratios),
        "",
        "venv_build reported changed=false and commands=[] on every timed run (checked before timing and on "
        "each run); ansible.builtin.pip reported changed=true on %d of %d runs."
        % (sum(data["pip_reported_changed"]), len(data["pip_reported_changed"])),
    ]
    return "\n".join(text), met


def _over_ratio(samples_a, samples_b, floor, figure):
    """(median a - median floor) / (median b - median floor) for one figure."""
    base = statistics.median(x[figure] for x in floor)
    a = statistics.median(x[figure] for x in samples_a) - base
    b = statistics.median(x[figure] for x in samples_b) - base
    return a / b if b > 0 else float("inf")


def _installs_with(tool, command):
    """True when command (as venv_build returns it) is an install with tool."""
    words = command.split()
    if tool == "uv":
        return os.path.basename(words[0]) == "uv" and words[1:3] == ["pip", "install"]
    return words[1:4] == ["-m", "pip", "install"]


# --- fresh install ------------------------------------------------------------------------------------

def bench_fresh(workload, wheelhouse, runs):
    vb_play = os.path.join(bl.PLAYBOOKS, "venv_build.yml")
    uv = bl.dev_tool("uv")
    uv_env = bl.clean_env({"UV_CACHE_DIR": UV_CACHE})
    pip_env = bl.clean_env()
    venvs = {
        "venv_build (pip)": os.path.join(WORK, "fresh-vb-pip"),
        "venv + pip install": os.path.join(WORK, "fresh-pip"),
        "venv_build (uv)": os.path.join(WORK, "fresh-vb-uv"),
        "uv venv + uv pip install": os.path.join(WORK, "fresh-uv"),
    }

    def vb(tool):
        name = "venv_build (%s)" % tool
        extra = {"bench_install_tool": tool}
        if tool == "uv":
            extra["bench_installer_env"] = {"UV_CACHE_DIR": UV_CACHE}
        variables = play_vars(workload, wheelhouse, venvs[name], **extra)

        def contender():
            run = bl.playbook(vb_play, variables)
            result = host_result(run, VB_TASK)
            if not result.get("changed") or not any(_installs_with(tool, c) for c in result.get("commands", [])):
                raise bl.BenchError("%s did not install with %s: %s" % (name, tool, result.get("commands")))
            check_installed(venvs[name], workload, name)
            return {"wall": run.wall, "cpu": run.cpu, "task": run.task(VB_TASK)["seconds"]}
        return contender

    def plain_pip():
        venv = venvs["venv + pip install"]
        t_venv, p_venv = bl.run([bl.TARGET_PYTHON, "-m", "venv", venv], env=pip_env)
        t_inst, p_inst = bl.run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--no-index",
                                 "--find-links", wheelhouse, "-r", workload.requirements_file,
                                 "-c", workload.constraints_file], env=pip_env)
        check_installed(venv, workload, "pip install")
        return {"wall": t_venv + t_inst, "cpu": p_venv.cpu + p_inst.cpu, "venv": t_venv, "install": t_inst}

    def plain_uv():
        venv = venvs["uv venv + uv pip install"]
        t_venv, p_venv = bl.run([uv, "venv", "--quiet", "--python", bl.TARGET_PYTHON, venv], env=uv_env)
        t_inst, p_inst = bl.run([uv, "pip", "install", "--quiet", "--python", os.path.join(venv, "bin", "python"),
                                 "--no-index", "--find-links", wheelhouse, "-r", workload.requirements_file,
                                 "-c", workload.constraints_file], env=uv_env)
        check_installed(venv, workload, "uv pip install")
        return {"wall": t_venv + t_inst, "cpu": p_venv.cpu + p_inst.cpu, "venv": t_venv, "install": t_inst}

    contenders = [("venv_build (pip)", vb("pip")), ("venv + pip install", plain_pip),
                  ("venv_build (uv)", vb("uv")), ("uv venv + uv pip install", plain_uv)]

    def prepare(name):
        bl.remove_tree(venvs[name])

    # uv's cache: one directory for both uv contenders, filled before timing by an untimed install of
    # the same wheels (which also brings the wheelhouse and the interpreter into the page cache).
    log("fresh: warm-up (untimed; fills uv's cache at %s)" % UV_CACHE)
    for name, func in contenders:
        if name in ("venv + pip install", "uv venv + uv pip install"):
            prepare(name)
            func()
    log("fresh: %d timed rounds" % runs)
    samples = bl.measure(contenders, runs, prepare=prepare, log=log)
    for path in venvs.values():
        bl.remove_tree(path)
    return {"samples": samples, "uv_cache": UV_CACHE}


def render_fresh(data):
    s = data["samples"]
    rows = []
    for name in ("venv + pip install", "venv_build (pip)", "uv venv + uv pip install", "venv_build (uv)"):
        samples = s[name]
        wall = bl.figure_summary(samples, "wall")
        if "task" in samples[0]:
            task = bl.fmt_seconds(bl.figure_summary(samples, "task"))
            parts = "one ansible-playbook process"
        else:
            task = "-"
            parts = "venv %s + install %s" % (bl.fmt_seconds(bl.figure_summary(samples, "venv")),
                                              bl.fmt_seconds(bl.figure_summary(samples, "install")))
        rows.append([name, bl.fmt_seconds(wall), bl.fmt_seconds(bl.figure_summary(samples, "cpu")), task, parts])
    ratios = []
    met_all = True
    for ours, floor in (("venv_build (pip)", "venv + pip install"), ("venv_build (uv)", "uv venv + uv pip install")):
        task_ratio = bl.ratio_summary(s[ours], s[floor], "task", "wall")
        wall_ratio = bl.ratio_summary(s[ours], s[floor], "wall")
        met = task_ratio["of_medians"] <= GOAL_FRESH_OVERHEAD
        met_all = met_all and met
        ratios.append(["%s task / %s" % (ours, floor), bl.fmt_ratio(task_ratio),
                       "<= %.1fx" % GOAL_FRESH_OVERHEAD, "met" if met else "**missed**"])
        ratios.append(["%s whole play / %s" % (ours, floor), bl.fmt_ratio(wall_ratio), "-", "-"])
    text = [
        "New venv from the local wheelhouse (no index), deleted between runs, %d rounds; median (min-max) "
        "in seconds. The plain contenders' time is the sum of their two processes." % len(s["venv_build (pip)"]),
        "",
        bl.markdown_table(["contender", "wall", "CPU", "task time", "detail"], rows),
        "",
        bl.markdown_table(["ratio (same run)", "median (per-round min-max)", "goal", ""], ratios),
        "",
        "uv's cache: warm for both uv contenders (one UV_CACHE_DIR, %s, filled by an untimed warm-up "
        "install of the same wheels; on the same file system as the venvs, so uv hard-links from it). pip "
        "caches nothing for local --find-links wheels, so pip's runs are the same every time."
        % os.path.relpath(data["uv_cache"], bl.REPO),
    ]
    return "\n".join(text), met_all


# --- main -------------------------------------------------------------------------------------------

def render_machine(info, workload, runs, command):
    rows = [
        ["date", info["date"]],
        ["CPU", "%s, %d cores (nproc)" % (info["cpu"], info["nproc"])],
        ["RAM", "%s GiB" % info["ram_gib"]],
        ["OS, kernel", "%s, %s" % (info["os"], info["kernel"])],
        ["target Python", "%s (%s)" % (info["target_python"], bl.TARGET_PYTHON)],
        ["pip (target Python; the venvs get the ensurepip one)", info["target_pip"]],
        ["controller", "Python %s, %s, ansible.posix %s"
         % (info["controller_python"], info["ansible_core"], info["ansible_posix"])],
        ["uv", info["uv"]],
        ["load average at start / end", "%s / %s" % (" ".join("%.2f" % x for x in info["loadavg_start"]),
                                                     " ".join("%.2f" % x for x in info["loadavg_end"]))],
        ["workload", "%s: %d requirements, %d pinned distributions" % (workload.name, len(workload.requirements),
                                                                       len(workload.pins))],
        ["rounds", str(runs)],
        ["command", "`%s`" % command],
    ]
    if info["env_notes"]:
        rows.append(["environment", ", ".join("%s=%s" % kv for kv in sorted(info["env_notes"].items()))])
    return bl.markdown_table(["", ""], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=7, help="timed rounds per part (default 7)")
    parser.add_argument("--only", choices=["noop", "fresh"], help="run one part only")
    parser.add_argument("--workload", default="service30", help="a folder of bench/workloads (default service30)")
    parser.add_argument("--write-docs", action="store_true", help="put the tables into docs/benchmarks.md")
    args = parser.parse_args(argv)
    command = "python bench/module_bench.py" + ("" if args.runs == 7 else " --runs %d" % args.runs) \
        + (" --only %s" % args.only if args.only else "")

    bl.bootstrap()
    workload = bl.Workload(args.workload)
    wheelhouse = workload.wheelhouse(bl.TARGET_PYTHON)
    os.makedirs(WORK, exist_ok=True)
    info = bl.machine_info()
    data = {"machine": info, "workload": workload.name, "runs": args.runs}
    sections = []
    goals = []
    if args.only in (None, "noop"):
        data["noop"] = bench_noop(workload, wheelhouse, args.runs)
    if args.only in (None, "fresh"):
        data["fresh"] = bench_fresh(workload, wheelhouse, args.runs)
    info["loadavg_end"] = os.getloadavg()
    if "noop" in data:
        text, met = render_noop(data["noop"])
        sections.append("### No-op\n\n" + text)
        goals.append("no-op at least %.0fx faster than ansible.builtin.pip (task time): %s"
                     % (GOAL_NOOP_SPEEDUP, "met" if met else "MISSED"))
    if "fresh" in data:
        text, met = render_fresh(data["fresh"])
        sections.append("### Fresh install\n\n" + text)
        goals.append("fresh install within %.1fx of the plain installer (task time): %s"
                     % (GOAL_FRESH_OVERHEAD, "met" if met else "MISSED"))
    markdown = "\n\n".join(["### Machine and run\n\n" + render_machine(info, workload, args.runs, command)]
                           + sections)
    status = bl.finish("module_bench", data, markdown, DOC if args.write_docs else None, "module_bench", log)
    print("\n" + "\n".join("goal: " + g for g in goals))
    return status


if __name__ == "__main__":
    bl.run_main(main)

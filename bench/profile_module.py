# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a venv_build no-op spends its time, split into the parts a fix would target.

  .venv/bin/python bench/profile_module.py [--runs 15] [--workload service30] [--write-docs]

1. Makes (or reuses) an installed venv of the workload, then runs bench/playbooks/venv_build.yml
   with ANSIBLE_KEEP_REMOTE_FILES=1 to keep the AnsiballZ files of ping and venv_build.
2. Module process: runs both AnsiballZ files directly, interleaved, --runs times each (wall and
   CPU): what the venv_build process costs over a module that does nothing.
3. Imports: `python -X importtime` of the exploded venv_build module, the collection's share.
4. The module's own logic in-process (VenvSpec + sync, no Ansible around it): time per call and a
   cProfile of it.
5. The controller's share: the task's duration in the play minus the module process's wall time,
   and venv_build's first against its second use in one play (the first pays the payload build).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib as bl  # noqa: E402  (bench/ is not a package)

WORK = os.path.join(bl.CACHE, "work", "profile_module")
DOC = os.path.join(bl.REPO, "docs", "benchmarks.md")
VB_TASK = "Build the venv with venv_build"
FLOOR_TASK = "Answer ping again"

# Runs inside the target Python with the exploded module on sys.path: the module's logic alone.
_IN_PROCESS = textwrap.dedent('''
    import cProfile, io, json, pstats, sys, time
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.wheelhouse.venv.plugins.modules.venv_build import ARGUMENT_SPEC
    from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec
    from ansible_collections.wheelhouse.venv.plugins.module_utils._sync import sync
    with open(sys.argv[2]) as handle:
        args = json.load(handle)["ANSIBLE_MODULE_ARGS"]
    params = dict((k, v.get("default")) for k, v in ARGUMENT_SPEC.items())
    params.update((k, v) for k, v in args.items() if not k.startswith("_ansible"))

    def refuse(argv, env):
        raise RuntimeError("a no-op started a process: %s" % argv)

    def once():
        result, dummy = sync(VenvSpec(dict(params)), False, refuse)
        if result["changed"] or result["commands"]:
            raise RuntimeError("not a no-op: %s" % result.get("reasons"))

    once()
    runs = int(sys.argv[3])
    times = []
    for dummy in range(runs):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    prof = cProfile.Profile()
    prof.enable()
    for dummy in range(runs):
        once()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("cumulative").print_stats(25)
    print(json.dumps({"times": times, "profile": out.getvalue()}))
''')


def log(text):
    print("bench: " + text, file=sys.stderr, flush=True)


def keep_module_files(workload, wheelhouse):
    """Install the venv if needed, run the no-op play keeping the AnsiballZ files; return paths and the task time."""
    venv = os.path.join(WORK, "venv")
    remote_tmp = os.path.join(WORK, "remote-tmp")
    bl.remove_tree(remote_tmp)
    variables = {
        "ansible_python_interpreter": bl.TARGET_PYTHON, "bench_python": bl.TARGET_PYTHON, "bench_venv": venv,
        "bench_requirements": workload.requirements, "bench_constraints": workload.constraints,
        "bench_wheelhouse": wheelhouse, "bench_log_file": os.path.join(WORK, "venv_build.log"),
    }
    play = os.path.join(bl.PLAYBOOKS, "venv_build.yml")
    bl.playbook(play, variables)  # installs on the first use, a no-op afterwards
    env = bl.ansible_env({"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": remote_tmp})
    run = bl.playbook(play, variables, env=env)
    result = list(run.task(VB_TASK)["hosts"].values())[0]
    if result.get("changed") or result.get("commands"):
        raise bl.BenchError("the kept run is not a no-op: %s" % result.get("reasons"))
    found = {}
    for name in ("ping", "venv_build"):
        paths = sorted(glob.glob(os.path.join(remote_tmp, "*", "AnsiballZ_%s.py" % name)))
        if not paths:
            raise bl.BenchError("no AnsiballZ_%s.py kept under %s" % (name, remote_tmp))
        found[name] = paths[0]
    return found, run.task(VB_TASK)["seconds"], run.task(FLOOR_TASK)["seconds"]


def first_and_second_use(workload, wheelhouse, runs):
    """Task times of venv_build's first and second use in one play, and of the ping before them."""
    play = os.path.join(bl.PLAYBOOKS, "venv_build_twice.yml")
    variables = {
        "ansible_python_interpreter": bl.TARGET_PYTHON, "bench_python": bl.TARGET_PYTHON,
        "bench_venv": os.path.join(WORK, "venv"), "bench_requirements": workload.requirements,
        "bench_constraints": workload.constraints, "bench_wheelhouse": wheelhouse,
        "bench_log_file": os.path.join(WORK, "venv_build.log"),
    }
    samples = []
    for dummy in range(runs):
        run = bl.playbook(play, variables)
        samples.append({"ping": run.task(FLOOR_TASK)["seconds"], "first": run.task(VB_TASK)["seconds"],
                        "second": run.task(VB_TASK + " again")["seconds"]})
    return samples


def time_module_processes(files, runs):
    samples = dict((name, []) for name in files)
    for dummy in range(runs):
        for name, path in sorted(files.items()):
            wall, proc = bl.run([bl.TARGET_PYTHON, path], env=bl.clean_env(), cwd=os.path.dirname(path))
            if '"failed": true' in proc.stdout:
                raise bl.BenchError("%s failed: %s" % (path, proc.stdout[-2000:]))
            samples[name].append({"wall": wall, "cpu": proc.cpu})
    return samples


def import_profile(vb_file):
    folder = os.path.dirname(vb_file)
    bl.run([bl.TARGET_PYTHON, vb_file, "explode"], env=bl.clean_env(), cwd=folder)
    dummy, proc = bl.run([bl.TARGET_PYTHON, "-X", "importtime", vb_file, "execute"], env=bl.clean_env(), cwd=folder)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = [part.strip() for part in line[len("import time:"):].split("|")]
        rows.append((name, int(self_us), int(cumulative_us)))
    total = sum(r[1] for r in rows)
    ours = [r for r in rows if r[0].startswith("ansible_collections.wheelhouse")]
    ansible = sum(r[1] for r in rows if r[0].startswith("ansible.module_utils"))
    return {"total_s": total / 1e6, "ansible_module_utils_s": ansible / 1e6,
            "collection_s": sum(r[1] for r in ours) / 1e6,
            "collection": sorted(ours, key=lambda r: -r[2])[:8],
            "top": sorted(rows, key=lambda r: -r[2])[:12],
            "debug_dir": os.path.join(folder, "debug_dir")}


def in_process(debug_dir, runs):
    script = os.path.join(WORK, "in_process.py")
    with open(script, "w") as handle:
        handle.write(_IN_PROCESS)
    dummy, proc = bl.run([bl.TARGET_PYTHON, script, debug_dir, os.path.join(debug_dir, "args"), str(runs)],
                         env=bl.clean_env())
    return json.loads(proc.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--workload", default="service30")
    parser.add_argument("--write-docs", action="store_true", help="put the tables into docs/benchmarks.md")
    args = parser.parse_args(argv)
    bl.bootstrap()
    workload = bl.Workload(args.workload)
    wheelhouse = workload.wheelhouse(bl.TARGET_PYTHON)
    os.makedirs(WORK, exist_ok=True)
    log("keeping the module files of a no-op run")
    files, task_seconds, ping_seconds = keep_module_files(workload, wheelhouse)
    log("timing the module processes (%d runs each)" % args.runs)
    procs = time_module_processes(files, args.runs)
    log("venv_build's first and second use in one play (%d plays)" % max(3, args.runs // 3))
    uses = first_and_second_use(workload, wheelhouse, max(3, args.runs // 3))
    log("import times and the in-process profile")
    imports = import_profile(files["venv_build"])
    logic = in_process(imports["debug_dir"], args.runs)

    ping = dict((f, bl.figure_summary(procs["ping"], f)) for f in ("wall", "cpu"))
    vb = dict((f, bl.figure_summary(procs["venv_build"], f)) for f in ("wall", "cpu"))
    logic_s = statistics.median(logic["times"])
    rows = [
        ["venv_build task in the play (one run, see module_bench for medians)", "%.3f s" % task_seconds, ""],
        ["ping task after it in the same play (one run)", "%.3f s" % ping_seconds, ""],
        ["AnsiballZ_ping.py as a process (wall / CPU)", bl.fmt_seconds(ping["wall"]), bl.fmt_seconds(ping["cpu"])],
        ["AnsiballZ_venv_build.py as a process (wall / CPU)", bl.fmt_seconds(vb["wall"]), bl.fmt_seconds(vb["cpu"])],
        ["venv_build process minus ping process, medians", "%+.3f s" % (vb["wall"]["median"] - ping["wall"]["median"]),
         "%+.3f s" % (vb["cpu"]["median"] - ping["cpu"]["median"])],
        ["imports of the venv_build process (sum of self times)", "%.3f s" % imports["total_s"], ""],
        ["- of which ansible.module_utils", "%.3f s" % imports["ansible_module_utils_s"], ""],
        ["- of which this collection's module_utils and module", "%.3f s" % imports["collection_s"], ""],
        ["the module's logic in-process (VenvSpec + sync), median of %d" % args.runs, "%.4f s" % logic_s, ""],
        ["in one play: ping task (second ping)", bl.fmt_seconds(bl.figure_summary(uses, "ping")), ""],
        ["in one play: venv_build task, first use", bl.fmt_seconds(bl.figure_summary(uses, "first")), ""],
        ["in one play: venv_build task, second use", bl.fmt_seconds(bl.figure_summary(uses, "second")), ""],
        ["controller's share of venv_build: its task time minus its module process (median)",
         "%.3f s" % (task_seconds - vb["wall"]["median"]), ""],
        ["controller's share of ping: its task time minus its module process (median)",
         "%.3f s" % (ping_seconds - ping["wall"]["median"]), ""],
    ]
    imports_table = bl.markdown_table(
        ["import (this collection)", "self", "cumulative"],
        [[n, "%.1f ms" % (s / 1e3), "%.1f ms" % (c / 1e3)] for n, s, c in imports["collection"]])
    markdown = "\n\n".join([
        "Module no-op profile, workload %s, %d runs; median (min-max)." % (workload.name, args.runs),
        bl.markdown_table(["part", "wall", "CPU"], rows),
        imports_table,
        "cProfile of %d in-process no-op calls:\n\n```\n%s\n```" % (args.runs, logic["profile"].strip()),
    ])
    data = {"procs": procs, "imports": imports, "logic_times": logic["times"], "task_seconds": task_seconds,
            "ping_seconds": ping_seconds, "uses": uses,
            "machine": bl.machine_info()}
    return bl.finish("profile_module", data, markdown, DOC if args.write_docs else None, "profile_module", log)


if __name__ == "__main__":
    bl.run_main(main)

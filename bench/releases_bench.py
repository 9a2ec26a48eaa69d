# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What keep_previous costs (issue 14): a change of the package set built as a new release, against in place.

  . scripts/env.sh && python bench/releases_bench.py [--runs 5] [--wheelhouse DIR]

Every timed run is one ansible-playbook process changing a venv of the workload service30 from one
package set to the other and back (all requirements / all but the last one, prune=true): in place
(keep_previous=0: pip or uv installs or uninstalls one distribution) or as a new release beside the
live venv (keep_previous=2: a whole venv built, swapped in, the old one kept). pip and uv, local wheels,
uv's cache warmed first. Medians of the wall time; the figures are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib as bl  # noqa: E402  (bench/ is not a package)

WORK = os.path.join(bl.CACHE, "work", "releases_bench")
UV_CACHE = os.path.join(bl.CACHE, "uv")
TASK = "Change the venv with venv_build"


def contender(workload, wheelhouse, tool, keep):
    venv = os.path.join(WORK, "%s-keep%d" % (tool, keep))
    bl.remove_tree(venv)
    bl.remove_tree(os.path.join(WORK, ".%s.releases" % os.path.basename(venv)))
    sets = [workload.requirements, workload.requirements[:-1]]
    variables = {"ansible_python_interpreter": bl.TARGET_PYTHON, "bench_python": bl.TARGET_PYTHON, "bench_venv": venv,
                 "bench_constraints": workload.constraints, "bench_wheelhouse": wheelhouse, "bench_keep_previous": keep,
                 "bench_install_tool": tool, "bench_installer_env": {"UV_CACHE_DIR": UV_CACHE} if tool == "uv" else {},
                 "bench_log_file": os.path.join(WORK, "venv_build.log")}
    turn = [0]

    def run_once():
        turn[0] += 1
        run = bl.playbook(os.path.join(bl.PLAYBOOKS, "venv_build_releases.yml"),
                          dict(variables, bench_requirements=sets[turn[0] % 2]))
        result = list(run.task(TASK)["hosts"].values())[0]
        if not result.get("changed"):
            raise bl.BenchError("%s keep_previous=%d changed nothing: %s" % (tool, keep, result.get("reasons")))
        if keep and not any("keep_previous" in r for r in result.get("reasons", [])) and turn[0] > 1:
            raise bl.BenchError("keep_previous=%d did not build a new release: %s" % (keep, result.get("reasons")))
        return {"wall": run.wall, "task": run.task(TASK)["seconds"]}
    run_once()  # untimed: the venv made once (and uv's cache warmed)
    return run_once


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wheelhouse", help="the workload's wheels (default: downloaded once into bench/.cache)")
    args = parser.parse_args(argv)
    # the collection as scripts/env.sh links it (run under `. scripts/env.sh`; bootstrap.sh is not run here)
    link = os.path.join(os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""), "ansible_collections", "wheelhouse", "venv")
    if os.path.realpath(link) != os.path.realpath(bl.REPO):
        raise bl.BenchError("%s does not point to this checkout: run `. scripts/env.sh && wh_link_collection`" % link)
    os.makedirs(WORK, exist_ok=True)
    workload = bl.Workload("service30")
    wheelhouse = args.wheelhouse or workload.wheelhouse()
    contenders = [("%s, %s" % (tool, "in place" if keep == 0 else "keep_previous=%d" % keep),
                   contender(workload, wheelhouse, tool, keep)) for tool in ("pip", "uv") for keep in (0, 2)]
    samples = bl.measure(contenders, args.runs, log=lambda text: print("bench: " + text, file=sys.stderr, flush=True))
    rows = []
    for tool in ("pip", "uv"):
        in_place, kept = samples["%s, in place" % tool], samples["%s, keep_previous=2" % tool]
        rows.append([tool, bl.fmt_seconds(bl.figure_summary(in_place, "wall")),
                     bl.fmt_seconds(bl.figure_summary(kept, "wall")),
                     bl.fmt_seconds(bl.figure_summary(kept, "task")), bl.fmt_ratio(bl.ratio_summary(kept, in_place, "wall"))])
    print(bl.markdown_table(["installer", "in place (whole process)", "keep_previous=2 (whole process)",
                             "keep_previous=2 (task)", "keep_previous / in place"], rows))


if __name__ == "__main__":
    bl.run_main(main)

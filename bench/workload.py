# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workloads of bench/workloads: fetch their wheels, or re-pin them.

  .venv/bin/python bench/workload.py fetch service30 [--python /usr/bin/python3]
  .venv/bin/python bench/workload.py repin service30 [--python /usr/bin/python3]

fetch downloads a wheel of every pin into bench/.cache/wheelhouse/<workload>-<python tag>/ (the
benchmarks do this themselves on first use); repin resolves requirements.txt afresh from PyPI and
rewrites constraints.txt (review the diff, then commit it).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib as bl  # noqa: E402  (bench/ is not a package)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("action", choices=["fetch", "repin"])
    parser.add_argument("workload")
    parser.add_argument("--python", default=bl.TARGET_PYTHON, help="the target interpreter (default %(default)s)")
    args = parser.parse_args(argv)
    workload = bl.Workload(args.workload)
    if args.action == "fetch":
        print(workload.wheelhouse(args.python))
    else:
        pins = workload.repin(args.python)
        print("%s: %d pins written to %s" % (workload.name, len(pins), os.path.relpath(workload.constraints_file)))
    return 0


if __name__ == "__main__":
    bl.run_main(main)

# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small CPU benchmark, printed beside the stage times of scripts/test.sh so that runs on different
machines can be compared (docs/development.md).

Two figures, each the median of five rounds, in seconds (lower is faster):
  - python: one core running pure Python (a loop, a dict, a sort), as ansible-playbook and pip do;
  - spawn:  20 interpreters started one after the other (`python -S -c pass`), as the tests do all day.
The machine's load average is printed too: a figure taken under load says so.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time


def python_round():
    start = time.perf_counter()
    table = {}
    total = 0
    for i in range(1_500_000):
        total += i * i % 7
        table[i % 5000] = total
    sorted(table.values(), reverse=True)
    sorted(str(i) for i in range(200_000))
    return time.perf_counter() - start


def spawn_round():
    start = time.perf_counter()
    for dummy in range(20):
        subprocess.run([sys.executable, "-S", "-c", "pass"], check=True)
    return time.perf_counter() - start


def main():
    rounds = 5
    python = statistics.median(python_round() for dummy in range(rounds))
    spawn = statistics.median(spawn_round() for dummy in range(rounds))
    load = os.getloadavg()[0]
    print("cpu bench: python %.2f s, spawn %.2f s (median of %d rounds, lower is faster; %d cores, load %.2f)"
          % (python, spawn, rounds, os.cpu_count() or 0, load))


if __name__ == "__main__":
    main()

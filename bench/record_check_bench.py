# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the no-op's file checks cost (issue 23, point 4): every file each RECORD lists, lstat'ed.

  . scripts/env.sh && python bench/record_check_bench.py [--runs 21] [--dists 300 --files 80]

Two venvs: a made one of --dists distributions of --files files each (a real venv from `python -m venv`,
the distributions laid down as an installer lays down a wheel: package folder, modules, dist-info with
METADATA and RECORD, a console script), and this repository's development venv (.venv: ansible-core,
ansible and the test tools, a real pip-installed venv). For each, in a fresh process per run (the
module runs in a fresh process too): the time of reading the venv (VenvOnDisk: pyvenv.cfg, state file,
every METADATA) and of the RECORD check (missing_files), and the whole process (python start, imports,
both). Medians; a Markdown table is printed. Warm page cache (the no-op runs right after others).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "bench", ".cache", "work", "record_check_bench")
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")

PROBE = r"""
import json, sys, time
start = time.perf_counter()
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import VenvOnDisk
imported = time.perf_counter()
disk = VenvOnDisk(sys.argv[1])
read = time.perf_counter()
missing = disk.missing_files()
checked = time.perf_counter()
assert not missing, missing
lines = 0
for dist in disk.dists.values():
    with open(dist.meta_dir + "/RECORD", "rb") as handle:
        lines += handle.read().count(b"\n")
print(json.dumps({"dists": len(disk.dists), "lines": lines, "read": read - imported, "check": checked - read}))
"""


def make_venv(path, dists, files):
    """A real venv with dists distributions of files modules each, laid down as an installer does."""
    stamp = os.path.join(path, ".made-%d-%d" % (dists, files))
    if os.path.exists(stamp):
        return path
    subprocess.run(["rm", "-rf", path], check=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    site = subprocess.run([os.path.join(path, "bin", "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    for number in range(dists):
        name = "bench_dist_%03d" % number
        meta = os.path.join(site, "%s-1.0.dist-info" % name)
        os.makedirs(os.path.join(site, name, "sub"))
        os.makedirs(meta)
        record = []
        for index in range(files):
            rel = "%s/%s%d.py" % (name, "sub/" if index % 2 else "", index)
            text = "VALUE = %d\n" % index * (1 + index % 7)
            with open(os.path.join(site, rel), "w") as handle:
                handle.write(text)
            record.append("%s,sha256=x,%d" % (rel, len(text)))
        script = "#!%s\nimport %s\n" % (os.path.join(path, "bin", "python"), name)
        with open(os.path.join(path, "bin", name), "w") as handle:
            handle.write(script)
        record.append("../../../bin/%s,sha256=x,%d" % (name, len(script)))
        metadata = "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n\n" % name
        with open(os.path.join(meta, "METADATA"), "w") as handle:
            handle.write(metadata)
        record.append("%s-1.0.dist-info/METADATA,sha256=x,%d" % (name, len(metadata)))
        record.append("%s-1.0.dist-info/RECORD,," % name)
        with open(os.path.join(meta, "RECORD"), "w") as handle:
            handle.write("\n".join(record) + "\n")
    open(stamp, "w").close()
    return path


def measure(venv, runs):
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    samples = []
    for dummy in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE, venv], env=env, check=True, stdout=subprocess.PIPE,
                             universal_newlines=True).stdout
        wall = time.perf_counter() - start
        samples.append(dict(json.loads(out), wall=wall))
    first = samples[0]
    return {"dists": first["dists"], "lines": first["lines"],
            "read": statistics.median(s["read"] for s in samples),
            "check": statistics.median(s["check"] for s in samples),
            "wall": statistics.median(s["wall"] for s in samples)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--dists", type=int, default=300)
    parser.add_argument("--files", type=int, default=80)
    args = parser.parse_args()
    made = make_venv(os.path.join(WORK, "venv"), args.dists, args.files)
    rows = [("made venv", measure(made, args.runs)),
            ("development venv (.venv)", measure(os.path.realpath(os.path.join(ROOT, ".venv")), args.runs))]
    print("cpu count %d, load %.2f, %d runs each, medians" % (os.cpu_count(), os.getloadavg()[0], args.runs))
    print("| venv | distributions | RECORD lines | read the venv | RECORD check | ms per 1,000 lines | whole process |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in rows:
        print("| %s | %d | %d | %.0f ms | %.0f ms | %.1f | %.0f ms |"
              % (name, row["dists"], row["lines"], row["read"] * 1000, row["check"] * 1000,
                 row["check"] * 1e6 / max(row["lines"], 1), row["wall"] * 1000))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Runs `molecule test` for every scenario of the test bed, in a fixed order, on podman containers that the
# plays reach over SSH (a key pair, known_hosts and ssh config of this run in .tmp/ssh/molecule):
#   scripts/molecule.sh              every scenario listed below
#   scripts/molecule.sh default index  only the named ones (for development)
# Images are built (or reused) first by scripts/images.sh. Exits non-zero when any scenario fails,
# after a summary line per scenario with its time. Logs: .tmp/molecule/<scenario>.log.
set -uo pipefail
. "$(dirname "$0")/env.sh"

# Longest first, so that the last to start is a short one; each scenario creates and destroys its own hosts.
all_scenarios=(failure no_wheels index default multi_distro)

cd "$WH_ROOT" || exit 1
wh_link_collection
# Scenarios live in molecule/ (not extensions/molecule/): say so, instead of molecule warning each time.
export MOLECULE_GLOB="molecule/*/molecule.yml"
export PY_COLORS=0

if [ "$#" -gt 0 ]; then scenarios=("$@"); else scenarios=("${all_scenarios[@]}"); fi
for s in "${scenarios[@]}"; do
  [ -f "molecule/$s/molecule.yml" ] || { echo "molecule.sh: no scenario $s (molecule/$s/molecule.yml)" >&2; exit 2; }
done

# The container names of a scenario (its platforms in molecule.yml).
container_names() { sed -n 's/^  - name: *\([^ ]*\) *$/\1/p' "molecule/$1/molecule.yml" | sort -u; }

# Scenarios run WH_MOLECULE_JOBS at a time (default 1): on the 2-core CI machine they are bound by CPU, and
# two at a time took longer than one after the other (1003 s against about 950 s); on more cores, try 2.
# Each scenario's hosts and network carry names of their own (molecule/<scenario>/molecule.yml); two
# scenarios naming the same container cannot run side by side.
jobs_max="${WH_MOLECULE_JOBS:-1}"
if [ "$jobs_max" -gt 1 ]; then
  clashes="$(for s in "${scenarios[@]}"; do container_names "$s"; done | sort | uniq -d)"
  if [ -n "$clashes" ]; then
    echo "molecule.sh: scenarios share container names (${clashes//$'\n'/ }): rename them, or WH_MOLECULE_JOBS=1" >&2
    exit 2
  fi
fi

if ! images="$("$WH_ROOT/scripts/images.sh")"; then
  echo "molecule.sh: FAILED: the test images could not be built (see above); no scenario ran" >&2
  exit 1
fi
# The scenarios use this recipe's images by their exact tags (WH_IMAGE_<SUITE>[_BUILD]), not the moving tags
# that a run from another checkout may point elsewhere meanwhile.
while IFS='=' read -r name tag; do
  case "$name" in WH_IMAGE_*) export "$name=$tag" ;; esac
done <<<"$images"
printf '%s\n' "$images"

# A fresh key pair and known_hosts for every run; scenarios running side by side share them.
wh_ssh_setup "$WH_TMP/ssh/molecule" || { echo "molecule.sh: FAILED: no SSH key pair for the test bed" >&2; exit 1; }

logs="$WH_TMP/molecule"
mkdir -p "$logs"

# WH_MOLECULE_CPU=1: each scenario runs in a cgroup of its own (root, cgroup v1), and its CPU seconds per step,
# the controller's and its containers', go to .tmp/molecule/<scenario>.cpu (a table) and .cpu.json
# (tests/podman/molecule_cpu.py; docs/testing.md, Timings).
molecule_test() {
  local s="$1"
  if [ "${WH_MOLECULE_CPU:-0}" = 1 ]; then
    # shellcheck disable=SC2046  # one argument per container name
    python3 "$WH_ROOT/tests/podman/molecule_cpu.py" "$logs/$s.log" "$logs/$s.cpu.json" $(container_names "$s") \
      -- molecule test -s "$s" >"$logs/$s.cpu"
  else
    molecule test -s "$s" >"$logs/$s.log" 2>&1
  fi
}

run_scenario() {
  local s="$1" start=$SECONDS result=passed
  if ! molecule_test "$s"; then
    result=FAILED
    # A failed run may leave containers behind: destroy them before they meet anything else.
    molecule destroy -s "$s" >>"$logs/$s.log" 2>&1 || echo "molecule.sh: destroy of $s failed too" >&2
  fi
  echo "$result $((SECONDS - start))" >"$logs/$s.result"
  echo "--- molecule scenario $s $result in $((SECONDS - start)) s"
  if [ "${WH_MOLECULE_CPU:-0}" = 1 ]; then cat "$logs/$s.cpu"; fi
}

running=0
for s in "${scenarios[@]}"; do
  rm -f "$logs/$s.result" "$logs/$s.cpu" "$logs/$s.cpu.json"
  echo "--- molecule scenario $s started (log: $logs/$s.log)"
  run_scenario "$s" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs_max" ]; then wait -n; running=$((running - 1)); fi
done
wait

summary=()
failed=0
for s in "${scenarios[@]}"; do
  read -r result seconds <"$logs/$s.result" 2>/dev/null || { result=FAILED; seconds=0; }
  if [ "$result" != passed ]; then
    failed=$((failed + 1))
    # The end of the log holds the failing task or test; the full log stays on disk.
    echo "=== molecule scenario $s FAILED, the end of $logs/$s.log:"
    tail -n 60 "$logs/$s.log"
  fi
  summary+=("$(printf '%-14s %-7s %5d s' "$s" "$result" "$seconds")")
done

echo "=== molecule summary (${jobs_max} at a time)"
printf '%s\n' "${summary[@]}"
echo "molecule scenarios: $(( ${#scenarios[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]

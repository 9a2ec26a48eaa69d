#!/usr/bin/env bash
# Runs `molecule test` for every scenario of the test bed, in a fixed order, on podman containers:
#   scripts/molecule.sh              every scenario listed below
#   scripts/molecule.sh default uv   only the named ones (for development)
# Images are built (or reused) first by scripts/images.sh. Exits non-zero when any scenario fails,
# after a summary line per scenario with its time. Logs: .tmp/molecule/<scenario>.log.
set -uo pipefail
. "$(dirname "$0")/env.sh"

# The order matters only for reading the summary; each scenario creates and destroys its own hosts.
all_scenarios=(default uv no_wheels multi_distro rebuild failure)

cd "$WH_ROOT" || exit 1
wh_link_collection
# Scenarios live in molecule/ (not extensions/molecule/): say so, instead of molecule warning each time.
export MOLECULE_GLOB="molecule/*/molecule.yml"
export PY_COLORS=0

if [ "$#" -gt 0 ]; then scenarios=("$@"); else scenarios=("${all_scenarios[@]}"); fi
for s in "${scenarios[@]}"; do
  [ -f "molecule/$s/molecule.yml" ] || { echo "molecule.sh: no scenario $s (molecule/$s/molecule.yml)" >&2; exit 2; }
done

if ! "$WH_ROOT/scripts/images.sh"; then
  echo "molecule.sh: FAILED: the test images could not be built (see above); no scenario ran" >&2
  exit 1
fi

logs="$WH_TMP/molecule"
mkdir -p "$logs"
summary=()
failed=0
for s in "${scenarios[@]}"; do
  echo "--- molecule scenario $s (log: $logs/$s.log)"
  start=$SECONDS
  if molecule test -s "$s" >"$logs/$s.log" 2>&1; then
    result=passed
  else
    result=FAILED
    failed=$((failed + 1))
    # The end of the log holds the failing task or test; the full log stays on disk.
    tail -n 60 "$logs/$s.log"
    # A failed run may leave containers behind: the next scenario must not meet them.
    molecule destroy -s "$s" >>"$logs/$s.log" 2>&1 || echo "molecule.sh: destroy of $s failed too" >&2
  fi
  summary+=("$(printf '%-14s %-7s %5d s' "$s" "$result" $((SECONDS - start)))")
  echo "--- molecule scenario $s $result in $((SECONDS - start)) s"
done

echo "=== molecule summary"
printf '%s\n' "${summary[@]}"
echo "molecule scenarios: $(( ${#scenarios[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Runs every test of the collection: lint, sanity, unit, integration, faults, molecule.
#   scripts/test.sh                 all stages
#   scripts/test.sh unit integration  only the named stages (for development)
# Exits non-zero when any stage fails; the last line counts the stages.
set -uo pipefail
. "$(dirname "$0")/env.sh"

"$WH_ROOT/scripts/bootstrap.sh" --system || { echo "bootstrap failed" >&2; exit 1; }
cd "$WH_ROOT" || exit 1

stage_lint() {
  yamllint -s . && ansible-lint --offline -q
}

stage_sanity() {
  "$WH_ROOT/scripts/sanity.sh"
}

stage_unit() {
  python -m pytest -q -p no:cacheprovider tests/unit
}

stage_integration() {
  python -m pytest -q -p no:cacheprovider tests/integration
}

stage_faults() {
  # fault injection (tests/faults): kills, full disk, races, damaged files; mounts a tmpfs (root)
  python -m pytest -q -p no:cacheprovider -rxX tests/faults
}

stage_molecule() {
  "$WH_ROOT/scripts/molecule.sh"
}

all_stages=(lint sanity unit integration faults molecule)
if [ "$#" -gt 0 ]; then stages=("$@"); else stages=("${all_stages[@]}"); fi

passed=0; failed=0; failed_names=()
for s in "${stages[@]}"; do
  if ! declare -F "stage_$s" >/dev/null; then echo "unknown stage: $s (known: ${all_stages[*]})" >&2; exit 2; fi
  echo "=== stage $s ==="
  start=$SECONDS
  if "stage_$s"; then
    passed=$((passed + 1)); echo "=== stage $s passed in $((SECONDS - start)) s ==="
  else
    failed=$((failed + 1)); failed_names+=("$s"); echo "=== stage $s FAILED in $((SECONDS - start)) s ==="
  fi
done
[ "$failed" -eq 0 ] || echo "failed stages: ${failed_names[*]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

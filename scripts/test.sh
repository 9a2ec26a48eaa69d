#!/usr/bin/env bash
# Runs every test of the collection: lint, sanity, cores, unit, integration, faults, molecule.
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
  local status=$?; "$WH_ROOT/scripts/integration_targets.sh" && return "$status"  # ansible-test integration
}

# The other supported ansible-core releases (.venv has the newest, on which every other stage runs), one
# .venv-core-<X.Y> each (requirements-core-<X.Y>.txt): sanity with that core's ansible-test, and the tests of
# tests/integration/test_venv_build.py about what ansible-core itself takes part in (a module failure, check and
# diff mode, no_log, file attributes, facts), with its ansible-playbook: the tests marked `controller`, which
# run the module through ansible-playbook (tests/lib/modrun.py); the stage stays short (docs/development.md).
stage_cores() {
  local requirements core venv start status=0
  for requirements in "$WH_ROOT"/requirements-core-*.txt; do
    core="$(basename "$requirements" .txt)"; core="${core#requirements-core-}"
    venv="$WH_ROOT/.venv-core-$core"
    if [ ! -x "$venv/bin/python" ]; then
      echo "--- ansible-core $core: no $venv (scripts/bootstrap.sh makes it, with Python from pyenv) ---" >&2
      status=1; continue
    fi
    start=$SECONDS
    # Only what an older core reads differently: the docs and argument specs (ansible-doc, validate-modules,
    # action-plugin-docs), meta/runtime.yml's schema, and the modules' imports in that core's import sandbox on
    # every target Python. What does not depend on the core (compile on each Python, the text checks, the
    # linters) the stage sanity shows once.
    echo "--- ansible-core $core: sanity (what depends on the core) ---"
    WH_SANITY_VENV="$venv" "$WH_ROOT/scripts/sanity.sh" --test action-plugin-docs --test ansible-doc --test import \
      --test runtime-metadata --test validate-modules || status=1
    echo "--- ansible-core $core: tests/integration/test_venv_build.py -m controller ---"
    WH_ANSIBLE_VENV="$venv" "$venv/bin/python" -m pytest -q -p no:cacheprovider -m controller \
      tests/integration/test_venv_build.py || status=1
    echo "--- ansible-core $core: $((SECONDS - start)) s ---"
  done
  return "$status"
}

stage_unit() {
  python -m pytest -q -p no:cacheprovider tests/unit
}

stage_integration() {
  # Two workers (pytest-xdist), a test file each at a time: the files' module fixtures (the docsite, the
  # snippets' index, the release tarball) are made once; every test has its own tmp_path.
  python -m pytest -q -p no:cacheprovider -n "${WH_TEST_WORKERS:-2}" --dist loadfile tests/integration
}

stage_faults() {
  # fault injection (tests/faults): kills, full disk, races, damaged files; mounts a tmpfs (root). Two workers:
  # each makes its own starting venv and the cases copy it (tests/faults/conftest.py). docs/reliability.md is
  # written from one process's outcomes, so WH_RELIABILITY_DOCS=1 runs them in one.
  local workers=(-n "${WH_TEST_WORKERS:-2}")
  [ "${WH_RELIABILITY_DOCS:-}" != 1 ] || workers=()
  python -m pytest -q -p no:cacheprovider -rxX "${workers[@]}" tests/faults
}

stage_molecule() {
  # WH_MOLECULE_SCENARIOS (space-separated names, for development): only these; CI runs every scenario
  # shellcheck disable=SC2086
  "$WH_ROOT/scripts/molecule.sh" ${WH_MOLECULE_SCENARIOS:-}
}

all_stages=(lint sanity cores unit integration faults molecule)
if [ "$#" -gt 0 ]; then stages=("$@"); else stages=("${all_stages[@]}"); fi

# The machine's speed beside the stage times, so that runs on different machines can be compared
# (docs/development.md).
python "$WH_ROOT/scripts/cpu_bench.py" || true

passed=0; failed=0; failed_names=(); times=()

cpu_ticks() {  # "<busy> <all>" clock ticks of every core since boot (/proc/stat)
  awk '/^cpu /{busy=$2+$3+$4+$7+$8; all=busy+$5+$6; print busy, all}' /proc/stat
}
read -r busy_start all_start < <(cpu_ticks)

record() {  # record <stage> <status> <seconds>
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1)); echo "=== stage $1 passed in $3 s ==="
  else
    failed=$((failed + 1)); failed_names+=("$1"); echo "=== stage $1 FAILED in $3 s ==="
  fi
  times+=("$1 $3 s")
}

# molecule leaves a third to a half of 2 cores idle (it waits on containers, apt, PyPI and SSH) and the other
# stages wait on nothing of it: when it is asked for, it starts first, in the background, and every other stage
# runs meanwhile, one after the other in the listed order; molecule's output is printed when it ends (after the
# others'). WH_OVERLAP=0 runs every stage on its own, in the listed order.
for s in "${stages[@]}"; do
  if ! declare -F "stage_$s" >/dev/null; then echo "unknown stage: $s (known: ${all_stages[*]})" >&2; exit 2; fi
done
molecule_pid=""
wh_link_collection  # once, before stages run side by side
if [ "${WH_OVERLAP:-1}" != 0 ] && [[ " ${stages[*]} " == *" molecule "* ]]; then
  molecule_log="$WH_TMP/stage-molecule.log"; rm -f "$molecule_log.status"
  mkdir -p "$WH_TMP"
  echo "=== stage molecule (in the background from now on; its output follows the other stages') ==="
  (
    m_start=$SECONDS
    stage_molecule >"$molecule_log" 2>&1
    status=$?
    echo "$status $((SECONDS - m_start))" >"$molecule_log.status"
    exit "$status"
  ) &
  molecule_pid=$!
fi
for s in "${stages[@]}"; do
  if [ "$s" = molecule ] && [ -n "$molecule_pid" ]; then continue; fi
  echo "=== stage $s ==="
  start=$SECONDS
  "stage_$s"; record "$s" "$?" "$((SECONDS - start))"
done
if [ -n "$molecule_pid" ]; then
  wait "$molecule_pid"
  read -r status seconds <"$molecule_log.status" 2>/dev/null || { status=1; seconds=0; }
  echo "=== stage molecule (ran in the background) ==="
  cat "$molecule_log"
  record molecule "$status" "$seconds"
fi
echo "stage times: ${times[*]/%/,} total $SECONDS s"
# How busy the cores were over the whole run: what is left to gain by running stages side by side.
read -r busy_end all_end < <(cpu_ticks)
echo "cpu: $(( 100 * (busy_end - busy_start) / (all_end - all_start + 1) ))% busy over the run ($(nproc) cores)"
[ "$failed" -eq 0 ] || echo "failed stages: ${failed_names[*]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Runs `ansible-test integration` on the collection's targets (tests/integration/targets/), on localhost.
#   scripts/integration_targets.sh                  every target (today: venv_build)
#   scripts/integration_targets.sh venv_build -vvv  extra arguments go to ansible-test integration
#   WH_ANSIBLE_VENV=.venv-core-2.21 scripts/integration_targets.sh
#                                                   the ansible-test (and controller Python) of another venv
# Exits non-zero when a target fails.
#
# As scripts/sanity.sh (see docs/development.md): ansible-test needs a real .../ansible_collections/wheelhouse/venv
# directory, so the collection is copied; --local runs the targets with the venv's own Python as the controller
# and on localhost; ansible-test's state lives under $WH_TMP, not in the user's ~/.ansible.
set -euo pipefail
. "$(dirname "$0")/env.sh"

# WH_ANSIBLE_VENV: the venv whose ansible-test runs (default .venv); relative paths are from the checkout.
# .venv and .venv-core-<X.Y> are links to venvs in a cache (scripts/bootstrap.sh): the folder is named after the
# path as given (test_venv_named), not after where it leads.
test_venv_named="$(cd "$WH_ROOT" && realpath -ms "${WH_ANSIBLE_VENV:-$WH_VENV}")"
test_venv="$(realpath -m "$test_venv_named")"
if [ ! -x "$test_venv/bin/ansible-test" ]; then
  echo "integration_targets.sh: no ansible-test in $test_venv (WH_ANSIBLE_VENV): run scripts/bootstrap.sh" >&2
  exit 2
fi
export PATH="$test_venv/bin:$PATH"
root="$WH_TMP/integration-$(basename "$test_venv_named" | sed 's/^\.//')"
dest="$root/ansible_collections/wheelhouse/venv"
home="$root/home"

# The targets set PIP_CONFIG_FILE=/dev/null for the installer themselves; ansible-test and the plays
# get no pip configuration of this machine either.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT

wh_copy_collection "$dest"
mkdir -p "$home"
controller="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
echo "integration_targets.sh: $(ansible-test --version), controller Python $controller"
cd "$dest"
HOME="$home" ansible-test integration --local --python "$controller" --color no "${@:-venv_build}"

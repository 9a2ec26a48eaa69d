#!/usr/bin/env bash
# Runs `ansible-test sanity` and `antsibull-changelog lint` on this collection.
#   scripts/sanity.sh                   every sanity test that can run here
#   scripts/sanity.sh --test pylint     extra arguments go to ansible-test sanity (e.g. one test)
#   WH_SANITY_VENV=.venv-core-2.20 scripts/sanity.sh
#                                       the ansible-test (and controller Python) of another venv than .venv:
#                                       the stage `cores` of scripts/test.sh; antsibull-changelog lint is then
#                                       left to ansible-test's own changelog test
# Exits non-zero when any test fails.
#
# How it works here (see docs/development.md):
#   - ansible-test resolves the collection from its working directory and does not follow symlinks,
#     so the collection is copied to a real .../ansible_collections/wheelhouse/venv directory: the
#     tracked files plus the untracked ones git does not ignore, so it checks work before commit.
#   - ansible-test runs with --local: the controller is the venv's Python (.venv: 3.13); the tests that run
#     once per Python version (compile, import) also run on every other Python that ansible-test supports
#     (2.21: 3.9-3.14) found under ~/.pyenv (the versions our targets have: EL 9 has 3.9, jammy 3.10,
#     noble 3.12, trixie 3.13), through links in <sanity root>/pythons, since pyenv's shims do not work
#     here. Each sanity test gets its
#     own venv, which ansible-test installs from PyPI with its own pins. Its state (those venvs, pip's
#     cache) lives in ~/.cache/wheelhouse-venv/ansible-test-home (WH_SANITY_HOME), not in ~/.ansible.
#   - ansible-test bootstraps pip in those venvs with a get-pip script from ci-files.testing.ansible.com,
#     which is not reachable here; a stand-in script with the same interface bootstraps pip from the
#     interpreter's own ensurepip and then installs the pinned pip from PyPI.
set -euo pipefail
. "$(dirname "$0")/env.sh"

# Tests skipped here, each with the reason (docs/development.md repeats this list):
skip_tests=(
  # Needs pwsh and PSScriptAnalyzer, which neither PyPI nor Debian provides; the collection has no PowerShell.
  pslint
)
# ansible-test only warns when shellcheck is missing; say it louder and skip it by name.
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "sanity.sh: WARNING: shellcheck is not installed (apt-get install shellcheck): skipping the shellcheck test" >&2
  skip_tests+=(shellcheck)
fi

# WH_SANITY_VENV: the venv whose ansible-test runs (default .venv); relative paths are from the checkout.
# .venv and .venv-core-<X.Y> are links to venvs in a cache (scripts/bootstrap.sh): folders are named after the
# path as given (sanity_venv_named), not after where it leads.
sanity_venv_named="$(cd "$WH_ROOT" && realpath -ms "${WH_SANITY_VENV:-$WH_VENV}")"
sanity_venv="$(realpath -m "$sanity_venv_named")"
if [ ! -x "$sanity_venv/bin/ansible-test" ]; then
  echo "sanity.sh: no ansible-test in $sanity_venv (WH_SANITY_VENV): run scripts/bootstrap.sh" >&2
  exit 2
fi
export PATH="$sanity_venv/bin:$PATH"
# WH_SANITY_ROOT: another copy for a second run at the same time (the venvs in home are shared).
if [ "$sanity_venv" = "$(realpath -m "$WH_VENV")" ]; then default_root="$WH_TMP/sanity"
else default_root="$WH_TMP/sanity-$(basename "$sanity_venv_named" | sed 's/^\.//')"; fi
sanity_root="${WH_SANITY_ROOT:-$default_root}"
dest="$sanity_root/ansible_collections/wheelhouse/venv"
# ansible-test's venvs (one per sanity test and Python, installed from PyPI with ansible-test's own pins, found
# again by the hash of those pins) and pip's cache: kept outside the checkout, so that a fresh clone (CI) does
# not install them all again (about 2 minutes a core). WH_SANITY_HOME moves it; removing it starts afresh.
sanity_home="${WH_SANITY_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/wheelhouse-venv/ansible-test-home}"

# The sanity venvs are installed with ansible-test's pins from PyPI alone: this machine's global pip
# config (constraints, extra indexes, find-links) must not leak in. PIP_CERT stays.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT
export PIP_DISABLE_PIP_VERSION_CHECK=1

# A fresh copy of the collection, from git's view of the checkout (scripts/env.sh).
wh_copy_collection "$dest"
mkdir -p "$sanity_home"

# A stand-in for the get-pip script ansible-test would download, saved where it looks for it first.
controller="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
pip_version="$(python -c 'import sys
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version=sys.argv[1]))["pip"])' "$controller")"
mkdir -p "$sanity_home/.ansible/test/cache"
cat > "$sanity_home/.ansible/test/cache/get_pip_${pip_version//./_}.py" <<'EOF'
"""Stand-in for get-pip.py: ensurepip, then pip installs the packages asked for (from PyPI)."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade", "--quiet"] + args)
EOF

skip_args=()
for t in "${skip_tests[@]}"; do skip_args+=(--skip-test "$t"); done

# The other Python versions for compile and import, as pythonX.Y on PATH where ansible-test looks.
pythons="$sanity_root/pythons"
rm -rf "$pythons"
mkdir -p "$pythons"
versions="$controller"
for v in $(python -c 'from ansible_test._internal.constants import SUPPORTED_PYTHON_VERSIONS as v; print(*v)'); do
  [ "$v" != "$controller" ] || continue
  for p in "$HOME"/.pyenv/versions/"$v".*/bin/python"$v"; do
    if [ -x "$p" ]; then ln -sfn "$p" "$pythons/python$v"; versions="$versions $v"; break; fi
  done
done
echo "sanity.sh: $(ansible-test --version), controller Python $controller; for compile and import: $versions"

status=0
(
  cd "$dest"
  HOME="$sanity_home" PATH="$pythons:$PATH" ansible-test sanity --local --color no "${skip_args[@]}" "$@"
) || status=$?

if [ "$sanity_venv" = "$(realpath -m "$WH_VENV")" ]; then
  echo "=== antsibull-changelog lint ==="
  (cd "$WH_ROOT" && antsibull-changelog lint) || status=1
fi

exit "$status"

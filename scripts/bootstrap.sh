#!/usr/bin/env bash
# Installs what the main job and the tests need, and nothing twice:
#   - .venv with the pinned Python dependencies of requirements-dev.txt (rebuilt when that file changes);
#   - .venv-docs with those of requirements-docs.txt (antsibull-docs, Sphinx), the same way;
#   - .venv-core-<X.Y> for each requirements-core-<X.Y>.txt (the stage `cores`: other ansible-core
#     releases), on the pyenv Python its `# python:` line names, rebuilt when that file changes;
#   - with --system: podman, runc, debootstrap and friends from the distribution when missing.
set -euo pipefail
. "$(dirname "$0")/env.sh"

want_system=0
for arg in "$@"; do
  case "$arg" in
    --system) want_system=1 ;;
    *) echo "bootstrap.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# make_venv VENV REQUIREMENTS PYTHON: VENV from the pins of REQUIREMENTS, unless it was made from this very file.
make_venv() {
  local venv="$1" requirements="$2" python="$3"
  local stamp want_hash
  stamp="$venv/.$(basename "$requirements" .txt).sha256"
  want_hash="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want_hash" ]; then
    return 0
  fi
  echo "bootstrap: creating $venv from $(basename "$requirements")"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # The pins come from PyPI as on any machine: no machine-wide pip config (local find-links, extra indexes).
  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null \
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want_hash" > "$stamp"
}

make_venv "$WH_VENV" "$WH_ROOT/requirements-dev.txt" python3
# antsibull-docs and Sphinx for the docsite tests: Sphinx needs an older docutils than .venv's.
make_venv "$WH_ROOT/.venv-docs" "$WH_ROOT/requirements-docs.txt" python3

# The extra cores need a newer controller Python than Debian's: pyenv's, called by path (its shims do not work here).
for requirements in "$WH_ROOT"/requirements-core-*.txt; do
  [ -e "$requirements" ] || continue
  core="$(basename "$requirements" .txt)"; core="${core#requirements-core-}"
  version="$(sed -n 's/^# python: *//p' "$requirements")"
  python=""
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python"$version"; do
    if [ -x "$p" ]; then python="$p"; fi
  done
  if [ -z "$python" ]; then
    # Only the stage `cores` needs it: that stage fails for the missing venv, the others run.
    echo "bootstrap: WARNING: cannot make .venv-core-$core: ansible-core $core needs Python $version (the '# python:' line" \
      "of $(basename "$requirements")), none under ${PYENV_ROOT:-$HOME/.pyenv}/versions; pyenv install $version" >&2
    continue
  fi
  make_venv "$WH_ROOT/.venv-core-$core" "$requirements" "$python"
done
wh_link_collection

if [ "$want_system" = 1 ]; then
  missing=()
  for cmd in podman runc debootstrap newuidmap slirp4netns git shellcheck; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing system packages for: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq podman runc debootstrap uidmap slirp4netns git shellcheck >/dev/null
  fi
fi

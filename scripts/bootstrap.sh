#!/usr/bin/env bash
# Installs what the main job and the tests need, and nothing twice:
#   - .venv with the pinned Python dependencies of requirements-dev.txt (rebuilt when that file changes), on
#     the pyenv Python its `# python:` line names;
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
  # --no-compile: the ansible package alone holds ~14000 .py files (its collections), of which a run imports
  # a few; byte-compiling them all took longer than the install itself (64 s against 18 s for .venv-core-2.20).
  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null \
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile -r "$requirements"
  # Everything else is compiled here, once: Python would compile on first use, but not where
  # PYTHONDONTWRITEBYTECODE is set (as on the CI machine), and then every ansible-playbook compiled
  # ansible-core from source again (0.5 s of its 1.9 s). Of the collections, those the tests use.
  local site used=() c
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  for c in ansible/posix containers/podman; do
    [ -d "$site/ansible_collections/$c" ] && used+=("$site/ansible_collections/$c")
  done
  { "$venv/bin/python" -m compileall -q -j 0 -x '/ansible_collections/' "$site" >/dev/null &&
    { [ "${#used[@]}" -eq 0 ] || "$venv/bin/python" -m compileall -q -j 0 "${used[@]}" >/dev/null; }; } ||
    echo "bootstrap: byte-compiling $site failed (not fatal: Python reads the sources)" >&2
  echo "$want_hash" > "$stamp"
}

# pyenv_python REQUIREMENTS: the Python its `# python: X.Y` line names, from pyenv, called by path (pyenv's
# shims do not work here); a python3.X on PATH does too. Prints nothing when there is none.
pyenv_python() {
  local version p found=""
  version="$(sed -n 's/^# python: *//p' "$1")"
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python"$version" \
           "$(command -v "python$version" 2>/dev/null || true)"; do
    if [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import ensurepip' >/dev/null 2>&1; then found="$p"; break; fi
  done
  printf '%s' "$found"
}

# .venv: ansible-core 2.21 needs a newer controller Python than Debian 12's 3.11.
python="$(pyenv_python "$WH_ROOT/requirements-dev.txt")"
if [ -z "$python" ]; then
  version="$(sed -n 's/^# python: *//p' "$WH_ROOT/requirements-dev.txt")"
  echo "bootstrap: .venv needs Python $version (the '# python:' line of requirements-dev.txt): none under" \
    "${PYENV_ROOT:-$HOME/.pyenv}/versions nor python$version on PATH; pyenv install $version" >&2
  exit 1
fi
make_venv "$WH_VENV" "$WH_ROOT/requirements-dev.txt" "$python"

# The other cores, each on the Python its file names.
for requirements in "$WH_ROOT"/requirements-core-*.txt; do
  [ -e "$requirements" ] || continue
  core="$(basename "$requirements" .txt)"; core="${core#requirements-core-}"
  python="$(pyenv_python "$requirements")"
  if [ -z "$python" ]; then
    # Only the stage `cores` needs it: that stage fails for the missing venv, the others run.
    echo "bootstrap: WARNING: cannot make .venv-core-$core: ansible-core $core needs Python" \
      "$(sed -n 's/^# python: *//p' "$requirements") (the '# python:' line of $(basename "$requirements")); pyenv install it" >&2
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

#!/usr/bin/env bash
# Installs what the main job and the tests need, and nothing twice:
#   - .venv with the pinned Python dependencies of requirements-dev.txt, on the pyenv Python its `# python:`
#     line names;
#   - .venv-core-<X.Y> for each requirements-core-<X.Y>.txt (the stage `cores`: other ansible-core
#     releases), on the pyenv Python its `# python:` line names;
#   - with --system: podman, runc, debootstrap and friends from the distribution when missing.
# Both kinds of venv are symbolic links to venvs kept in a cache outside the checkout (WH_VENV_CACHE, default
# ~/.cache/wheelhouse-venv/dev-venvs), one per requirements file content and Python: a venv is made when its
# file changes, and a fresh clone finds the ones made before.
set -euo pipefail
# env.sh is checked on its own (shellcheck follows a sourced file only with -x).
# shellcheck disable=SC1091
. "$(dirname "$0")/env.sh"

want_system=0
for arg in "$@"; do
  case "$arg" in
    --system) want_system=1 ;;
    *) echo "bootstrap.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# The dev venvs live in a cache outside the checkout, so that a fresh clone (CI) finds them again instead of
# installing them from PyPI (1.5-2 minutes): one per requirements file content and Python, as
# <cache>/<name>-<16 hex of their hash>; .venv and .venv-core-<X.Y> in the checkout are links to them. Removing
# the folder starts afresh.
venv_cache="${WH_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wheelhouse-venv/dev-venvs}"
# Written last into a cached venv: without it the venv is incomplete (a bootstrap was killed), removed and made again.
complete_stamp=".wheelhouse-dev-venv-complete"

# build_venv VENV REQUIREMENTS PYTHON: a new venv at VENV (its final path: the scripts of a venv hold it in
# their shebang) with the pins of REQUIREMENTS.
build_venv() {
  local venv="$1" requirements="$2" python="$3"
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
}

# check_link LINK REQUIREMENTS: fails, saying why, unless LINK is free for the link to a cached venv: absent, a
# symbolic link (removing a link removes nothing it points to), or a venv an older bootstrap made in the checkout
# (a real directory holding its stamp .<requirements name>.sha256). Anything else is not ours to delete.
check_link() {
  local link="$1" requirements="$2"
  if [ -L "$link" ] || [ ! -e "$link" ]; then return 0; fi
  if [ -d "$link" ] && [ -f "$link/.$(basename "$requirements" .txt).sha256" ]; then return 0; fi
  echo "bootstrap: $link exists and is not a venv made by scripts/bootstrap.sh (a directory with" \
    ".$(basename "$requirements" .txt).sha256 in it) nor a link: not touching it. Move it away or remove it," \
    "then run scripts/bootstrap.sh again (it makes $(basename "$link") a link to a venv in $venv_cache)" >&2
  return 1
}

# make_venv LINK REQUIREMENTS PYTHON: LINK (in the checkout) becomes a symbolic link to the cached venv of
# REQUIREMENTS' content on PYTHON, which is made first unless a complete one is there.
make_venv() {
  local link="$1" requirements="$2" python="$3"
  check_link "$link" "$requirements" || exit 1
  local name key venv lock_fd
  name="$(basename "$link")"; name="${name#.}"
  # The key: the file's content, and the Python by real path and full version (a venv runs on that Python).
  key="$(printf 'requirements: %s sha256 %s\npython: %s\nversion: %s\n' "$(basename "$requirements")" \
    "$(sha256sum "$requirements" | cut -d' ' -f1)" "$(realpath "$python")" \
    "$("$python" -c 'import sys; print(sys.version.replace("\n", " "))')")"
  venv="$venv_cache/$name-$(printf '%s\n' "$key" | sha256sum | cut -c1-16)"
  mkdir -p "$venv_cache"
  # One bootstrap at a time checks and makes a given venv (two clones at once): the other waits, then finds it
  # complete. The lock is released when the descriptor is closed, or when this process ends however it ends.
  exec {lock_fd}>>"$venv.lock"
  if ! flock -n "$lock_fd"; then
    echo "bootstrap: waiting for another bootstrap to finish $venv"
    flock "$lock_fd"
  fi
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/$complete_stamp" 2>/dev/null)" = "$key" ]; then
    echo "bootstrap: $(basename "$link") -> $venv (cached)"
  else
    if [ -e "$venv" ] || [ -L "$venv" ]; then
      echo "bootstrap: removing the incomplete $venv (a bootstrap stopped while making it)"
      rm -rf "$venv"
    fi
    echo "bootstrap: creating $venv from $(basename "$requirements") for $(basename "$link")"
    # What runs inherits the descriptor: should this shell be killed alone, the lock stays held until the
    # installer it started has ended too, so that the next bootstrap does not remove the venv under it.
    build_venv "$venv" "$requirements" "$python"
    printf '%s\n' "$key" > "$venv/$complete_stamp.tmp"
    mv -f "$venv/$complete_stamp.tmp" "$venv/$complete_stamp"
  fi
  exec {lock_fd}>&-
  # The link, replaced in one step (rename) when it is one; an older bootstrap's venv is removed first.
  if [ "$(readlink "$link" 2>/dev/null)" != "$venv" ]; then
    if [ -d "$link" ] && [ ! -L "$link" ]; then
      echo "bootstrap: replacing $link (a venv of an older bootstrap) by a link to the cached venv"
      rm -rf "$link"
    fi
    ln -sfn "$venv" "$link.new.$$"
    mv -fT "$link.new.$$" "$link"
  fi
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

#!/usr/bin/env bash
# Installs what the main job and the tests need, and nothing twice:
#   - .venv with the pinned Python dependencies of requirements-dev.txt (rebuilt when that file changes);
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

stamp="$WH_VENV/.requirements-dev.sha256"
want_hash="$(sha256sum "$WH_ROOT/requirements-dev.txt" | cut -d' ' -f1)"
if [ ! -x "$WH_VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_hash" ]; then
  echo "bootstrap: creating $WH_VENV from requirements-dev.txt"
  rm -rf "$WH_VENV"
  python3 -m venv "$WH_VENV"
  # The pins come from PyPI as on any machine: no machine-wide pip config (local find-links, extra indexes).
  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null \
    "$WH_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$WH_ROOT/requirements-dev.txt"
  echo "$want_hash" > "$stamp"
fi
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

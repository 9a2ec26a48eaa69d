# shellcheck shell=bash
# Sourced by the scripts in this folder: paths and environment shared by the main job and the tests.
WH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export WH_ROOT
export WH_VENV="$WH_ROOT/.venv"
export WH_TMP="$WH_ROOT/.tmp"
# The collection is found by FQCN through a collections path that links back to this checkout.
export ANSIBLE_COLLECTIONS_PATH="$WH_TMP/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=true
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-false}"
export ANSIBLE_NOCOLOR=1
export ANSIBLE_RETRY_FILES_ENABLED=false
export ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
# Interpreter discovery picks pyenv shims on this kind of machine; the system Python is the real target.
export WH_TARGET_PYTHON="${WH_TARGET_PYTHON:-/usr/bin/python3}"
# podman on this machine: runc, and ulimits no higher than the ones we have.
export CONTAINERS_CONF="$WH_ROOT/tests/podman/containers.conf"
export PATH="$WH_VENV/bin:$PATH"

wh_link_collection() {
  local dest="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/wheelhouse"
  mkdir -p "$dest"
  ln -sfn "$WH_ROOT" "$dest/venv"
}

# A fresh copy of the collection in DEST (a real .../ansible_collections/wheelhouse/venv directory, which
# ansible-test needs): the files git knows of, tracked or untracked and not ignored, so that work in progress
# is tested before it is committed. ansible-test lists the collection's files through git, hence `git init`.
wh_copy_collection() {
  local dest="$1"
  rm -rf "$dest"
  mkdir -p "$dest"
  (
    cd "$WH_ROOT" || exit 1
    git ls-files -z --cached --others --exclude-standard \
      | while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done \
      | tar --null -T - -cf - \
      | tar -xf - -C "$dest"
  )
  (cd "$dest" && git init -q && git add -A)
}

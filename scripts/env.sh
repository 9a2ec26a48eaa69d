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
  # Left alone when right: stages running side by side (molecule in the background) must never see it missing.
  [ "$(readlink "$dest/venv" 2>/dev/null)" = "$WH_ROOT" ] && return 0
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

# The SSH side of the molecule test bed (docs/testing.md): a fresh key pair, known_hosts and ssh config in
# DIR (default $WH_TMP/ssh/manual), exported as WH_SSH_DIR, which the scenarios' molecule.yml read. Containers
# get the public key as root's authorized_keys; the plays reach them with `ssh -F $WH_SSH_DIR/config <name>`.
wh_ssh_setup() {
  local dir="${1:-$WH_TMP/ssh/manual}"
  # ControlPath is <dir>/<container name>; ssh adds 17 characters while it makes the socket, and a socket
  # path has at most 107. Container names of the scenarios stay under 24 characters.
  if [ $(( ${#dir} + 1 + 24 + 17 )) -gt 107 ]; then
    echo "wh_ssh_setup: $dir is too long for ssh's control sockets: use a shorter checkout path" >&2
    return 1
  fi
  # A folder an earlier call made (it holds the mark .wh_ssh_setup) is renewed: only the key pair, known_hosts,
  # the config and the control sockets go, nothing else in it. Any other folder that is not empty is refused,
  # before anything is touched: DIR could be ~/.ssh, whose id_ed25519 is not ours to replace.
  if [ -d "$dir" ] && [ ! -e "$dir/.wh_ssh_setup" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "wh_ssh_setup: $dir exists, is not empty and was not made by wh_ssh_setup: name a new or empty folder" >&2
    return 1
  fi
  mkdir -p "$dir" && chmod 700 "$dir" || return 1
  rm -f "$dir/id_ed25519" "$dir/id_ed25519.pub" "$dir/known_hosts" "$dir/config" || return 1
  find "$dir" -maxdepth 1 -type s -delete || return 1
  echo "Made by scripts/env.sh wh_ssh_setup: a later call renews its files here." >"$dir/.wh_ssh_setup"
  ssh-keygen -q -t ed25519 -N '' -C "wheelhouse-test $(date -u +%Y%m%dT%H%M%S)" -f "$dir/id_ed25519" || return 1
  : >"$dir/known_hosts"
  # Host names are container names; tests/podman/ssh_proxy.py connects to the container's address on its
  # podman network and hands the socket to ssh. One master connection per host, kept between plays and runs.
  cat >"$dir/config" <<CONFIG
# Made by scripts/env.sh wh_ssh_setup for one run of the molecule test bed: ssh -F $dir/config <container>
Host *
  User root
  IdentityFile $dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking accept-new
  BatchMode yes
  LogLevel ERROR
  ControlMaster auto
  ControlPersist 120s
  ControlPath $dir/%h
  ServerAliveInterval 10
  ServerAliveCountMax 3
  ProxyCommand /usr/bin/python3 $WH_ROOT/tests/podman/ssh_proxy.py %h %p
  ProxyUseFdpass yes
CONFIG
  export WH_SSH_DIR="$dir"
}

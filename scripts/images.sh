#!/usr/bin/env bash
# Builds the container images of the molecule test bed, or reuses them while their recipe is unchanged:
#   localhost/wheelhouse-test:<suite>-<hash>        target: minbase + python3, python3-venv, python3-apt, ca-certificates,
#                                                   openssh-server; the controller's CA bundle trusted, pip and uv
#                                                   pointed at it, the git sources (for the hosts that build)
#   localhost/wheelhouse-test:<suite>-build-<hash>  build host: the target image + compilers, python3-dev, git, nginx
#   localhost/wheelhouse-test:<suite>-index-<hash>  package index (bookworm only): the target image + pypiserver in a venv
# The moving tags localhost/wheelhouse-test:<suite>, :<suite>-build and :<suite>-index, which molecule.yml names, are
# pointed at the current recipe's images; images of older recipes are removed. Prints WH_IMAGE_<SUITE>[_BUILD|_INDEX]=<tag>
# lines.
#   scripts/images.sh                 bookworm and trixie
#   scripts/images.sh bookworm        only the named suites
set -euo pipefail
. "$(dirname "$0")/env.sh"

repo="localhost/wheelhouse-test"
# The mirror the host itself uses, so images get the same packages the host's apt sees.
mirror="${WH_DEBIAN_MIRROR:-$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"
# openssh-server: the scenarios' plays reach the hosts over SSH (docs/testing.md). python3-apt: ansible's apt module
# needs it (it installs it on first use otherwise, without saying so), and the demo venv links its apt_pkg.
target_packages="python3,python3-venv,python3-apt,ca-certificates,openssh-server"
# Build hosts only (the role's build packages and wheel_repo.yml's nginx, preinstalled so prepare stays cheap);
# the tests tell a build host from a target by the compiler.
build_packages="build-essential python3-dev git nginx"
# The package index of scenario index (molecule/index/prepare.yml configures and starts it): pypiserver and passlib
# (its htpasswd support) from PyPI, in a venv of their own, on the suites that scenario uses.
index_packages="pypiserver==2.4.2 passlib==1.7.4"
index_suites="bookworm"
recipe_version=2
# The controller's CA bundle, trusted by every image (PyPI is reached through a TLS-intercepting proxy here; harmless
# elsewhere): its hash is part of the recipe, so a changed bundle makes new images.
ca_bundle=/etc/ssl/certs/ca-certificates.crt

cleanup=()
# Half-built root filesystems are large: never leave them behind, also not on failure.
trap 'rm -rf "${cleanup[@]}"' EXIT

die() { echo "images.sh: ERROR: $*" >&2; exit 1; }

for cmd in podman debootstrap sha256sum git; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd is missing: run scripts/bootstrap.sh --system"
done

image_exists() { podman image exists "$1"; }
[ -r "$ca_bundle" ] || die "$ca_bundle (the CA bundle the images trust) is missing"

# The git sources of molecule/_shared/vars/demo_venv.yml: two small Python projects, each a git repository with one
# commit, made in DEST; molecule/_shared/git_sources.yml copies them to /srv/git on the hosts that build. Fixed
# names and dates, and no configuration of this machine's, make the same commits every time.
make_git_sources() {
  local dest="$1" name module
  for name in wh-alpha wh-beta; do
    module="${name//-/_}"
    mkdir -p "$dest/$name/src/$module"
    printf '%s\n' '[build-system]' 'requires = ["setuptools>=61"]' 'build-backend = "setuptools.build_meta"' '' \
      '[project]' "name = \"$name\"" 'version = "0.3.1"' >"$dest/$name/pyproject.toml"
    printf 'NAME = "%s"\n' "$name" >"$dest/$name/src/$module/__init__.py"
    (
      cd "$dest/$name" || exit 1
      export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=molecule GIT_COMMITTER_NAME=molecule \
        GIT_AUTHOR_EMAIL=molecule@localhost GIT_COMMITTER_EMAIL=molecule@localhost \
        GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
      git init -q -b main . && git add -A && git commit -q -m "$name 0.3.1"
    ) || die "git could not make the repository $name"
  done
}

# Target image: a debootstrap minbase imported as a single layer.
build_target_image() {
  local suite="$1" tag="$2" root
  root="$(mktemp -d "${TMPDIR:-/tmp}/wh-debootstrap-$suite.XXXXXX")"
  cleanup+=("$root" "$root.log")
  echo "images.sh: debootstrap $suite from $mirror (about a minute)" >&2
  if ! debootstrap --variant=minbase --include="$target_packages" "$suite" "$root" "$mirror" \
      >"$root.log" 2>&1; then
    tail -n 30 "$root.log" >&2
    rm -f "$root.log"
    die "debootstrap of $suite from $mirror failed (log above): is the mirror reachable?"
  fi
  rm -f "$root.log"
  echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
  # Package lists ship in the image, so no scenario waits for apt-get update (the hash holds the week).
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  chroot "$root" apt-get -o APT::Sandbox::User=root update -qq >/dev/null || die "apt-get update in the $suite root failed: is $mirror reachable?"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/log/*.log
  # What the hosts of our users have before the role runs, here once instead of in every scenario's prepare: the
  # controller's CA bundle as a local CA, pip (which ships its own certifi) and uv (its own roots) pointed at the
  # system bundle. And the git sources, for the hosts that build (molecule/_shared/git_sources.yml).
  install -m 0644 "$ca_bundle" "$root/usr/local/share/ca-certificates/wheelhouse-controller.crt"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates in the $suite root failed"
  printf '%s\n' '[global]' 'cert = /etc/ssl/certs/ca-certificates.crt' >"$root/etc/pip.conf"
  mkdir -p "$root/etc/uv"
  echo 'native-tls = true' >"$root/etc/uv/uv.toml"
  make_git_sources "$root/usr/local/share/wheelhouse-test/git"
  # sshd, which the scenarios run in the foreground: host keys made here (the containers of an image share
  # them; each run's known_hosts is fresh), its privilege separation directory, root logins by key only.
  chroot "$root" ssh-keygen -A >/dev/null || die "ssh-keygen -A in the $suite root failed"
  mkdir -p "$root/run/sshd"
  printf '%s\n' "PermitRootLogin prohibit-password" "PasswordAuthentication no" "KbdInteractiveAuthentication no" \
    >"$root/etc/ssh/sshd_config.d/wheelhouse-test.conf"
  # Containers resolve names through podman's DNS; the host's files must not leak in.
  : >"$root/etc/resolv.conf"
  # STOPSIGNAL: the containers' PID 1 is a shell that ignores SIGTERM; destroy should not wait 10 s for it.
  tar -C "$root" --numeric-owner -c . |
    podman import --quiet --change 'CMD ["/bin/bash"]' --change 'STOPSIGNAL SIGKILL' \
      --message "wheelhouse-test $suite recipe $recipe_version" - "$tag" >/dev/null ||
    die "podman import of $suite failed"
}

# An image of BASE and one layer more: a RUN of the shell command RUN (podman build). WHAT says what it does.
build_layer() {
  local base="$1" tag="$2" what="$3" run="$4" dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/wh-layer.XXXXXX")"
  cleanup+=("$dir")
  printf 'FROM %s\nRUN %s\n' "$base" "$run" >"$dir/Containerfile"
  echo "images.sh: building $tag ($what)" >&2
  if ! podman build --network=host -t "$tag" -f "$dir/Containerfile" "$dir" >"$dir/build.log" 2>&1; then
    tail -n 30 "$dir/build.log" >&2
    die "building $tag failed (log above): $what did not work"
  fi
}

# Build-host image: the target image plus build tools, so prepare stays cheap.
build_build_image() {
  build_layer "$1" "$2" "apt-get install $build_packages from $mirror" \
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $build_packages >/dev/null && rm -rf /var/cache/apt/archives/*.deb"
}

# Index image: the target image plus pypiserver in /opt/pypiserver, so scenario index's prepare need not install it.
build_index_image() {
  build_layer "$1" "$2" "pip install $index_packages from PyPI" \
    "python3 -m venv /opt/pypiserver && /opt/pypiserver/bin/pip install --quiet --disable-pip-version-check --no-cache-dir $index_packages"
}

# Images of older recipes of this suite only take space; one still used by a container stays, and so does one made
# in the last 6 hours: a run from another checkout, whose recipe differs (another commit), may be about to start
# its containers from it.
prune_stale() {
  local suite="$1" ref keep
  shift
  podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$repo:$suite-*" --filter until=6h | while read -r ref; do
    case "$ref" in "$repo:$suite" | "$repo:$suite-build" | "$repo:$suite-index") continue ;; esac
    for keep in "$@"; do [ "$ref" != "$keep" ] || continue 2; done
    podman rmi "$ref" >/dev/null 2>&1 || true
  done
}

suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(bookworm trixie)
for suite in "${suites[@]}"; do
  case "$suite" in bookworm | trixie) ;; *) die "unknown suite $suite (known: bookworm trixie)" ;; esac
  script_hash="$(sed -n '/^build_target_image()/,/^}/p;/^make_git_sources()/,/^}/p' "$0" | sha256sum | cut -c1-8)"
  # The ISO week renews the images' package lists weekly: the mirror drops superseded packages.
  target_hash="$(printf '%s\n' "$recipe_version" "$suite" "$mirror" "$target_packages" "$script_hash" "$(date -u +%G-W%V)" \
    "$(sha256sum <"$ca_bundle")" | sha256sum | cut -c1-12)"
  target_tag="$repo:$suite-$target_hash"
  image_exists "$target_tag" || build_target_image "$suite" "$target_tag"
  build_hash="$(printf '%s\n' "$target_tag" "$build_packages" "$(sed -n '/^build_layer()/,/^}/p;/^build_build_image()/,/^}/p' "$0")" |
    sha256sum | cut -c1-12)"
  build_tag="$repo:$suite-build-$build_hash"
  image_exists "$build_tag" || build_build_image "$target_tag" "$build_tag"
  podman tag "$target_tag" "$repo:$suite"
  podman tag "$build_tag" "$repo:$suite-build"
  upper="$(echo "$suite" | tr '[:lower:]' '[:upper:]')"
  echo "WH_IMAGE_${upper}=$target_tag"
  echo "WH_IMAGE_${upper}_BUILD=$build_tag"
  index_tag=""
  if [[ " $index_suites " == *" $suite "* ]]; then
    index_hash="$(printf '%s\n' "$target_tag" "$index_packages" "$(sed -n '/^build_layer()/,/^}/p;/^build_index_image()/,/^}/p' "$0")" |
      sha256sum | cut -c1-12)"
    index_tag="$repo:$suite-index-$index_hash"
    image_exists "$index_tag" || build_index_image "$target_tag" "$index_tag"
    podman tag "$index_tag" "$repo:$suite-index"
    echo "WH_IMAGE_${upper}_INDEX=$index_tag"
  fi
  prune_stale "$suite" "$target_tag" "$build_tag" "$index_tag"
done

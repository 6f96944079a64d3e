#!/usr/bin/env bash
# sgarch install.sh: prepare an Amazon Linux 2023 host to run Sourcegraph with Docker Compose.
#
# Runs when sgarch bakes its AMI, at first boot on a stock AL2023 AMI (user-data, image: stock), and from
# boot.sh when the pinned Sourcegraph release is not on the host yet. It never starts Sourcegraph: at bake
# time there is no data volume, and boot.sh owns everything that lives on it.
#
# Usage: install.sh [--version X.Y.Z] [--commit SHA] [--pull-images]
#   --version      deploy-sourcegraph-docker release to fetch (default: SGARCH_SOURCEGRAPH_VERSION, from
#                  /etc/sgarch/sgarch.env when present)
#   --commit       the commit the release's tag must point to (default: SGARCH_DEPLOY_COMMIT for the
#                  pinned release, else the release's line in /etc/sgarch/deploy-commits); required
#   --pull-images  also pull the release's images (bake time; boot.sh moves them onto the data volume)
#
# Every step checks before it acts and a marker records a finished run, so running it again is a no-op.
set -euo pipefail

ROOT="${SGARCH_ROOT:-}"
CONFIG_DIR="${SGARCH_CONFIG_DIR:-$ROOT/etc/sgarch}"
STATE_DIR="${SGARCH_STATE_DIR:-$ROOT/var/lib/sgarch}"
RELEASES_DIR="${SGARCH_RELEASES_DIR:-$ROOT/opt/sourcegraph/releases}"
COMPOSE_PLUGIN="${SGARCH_COMPOSE_PLUGIN:-$ROOT/usr/local/lib/docker/cli-plugins/docker-compose}"
# v2.29.7 understands the `!reset`/`!override` tags Sourcegraph's compose examples (and ours) use.
COMPOSE_VERSION="${SGARCH_COMPOSE_VERSION:-v2.29.7}"
# The sha256 the binary must have; another COMPOSE_VERSION needs its own (SGARCH_COMPOSE_SHA256).
COMPOSE_SHA256="${SGARCH_COMPOSE_SHA256:-}"
DEPLOY_REPO="${SGARCH_DEPLOY_REPO:-https://github.com/sourcegraph/deploy-sourcegraph-docker.git}"
DEPLOY_COMMITS="${SGARCH_DEPLOY_COMMITS:-$CONFIG_DIR/deploy-commits}"
COMMIT=""
SYSCTL_FILE="$ROOT/etc/sysctl.d/90-sgarch.conf"
LIMITS_FILE="$ROOT/etc/security/limits.d/90-sgarch.conf"

# Scratch directories go away on every exit, including a failed download or clone.
SCRATCH=()
cleanup() { rm -rf "${SCRATCH[@]}"; }
trap cleanup EXIT

log() { printf '%s sgarch-install: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() {
    log "ERROR: $*"
    exit 1
}

# Replace $1 with stdin only when the content differs; exit status 0 means "changed".
write_if_changed() {
    local target="$1" tmp
    mkdir -p "$(dirname "$target")"
    tmp="$(mktemp "$target.XXXXXX")"
    cat >"$tmp"
    if [[ -f "$target" ]] && cmp -s "$tmp" "$target"; then
        rm -f "$tmp"
        return 1
    fi
    chmod 0644 "$tmp"
    mv -f "$tmp" "$target"
}

install_packages() {
    if [[ -f "$STATE_DIR/packages.done" ]]; then
        log "packages already installed"
        return
    fi
    command -v dnf >/dev/null || die "dnf not found: install.sh supports Amazon Linux 2023 only"
    log "installing docker, git, xfsprogs and the CloudWatch agent"
    dnf install -y docker git xfsprogs amazon-cloudwatch-agent
    systemctl enable docker.service
    install_compose_plugin
    mkdir -p "$STATE_DIR"
    touch "$STATE_DIR/packages.done"
}

# AL2023 packages Docker but not the Compose v2 plugin, so it comes from the Compose release, checked
# against a sha256 pinned here. The release's own checksums.txt would come from the same place as the
# binary, so it proves nothing the download does not.
install_compose_plugin() {
    if [[ -x "$COMPOSE_PLUGIN" ]]; then
        return
    fi
    local arch tmp expected="$COMPOSE_SHA256"
    arch="$(uname -m)"
    # sha256 of docker-compose-linux-<arch> v2.29.7, as the release's checksums.txt lists them (the same
    # values are in periareon/rules_docker_compose docker_compose/private/versions.bzl at 63f1b825).
    if [[ -z "$expected" && "$COMPOSE_VERSION" == v2.29.7 ]]; then
        case "$arch" in
        x86_64) expected=383ce6698cd5d5bbf958d2c8489ed75094e34a77d340404d9f32c4ae9e12baf0 ;;
        aarch64) expected=6e9fbd5daa20dca5d7d89145081ae8155d68ef2928b497d9f85b54fe0f9dbb2c ;;
        esac
    fi
    [[ "$expected" =~ ^[0-9a-f]{64}$ ]] ||
        die "no pinned sha256 for Docker Compose $COMPOSE_VERSION ($arch): set SGARCH_COMPOSE_SHA256 from its checksums.txt"
    tmp="$(mktemp -d)"
    SCRATCH+=("$tmp")
    log "installing the Docker Compose plugin $COMPOSE_VERSION ($arch)"
    curl -fsSL --retry 5 -o "$tmp/docker-compose" \
        "https://github.com/docker/compose/releases/download/$COMPOSE_VERSION/docker-compose-linux-$arch"
    echo "$expected  $tmp/docker-compose" | sha256sum -c --quiet - || die "Docker Compose checksum mismatch"
    mkdir -p "$(dirname "$COMPOSE_PLUGIN")"
    install -m 0755 "$tmp/docker-compose" "$COMPOSE_PLUGIN"
}

# Zoekt memory-maps every index shard; the kernel's fixed default (65530) is far too low for it. Not
# fs.inotify.max_user_watches: the kernel sizes that from memory, and a fixed value here would lower it on
# larger machines at every boot; boot.sh raises it at run time when it is too low.
tune_os() {
    if printf '%s\n' \
        '# Written by sgarch install.sh: zoekt maps every index shard.' \
        'vm.max_map_count = 300000' | write_if_changed "$SYSCTL_FILE"; then
        log "applying sysctl settings"
        sysctl --system >/dev/null
    fi
    printf '%s\n' \
        '# Written by sgarch install.sh: limits for Sourcegraph (zoekt, gitserver).' \
        '* soft nproc 8192' \
        '* hard nproc 16384' \
        '* soft nofile 262144' \
        '* hard nofile 262144' | write_if_changed "$LIMITS_FILE" || true
}

fetch_release() {
    local version="$1" dest="$RELEASES_DIR/v$1" tmp head
    if [[ -f "$dest/.sgarch-complete" ]]; then
        log "release v$version already present"
        return
    fi
    log "fetching deploy-sourcegraph-docker v$version"
    mkdir -p "$RELEASES_DIR"
    tmp="$(mktemp -d "$RELEASES_DIR/.v$version.XXXXXX")"
    SCRATCH+=("$tmp")
    # Clone into a scratch directory and rename at the end, so an interrupted fetch never looks complete.
    git clone --quiet --depth 1 --branch "v$version" "$DEPLOY_REPO" "$tmp/repo"
    # A tag can be moved; the pinned commit cannot.
    head="$(git -C "$tmp/repo" rev-parse HEAD)"
    [[ "$head" == "$COMMIT" ]] ||
        die "tag v$version of $DEPLOY_REPO is at $head, not at the pinned $COMMIT: refusing it"
    [[ -f "$tmp/repo/docker-compose/docker-compose.yaml" ]] ||
        die "release v$version has no docker-compose/docker-compose.yaml"
    rm -rf "$tmp/repo/.git"
    touch "$tmp/repo/.sgarch-complete"
    rm -rf "$dest"
    mv "$tmp/repo" "$dest"
}

# Pulls into Docker's current data-root (/var/lib/docker at bake time); boot.sh copies that onto a fresh
# data volume, so the first boot does not download several GB of images again.
pull_images() {
    local version="$1"
    if [[ -f "$STATE_DIR/images-v$version.done" ]]; then
        log "images of v$version already pulled"
        return
    fi
    log "pulling the images of v$version"
    systemctl start docker.service
    docker compose --project-name sourcegraph \
        --file "$RELEASES_DIR/v$version/docker-compose/docker-compose.yaml" pull --quiet
    touch "$STATE_DIR/images-v$version.done"
}

main() {
    local version="" pull=false
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --version)
            [[ $# -ge 2 ]] || die "--version needs a value"
            version="$2"
            shift 2
            ;;
        --commit)
            [[ $# -ge 2 ]] || die "--commit needs a value"
            COMMIT="$2"
            shift 2
            ;;
        --pull-images)
            pull=true
            shift
            ;;
        -h | --help)
            echo "usage: install.sh [--version X.Y.Z] [--commit SHA] [--pull-images]"
            return
            ;;
        *) die "unknown argument: $1" ;;
        esac
    done
    if [[ -r "$CONFIG_DIR/sgarch.env" ]]; then
        # shellcheck source=/dev/null
        source "$CONFIG_DIR/sgarch.env"
    fi
    version="${version:-${SGARCH_SOURCEGRAPH_VERSION:-}}"
    [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
        die "Sourcegraph version must look like 7.5.4453 (got '$version'): pass --version"
    # The commit is checked before anything changes, unless the release is already here.
    if [[ -z "$COMMIT" && "$version" == "${SGARCH_SOURCEGRAPH_VERSION:-}" ]]; then
        COMMIT="${SGARCH_DEPLOY_COMMIT:-}"
    fi
    if [[ -z "$COMMIT" && -r "$DEPLOY_COMMITS" ]]; then
        COMMIT="$(awk -v v="$version" '$1 == v { print $2 }' "$DEPLOY_COMMITS")"
    fi
    [[ -f "$RELEASES_DIR/v$version/.sgarch-complete" || "$COMMIT" =~ ^[0-9a-f]{40}$ ]] ||
        die "no pinned commit for deploy-sourcegraph-docker v$version: pass --commit, or add '$version <commit>' to $DEPLOY_COMMITS"

    local marker="$STATE_DIR/install.done"
    if [[ -f "$marker" ]] && grep -qx "version=$version" "$marker" &&
        { [[ "$pull" == false ]] || [[ -f "$STATE_DIR/images-v$version.done" ]]; }; then
        log "v$version already installed; nothing to do"
        return
    fi
    install_packages
    tune_os
    fetch_release "$version"
    if [[ "$pull" == true ]]; then
        pull_images "$version"
    fi
    mkdir -p "$STATE_DIR"
    printf 'version=%s\ncompose=%s\n' "$version" "$COMPOSE_VERSION" >"$marker"
    log "install of v$version finished"
}

main "$@"

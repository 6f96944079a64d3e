#!/usr/bin/env bash
# sgarch single-node finalize.sh (image builds only): check that install.sh left a complete install with
# the release's images pulled, then stop Docker so the snapshot holds a cleanly closed /var/lib/docker.
# Runs after install.sh and before harden.sh.
set -euo pipefail

STATE_DIR="${SGARCH_STATE_DIR:-/var/lib/sgarch}"
VERSION="${SGARCH_SOURCEGRAPH_VERSION:?the builder sets SGARCH_SOURCEGRAPH_VERSION}"

log() { printf '%s sgarch-finalize: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() {
    log "ERROR: $*"
    exit 1
}

grep -qx "version=$VERSION" "$STATE_DIR/install.done" || die "install.sh did not finish v$VERSION"
[[ -f "$STATE_DIR/images-v$VERSION.done" ]] || die "the images of v$VERSION were not pulled"
count="$(docker image ls --quiet | wc -l)"
[[ "$count" -gt 0 ]] || die "no container images in Docker's data-root"
log "$count images of v$VERSION are baked in"

# /etc/sgarch/sgarch.env is per instance (written by user-data at launch); one left over from a test would
# pin every instance launched from this image to the build's settings.
rm -f /etc/sgarch/sgarch.env
systemctl stop docker.service docker.socket
log "docker stopped; image ready for hardening"

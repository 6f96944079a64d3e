#!/usr/bin/env bash
# sgarch single-node finalize.sh (image builds only): check that install.sh left a complete install with
# the release's images pulled, set up the standalone boot (an instance launched without sgarch's user-data
# still mounts a data volume and starts Sourcegraph), then stop Docker so the snapshot holds a cleanly
# closed /var/lib/docker. Runs after install.sh and before harden.sh; the spec's `files` put boot.sh, the
# unit and the tier overrides in place before any script runs.
set -euo pipefail

ROOT="${SGARCH_ROOT:-}"
STATE_DIR="${SGARCH_STATE_DIR:-$ROOT/var/lib/sgarch}"
CONFIG_DIR="${SGARCH_CONFIG_DIR:-$ROOT/etc/sgarch}"
BIN_DIR="${SGARCH_BIN_DIR:-$ROOT/opt/sgarch/bin}"
UNIT="${SGARCH_UNIT:-$ROOT/etc/systemd/system/sgarch-boot.service}"
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

for file in "$BIN_DIR/boot.sh" "$BIN_DIR/install.sh" "$UNIT" "$CONFIG_DIR/tiers/index"; do
    [[ -s "$file" ]] || die "$file is missing: check the spec's files"
done
while read -r tier _; do
    [[ -z "$tier" || "$tier" == \#* ]] && continue
    [[ -s "$CONFIG_DIR/tiers/$tier.yaml" ]] || die "$CONFIG_DIR/tiers/$tier.yaml is missing: check the spec's files"
done <"$CONFIG_DIR/tiers/index"
# The upgrade table is rendered for the spec's pinned release; a build with another --version must not ship
# it (its verdicts would be for the wrong target). Without it, standalone instances refuse minor jumps.
paths="$CONFIG_DIR/upgrade-paths"
if [[ -f "$paths" ]] && ! head -n 1 "$paths" | grep -qF "other releases than $VERSION."; then
    log "WARNING: $paths was rendered for another release than v$VERSION; removed, so standalone instances of this image refuse upgrades across minor releases (run make docs for v$VERSION to keep it)"
    rm -f "$paths"
fi
# The release the standalone boot runs. User-data's sgarch.env, when present, takes precedence.
cat >"$CONFIG_DIR/image.env" <<EOF
# The Sourcegraph release baked into this image; boot.sh uses it when the instance has no sgarch user-data.
SGARCH_SOURCEGRAPH_VERSION=$VERSION
SGARCH_IMAGE=sgarch
EOF
chmod 0644 "$CONFIG_DIR/image.env"
# sgarch.env is per instance (written by user-data at launch); one left over from a test would pin every
# instance launched from this image to the build's settings.
rm -f "$CONFIG_DIR/sgarch.env"
systemctl daemon-reload
systemctl enable sgarch-boot.service
log "sgarch-boot.service enabled: without user-data, instances boot v$VERSION standalone"
systemctl stop docker.service docker.socket
log "docker stopped; image ready for hardening"

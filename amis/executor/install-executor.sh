#!/usr/bin/env bash
# sgarch install-executor.sh: install a Sourcegraph executor on Amazon Linux 2023, Docker runtime.
#
# The executor binary is downloaded for the exact Sourcegraph version and checked against the SHA-256 file
# Sourcegraph publishes next to it. The systemd unit starts only once /etc/sourcegraph/executor.env exists:
# user-data writes it at launch (EXECUTOR_FRONTEND_URL, EXECUTOR_FRONTEND_PASSWORD, EXECUTOR_QUEUE_NAMES),
# so the image itself holds no secret.
set -euo pipefail

VERSION="${SOURCEGRAPH_VERSION:?the builder sets SOURCEGRAPH_VERSION}"
BASE_URL="${SGARCH_EXECUTOR_BASE_URL:-https://storage.googleapis.com/sourcegraph-artifacts/executor}"
BIN="/usr/local/bin/executor"
UNIT="/etc/systemd/system/sourcegraph-executor.service"

log() { printf '%s sgarch-executor: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() {
    log "ERROR: $*"
    exit 1
}

[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "SOURCEGRAPH_VERSION must look like 7.5.4453 (got '$VERSION')"
command -v dnf >/dev/null || die "dnf not found: this script supports Amazon Linux 2023 only"

log "installing docker and git"
dnf install -y docker git
systemctl enable docker.service

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
log "downloading executor v$VERSION"
curl -fsSL --retry 5 -o "$tmp/executor" "$BASE_URL/v$VERSION/linux-amd64/executor"
curl -fsSL --retry 5 -o "$tmp/executor_SHA256SUM" "$BASE_URL/v$VERSION/linux-amd64/executor_SHA256SUM"
expected="$(awk '{ print $1; exit }' "$tmp/executor_SHA256SUM")"
[[ -n "$expected" ]] || die "empty executor_SHA256SUM for v$VERSION"
echo "$expected  $tmp/executor" | sha256sum -c --quiet - || die "executor checksum mismatch"
install -m 0755 "$tmp/executor" "$BIN"

# A dedicated user in the docker group: jobs run in containers, the executor itself needs no root.
id sourcegraph >/dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/sourcegraph-executor sourcegraph
usermod -aG docker sourcegraph
install -d -m 0750 -o root -g sourcegraph /etc/sourcegraph

cat >"$UNIT" <<'UNIT'
# Written by sgarch install-executor.sh. Starts once user-data has written /etc/sourcegraph/executor.env.
[Unit]
Description=Sourcegraph executor (batch changes, auto-indexing)
Wants=network-online.target docker.service
After=network-online.target docker.service
ConditionPathExists=/etc/sourcegraph/executor.env

[Service]
User=sourcegraph
Group=sourcegraph
EnvironmentFile=/etc/sourcegraph/executor.env
# Docker runtime: no Firecracker, so any Nitro instance type works.
Environment=EXECUTOR_USE_FIRECRACKER=false
ExecStart=/usr/local/bin/executor run
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
chmod 0644 "$UNIT"
systemctl daemon-reload
systemctl enable sourcegraph-executor.service
printf '%s\n' "$VERSION" >/etc/sourcegraph/executor-version
log "executor v$VERSION installed; it starts when /etc/sourcegraph/executor.env exists"

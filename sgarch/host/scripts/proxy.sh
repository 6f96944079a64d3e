#!/usr/bin/env bash
# sgarch proxy.sh: send every client on this host through the HTTP proxy named in /etc/sgarch/proxy.env.
#
# Usage: proxy.sh [command...]  (the command, install.sh on a stock image, runs with the proxy's environment)
#
# User-data carries this script only when the stack sets http_proxy, and cloud-init runs it first. Each
# client reads its proxy from its own place:
#   dnf                      proxy= under [main] in /etc/dnf/dnf.conf
#   curl and git             the environment: this script's for the first install.sh, and for boot.sh (and the
#                            install.sh it may run) a drop-in of sgarch-boot.service
#   dockerd (image pulls)    a docker.service drop-in
#   SSM agent                an amazon-ssm-agent.service drop-in (AWS documents the agent's proxy this way)
#   CloudWatch agent         [proxy] in its common-config.toml, written after the command, once the package
#                            that owns the file is installed
#   admin shells             /etc/profile.d/sgarch-proxy.sh
# Sourcegraph's containers get it from /etc/sgarch/sourcegraph.env, which sgarch renders with their NO_PROXY.
#
# On the sgarch image the boot unit may already run when this does; a step that needed the proxy then fails
# and the unit's restart (2 minutes later) has it. Idempotent: running it again writes the same files.
set -euo pipefail

ROOT="${SGARCH_ROOT:-}"
PROXY_ENV="$ROOT/etc/sgarch/proxy.env"
SYSTEMD_DIR="${SGARCH_SYSTEMD_DIR:-$ROOT/etc/systemd/system}"
DNF_CONF="$ROOT/etc/dnf/dnf.conf"
CW_COMMON="$ROOT/opt/aws/amazon-cloudwatch-agent/etc/common-config.toml"
PROFILE="$ROOT/etc/profile.d/sgarch-proxy.sh"

log() { printf '%s sgarch-proxy: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

set -a
# shellcheck source=/dev/null
source "$PROXY_ENV"
set +a
if [[ ! "${HTTP_PROXY:-}" =~ ^http://[^/@]+:[0-9]+$ ]]; then
    log "ERROR: $PROXY_ENV sets no HTTP_PROXY like http://host:port"
    exit 1
fi

# AL2023's dnf.conf holds only [main]; an older proxy= line goes.
mkdir -p "$(dirname "$DNF_CONF")" "$(dirname "$PROFILE")"
[[ -f "$DNF_CONF" ]] || echo '[main]' >"$DNF_CONF"
sed -i -e '/^proxy=/d' -e "/^\[main\]/a proxy=$HTTP_PROXY" "$DNF_CONF"
# The drop-ins name the file where the host has it, whatever ROOT is.
for unit in docker amazon-ssm-agent sgarch-boot; do
    mkdir -p "$SYSTEMD_DIR/$unit.service.d"
    printf '[Service]\nEnvironmentFile=/etc/sgarch/proxy.env\n' >"$SYSTEMD_DIR/$unit.service.d/sgarch-proxy.conf"
done
printf 'set -a\n. /etc/sgarch/proxy.env\nset +a\n' >"$PROFILE"
systemctl daemon-reload
# Units that run already (the SSM agent; dockerd on the sgarch image) start again with the proxy.
systemctl try-restart docker.service amazon-ssm-agent.service

if [[ $# -gt 0 ]]; then
    "$@"
fi
mkdir -p "$(dirname "$CW_COMMON")"
printf '[proxy]\nhttp_proxy = "%s"\nhttps_proxy = "%s"\nno_proxy = "%s"\n' \
    "$HTTP_PROXY" "$HTTPS_PROXY" "$NO_PROXY" >"$CW_COMMON"
log "the host's clients use $HTTP_PROXY"

#!/usr/bin/env bash
# sgarch boot.sh: bring Sourcegraph up from the data volume. Runs on every boot (sgarch-boot.service).
#
# 1. Wait for the data volume (the VolumeAttachment happens after the instance starts).
# 2. Format it XFS only when it holds nothing at all; label it; mount it by label with an fstab entry.
# 3. Put Docker's data-root on it, so every named volume (databases, repos, indexes) lives there.
# 4. Copy the pinned release, the tier's compose override and the env onto it, then `docker compose up -d`.
# 5. Record the version the data is now at in <data>/.sourcegraph-version.
#
# Idempotent: a second boot, or a new instance with an old volume, reuses the data and never reformats.
# Settings come from /etc/sgarch/sgarch.env (written by user-data); SGARCH_ROOT and the other SGARCH_*
# variables below move every path, so tests run this in a scratch directory with stub commands.
set -euo pipefail

ROOT="${SGARCH_ROOT:-}"
CONFIG_DIR="${SGARCH_CONFIG_DIR:-$ROOT/etc/sgarch}"
if [[ -r "$CONFIG_DIR/sgarch.env" ]]; then
    # shellcheck source=/dev/null
    source "$CONFIG_DIR/sgarch.env"
fi
DATA_DIR="${SGARCH_DATA_DIR:-$ROOT/mnt/data}"
# XFS labels hold at most 12 characters.
DATA_LABEL="${SGARCH_DATA_LABEL:-sgdata}"
STATE_DIR="${SGARCH_STATE_DIR:-$ROOT/var/lib/sgarch}"
RELEASES_DIR="${SGARCH_RELEASES_DIR:-$ROOT/opt/sourcegraph/releases}"
INSTALL_SH="${SGARCH_INSTALL_SH:-$ROOT/opt/sgarch/bin/install.sh}"
FSTAB="${SGARCH_FSTAB:-$ROOT/etc/fstab}"
DOCKER_DAEMON_JSON="${SGARCH_DOCKER_DAEMON_JSON:-$ROOT/etc/docker/daemon.json}"
DOCKER_DEFAULT_ROOT="${SGARCH_DOCKER_DEFAULT_ROOT:-$ROOT/var/lib/docker}"
SYSTEMD_DIR="${SGARCH_SYSTEMD_DIR:-$ROOT/etc/systemd/system}"
LOG_FILE="${SGARCH_LOG:-$ROOT/var/log/sgarch-boot.log}"
# The device name the VolumeAttachment uses; Xen instances see it as /dev/xvdf.
FALLBACK_DEVICES="${SGARCH_FALLBACK_DEVICES:-/dev/sdf /dev/xvdf}"
DEVICE_TIMEOUT_SECONDS="${SGARCH_DEVICE_TIMEOUT_SECONDS:-600}"
DEVICE_POLL_SECONDS="${SGARCH_DEVICE_POLL_SECONDS:-5}"
VERSION="${SGARCH_SOURCEGRAPH_VERSION:-}"
VOLUME_ID="${SGARCH_DATA_VOLUME_ID:-}"
BEHIND_LOAD_BALANCER="${SGARCH_BEHIND_LOAD_BALANCER:-false}"
PROJECT="sourcegraph"
COMPOSE_DIR="$DATA_DIR/sourcegraph"
VERSION_MARKER="$DATA_DIR/.sourcegraph-version"

log() { printf '%s sgarch-boot: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
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

# On Nitro instances EBS volumes are NVMe disks whose serial is the volume id without its dash.
find_device() {
    local serial="${VOLUME_ID//-/}" name dev_serial device
    while read -r name dev_serial; do
        if [[ -n "$dev_serial" && "$dev_serial" == "$serial" ]]; then
            echo "$name"
            return
        fi
    done < <(lsblk --nodeps --paths --noheadings --output NAME,SERIAL 2>/dev/null || true)
    for device in $FALLBACK_DEVICES; do
        if [[ -e "$device" ]]; then
            echo "$device"
            return
        fi
    done
}

wait_for_device() {
    local attempts=$(((DEVICE_TIMEOUT_SECONDS + DEVICE_POLL_SECONDS - 1) / DEVICE_POLL_SECONDS)) i device
    for ((i = 0; i <= attempts; i++)); do
        device="$(find_device)"
        if [[ -n "$device" ]]; then
            echo "$device"
            return
        fi
        if ((i == 0)); then
            log "waiting up to ${DEVICE_TIMEOUT_SECONDS}s for data volume $VOLUME_ID to be attached" >&2
        fi
        if ((i < attempts)); then
            sleep "$DEVICE_POLL_SECONDS"
        fi
    done
    die "data volume $VOLUME_ID is not attached after ${DEVICE_TIMEOUT_SECONDS}s" >&2
}

# Formatting destroys data, so it happens only when both blkid and lsblk see nothing on the device:
# no filesystem, no partition table. Anything unexpected stops the boot instead.
prepare_filesystem() {
    local device="$1" probe rc fstype label
    set +e
    probe="$(blkid -p -o export "$device")"
    rc=$?
    set -e
    case "$rc" in
    2)
        fstype="$(lsblk --nodeps --noheadings --output FSTYPE "$device" | tr -d '[:space:]')"
        [[ -z "$fstype" ]] || die "blkid sees nothing on $device but lsblk reports '$fstype'; refusing to format"
        log "formatting $device (empty) as XFS labelled $DATA_LABEL"
        mkfs.xfs -q -L "$DATA_LABEL" "$device"
        ;;
    0)
        fstype="$(sed -n 's/^TYPE=//p' <<<"$probe")"
        label="$(sed -n 's/^LABEL=//p' <<<"$probe")"
        [[ "$fstype" == xfs ]] ||
            die "$device holds '${fstype:-a partition table}', not XFS; refusing to touch it (restore or detach it)"
        if [[ "$label" != "$DATA_LABEL" ]]; then
            log "relabelling the XFS filesystem on $device from '$label' to $DATA_LABEL"
            xfs_admin -L "$DATA_LABEL" "$device"
        else
            log "$device already holds XFS labelled $DATA_LABEL; keeping its data"
        fi
        ;;
    *) die "blkid could not probe $device (status $rc); refusing to format" ;;
    esac
    # Let udev publish /dev/disk/by-label before mounting by label.
    udevadm settle || true
}

mount_data() {
    local entry="LABEL=$DATA_LABEL $DATA_DIR xfs defaults,nofail 0 2"
    # nofail: the instance still boots (and this script can wait) when the volume is late or missing.
    # Keep every other line; replace whatever mounted something else at the data directory before.
    if { awk -v dir="$DATA_DIR" '$1 ~ /^#/ || $2 != dir' "$FSTAB" 2>/dev/null || true
        echo "$entry"; } | write_if_changed "$FSTAB"; then
        log "fstab: $entry"
        systemctl daemon-reload
    fi
    mkdir -p "$DATA_DIR"
    if ! mountpoint -q "$DATA_DIR"; then
        mount "$DATA_DIR"
    fi
    mountpoint -q "$DATA_DIR" || die "$DATA_DIR is not a mount point after mounting"
}

configure_docker() {
    local data_root="$DATA_DIR/docker" restart=false
    # Images pulled at AMI bake time sit in the default data-root; a fresh volume starts from a copy.
    if [[ ! -e "$data_root" && -d "$DOCKER_DEFAULT_ROOT/image" ]]; then
        log "seeding $data_root from $DOCKER_DEFAULT_ROOT (pre-pulled images)"
        systemctl stop docker.socket docker.service
        rm -rf "$data_root.seed"
        cp -a "$DOCKER_DEFAULT_ROOT/." "$data_root.seed/"
        mv "$data_root.seed" "$data_root"
        restart=true
    fi
    mkdir -p "$data_root"
    # default-ulimits: containers inherit dockerd's limits, not limits.conf, and zoekt needs many files.
    if write_if_changed "$DOCKER_DAEMON_JSON" <<EOF; then
{
  "data-root": "$data_root",
  "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 262144, "Hard": 262144}},
  "log-driver": "json-file",
  "log-opts": {"max-size": "50m", "max-file": "5"}
}
EOF
        log "Docker data-root is $data_root"
        restart=true
    fi
    # Without this, a later boot could start Docker before the volume is mounted, and Docker would
    # quietly create an empty data-root on the root disk underneath the mount point.
    if write_if_changed "$SYSTEMD_DIR/docker.service.d/sgarch-data.conf" <<EOF; then
[Unit]
RequiresMountsFor=$DATA_DIR
EOF
        systemctl daemon-reload
    fi
    if [[ "$restart" == true ]]; then
        systemctl restart docker.service
    elif ! systemctl is-active --quiet docker.service; then
        systemctl start docker.service
    fi
}

# The data volume keeps a copy of exactly what runs, so any instance can bring it up again.
sync_release() {
    local source="$RELEASES_DIR/v$VERSION" dest="$COMPOSE_DIR/deploy"
    if [[ ! -f "$source/.sgarch-complete" ]]; then
        log "release v$VERSION is not on this host; running install.sh"
        "$INSTALL_SH" --version "$VERSION"
    fi
    [[ -f "$source/.sgarch-complete" ]] || die "release v$VERSION missing from $source after install.sh"
    if [[ "$(cat "$dest/.sgarch-release" 2>/dev/null || true)" != "$VERSION" ]]; then
        log "copying release v$VERSION to $dest"
        rm -rf "$dest.new"
        mkdir -p "$COMPOSE_DIR"
        cp -a "$source/." "$dest.new/"
        echo "$VERSION" >"$dest.new/.sgarch-release"
        rm -rf "$dest"
        mv "$dest.new" "$dest"
    fi
}

compose() {
    local args=(--project-name "$PROJECT" --file "$COMPOSE_DIR/deploy/docker-compose/docker-compose.yaml"
        --file "$COMPOSE_DIR/sgarch-tier.override.yaml")
    if [[ -f "$COMPOSE_DIR/sgarch-env.override.yaml" ]]; then
        args+=(--file "$COMPOSE_DIR/sgarch-env.override.yaml")
    fi
    # Last, so its `!reset` wins over anything the other files say about caddy.
    if [[ -f "$COMPOSE_DIR/sgarch-alb.override.yaml" ]]; then
        args+=(--file "$COMPOSE_DIR/sgarch-alb.override.yaml")
    fi
    docker compose "${args[@]}" "$@"
}

write_compose_files() {
    mkdir -p "$COMPOSE_DIR"
    [[ -f "$CONFIG_DIR/compose-override.yaml" ]] || die "$CONFIG_DIR/compose-override.yaml is missing"
    write_if_changed "$COMPOSE_DIR/sgarch-tier.override.yaml" <"$CONFIG_DIR/compose-override.yaml" || true
    rm -f "$COMPOSE_DIR/sgarch-env.override.yaml" "$COMPOSE_DIR/sgarch-alb.override.yaml"
    if [[ "$BEHIND_LOAD_BALANCER" == true ]]; then
        cat >"$COMPOSE_DIR/sgarch-alb.override.yaml" <<'EOF'
# Written by sgarch boot.sh: TLS ends at the load balancer, which forwards plain HTTP to port 80.
services:
  caddy: !reset {}
  sourcegraph-frontend-0:
    ports:
      - "0.0.0.0:80:3080"
EOF
    fi
    local env_file="$COMPOSE_DIR/sourcegraph.env" service
    if [[ -f "$CONFIG_DIR/sourcegraph.env" ]]; then
        write_if_changed "$env_file" <"$CONFIG_DIR/sourcegraph.env" || true
    else
        rm -f "$env_file"
    fi
    if [[ -f "$env_file" ]] && grep -q '^[A-Za-z_]' "$env_file"; then
        # Every service gets the extra environment (proxies must reach gitserver, frontend and worker alike).
        {
            echo "# Written by sgarch boot.sh: extra environment for every service."
            echo "services:"
            compose config --services | sort | while read -r service; do
                printf '  %s:\n    env_file:\n      - %s\n' "$service" "$env_file"
            done
        } >"$COMPOSE_DIR/sgarch-env.override.yaml.new"
        mv "$COMPOSE_DIR/sgarch-env.override.yaml.new" "$COMPOSE_DIR/sgarch-env.override.yaml"
    fi
}

# -------------------------------------------------------------------------------------------------
# UPGRADE HOOK (multi-version upgrades go here).
# Called before `docker compose up -d` when the data marker names another version than the pinned one.
# A later change adds the migrator step for multi-version upgrades: `compose down`, then the latest
# migrator with `upgrade --from=v<data> --to=v<pinned>`, then continue. Until then a version change
# is logged and left to the standard path, where `up -d` runs `migrator up` first through depends_on
# (that path supports one minor version at a time).
# -------------------------------------------------------------------------------------------------
upgrade_hook() {
    local from="$1" to="$2"
    log "data is at v$from, pinned version is v$to: standard upgrade (migrator up runs before the frontend)"
}

main() {
    log "boot started (Sourcegraph v$VERSION, data volume $VOLUME_ID)"
    [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
        die "SGARCH_SOURCEGRAPH_VERSION must look like 7.5.4453 (got '$VERSION'): fix $CONFIG_DIR/sgarch.env"
    [[ "$VOLUME_ID" =~ ^vol-[0-9a-f]+$ ]] ||
        die "SGARCH_DATA_VOLUME_ID must be an EBS volume id (got '$VOLUME_ID'): fix $CONFIG_DIR/sgarch.env"
    local device data_version
    device="$(wait_for_device)"
    log "data volume $VOLUME_ID is $device"
    if mountpoint -q "$DATA_DIR"; then
        log "$DATA_DIR is already mounted"
    else
        prepare_filesystem "$device"
    fi
    mount_data
    configure_docker
    sync_release
    write_compose_files
    data_version="$(cat "$VERSION_MARKER" 2>/dev/null || true)"
    if [[ -z "$data_version" ]]; then
        log "no version marker on the data volume: first start of v$VERSION"
    elif [[ "$data_version" != "$VERSION" ]]; then
        upgrade_hook "$data_version" "$VERSION"
    fi
    log "docker compose up -d"
    compose up --detach --remove-orphans
    echo "$VERSION" >"$VERSION_MARKER"
    mkdir -p "$STATE_DIR"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE_DIR/last-boot"
    log "Sourcegraph v$VERSION is starting; boot finished"
}

mkdir -p "$(dirname "$LOG_FILE")"
# A pipeline, not `exec > >(tee)`, so the log is complete when the script exits.
main "$@" 2>&1 | tee -a "$LOG_FILE"

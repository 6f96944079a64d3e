#!/usr/bin/env bash
# sgarch boot.sh: bring Sourcegraph up from the data volume. Runs on every boot (sgarch-boot.service).
#
# 1. Wait for the data volume (the VolumeAttachment happens after the instance starts).
# 2. Format it XFS only when it holds nothing at all; label it; mount it by label with an fstab entry.
# 3. Put Docker's data-root on it, so every named volume (databases, repos, indexes) lives there.
# 4. When the data is at another release than the pinned one, follow the upgrade planner's verdict
#    (upgrade_hook): start normally, run a multi-version upgrade first, or refuse and leave Sourcegraph down.
# 5. Copy the pinned release, the tier's compose override and the env onto it, then `docker compose up -d`.
# 6. Record the version the data is now at in <data>/.sourcegraph-version, and the outcome for the health
#    check in <data>/.sgarch-upgrade-status, one line: `ok: ...`, `upgrading: ...`, `refused: <gate>: ...`
#    or `failed: ...`. Exit status: 0 ok, 2 refused by an upgrade gate, 1 anything else.
#
# Idempotent: a second boot, or a new instance with an old volume, reuses the data and never reformats.
# Settings come from /etc/sgarch/sgarch.env (written by user-data); SGARCH_ROOT and the other SGARCH_*
# variables below move every path, so tests run this in a scratch directory with stub commands.
#
# Standalone: the sgarch AMI also boots without sgarch's user-data (AWS Marketplace, the console). Then
# the image's /etc/sgarch/image.env names the release and standalone.sh, which only the image carries,
# finds the data volume and picks the tier.
set -euo pipefail

ROOT="${SGARCH_ROOT:-}"
CONFIG_DIR="${SGARCH_CONFIG_DIR:-$ROOT/etc/sgarch}"
STANDALONE=false
if [[ -r "$CONFIG_DIR/sgarch.env" ]]; then
    # shellcheck source=/dev/null
    source "$CONFIG_DIR/sgarch.env"
elif [[ -r "$CONFIG_DIR/image.env" ]]; then
    # shellcheck source=/dev/null
    source "$CONFIG_DIR/image.env"
    STANDALONE=true
fi
STANDALONE_SH="${SGARCH_STANDALONE_SH:-$ROOT/opt/sgarch/bin/standalone.sh}"
OVERRIDE_FILE="$CONFIG_DIR/compose-override.yaml"
VOLUME_DESC="${SGARCH_DATA_VOLUME_ID:-}"
MISSING_VOLUME_FIX=""
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
CW_AGENT_CONFIG="${SGARCH_CW_AGENT_CONFIG:-$ROOT/opt/sgarch/cloudwatch-agent.json}"
# The device name the VolumeAttachment uses; Xen instances see it as /dev/xvdf.
FALLBACK_DEVICES="${SGARCH_FALLBACK_DEVICES:-/dev/sdf /dev/xvdf}"
# On a replacement, Pulumi starts the new instance, then stops the old one to detach the volume; 30 minutes
# covers a slow stop with room to spare.
DEVICE_TIMEOUT_SECONDS="${SGARCH_DEVICE_TIMEOUT_SECONDS:-1800}"
DEVICE_POLL_SECONDS="${SGARCH_DEVICE_POLL_SECONDS:-5}"
VERSION="${SGARCH_SOURCEGRAPH_VERSION:-}"
VOLUME_ID="${SGARCH_DATA_VOLUME_ID:-}"
BEHIND_LOAD_BALANCER="${SGARCH_BEHIND_LOAD_BALANCER:-false}"
PROJECT="sourcegraph"
COMPOSE_DIR="$DATA_DIR/sourcegraph"
VERSION_MARKER="$DATA_DIR/.sourcegraph-version"
STATUS_FILE="$DATA_DIR/.sgarch-upgrade-status"
# The upgrade planner's verdicts, rendered into user-data by sgarch (decide_upgrade).
UPGRADE_PATHS="${SGARCH_UPGRADE_PATHS:-$CONFIG_DIR/upgrade-paths}"
DATA_VERSION=""
UPGRADE=""
GATE=""
STATUS_READY=false

log() { printf '%s sgarch-boot: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
# Once the volume is mounted, a failure is also recorded in the status file; the marker stays as it was.
die() {
    log "ERROR: $*"
    if [[ "$STATUS_READY" == true ]]; then
        write_status "failed: $*"
    fi
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
    if [[ "$STANDALONE" == true ]]; then
        find_standalone_device
        return
    fi
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
            log "waiting up to ${DEVICE_TIMEOUT_SECONDS}s for data volume $VOLUME_DESC to be attached" >&2
        fi
        if ((i < attempts)); then
            sleep "$DEVICE_POLL_SECONDS"
        fi
    done
    die "data volume $VOLUME_DESC is not attached after ${DEVICE_TIMEOUT_SECONDS}s$MISSING_VOLUME_FIX" >&2
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
    [[ -f "$OVERRIDE_FILE" ]] || die "$OVERRIDE_FILE is missing"
    write_if_changed "$COMPOSE_DIR/sgarch-tier.override.yaml" <"$OVERRIDE_FILE" || true
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

write_status() {
    printf '%s\n' "$*" >"$STATUS_FILE.new"
    mv -f "$STATUS_FILE.new" "$STATUS_FILE"
}

# A gate forbids the jump: keep the marker, say why, exit 2. Sourcegraph stays down rather than run the
# data's own release: this instance exists to run the pinned one; the old containers (dockerd restarts them
# from the volume) carry the previous instance's settings (type, load balancer, environment); and a site
# that looks fine would hide the refusal. Pinning the data's release again brings it back as it was.
refuse() {
    local status="refused: $1: data is at v$DATA_VERSION, pinned v$VERSION: ${*:2}"
    write_status "$status"
    log "$status"
    log "Sourcegraph stays down; see: sgarch upgrade plan --from $DATA_VERSION --to $VERSION --arch single-node"
    # By project label, not by files: the volume's copy of the release is the old one, or missing.
    docker compose --project-name "$PROJECT" down --remove-orphans || log "could not stop the old containers"
    exit 2
}

gate_reason() {
    case "$1" in
    unreadable-marker) echo "$VERSION_MARKER holds no release" ;;
    unknown-version) echo "sgarch does not know v$DATA_VERSION" ;;
    no-upgrade-paths) echo "$UPGRADE_PATHS is missing" ;;
    *) sed -n "s/^gate $1 //p" "$UPGRADE_PATHS" | head -n 1 ;;
    esac
}

# Sets UPGRADE (the action) and GATE from the row of the planner's table that holds DATA_VERSION's minor.
# boot.sh never judges an upgrade itself: sgarch renders the table from its planner (sgarch.upgrade), so
# the gates live in one place. A release in no row is unknown to sgarch and refused.
decide_upgrade() {
    local major minor first last action gate
    UPGRADE=refuse GATE=unknown-version
    if [[ ! "$DATA_VERSION" =~ ^([0-9]+)\.([0-9]+)\.[0-9]+$ ]]; then
        GATE=unreadable-marker
        return
    fi
    major=$((10#${BASH_REMATCH[1]})) minor=$((10#${BASH_REMATCH[2]}))
    # Another patch of the same minor is always a standard start (the planner says so too); a standalone
    # image has no table, and needs none for that.
    if [[ "$major.$minor" == "$(cut -d. -f1-2 <<<"$VERSION")" ]]; then
        UPGRADE=patch GATE=-
        return
    fi
    if [[ ! -r "$UPGRADE_PATHS" ]]; then
        GATE=no-upgrade-paths
        return
    fi
    while read -r first last action gate; do
        [[ -z "$first" || "$first" == \#* || "$first" == gate ]] && continue
        # `* *` rows match any release; others are one major's minors, first to last.
        if [[ "$first" != '*' ]]; then
            [[ "${first%.*}" == "$major" && "${last%.*}" == "$major" ]] || continue
            ((minor >= ${first#*.} && minor <= ${last#*.})) || continue
        fi
        UPGRADE="$action" GATE="$gate"
        return
    done <"$UPGRADE_PATHS"
}

# The databases' Docker volumes hold PG_VERSION in their data directory (or one level down, where the
# images put PGDATA). The highest one counts: the 12 -> 16 upgrade writes a new directory next to the old.
check_postgres() {
    local need="$1" data name major found=false
    for data in "$DATA_DIR/docker/volumes/${PROJECT}_"{pgsql,codeintel-db,codeinsights-db}/_data; do
        [[ -d "$data" ]] || continue
        found=true
        name="${data%/_data}"
        major="$(find "$data" -maxdepth 2 -name PG_VERSION -exec cat {} + | sort -n | tail -n 1 | tr -dc 0-9)" ||
            die "could not read PG_VERSION under $data"
        if [[ -n "$major" ]] && ((major < need)); then
            refuse pg16-required "${name##*/} holds PostgreSQL $major, not $need: run v$DATA_VERSION until it upgrades"
        fi
        log "${name##*/}: PostgreSQL ${major:-unknown}"
    done
    [[ "$found" == true ]] || log "no built-in databases; external ones must run PostgreSQL $need"
}

# -------------------------------------------------------------------------------------------------
# UPGRADE HOOK (multi-version upgrades go here).
# Called when the data marker names another version than the pinned one, before anything on the volume
# changes. It follows the planner's verdict (decide_upgrade): standard and patch upgrades and rollbacks by
# one minor take the normal path, where `up -d` runs `migrator up` first through depends_on; a
# multi-version upgrade runs migrator_upgrade first (main); a jump a gate forbids is refused (exit 2).
# -------------------------------------------------------------------------------------------------
upgrade_hook() {
    local from="$1" to="$2" check
    local what="data is at v$from, pinned version is v$to"
    decide_upgrade
    case "$UPGRADE" in
    standard | patch | multi-version) log "$what: $UPGRADE upgrade" ;;
    rollback) log "$what: rollback by one minor" ;;
    unchecked) log "$what: sgarch does not know v$to; standard upgrade, migrator up checks the jump" ;;
    *) refuse "$GATE" "$(gate_reason "$GATE")" ;;
    esac
    # Checks the planner leaves to the host, which sees the built-in databases on the volume.
    for check in ${GATE//,/ }; do
        case "$check" in
        -) ;;
        pg16-required) check_postgres 16 ;;
        *) refuse "$check" "boot.sh cannot check it" ;;
        esac
    done
    write_status "upgrading: $UPGRADE v$from -> v$to"
}

# Sourcegraph's multi-version upgrade for Compose: stop everything, run `migrator upgrade --from --to`, then
# start the pinned release normally (its `migrator up` then has nothing left to do).
# `compose run --rm migrator upgrade ...` rather than an override file that swaps the migrator's command:
# - the image is the pinned (target) release's, from the compose file just copied, the newest one here;
# - `run` starts the databases the migrator depends on and returns the migrator's own exit status;
# - nothing is left on the volume if the instance dies halfway (a stale override would make every later
#   `up` run `upgrade` instead of `up`).
# Failure keeps the marker, so the next boot (or `systemctl restart sgarch-boot`) retries. A retry may need
# --skip-drift-check; that flag hides real drift too, so it is the admin's call (see the README), not ours.
# Success moves the marker at once: the data is at the new release now, and a later failure of `up` must
# be retried as a normal start, not as a second `upgrade` from a schema that is gone.
migrator_upgrade() {
    local rc=0
    log "docker compose down (downtime starts)"
    compose down --remove-orphans || die "docker compose down exited $?"
    log "docker compose run --rm migrator upgrade --from=v$DATA_VERSION --to=v$VERSION"
    compose run --rm migrator upgrade "--from=v$DATA_VERSION" "--to=v$VERSION" || rc=$?
    ((rc == 0)) || die "migrator upgrade v$DATA_VERSION -> v$VERSION exited $rc; reboot to retry"
    echo "$VERSION" >"$VERSION_MARKER"
    log "migrator upgrade finished: the data is at v$VERSION"
}

# The data-disk alarm watches CWAgent disk_used_percent with exactly the dimensions InstanceId and path,
# which aggregation_dimensions publishes; the agent comes with install.sh. Monitoring is not worth failing
# a boot over, so a missing or failing agent is only logged.
start_cloudwatch_agent() {
    if ! command -v amazon-cloudwatch-agent-ctl >/dev/null; then
        log "CloudWatch agent not installed: the data-disk alarm will have no data"
        return
    fi
    mkdir -p "$(dirname "$CW_AGENT_CONFIG")"
    cat >"$CW_AGENT_CONFIG" <<JSON
{"agent": {"metrics_collection_interval": 60},
 "metrics": {"namespace": "CWAgent",
  "append_dimensions": {"InstanceId": "\${aws:InstanceId}"},
  "aggregation_dimensions": [["InstanceId", "path"]],
  "metrics_collected": {"disk": {"measurement": ["used_percent"], "resources": ["$DATA_DIR", "/"]},
                        "mem": {"measurement": ["mem_used_percent"]}}}}
JSON
    amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "file:$CW_AGENT_CONFIG" >/dev/null ||
        log "the CloudWatch agent did not start: the data-disk alarm will have no data"
}

main() {
    local settings="$CONFIG_DIR/sgarch.env" device data_version=""
    if [[ "$STANDALONE" == true ]]; then
        settings="$CONFIG_DIR/image.env"
        log "no sgarch user-data: standalone boot of the image's release"
    fi
    log "boot started (Sourcegraph v$VERSION, data volume $VOLUME_DESC)"
    [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
        die "SGARCH_SOURCEGRAPH_VERSION must look like 7.5.4453 (got '$VERSION'): fix $settings"
    if [[ "$STANDALONE" == true ]]; then
        declare -F choose_tier >/dev/null || die "$STANDALONE_SH is missing: this image cannot boot without user-data"
        choose_tier
    else
        [[ "$VOLUME_ID" =~ ^vol-[0-9a-f]+$ ]] ||
            die "SGARCH_DATA_VOLUME_ID must be an EBS volume id (got '$VOLUME_ID'): fix $settings"
    fi
    device="$(wait_for_device)"
    log "data volume ${VOLUME_ID:+$VOLUME_ID }is $device"
    if mountpoint -q "$DATA_DIR"; then
        log "$DATA_DIR is already mounted"
    else
        prepare_filesystem "$device"
    fi
    mount_data
    STATUS_READY=true
    start_cloudwatch_agent
    configure_docker
    if [[ -f "$VERSION_MARKER" ]]; then
        data_version="$(tr -d '[:space:]' <"$VERSION_MARKER")"
    fi
    DATA_VERSION="$data_version"
    if [[ -z "$data_version" ]]; then
        log "no version marker on the data volume: first start of v$VERSION"
    elif [[ "$data_version" != "$VERSION" ]]; then
        upgrade_hook "$data_version" "$VERSION"
    fi
    sync_release
    write_compose_files
    if [[ "$UPGRADE" == multi-version ]]; then
        migrator_upgrade
    fi
    log "docker compose up -d"
    compose up --detach --remove-orphans || die "docker compose up exited $?"
    echo "$VERSION" >"$VERSION_MARKER"
    write_status "ok: v$VERSION${UPGRADE:+ ($UPGRADE from v$DATA_VERSION)}"
    mkdir -p "$STATE_DIR"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE_DIR/last-boot"
    log "Sourcegraph v$VERSION is starting; boot finished"
}

if [[ "$STANDALONE" == true && -r "$STANDALONE_SH" ]]; then
    # shellcheck source=/dev/null
    source "$STANDALONE_SH"
fi

# Sourced (as the tests do, to compare decide_upgrade with the planner), it only defines the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    mkdir -p "$(dirname "$LOG_FILE")"
    # A pipeline, not `exec > >(tee)`, so the log is complete when the script exits.
    main "$@" 2>&1 | tee -a "$LOG_FILE"
fi

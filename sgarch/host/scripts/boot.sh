#!/usr/bin/env bash
# sgarch boot.sh: bring Sourcegraph up from the data volume. Runs on every boot (sgarch-boot.service).
#
# 1. Wait for the data volume (the VolumeAttachment happens after the instance starts).
# 2. Format it XFS only when it holds nothing at all; label it; mount that device (fstab: by its UUID).
# 3. Put Docker's data-root on it, so every named volume (databases, repos, indexes) lives there.
# 4. When the data is at another release than the pinned one, follow the upgrade planner's verdict
#    (upgrade_hook): start normally, run a multi-version upgrade first, or refuse and leave Sourcegraph down.
# 5. Pull the pinned release's missing images while the old release still runs; without them, stop here.
# 6. Copy the pinned release, the tier's compose override and the env onto it, then `docker compose up -d`.
# 7. Record the version the data is now at in <data>/.sourcegraph-version, and the outcome for the health
#    check in <data>/.sgarch-upgrade-status, one line: `ok: ...`, `upgrading: ...`, `refused: <gate>: ...`
#    or `failed: ...`. Every exit once the volume is mounted leaves one of them (on_exit), whatever ended
#    the boot. Exit status: 0 ok, 2 refused by an upgrade gate, 1 anything else.
#
# Idempotent: a second boot, or a new instance with an old volume, reuses the data and never reformats.
# Settings come from /etc/sgarch/sgarch.env (written by user-data); SGARCH_ROOT and the other SGARCH_*
# variables below move every path, so tests run this in a scratch directory with stub commands.
#
# Standalone: the sgarch AMI also boots without sgarch's user-data (AWS Marketplace, the console). Then
# the image's /etc/sgarch/image.env names the release and standalone.sh, which only the image carries,
# finds the data volume and picks the tier.
set -euo pipefail
# A failing command inside $(...) ends the substitution too, so a die or an error there ends the boot instead
# of being ignored (bash >= 4.4; AL2023 has 5.2).
shopt -s inherit_errexit

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
# OPTIONS for docker.service (our drop-in reads it after the distribution's /etc/sysconfig/docker).
DOCKER_ENV="$CONFIG_DIR/docker.env"
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
RELEASE="$RELEASES_DIR/v$VERSION"
VERSION_MARKER="$DATA_DIR/.sourcegraph-version"
STATUS_FILE="$DATA_DIR/.sgarch-upgrade-status"
# The upgrade planner's verdicts, rendered into user-data by sgarch (decide_upgrade).
UPGRADE_PATHS="${SGARCH_UPGRADE_PATHS:-$CONFIG_DIR/upgrade-paths}"
DATA_VERSION=""
UPGRADE=""
GATE=""
DEVICE=""
STATUS_READY=false
# on_exit's inputs: the outcome die or refuse left in OUTCOME_FILE (a file, so a die inside $(...) reaches
# it too), else the command the ERR trap saw fail.
OUTCOME_FILE=""
FAILED="boot.sh"

log() { printf '%s sgarch-boot: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
# To stderr, so a die inside $(...) is logged rather than captured. The marker stays as it was.
die() {
    log "ERROR: $*" >&2
    [[ -z "$OUTCOME_FILE" ]] || printf 'failed: %s\n' "$*" >"$OUTCOME_FILE"
    exit 1
}

# The EXIT trap of main: once the volume is mounted, every exit records its outcome, so a boot that fails
# anywhere (die, or any command under set -e) never leaves an old `ok:` or `upgrading:` behind. Exit status
# 2 is kept for refusals only: the unit does not restart those.
on_exit() {
    local rc=$? outcome
    outcome="$(cat "$OUTCOME_FILE")"
    rm -f "$OUTCOME_FILE"
    ((rc != 0)) || return 0
    if [[ -z "$outcome" ]]; then
        log "ERROR: $FAILED"
        outcome="failed: $FAILED"
    fi
    [[ "$outcome" == refused:* ]] || rc=1
    [[ "$STATUS_READY" != true ]] || write_status "$outcome" || log "could not write $STATUS_FILE"
    exit "$rc"
}

# Replace $1 with the line $2 whole or not at all (temporary file, fsync, rename): a full disk must never
# leave a truncated version marker, which would hide the data's release from the next boot.
write_atomic() {
    printf '%s\n' "$2" >"$1.new"
    sync "$1.new"
    mv -f "$1.new" "$1"
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

# Sets DEVICE (empty while the volume is missing). It sets a global rather than printing, so it never runs
# in a subshell: a refusal in it (standalone.sh) ends the boot at once instead of a 30-minute wait.
# On Nitro instances EBS volumes are NVMe disks whose serial is the volume id without its dash.
find_device() {
    local serial="${VOLUME_ID//-/}" name dev_serial device
    DEVICE=""
    if [[ "$STANDALONE" == true ]]; then
        find_standalone_device
        return
    fi
    while read -r name dev_serial; do
        if [[ -n "$dev_serial" && "$dev_serial" == "$serial" ]]; then
            DEVICE="$name"
            return
        fi
    done < <(lsblk --nodeps --paths --noheadings --output NAME,SERIAL 2>/dev/null || true)
    for device in $FALLBACK_DEVICES; do
        if [[ -e "$device" ]]; then
            DEVICE="$device"
            return
        fi
    done
}

wait_for_device() {
    local attempts=$(((DEVICE_TIMEOUT_SECONDS + DEVICE_POLL_SECONDS - 1) / DEVICE_POLL_SECONDS)) i
    for ((i = 0; i <= attempts; i++)); do
        find_device
        [[ -z "$DEVICE" ]] || return 0
        if ((i == 0)); then
            log "waiting up to ${DEVICE_TIMEOUT_SECONDS}s for data volume $VOLUME_DESC to be attached"
        fi
        if ((i < attempts)); then
            sleep "$DEVICE_POLL_SECONDS"
        fi
    done
    die "data volume $VOLUME_DESC is not attached after ${DEVICE_TIMEOUT_SECONDS}s$MISSING_VOLUME_FIX"
}

# Formatting destroys data, so it happens only when both blkid and lsblk see nothing on the device:
# no filesystem, no partition table. Anything unexpected stops the boot instead.
prepare_filesystem() {
    local device="$DEVICE" probe rc fstype label
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
    # Let udev publish /dev/disk/by-uuid for the fstab entry.
    udevadm settle || true
}

# The device found by its volume id is what gets mounted, never whatever carries the label: a volume made
# from a snapshot of this one has the same label (and UUID), and could otherwise win.
mount_data() {
    local uuid entry source
    uuid="$(blkid -p -s UUID -o value "$DEVICE")"
    [[ -n "$uuid" ]] || die "$DEVICE has no filesystem UUID"
    # For the mount at early boot (docker.service waits for it). nofail: the instance still boots (and this
    # script can wait) when the volume is late or missing. Keep every other line; replace whatever mounted
    # something else at the data directory before.
    entry="UUID=$uuid $DATA_DIR xfs defaults,nofail 0 2"
    if { awk -v dir="$DATA_DIR" '$1 ~ /^#/ || $2 != dir' "$FSTAB" 2>/dev/null || true
        echo "$entry"; } | write_if_changed "$FSTAB"; then
        log "fstab: $entry"
        systemctl daemon-reload
    fi
    mkdir -p "$DATA_DIR"
    if ! mountpoint -q "$DATA_DIR"; then
        mount "$DEVICE" "$DATA_DIR"
    fi
    mountpoint -q "$DATA_DIR" || die "$DATA_DIR is not a mount point after mounting"
    source="$(findmnt -nro SOURCE --mountpoint "$DATA_DIR")"
    [[ "$source" -ef "$DEVICE" ]] || die "$DATA_DIR holds $source, not the data volume $DEVICE: detach $source, then reboot"
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
    # dockerd refuses to start when a setting is given both as a flag and in daemon.json ("the following
    # directives are specified both as a flag and in the configuration file"), so daemon.json holds only
    # settings no flag of the unit sets. AL2023's docker.service runs `/usr/bin/dockerd -H fd://
    # --containerd=/run/containerd/containerd.sock $OPTIONS $DOCKER_STORAGE_OPTIONS $DOCKER_ADD_RUNTIMES`, with
    # OPTIONS="--default-ulimit nofile=32768:65536" from /etc/sysconfig/docker (as `systemctl status docker`
    # shows on AL2023; a copy with its sources is in tests/data/al2023-docker).
    if write_if_changed "$DOCKER_DAEMON_JSON" <<EOF; then
{
  "data-root": "$data_root",
  "log-driver": "json-file",
  "log-opts": {"max-size": "50m", "max-file": "5"}
}
EOF
        log "Docker data-root is $data_root"
        restart=true
    fi
    # So the ulimit goes through the unit: our OPTIONS replaces the distribution's (whose only flag is the
    # lower nofile limit), and holds nothing daemon.json sets. Containers inherit dockerd's default ulimits,
    # not limits.conf, and zoekt opens many files.
    if echo 'OPTIONS="--default-ulimit nofile=262144:262144"' | write_if_changed "$DOCKER_ENV"; then
        restart=true
    fi
    # RequiresMountsFor: without it, a later boot could start Docker before the volume is mounted, and Docker
    # would quietly create an empty data-root on the root disk underneath the mount point.
    # EnvironmentFile, not Environment=: systemd lets any EnvironmentFile= override Environment=, and a later
    # file override an earlier one; a drop-in's comes after the unit's /etc/sysconfig/docker.
    if write_if_changed "$SYSTEMD_DIR/docker.service.d/sgarch.conf" <<EOF; then
[Unit]
RequiresMountsFor=$DATA_DIR
[Service]
EnvironmentFile=-$DOCKER_ENV
EOF
        systemctl daemon-reload
        restart=true
    fi
    if [[ "$restart" == true ]]; then
        systemctl restart docker.service
    elif ! systemctl is-active --quiet docker.service; then
        systemctl start docker.service
    fi
}

# Zoekt watches many files. The kernel sizes this limit from memory, far above 128000 on most Sourcegraph
# machines, so it is raised (on every boot) only when lower, never lowered: a sysctl.d file would set it at
# every boot, below the kernel's own default on larger machines.
tune_kernel() {
    (($(sysctl -n fs.inotify.max_user_watches) >= 128000)) || sysctl -q -w fs.inotify.max_user_watches=128000
}

fetch_release() {
    if [[ ! -f "$RELEASE/.sgarch-complete" ]]; then
        log "release v$VERSION is not on this host; running install.sh"
        "$INSTALL_SH" --version "$VERSION"
    fi
    [[ -f "$RELEASE/.sgarch-complete" ]] || die "release v$VERSION missing from $RELEASE after install.sh"
}

# Every image of the pinned release is on the data volume's Docker before anything is stopped or replaced:
# until then the old release keeps running, and a failure leaves it running. `--policy missing` contacts the
# registry only for images Docker lacks, so a normal boot needs no network. (The AMI's baked images cannot
# help a volume that has its own Docker: `docker save | load` drops the digests the compose file pins,
# moby/moby#22011, so Compose would pull them again anyway.)
pull_images() {
    log "pulling the missing images of v$VERSION"
    docker compose --project-name "$PROJECT" --file "$RELEASE/docker-compose/docker-compose.yaml" pull --policy missing --quiet ||
        die "could not pull the images of v$VERSION${DATA_VERSION:+; v$DATA_VERSION keeps running}"
}

# The data volume keeps a copy of exactly what runs, so any instance can bring it up again.
sync_release() {
    local source="$RELEASE" dest="$COMPOSE_DIR/deploy"
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

write_status() { write_atomic "$STATUS_FILE" "$1"; }

# A gate forbids the jump: keep the marker, say why, exit 2. Sourcegraph stays down rather than run the
# data's own release: this instance exists to run the pinned one; the old containers (dockerd restarts them
# from the volume) carry the previous instance's settings (type, load balancer, environment); and a site
# that looks fine would hide the refusal. Pinning the data's release again brings it back as it was.
refuse() {
    local status="refused: $1: data is at v${DATA_VERSION:-?}, pinned v$VERSION: ${*:2}"
    log "$status"
    log "Sourcegraph stays down; see: sgarch upgrade plan --from ${DATA_VERSION:-<data version>} --to $VERSION --arch single-node"
    # By project label, not by files: the volume's copy of the release is the old one, or missing.
    docker compose --project-name "$PROJECT" down --remove-orphans || log "could not stop the old containers"
    echo "$status" >"$OUTCOME_FILE"
    exit 2
}

gate_reason() {
    case "$1" in
    unreadable-marker) echo "$VERSION_MARKER holds no release: write the one the data is at into it" ;;
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
    write_atomic "$VERSION_MARKER" "$VERSION"
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

# The data's release: the marker, or nothing on a new volume. A volume whose marker is missing or empty but
# that holds Sourcegraph's Docker volumes is not new: decide_upgrade refuses it (unreadable-marker) rather
# than start the pinned release on data of an unknown release.
read_marker() {
    [[ ! -f "$VERSION_MARKER" ]] || DATA_VERSION="$(tr -d '[:space:]' <"$VERSION_MARKER")"
    if [[ -z "$DATA_VERSION" ]] && compgen -G "$DATA_DIR/docker/volumes/${PROJECT}_*" >/dev/null; then
        upgrade_hook "" "$VERSION"
    fi
}

main() {
    local settings="$CONFIG_DIR/sgarch.env"
    OUTCOME_FILE="$(mktemp)"
    set -E
    trap on_exit EXIT
    trap 'FAILED="${FUNCNAME[0]}: $BASH_COMMAND exited $?"' ERR
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
    wait_for_device
    log "data volume ${VOLUME_ID:+$VOLUME_ID }is $DEVICE"
    if mountpoint -q "$DATA_DIR"; then
        log "$DATA_DIR is already mounted"
    else
        prepare_filesystem
    fi
    mount_data
    STATUS_READY=true
    start_cloudwatch_agent
    tune_kernel
    configure_docker
    read_marker
    if [[ -z "$DATA_VERSION" ]]; then
        log "no version marker on the data volume: first start of v$VERSION"
    elif [[ "$DATA_VERSION" != "$VERSION" ]]; then
        upgrade_hook "$DATA_VERSION" "$VERSION"
    fi
    fetch_release
    pull_images
    sync_release
    write_compose_files
    if [[ "$UPGRADE" == multi-version ]]; then
        migrator_upgrade
    elif [[ -z "$DATA_VERSION" ]]; then
        # From here on the data is this release's: a first start that fails halfway is retried as a normal
        # start, never taken for a new volume.
        write_atomic "$VERSION_MARKER" "$VERSION"
    fi
    log "docker compose up -d"
    compose up --detach --remove-orphans || die "docker compose up exited $?"
    write_atomic "$VERSION_MARKER" "$VERSION"
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

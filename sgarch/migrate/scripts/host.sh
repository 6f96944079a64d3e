#!/usr/bin/env bash
# sgarch host.sh: the single-node side of `sgarch migrate`: maintenance mode, disk space, and moving files
# to and from S3 through presigned URLs (the instance role is never changed, so it has no S3 access).
#
# Usage:
#   host.sh maintenance on|off|status
#   host.sh preflight DIR BYTES      fail unless DIR's file system has BYTES free
#   host.sh put FILE PART_BYTES URLS_URL
#                                    upload FILE as a multipart upload: URLS_URL (a presigned GET) returns
#                                    lines `<part number> <presigned upload_part URL>` for the parts still
#                                    missing; part N is bytes (N-1)*PART_BYTES .. N*PART_BYTES-1 of FILE
#   host.sh get URL FILE SHA256      download URL (a presigned GET) to FILE unless FILE already has SHA256
#   host.sh cleanup DIR              remove DIR, a work directory below SGARCH_MIGRATE_ROOT
#
# Results (stdout; progress to stderr):
#   sgarch-result maintenance on <epoch> | off
#   sgarch-result preflight <free bytes>
#   sgarch-result put <parts uploaded>
#   sgarch-result get <bytes> <sha256>
#
# Maintenance mode. Sourcegraph has no read-only mode of its own, so every container that writes to the
# databases or the blob store (SGARCH_WRITERS) is stopped, and a tiny server answers 503 with a
# maintenance page in the frontend's place:
#   - on records the writers that are running (and the frontend's network and published ports) in
#     SGARCH_MIGRATE_STATE/maintenance BEFORE it stops anything, so `off` (run by `sgarch migrate abort`)
#     restarts exactly those, even after an `on` that failed halfway; `off` tries every one of them even
#     when one refuses to start, then fails naming those still stopped and keeps maintenance recorded;
#   - the page server is a container named sgarch-maintenance from the release's caddy image running
#     `caddy respond`, with the network alias sourcegraph-frontend-0: caddy (TLS on the instance) proxies
#     to it unchanged, and behind a load balancer it publishes the port the frontend published;
#   - the epoch (a fresh id each time maintenance starts) tells `sgarch migrate export` whether its earlier
#     dumps were taken during this same maintenance window, or are stale because writes resumed since;
#   - a reboot ends maintenance mode (the boot script starts every service): `on` is rerun before each step.
set -euo pipefail

STATE_DIR="${SGARCH_MIGRATE_STATE:-/var/lib/sgarch/migrate}"
STATE_FILE="$STATE_DIR/maintenance"
# Everything that writes to pgsql, codeintel-db, codeinsights-db or blobstore, in start order.
WRITERS="${SGARCH_WRITERS:-sourcegraph-frontend-internal sourcegraph-frontend-0 worker gitserver-0 precise-code-intel-worker syntactic-code-intel-worker searcher-0 zoekt-indexserver-0}"
FRONTEND="${SGARCH_FRONTEND_CONTAINER:-sourcegraph-frontend-0}"
PAGE_CONTAINER="sgarch-maintenance"
COMPOSE_FILE="${SGARCH_COMPOSE_FILE:-/mnt/data/sourcegraph/deploy/docker-compose/docker-compose.yaml}"
PAGE='<!doctype html><title>Sourcegraph maintenance</title><h1>Sourcegraph is down for maintenance</h1><p>This Sourcegraph instance is being moved. It will be back shortly.</p>'

log() { printf 'host: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
usage() {
    printf 'usage: host.sh maintenance on|off|status | preflight DIR BYTES | put FILE PART_BYTES URLS_URL | get URL FILE SHA256 | cleanup DIR\n' >&2
    exit 2
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
bytes_of() { wc -c <"$1" | tr -d ' '; }
running() { [[ "$(docker inspect --format '{{.State.Running}}' "$1" 2>/dev/null || true)" == true ]]; }
exists() { docker inspect --format '{{.Id}}' "$1" >/dev/null 2>&1; }
state_value() { sed -n "s/^$1=//p" "$STATE_FILE" | head -n 1; }

page_image() {
    if [[ -n "${SGARCH_MAINTENANCE_IMAGE:-}" ]]; then
        printf '%s\n' "$SGARCH_MAINTENANCE_IMAGE"
    elif exists caddy; then
        docker inspect --format '{{.Config.Image}}' caddy
    else
        # Behind a load balancer the caddy service is removed, but boot.sh pulled every image of the release.
        sed -n "s/^ *image: *'\{0,1\}\([^' ]*\/caddy:[^' ]*\)'\{0,1\} *\$/\1/p" "$COMPOSE_FILE" | head -n 1
    fi
}

maintenance_on() {
    local name writers="" network="" ports="" epoch image
    mkdir -p "$STATE_DIR"
    chmod 700 "$STATE_DIR"
    if [[ ! -f "$STATE_FILE" ]]; then
        for name in $WRITERS; do
            if running "$name"; then writers="$writers $name"; fi
        done
        if exists "$FRONTEND"; then
            network="$(docker inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$FRONTEND" | awk '{print $1}')"
            ports="$(docker inspect --format '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}}:{{.HostPort}}:{{$p}} {{end}}{{end}}' "$FRONTEND")"
        fi
        epoch="$(date -u +%Y%m%dT%H%M%SZ)-$$-$RANDOM"
        printf 'epoch=%s\nstopped=%s\nnetwork=%s\nports=%s\n' "$epoch" "${writers# }" "$network" "${ports% }" >"$STATE_FILE.new"
        mv -f "$STATE_FILE.new" "$STATE_FILE"
        log "maintenance mode starts (epoch $epoch); stopping:${writers:- nothing was running}"
    fi
    # Rerun-safe: stop whatever of the recorded writers runs again (a reboot, a manual start).
    for name in $WRITERS; do
        if running "$name"; then docker stop --time 120 "$name" >/dev/null; fi
    done
    if ! running "$PAGE_CONTAINER"; then
        docker rm -f "$PAGE_CONTAINER" >/dev/null 2>&1 || true
        image="$(page_image)"
        [[ -n "$image" ]] || die "no caddy image for the maintenance page: set SGARCH_MAINTENANCE_IMAGE"
        local args=(--detach --name "$PAGE_CONTAINER" --label sgarch.maintenance=true --entrypoint caddy)
        network="$(state_value network)"
        if [[ -n "$network" ]]; then args+=(--network "$network" --network-alias "$FRONTEND"); fi
        for name in $(state_value ports); do args+=(--publish "$name"); done
        docker run "${args[@]}" "$image" respond --listen :3080 --status 503 \
            --header 'Content-Type: text/html; charset=utf-8' --header 'Retry-After: 600' --body "$PAGE" >/dev/null
    fi
    printf 'sgarch-result maintenance on %s\n' "$(state_value epoch)"
}

maintenance_off() {
    local name failed=""
    if [[ ! -f "$STATE_FILE" ]]; then
        docker rm -f "$PAGE_CONTAINER" >/dev/null 2>&1 || true
        printf 'sgarch-result maintenance off\n'
        return
    fi
    docker rm -f "$PAGE_CONTAINER" >/dev/null 2>&1 || true
    # Every recorded service is started even when one refuses: stopping at the first would leave the
    # others down too, for no reason of their own.
    for name in $(state_value stopped); do
        log "starting $name"
        if ! docker start "$name" >/dev/null; then
            log "could not start $name"
            failed="$failed $name"
        fi
    done
    if [[ -n "$failed" ]]; then
        # Maintenance stays recorded, with the full list (starting a running container does nothing), so
        # a rerun starts what is still down. A fresh epoch: writers ran since, so an export's earlier dumps
        # are stale and must be taken again.
        sed "s/^epoch=.*/epoch=$(date -u +%Y%m%dT%H%M%SZ)-$$-$RANDOM/" "$STATE_FILE" >"$STATE_FILE.new"
        mv -f "$STATE_FILE.new" "$STATE_FILE"
        die "still stopped:$failed (the others run again): fix the cause and rerun, or run docker start$failed on the host"
    fi
    rm -f "$STATE_FILE"
    printf 'sgarch-result maintenance off\n'
}

maintenance_status() {
    if [[ -f "$STATE_FILE" ]]; then
        printf 'sgarch-result maintenance on %s\n' "$(state_value epoch)"
    else
        printf 'sgarch-result maintenance off\n'
    fi
}

cmd_preflight() {
    local dir="$1" need="$2" free
    mkdir -p "$dir"
    chmod 700 "$dir"
    free="$(df -P -B1 "$dir" | awk 'NR == 2 {print $4}')"
    ((free >= need)) || die "$dir has $free bytes free, the export needs $need: grow the data volume or free space"
    printf 'sgarch-result preflight %s\n' "$free"
}

# Parts go through a temporary file: S3 wants a Content-Length, which a pipe cannot give curl.
cmd_put() {
    local file="$1" part_bytes="$2" urls_url="$3" list part url count=0 mib
    [[ -f "$file" ]] || die "$file does not exist"
    ((part_bytes % 1048576 == 0)) || die "PART_BYTES must be a multiple of 1 MiB (got $part_bytes)"
    mib=$((part_bytes / 1048576))
    PUT_LIST="$(mktemp)"
    list="$PUT_LIST"
    # The list holds presigned URLs: never echo it, and remove it however this ends.
    trap 'rm -f "$PUT_LIST" "$PUT_LIST.part"' EXIT
    curl --fail --silent --show-error --retry 3 --output "$list" "$urls_url"
    while read -r part url; do
        [[ -n "$part" ]] || continue
        dd if="$file" of="$list.part" bs=1M skip=$(((part - 1) * mib)) count="$mib" status=none
        curl --fail --silent --show-error --retry 3 --upload-file "$list.part" --output /dev/null "$url"
        count=$((count + 1))
        log "uploaded part $part of $file"
    done <"$list"
    printf 'sgarch-result put %s\n' "$count"
}

cmd_get() {
    local url="$1" file="$2" want="$3" got
    mkdir -p "$(dirname "$file")"
    if [[ -f "$file" && "$(sha256_of "$file")" == "$want" ]]; then
        log "$file is already here"
    else
        curl --fail --silent --show-error --retry 3 --output "$file.partial" "$url"
        got="$(sha256_of "$file.partial")"
        [[ "$got" == "$want" ]] || die "downloaded $file has SHA-256 $got, the manifest says $want"
        mv -f "$file.partial" "$file"
    fi
    printf 'sgarch-result get %s %s\n' "$(bytes_of "$file")" "$want"
}

# Only a directory below the migration root: a wrong argument must never remove anything else.
cmd_cleanup() {
    local root="${SGARCH_MIGRATE_ROOT:-/mnt/data/sgarch-migrate}"
    [[ "$1" == "$root"/?* && "$1" != *..* ]] || die "refusing to remove $1: not below $root"
    rm -rf "$1"
}

main() {
    [[ $# -ge 1 ]] || usage
    local command="$1"
    shift
    case "$command" in
    maintenance)
        [[ $# -eq 1 ]] || usage
        case "$1" in
        on) maintenance_on ;;
        off) maintenance_off ;;
        status) maintenance_status ;;
        *) usage ;;
        esac
        ;;
    preflight) [[ $# -eq 2 ]] || usage && cmd_preflight "$@" ;;
    put) [[ $# -eq 3 ]] || usage && cmd_put "$@" ;;
    get) [[ $# -eq 3 ]] || usage && cmd_get "$@" ;;
    cleanup) [[ $# -eq 1 ]] || usage && cmd_cleanup "$1" ;;
    *) usage ;;
    esac
}

main "$@"

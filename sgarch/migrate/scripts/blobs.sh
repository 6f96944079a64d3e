#!/usr/bin/env bash
# sgarch blobs.sh: copy Sourcegraph's blob store (precise code-intel uploads, search-job results) as one tar.
#
# Usage:
#   blobs.sh size                   bytes the blob store holds
#   blobs.sh export FILE            tar the blob store into FILE
#   blobs.sh import FILE [SHA256]   replace the blob store's contents with FILE's
#
# Results (stdout, one line each; progress goes to stderr):
#   sgarch-result size <bytes>
#   sgarch-result export <bytes> <sha256> <files>
#   sgarch-result import <bytes> <sha256> <files>
#
# The tar holds the blob store's data directory as the `blobstore` service keeps it: one top-level
# directory per bucket, an object's key as the path below it (the filesystem layout of an S3-compatible
# store). An EKS import uploads each file to the release's bucket under the same key.
#
# Where the blob store is (environment):
#   SGARCH_BLOBS_MODE=docker  (default; single-node) the directory Docker mounts at /data in the
#                             SGARCH_BLOBSTORE_CONTAINER (default `blobstore`) container. import stops that
#                             container while it replaces the files and starts it afterwards (also when an
#                             earlier, failed import left it stopped).
#   SGARCH_BLOBS_MODE=direct  the directory SGARCH_BLOBS_DIR.
# import is idempotent: it empties the directory first, so a rerun after a failure halfway ends correct.
set -euo pipefail

MODE="${SGARCH_BLOBS_MODE:-docker}"
CONTAINER="${SGARCH_BLOBSTORE_CONTAINER:-blobstore}"

log() { printf 'blobs: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
usage() {
    printf 'usage: blobs.sh size | export FILE | import FILE [SHA256]\n' >&2
    exit 2
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
bytes_of() { wc -c <"$1" | tr -d ' '; }

blob_dir() {
    local dir
    case "$MODE" in
    docker)
        dir="$(docker inspect --format '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Source}}{{end}}{{end}}' "$CONTAINER")" ||
            die "no container $CONTAINER: is this an sgarch single node?"
        ;;
    direct) dir="${SGARCH_BLOBS_DIR:-}" ;;
    *) die "SGARCH_BLOBS_MODE must be docker or direct (got '$MODE')" ;;
    esac
    [[ -n "$dir" && -d "$dir" ]] || die "the blob store's directory '$dir' does not exist"
    printf '%s\n' "$dir"
}

file_count() { tar -tf "$1" | grep -cv '/$' || true; }

cmd_size() {
    local dir
    dir="$(blob_dir)"
    printf 'sgarch-result size %s\n' "$(du -sb "$dir" | cut -f1)"
}

cmd_export() {
    local file="$1" dir
    dir="$(blob_dir)"
    mkdir -p "$(dirname "$file")"
    log "tar $dir to $file"
    # Numeric owners: the user ids inside the blobstore image mean nothing by name on another host.
    tar -C "$dir" --numeric-owner -cf "$file.partial" .
    mv -f "$file.partial" "$file"
    printf 'sgarch-result export %s %s %s\n' "$(bytes_of "$file")" "$(sha256_of "$file")" "$(file_count "$file")"
}

cmd_import() {
    local file="$1" want="${2:-}" got dir
    [[ -f "$file" ]] || die "$file does not exist"
    got="$(sha256_of "$file")"
    if [[ -n "$want" && "$got" != "$want" ]]; then
        die "$file has SHA-256 $got, the manifest says $want: download it again"
    fi
    dir="$(blob_dir)"
    if [[ "$MODE" == docker ]]; then
        log "stopping $CONTAINER while its files are replaced"
        docker stop "$CONTAINER" >/dev/null
    fi
    log "replacing the contents of $dir"
    find "$dir" -mindepth 1 -delete
    tar -C "$dir" --numeric-owner -xf "$file"
    if [[ "$MODE" == docker ]]; then
        docker start "$CONTAINER" >/dev/null
    fi
    printf 'sgarch-result import %s %s %s\n' "$(bytes_of "$file")" "$got" "$(file_count "$file")"
}

main() {
    [[ $# -ge 1 ]] || usage
    local command="$1"
    shift
    case "$command" in
    size) [[ $# -eq 0 ]] || usage ;;
    export) [[ $# -eq 1 ]] || usage ;;
    import) [[ $# -eq 1 || $# -eq 2 ]] || usage ;;
    *) usage ;;
    esac
    "cmd_$command" "$@"
}

main "$@"

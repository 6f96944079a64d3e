#!/usr/bin/env bash
# sgarch k8s store-blobs.sh: move Sourcegraph's blobs between the scratch volume and the release's blob
# storage (AWS CLI image). The scratch layout is blobs.sh's: one directory per bucket, keys below it.
#
# Usage:
#   store-blobs.sh put    copy $SGARCH_SCRATCH/blobs into the release's storage (import)
#   store-blobs.sh get    copy the release's storage into $SGARCH_SCRATCH/blobs (export)
#
# Environment:
#   SGARCH_BLOB_BUCKET    the release's S3 bucket (Sourcegraph's one bucket), or empty for the chart's
#                         blobstore service, reached through its S3 API at SGARCH_BLOBSTORE_URL
#   SGARCH_BLOB_DIR       the directory name that bucket's objects get in the bundle (export from S3)
# An S3 bucket holds every bundle directory's objects under their own keys. blobstore keeps one bucket per
# directory; `put` makes each equal to its directory (objects the bundle lacks are deleted), so a rerun
# ends with the same contents. blobstore authorizes nobody (its S3 proxy runs with authorization "none"),
# so the keys used for it below are placeholders, not secrets.
set -euo pipefail

log() { printf 'blobs: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

: "${SGARCH_SCRATCH:?}"
dir="$SGARCH_SCRATCH/blobs"
bucket="${SGARCH_BLOB_BUCKET:-}"
endpoint="${SGARCH_BLOBSTORE_URL:-http://blobstore:9000}"

blobstore() {
    AWS_ACCESS_KEY_ID=sgarch-migrate AWS_SECRET_ACCESS_KEY=sgarch-migrate AWS_SESSION_TOKEN='' \
        aws --endpoint-url "$endpoint" "$@"
}

cmd_put() {
    [[ -d "$dir" ]] || die "$dir does not exist: the unpack step did not run"
    local sub name
    for sub in "$dir"/*/; do
        [[ -d "$sub" ]] || continue
        name="$(basename "$sub")"
        if [[ -n "$bucket" ]]; then
            log "copying $name/ to s3://$bucket/"
            aws s3 sync --only-show-errors "$sub" "s3://$bucket/"
        else
            log "copying $name/ to blobstore bucket $name"
            blobstore s3api head-bucket --bucket "$name" >/dev/null 2>&1 || blobstore s3 mb "s3://$name" >/dev/null
            blobstore s3 sync --only-show-errors --delete "$sub" "s3://$name/"
        fi
    done
}

cmd_get() {
    local name
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ -n "$bucket" ]]; then
        : "${SGARCH_BLOB_DIR:?}"
        log "copying s3://$bucket/ to $SGARCH_BLOB_DIR/"
        aws s3 sync --only-show-errors "s3://$bucket/" "$dir/$SGARCH_BLOB_DIR/"
        return
    fi
    for name in $(blobstore s3api list-buckets --query 'Buckets[].Name' --output text); do
        [[ "$name" == None ]] && continue
        log "copying blobstore bucket $name to $name/"
        blobstore s3 sync --only-show-errors "s3://$name/" "$dir/$name/"
    done
}

case "${1:-}" in
put) cmd_put ;;
get) cmd_get ;;
*)
    printf 'usage: store-blobs.sh put | get\n' >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# sgarch k8s fetch.sh: the first container of an EKS import Job (AWS CLI image). Downloads the bundle's files
# the Job needs to the scratch volume and checks each against the SHA-256 the manifest gives.
#
# Environment (set by sgarch.migrate.k8s.jobs; no value here is secret):
#   SGARCH_BUCKET       the migration bucket
#   SGARCH_FILES        space-separated "<key>=<sha256>" pairs: object keys under the bundle's prefix
#   SGARCH_SCRATCH      the scratch volume (files go to $SGARCH_SCRATCH/bundle/<base name of the key>)
# Credentials come from EKS Pod Identity (the Job's service account). A rerun skips a file already present
# with the right sum, so a Job retried after a failure resumes rather than starts over.
set -euo pipefail

log() { printf 'fetch: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

: "${SGARCH_BUCKET:?}" "${SGARCH_FILES:?}" "${SGARCH_SCRATCH:?}"
bundle="$SGARCH_SCRATCH/bundle"
mkdir -p "$bundle"

sum_ok() { [[ -f "$1" ]] && printf '%s  %s\n' "$2" "$1" | sha256sum --check --status -; }

for pair in $SGARCH_FILES; do
    key="${pair%=*}"
    want="${pair##*=}"
    file="$bundle/${key##*/}"
    if sum_ok "$file" "$want"; then
        log "s3://$SGARCH_BUCKET/$key already here with the manifest's SHA-256"
        continue
    fi
    log "downloading s3://$SGARCH_BUCKET/$key"
    aws s3 cp --only-show-errors "s3://$SGARCH_BUCKET/$key" "$file.partial"
    mv -f "$file.partial" "$file"
    sum_ok "$file" "$want" ||
        die "s3://$SGARCH_BUCKET/$key does not have the SHA-256 the manifest gives ($want): export it again"
    log "s3://$SGARCH_BUCKET/$key: SHA-256 matches the manifest"
done


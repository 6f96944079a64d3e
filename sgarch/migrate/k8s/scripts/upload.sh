#!/usr/bin/env bash
# sgarch k8s upload.sh: the last container of an export from EKS (AWS CLI image). Uploads the bundle in
# $SGARCH_SCRATCH/out to s3://$SGARCH_BUCKET/$SGARCH_PREFIX/, encrypted with the migration key, and the
# manifest after everything else: a manifest in the bucket always describes files that are all there.
# Environment: SGARCH_SCRATCH, SGARCH_BUCKET, SGARCH_PREFIX, SGARCH_KMS_KEY_ARN. Credentials: Pod Identity.
set -euo pipefail

: "${SGARCH_SCRATCH:?}" "${SGARCH_BUCKET:?}" "${SGARCH_PREFIX:?}" "${SGARCH_KMS_KEY_ARN:?}"
out="$SGARCH_SCRATCH/out"
dest="s3://$SGARCH_BUCKET/$SGARCH_PREFIX"
[[ -f "$out/manifest.json" ]] || {
    printf 'upload: error: %s/manifest.json is missing: the manifest step did not run\n' "$out" >&2
    exit 1
}

put() {
    printf 'upload: %s -> %s/%s\n' "$1" "$dest" "${1##*/}" >&2
    aws s3 cp --only-show-errors --sse aws:kms --sse-kms-key-id "$SGARCH_KMS_KEY_ARN" "${@:2}" "$1" "$dest/${1##*/}"
}

for file in "$out"/*.dump "$out"/*.counts "$out"/blobs.tar; do
    [[ -f "$file" ]] && put "$file"
done
# application/json: a Pulumi program reading the manifest (migrate_import) gets its body only with that type.
put "$out/manifest.json" --content-type application/json
printf 'upload: done; import it with --manifest %s/manifest.json\n' "$dest" >&2

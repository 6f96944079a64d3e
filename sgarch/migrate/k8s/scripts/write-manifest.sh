#!/usr/bin/env bash
# sgarch k8s write-manifest.sh: the manifest of an export from EKS (PostgreSQL client image, for bash, awk and
# sha256sum), in the format sgarch.migrate.manifest reads: every file's key, size and SHA-256, the
# Sourcegraph version, the source cluster and namespace, and when the export ran. Written last, after the
# dumps and the blob tar, to $SGARCH_SCRATCH/out/manifest.json; upload.sh uploads it after every other file,
# so a manifest in the bucket always describes a complete bundle.
#
# Environment: SGARCH_SCRATCH; SGARCH_DATABASES (short names dumped); SGARCH_BUCKET, SGARCH_PREFIX,
# SGARCH_KMS_KEY_ARN, SGARCH_SOURCEGRAPH_VERSION, SGARCH_CLUSTER, SGARCH_NAMESPACE, AWS_REGION;
# SGARCH_STARTED_AT (optional; default: the oldest result file's time).
set -euo pipefail

: "${SGARCH_SCRATCH:?}" "${SGARCH_DATABASES:?}" "${SGARCH_BUCKET:?}" "${SGARCH_PREFIX:?}"
: "${SGARCH_KMS_KEY_ARN:?}" "${SGARCH_SOURCEGRAPH_VERSION:?}" "${SGARCH_CLUSTER:?}" "${SGARCH_NAMESPACE:?}"
: "${AWS_REGION:?}"
out="$SGARCH_SCRATCH/out"

die() {
    printf 'manifest: error: %s\n' "$*" >&2
    exit 1
}
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
mtime() { date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ; }
# Every value below is a fixed name, a number, a hex sum, a time or a validated config value (no quotes or
# backslashes), so it is written into the JSON as it is.
result() { awk -v want="$2" '$1 == "sgarch-result" && $2 == want { $1 = ""; $2 = ""; print substr($0, 3) }' "$1"; }
entry() { # name kind bytes sha256 extra
    printf '    "%s": {"kind": "%s", "key": "%s/%s", "bytes": %s, "sha256": "%s"%s}' \
        "$1" "$2" "$SGARCH_PREFIX" "$1" "$3" "$4" "$5"
}

files=()
steps=()
started="${SGARCH_STARTED_AT:-}"
for db in $SGARCH_DATABASES; do
    results="$out/$db.results"
    [[ -f "$results" ]] || die "$results is missing: the dump of $db did not finish"
    read -r bytes sha <<<"$(result "$results" dump)"
    [[ -n "${sha:-}" ]] || die "$results has no dump result"
    files+=("$(entry "$db.dump" dump "$bytes" "$sha" ", \"database\": \"$db\"")")
    counts="$out/$db.counts"
    files+=("$(entry "$db.counts" counts "$(wc -c <"$counts" | tr -d ' ')" \
        "$(sha256sum "$counts" | cut -d' ' -f1)" ", \"database\": \"$db\"")")
    steps+=("    \"dump:$db\": \"$(mtime "$results")\"")
    [[ -n "$started" ]] || started="$(mtime "$results")"
done
if [[ -f "$out/blobs.results" ]]; then
    read -r bytes sha count <<<"$(result "$out/blobs.results" export)"
    [[ -n "${count:-}" ]] || die "$out/blobs.results has no export result"
    files+=("$(entry blobs.tar blobs "$bytes" "$sha" ", \"files\": $count")")
    steps+=("    \"blobs\": \"$(mtime "$out/blobs.results")\"")
fi

join() {
    local separator="$1" first=1 item
    shift
    for item in "$@"; do
        [[ $first -eq 1 ]] || printf '%s' "$separator"
        printf '%s' "$item"
        first=0
    done
}

{
    printf '{\n'
    printf '  "format": "sgarch-migrate-manifest/1",\n'
    printf '  "sourcegraph_version": "%s",\n' "$SGARCH_SOURCEGRAPH_VERSION"
    printf '  "source": {"architecture": "eks", "region": "%s", "cluster": "%s", "namespace": "%s"},\n' \
        "$AWS_REGION" "$SGARCH_CLUSTER" "$SGARCH_NAMESPACE"
    printf '  "bucket": "%s",\n  "prefix": "%s",\n  "kms_key_id": "%s",\n' \
        "$SGARCH_BUCKET" "$SGARCH_PREFIX" "$SGARCH_KMS_KEY_ARN"
    printf '  "started_at": "%s",\n  "finished_at": "%s",\n' "${started:-$(now)}" "$(now)"
    printf '  "files": {\n%s\n  },\n' "$(join $',\n' "${files[@]}")"
    printf '  "steps": {\n%s\n  },\n' "$(join $',\n' "${steps[@]}")"
    printf '  "imports": {}\n}\n'
} >"$out/manifest.json.partial"
mv -f "$out/manifest.json.partial" "$out/manifest.json"
printf 'manifest: %s files described in %s\n' "${#files[@]}" "$out/manifest.json" >&2

#!/usr/bin/env bash
# sgarch k8s import-db.sh: the second container of an EKS import Job (a PostgreSQL client image of the
# target's major version). Restores one database from the dump fetch.sh downloaded, with pgdata.sh (direct
# mode, the libpq environment), then compares the database's row counts and sequence values with the
# source's, which the bundle carries. A difference fails the Job, and with it `pulumi up`.
#
# Environment: PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE and the password (PGPASSWORD from a Kubernetes
# Secret, or PGPASSFILE, which iam-token.sh keeps current with IAM tokens); SGARCH_SCRATCH; SGARCH_SCRIPTS
# (where pgdata.sh is); SGARCH_DUMP, SGARCH_DUMP_SHA256 and SGARCH_COUNTS (base names in the bundle).
# Rerunnable: pgdata.sh empties the database before every restore.
set -euo pipefail

log() { printf 'import %s: %s\n' "${PGDATABASE:-?}" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

: "${SGARCH_SCRATCH:?}" "${SGARCH_SCRIPTS:?}" "${SGARCH_DUMP:?}" "${SGARCH_DUMP_SHA256:?}" "${SGARCH_COUNTS:?}"
bundle="$SGARCH_SCRATCH/bundle"
run="$SGARCH_SCRATCH/run"
mkdir -p "$run"
export SGARCH_PG_MODE=direct
# Compare like with like: the source's counts have per-row checksums when its export asked for them.
if awk -F'\t' '$1 == "table" && $4 != "-" { found = 1 } END { exit !found }' "$bundle/$SGARCH_COUNTS"; then
    export SGARCH_VERIFY_CHECKSUMS=true
fi

bash "$SGARCH_SCRIPTS/pgdata.sh" restore "$bundle/$SGARCH_DUMP" "$SGARCH_DUMP_SHA256"
bash "$SGARCH_SCRIPTS/pgdata.sh" verify "$run/target.counts"
if ! cmp -s "$bundle/$SGARCH_COUNTS" "$run/target.counts"; then
    diff "$bundle/$SGARCH_COUNTS" "$run/target.counts" | head -n 40 >&2 || true
    die "the restored database differs from the source (source < > target above); the Job retries the restore"
fi
log "row counts and sequences equal the source's: $(wc -l <"$run/target.counts" | tr -d ' ') lines compared"

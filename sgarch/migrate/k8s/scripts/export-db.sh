#!/usr/bin/env bash
# sgarch k8s export-db.sh: dump one database and count its rows, for an export from EKS (a PostgreSQL client
# image of the source's major version). Writes $SGARCH_SCRATCH/out/<name>.dump and <name>.counts, and
# pgdata.sh's result lines to <name>.results for write-manifest.sh.
#
# Environment: the libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE, and PGPASSWORD from a
# Kubernetes Secret or PGPASSFILE, which iam-token.sh keeps current); SGARCH_SCRATCH;
# SGARCH_SCRIPTS; SGARCH_DATABASE (the database's short name, pgsql, codeintel-db or codeinsights-db).
set -euo pipefail

: "${SGARCH_SCRATCH:?}" "${SGARCH_SCRIPTS:?}" "${SGARCH_DATABASE:?}"
out="$SGARCH_SCRATCH/out"
mkdir -p "$out"
export SGARCH_PG_MODE=direct
{
    bash "$SGARCH_SCRIPTS/pgdata.sh" dump "$out/$SGARCH_DATABASE.dump"
    bash "$SGARCH_SCRIPTS/pgdata.sh" verify "$out/$SGARCH_DATABASE.counts"
} | tee "$out/$SGARCH_DATABASE.results.partial"
mv -f "$out/$SGARCH_DATABASE.results.partial" "$out/$SGARCH_DATABASE.results"

#!/usr/bin/env bash
# sgarch pgdata.sh: dump, restore and verify ONE Sourcegraph PostgreSQL database (pgsql, codeintel-db or
# codeinsights-db). `sgarch migrate export/import` send it to a single node through SSM; the EKS Jobs run
# it in a PostgreSQL client image. Both run this same file, so the tests exercise what production runs.
#
# Usage:
#   pgdata.sh size                  the database's size in bytes (pg_database_size)
#   pgdata.sh dump FILE             pg_dump --format=custom of the whole database (large objects too) to FILE
#   pgdata.sh restore FILE [SHA256] empty the database, then pg_restore FILE into it (see "restore" below)
#   pgdata.sh verify FILE           write the database's row counts and sequence values to FILE
#
# Results go to stdout as single lines `sgarch-result <command> <values...>`, the only lines callers parse:
#   sgarch-result size <bytes>
#   sgarch-result dump <bytes> <sha256>
#   sgarch-result restore <bytes> <sha256>
#   sgarch-result verify <tables> <rows> <bytes> <sha256>   (of the verify file)
# Progress goes to stderr. Exit status: 0 done, 1 failed (the message says why), 2 bad usage.
#
# Where the database is (environment):
#   SGARCH_PG_MODE=docker  (default; single-node) run the client inside the database's own container with
#                          `docker exec SGARCH_PG_CONTAINER`, so client and server versions always match.
#                          PGUSER and PGDATABASE are passed into the container by name; the container's
#                          own POSTGRES_PASSWORD is used when PGPASSWORD is unset there.
#   SGARCH_PG_MODE=direct  run the client here, with the libpq environment: PGHOST, PGPORT, PGUSER,
#                          PGDATABASE, PGSSLMODE, and the password from PGPASSFILE or PGPASSWORD.
#   PGDATABASE is required in both modes. A password is never an argument (argv is visible to every user
#   of the host and lands in SSM's command history); neither this script nor its logs print one.
#   SGARCH_VERIFY_CHECKSUMS=true adds an order-independent checksum of every row of every table (and of
#   every large object) to the verify file: a full read of the database, so off by default.
#
# restore: the target is emptied first (every large object unlinked, every non-system schema dropped and
# `public` made again, in one transaction), then `pg_restore --exit-on-error --no-owner --no-acl`.
#   - A fresh Sourcegraph target already holds the schema its migrator created, so "restore into an empty
#     database" needs this reset; `pg_restore --clean --if-exists` would drop only what the dump names and
#     leave anything else (and fail on objects that depend on those it drops).
#   - Rerunning after a failure halfway is safe and ends correct: the reset removes the half-restored
#     objects, whatever point the earlier run reached. (`--single-transaction` would also make a failure
#     roll back, but takes one lock per object and per large object, which exhausts the lock table on
#     large databases.)
#   - --no-owner/--no-acl: objects belong to the user that restores (the one Sourcegraph connects as on
#     the target); the source's role names (sg, postgres, an RDS master) need not exist there.
# verify: one read-only REPEATABLE READ transaction, so the counts are of one snapshot and the source is
# never written. Lines (tab-separated, sorted bytewise, identical on source and target after a good copy):
#   table <schema.name> <rows> <checksum or ->
#   sequence <schema.name> <last_value or -> -
#   largeobjects - <count> <checksum or ->
set -euo pipefail

MODE="${SGARCH_PG_MODE:-docker}"
CONTAINER="${SGARCH_PG_CONTAINER:-}"
CHECKSUMS="${SGARCH_VERIFY_CHECKSUMS:-false}"

log() { printf 'pgdata %s: %s\n' "${PGDATABASE:-?}" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
usage() {
    printf 'usage: pgdata.sh size | dump FILE | restore FILE [SHA256] | verify FILE\n' >&2
    exit 2
}

# Run a PostgreSQL client program (pg_dump, pg_restore, psql) against the database; stdin and stdout pass
# through. In docker mode the password stays inside the container: the sh snippet reads POSTGRES_PASSWORD
# from the container's environment (the images set it), never from this command line.
pg() {
    case "$MODE" in
    docker)
        docker exec -i -e PGUSER -e PGDATABASE "$CONTAINER" sh -c \
            'if [ -z "${PGPASSWORD:-}" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then export PGPASSWORD="$POSTGRES_PASSWORD"; fi; exec "$@"' \
            pgdata "$@"
        ;;
    direct) "$@" ;;
    esac
}

psql_run() { pg psql --no-psqlrc --no-password --quiet --set=ON_ERROR_STOP=1 "$@"; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
bytes_of() { wc -c <"$1" | tr -d ' '; }

check_settings() {
    case "$MODE" in
    docker) [[ -n "$CONTAINER" ]] || die "SGARCH_PG_CONTAINER must name the database container in docker mode" ;;
    direct) ;;
    *) die "SGARCH_PG_MODE must be docker or direct (got '$MODE')" ;;
    esac
    [[ -n "${PGDATABASE:-}" ]] || die "PGDATABASE must name the database"
    export PGUSER PGDATABASE
}

cmd_size() {
    local size
    size="$(psql_run --tuples-only --no-align --command='SELECT pg_database_size(current_database())')"
    printf 'sgarch-result size %s\n' "$size"
}

cmd_dump() {
    local file="$1"
    mkdir -p "$(dirname "$file")"
    log "pg_dump --format=custom to $file"
    # To a partial file first: a dump cut short never looks finished to a rerun.
    pg pg_dump --format=custom --no-password >"$file.partial"
    mv -f "$file.partial" "$file"
    printf 'sgarch-result dump %s %s\n' "$(bytes_of "$file")" "$(sha256_of "$file")"
}

# Large objects live outside every schema, so they are unlinked one by one; the schemas go with CASCADE
# (their tables, sequences, functions, types and the extensions installed in them).
RESET_SQL="
BEGIN;
SELECT count(pg_catalog.lo_unlink(oid)) FROM pg_catalog.pg_largeobject_metadata;
DO \$reset\$
DECLARE s text;
BEGIN
    FOR s IN SELECT nspname FROM pg_catalog.pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
    LOOP
        EXECUTE format('DROP SCHEMA %I CASCADE', s);
    END LOOP;
END
\$reset\$;
CREATE SCHEMA public;
COMMIT;
"

cmd_restore() {
    local file="$1" want="${2:-}" got
    [[ -f "$file" ]] || die "$file does not exist"
    got="$(sha256_of "$file")"
    if [[ -n "$want" && "$got" != "$want" ]]; then
        die "$file has SHA-256 $got, the manifest says $want: download it again"
    fi
    log "emptying the database"
    psql_run --tuples-only --no-align >/dev/null <<<"$RESET_SQL"
    log "pg_restore from $file"
    # --dbname='' connects with the environment's PGDATABASE (libpq treats an empty name as unset), so the
    # same argument works in both modes; pg_restore needs the flag to restore rather than print SQL.
    pg pg_restore --exit-on-error --no-owner --no-acl --no-password --dbname= <"$file"
    # Fresh planner statistics, or the first queries after the move scan everything.
    psql_run --command='ANALYZE' >/dev/null
    printf 'sgarch-result restore %s %s\n' "$(bytes_of "$file")" "$got"
}

verify_sql() {
    local row_sum="'-'" lo_sum="'-'"
    if [[ "$CHECKSUMS" == true ]]; then
        # The sum of the first 60 bits of each row's md5: independent of row order, no sort, no overflow.
        row_sum="(xpath('/row/s/text()', query_to_xml(format('SELECT coalesce(sum((''x'' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0) AS s FROM ONLY %I.%I AS t', n.nspname, c.relname), false, true, '')))[1]::text"
        lo_sum="coalesce(sum(('x' || substr(md5(oid::text || ':' || md5(pg_catalog.lo_get(oid))), 1, 15))::bit(60)::bigint::numeric), 0)::text"
    fi
    # query_to_xml runs the per-table count inside this one SELECT, so nothing is created in the database.
    cat <<EOF
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT 'table', format('%I.%I', n.nspname, c.relname),
    (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text,
    $row_sum
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%';
SELECT 'sequence', format('%I.%I', schemaname, sequencename), coalesce(last_value::text, '-'), '-'
FROM pg_catalog.pg_sequences
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg\\_%';
SELECT 'largeobjects', '-', count(*)::text, $lo_sum FROM pg_catalog.pg_largeobject_metadata;
COMMIT;
EOF
}

cmd_verify() {
    local file="$1" tables rows
    mkdir -p "$(dirname "$file")"
    log "counting rows and reading sequences"
    verify_sql | psql_run --tuples-only --no-align --field-separator="$(printf '\t')" |
        LC_ALL=C sort >"$file.partial"
    mv -f "$file.partial" "$file"
    tables="$(awk -F'\t' '$1 == "table"' "$file" | wc -l | tr -d ' ')"
    rows="$(awk -F'\t' '$1 == "table" { n += $3 } END { printf "%d", n }' "$file")"
    printf 'sgarch-result verify %s %s %s %s\n' "$tables" "$rows" "$(bytes_of "$file")" "$(sha256_of "$file")"
}

main() {
    [[ $# -ge 1 ]] || usage
    local command="$1"
    shift
    case "$command" in
    size) [[ $# -eq 0 ]] || usage ;;
    dump | verify) [[ $# -eq 1 ]] || usage ;;
    restore) [[ $# -eq 1 || $# -eq 2 ]] || usage ;;
    *) usage ;;
    esac
    check_settings
    "cmd_$command" "$@"
}

main "$@"

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
# restore: the target is emptied first (in one transaction, of everything the restoring role may drop:
# see RESET_SQL; `public` keeps its owner and grants), then `pg_restore --exit-on-error --no-owner --no-acl`.
#   - The restoring role need not own `public` or be a superuser: on RDS with IAM authentication it is
#     `sourcegraph`, which owns what Sourcegraph's migrator made, while the master user owns `public`.
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

# The restoring role empties the database of everything it may drop, and only that. On RDS it is not the
# owner of `public` (the master user is, through pg_database_owner) nor a superuser, so neither
# `DROP SCHEMA public` nor `DROP OWNED BY` (which also revokes the role's grants on the database and on
# public) is open to it. So, in one transaction:
#   1. the large objects it owns are unlinked (they live outside every schema);
#   2. every schema it owns, other than public, is dropped with CASCADE;
#   3. every other object it owns in the schemas left is dropped, one at a time with CASCADE, picked
#      afresh each time, so whatever an earlier CASCADE already removed never comes back and the order is
#      harmless (tables come first only because the catalog query lists them first);
#   4. the extensions it owns in those schemas are dropped (their members go with them);
#   5. anything left that the restore would collide with (another role's objects or schemas, large objects)
#      fails the reset, naming the owners, before the restore starts rather than at the row counts after it.
# "Owns" is pg_has_role(owner, 'USAGE'): a superuser owns everything, so a superuser empties the whole
# database, as DROP SCHEMA ... CASCADE used to, but `public` keeps its owner and grants either way.
# The catalog rows that can be dropped on their own: not an index, a toast table or a row type (they go
# with their table), not an array or multirange type (with their element type), not an identity sequence
# or a partition's index (internal or partition dependencies), not an extension's member.
OBJECTS_SQL="
SELECT o.classid, o.objid, o.owner FROM (
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass AS classid, oid AS objid, relnamespace AS nsp,
        relowner AS owner FROM pg_catalog.pg_class WHERE relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
    UNION ALL SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, oid, pronamespace, proowner FROM pg_catalog.pg_proc
    UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, oid, typnamespace, typowner FROM pg_catalog.pg_type
    UNION ALL SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, oid, collnamespace, collowner
        FROM pg_catalog.pg_collation
    UNION ALL SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, oid, connamespace, conowner
        FROM pg_catalog.pg_conversion
    UNION ALL SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, oid, oprnamespace, oprowner
        FROM pg_catalog.pg_operator
    UNION ALL SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, oid, opfnamespace, opfowner
        FROM pg_catalog.pg_opfamily
    UNION ALL SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, oid, opcnamespace, opcowner
        FROM pg_catalog.pg_opclass
    UNION ALL SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass, oid, cfgnamespace, cfgowner
        FROM pg_catalog.pg_ts_config
    UNION ALL SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass, oid, dictnamespace, dictowner
        FROM pg_catalog.pg_ts_dict
    UNION ALL SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, oid, stxnamespace, stxowner
        FROM pg_catalog.pg_statistic_ext
) o JOIN pg_catalog.pg_namespace n ON n.oid = o.nsp
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
    AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid
        AND d.deptype IN ('i', 'e', 'P', 'S'))"

RESET_SQL="
BEGIN;
-- One notice per object a CASCADE takes along would bury the log.
SET LOCAL client_min_messages = warning;
SELECT count(pg_catalog.lo_unlink(oid)) FROM pg_catalog.pg_largeobject_metadata
    WHERE pg_catalog.pg_has_role(lomowner, 'USAGE');
DO \$reset\$
DECLARE
    s name;
    x name;
    kind text;
    ident text;
    leftover text;
BEGIN
    FOR s IN SELECT nspname FROM pg_catalog.pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND nspname NOT LIKE 'pg\\_%'
            AND pg_catalog.pg_has_role(nspowner, 'USAGE')
    LOOP
        EXECUTE pg_catalog.format('DROP SCHEMA %I CASCADE', s);
    END LOOP;
    LOOP
        SELECT i.type, i.identity INTO kind, ident
            FROM ($OBJECTS_SQL) o, pg_catalog.pg_identify_object(o.classid, o.objid, 0) i
            WHERE pg_catalog.pg_has_role(o.owner, 'USAGE') LIMIT 1;
        EXIT WHEN NOT FOUND;
        IF kind = 'statistics object' THEN kind := 'statistics'; END IF;
        EXECUTE pg_catalog.format('DROP %s %s CASCADE', pg_catalog.upper(kind), ident);
    END LOOP;
    FOR x IN SELECT e.extname FROM pg_catalog.pg_extension e
        JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
            AND pg_catalog.pg_has_role(e.extowner, 'USAGE')
    LOOP
        EXECUTE pg_catalog.format('DROP EXTENSION IF EXISTS %I CASCADE', x);
    END LOOP;
    IF pg_catalog.to_regnamespace('public') IS NULL THEN
        CREATE SCHEMA public;
    END IF;
    SELECT pg_catalog.string_agg(l.what, ', ') INTO leftover FROM (
        SELECT pg_catalog.format('%s (owner %s)', pg_catalog.pg_describe_object(o.classid, o.objid, 0),
            o.owner::pg_catalog.regrole) AS what FROM ($OBJECTS_SQL) o
        UNION ALL SELECT pg_catalog.format('schema %I (owner %s)', nspname, nspowner::pg_catalog.regrole)
            FROM pg_catalog.pg_namespace
            WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND nspname NOT LIKE 'pg\\_%'
        UNION ALL SELECT pg_catalog.format('%s large objects (owner %s)', count(*), lomowner::pg_catalog.regrole)
            FROM pg_catalog.pg_largeobject_metadata GROUP BY lomowner
        LIMIT 10
    ) l;
    IF leftover IS NOT NULL THEN
        RAISE EXCEPTION 'sgarch: % cannot empty the database for the restore; it holds objects of roles it is not a member of: %', current_user, leftover
            USING HINT = 'drop them as their owner (on RDS, the master user), then run the restore again';
    END IF;
END
\$reset\$;
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
    psql_run --tuples-only --no-align >/dev/null <<<"$RESET_SQL" ||
        die "could not empty the database (PostgreSQL's error above); nothing was changed"
    log "pg_restore from $file"
    # --dbname='' connects with the environment's PGDATABASE (libpq treats an empty name as unset), so the
    # same argument works in both modes; pg_restore needs the flag to restore rather than print SQL.
    pg pg_restore --exit-on-error --no-owner --no-acl --no-password --dbname= <"$file"
    # Fresh planner statistics, or the first queries after the move scan everything. A role that is not a
    # superuser (RDS) gets one warning per system catalog it may not analyze: kept out of the log.
    psql_run --command='SET client_min_messages = error; ANALYZE' >/dev/null
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

"""pgdata.sh restore as a role that owns neither ``public`` nor the database: RDS with IAM authentication.

On RDS the master user ``sg`` owns the database and, through ``pg_database_owner``, its ``public`` schema;
Sourcegraph logs in as ``sourcegraph``, which holds every privilege on both and owns what the migrator made.
An EKS import restores as that role. Here the test server's superuser plays the master and a plain login
role plays ``sourcegraph``, with the grants ``sgarch.helm.rds_iam`` gives it.
"""

from __future__ import annotations

from pathlib import Path

from migrate_fakes import run_script, script_env
from migrate_pg import SUPERUSER, PgServer, make_databases
from test_migrate_scripts import large_objects, sequences, table_rows

ROLE = "sourcegraph"

# What a fresh target's migrator leaves, one object of each kind the reset must drop, made by the role:
# a table of the same name as the dump's (a restore over it would collide), a partitioned table with an
# index, a view over a table of another schema it owns, an identity column, types, a function, an
# aggregate, statistics, a text search configuration, the extension the dump also creates, a large object.
MIGRATOR_SQL = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE schema_migrations (version bigint); INSERT INTO schema_migrations VALUES (1);
CREATE TABLE users (id serial PRIMARY KEY, username citext UNIQUE NOT NULL);
INSERT INTO users (username) VALUES ('admin');
CREATE TYPE batch_state AS ENUM ('queued', 'done');
CREATE DOMAIN repo_name AS citext CHECK (VALUE <> '');
CREATE TABLE jobs (id int GENERATED ALWAYS AS IDENTITY, state batch_state, repo repo_name);
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_at ON events (at);
CREATE STATISTICS jobs_stats ON id, state FROM jobs;
CREATE SCHEMA migrator;
CREATE TABLE migrator.state (id int);
CREATE VIEW pending AS SELECT j.id FROM jobs j JOIN migrator.state s ON s.id = j.id;
CREATE MATERIALIZED VIEW job_counts AS SELECT state, count(*) FROM jobs GROUP BY state;
CREATE FUNCTION add_one(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
CREATE AGGREGATE sum_plus(int) (sfunc = int4pl, stype = int);
CREATE TEXT SEARCH CONFIGURATION code_search (COPY = english);
SELECT lo_from_bytea(0, '\\x00ff'::bytea);
"""

ACL_SQL = """
SELECT datdba::regrole, datacl FROM pg_database WHERE datname = current_database();
SELECT nspowner::regrole, nspacl FROM pg_namespace WHERE nspname = 'public';
"""

LEFTOVER_SQL = """
SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' AND t.typname IN ('batch_state', 'repo_name');
SELECT count(*) FROM pg_proc WHERE proname IN ('add_one', 'sum_plus');
SELECT count(*) FROM pg_namespace WHERE nspname = 'migrator';
SELECT count(*) FROM pg_ts_config WHERE cfgname = 'code_search';
SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'jobs_stats';
"""


def rds_like_target(pg: PgServer, name: str) -> str:
    """A database the superuser ("master") owns, with the role's grants and the migrator's objects."""
    pg.login_role(ROLE)
    pg.create_database(name)
    pg.psql(name, f"GRANT ALL PRIVILEGES ON DATABASE {name} TO {ROLE}; GRANT ALL ON SCHEMA public TO {ROLE};")
    pg.psql(name, MIGRATOR_SQL, user=ROLE)
    return name


def source_database(pg: PgServer, prefix: str) -> str:
    """Sourcegraph's pgsql with a second schema and large objects, so the dump holds every kind of thing."""
    source = make_databases(pg, prefix)["pgsql"]
    pg.psql(
        source,
        "CREATE SCHEMA insights; CREATE TABLE insights.series (id serial PRIMARY KEY, query text);"
        "INSERT INTO insights.series (query) SELECT 'q' || g FROM generate_series(1, 50) g;"
        "SELECT lo_from_bytea(0, convert_to(repeat('blob', g), 'UTF8')) FROM generate_series(1, 5) g;",
    )
    return source


def test_a_role_that_does_not_own_public_restores_over_a_half_restored_target(
    pg: PgServer, tmp_path: Path
) -> None:
    source = source_database(pg, "nonowner_src")
    target = rds_like_target(pg, "nonowner_dst")
    acl = pg.psql(target, ACL_SQL)
    assert acl.splitlines()[1].startswith("pg_database_owner|")  # public is not the role's
    dump = tmp_path / "full.dump"
    assert run_script("pgdata.sh", ["dump", str(dump)], script_env(pg.env(source))).returncode == 0
    data = dump.read_bytes()
    (tmp_path / "cut.dump").write_bytes(data[: len(data) * 2 // 3])
    role_env = script_env(pg.env(target, user=ROLE))

    cut = run_script("pgdata.sh", ["restore", str(tmp_path / "cut.dump")], role_env)
    assert cut.returncode != 0
    half = table_rows(pg, target)
    assert "public.schema_migrations" not in half  # the reset ran and the restore began ...
    assert "insights.series" in half and half != table_rows(pg, source)  # ... and stopped halfway

    again = run_script("pgdata.sh", ["restore", str(dump)], role_env)
    assert again.returncode == 0, again.stderr
    assert "WARNING" not in again.stderr and "NOTICE" not in again.stderr  # a log an operator can read
    assert table_rows(pg, target) == table_rows(pg, source)
    assert sequences(pg, target) == sequences(pg, source)
    assert large_objects(pg, target) == large_objects(pg, source)
    # Nothing of the migrator's survived, and public, the database and their grants are as they were.
    assert pg.psql(target, LEFTOVER_SQL).split() == ["0"] * 5
    assert pg.psql(target, ACL_SQL) == acl
    # Every restored table belongs to the role (--no-owner), so Sourcegraph can migrate it later.
    owners = pg.psql(
        target,
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema');",
    )
    assert owners.split() == [ROLE]


def test_restore_refuses_to_start_over_another_roles_objects(pg: PgServer, tmp_path: Path) -> None:
    """A table of the master's in public cannot be dropped by the role: fail first, naming it, change nothing."""
    source = source_database(pg, "foreign_src")
    target = rds_like_target(pg, "foreign_dst")
    pg.psql(target, "CREATE TABLE audit_notes (note text);")
    dump = tmp_path / "full.dump"
    assert run_script("pgdata.sh", ["dump", str(dump)], script_env(pg.env(source))).returncode == 0
    before = table_rows(pg, target)

    run = run_script("pgdata.sh", ["restore", str(dump)], script_env(pg.env(target, user=ROLE)))
    assert run.returncode == 1
    assert f"{ROLE} cannot empty the database" in run.stderr
    assert f"table audit_notes (owner {SUPERUSER})" in run.stderr
    assert "drop them as their owner" in run.stderr
    assert table_rows(pg, target) == before  # the reset rolled back: the migrator's objects are all there
    assert pg.psql(target, LEFTOVER_SQL).split() == ["2", "2", "1", "1", "1"]

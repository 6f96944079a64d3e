"""The migration scripts against a real PostgreSQL, in direct mode (the libpq environment), as EKS Jobs run them.

The row comparison here is the test's own (every row's text, hashed by the test), not the verify file the
scripts write, so a bug in pgdata.sh's verify cannot hide a bad copy.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from migrate_fakes import run_script, script_env
from migrate_pg import PgServer, make_databases, make_empty_targets

from sgarch.migrate.steps import SCRIPTS, script_text

SCRIPT_DIR = Path(__file__).resolve().parents[2] / "sgarch" / "migrate" / "scripts"

ROWS_SQL = """
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1;
"""


def table_rows(pg: PgServer, database: str) -> dict[str, list[str]]:
    """Every table's rows as sorted md5s of their text: the test's own per-row checksum."""
    tables = pg.psql(database, ROWS_SQL).split()
    rows: dict[str, list[str]] = {table: [] for table in tables}
    if tables:
        # One psql for every table (a process per table was most of the migrate tests' own time).
        sql = "".join(
            f"SELECT '{table.replace(chr(39), chr(39) * 2)}', md5(t::text) FROM {table} t ORDER BY 2;\n"
            for table in tables
        )
        for line in pg.psql(database, sql).splitlines():
            table, _, digest = line.rpartition("|")
            rows[table].append(digest)
    return rows


def sequences(pg: PgServer, database: str) -> dict[str, str]:
    out = pg.psql(
        database, "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences ORDER BY 1;"
    )
    return dict(line.split("|") for line in out.splitlines())


def large_objects(pg: PgServer, database: str) -> list[str]:
    return pg.psql(
        database, "SELECT oid || ':' || md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY 1;"
    ).split()


def result(stdout: str, name: str) -> list[str]:
    lines = [line.split()[2:] for line in stdout.splitlines() if line.startswith(f"sgarch-result {name} ")]
    assert lines, stdout
    return lines[-1]


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_are_shellcheck_clean(name: str) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck); .ci/run installs it")
    run = subprocess.run(
        ["shellcheck", "--severity=style", str(SCRIPT_DIR / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_are_strict_and_executable(name: str) -> None:
    text = script_text(name)
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert (SCRIPT_DIR / name).stat().st_mode & 0o111


def test_round_trip_copies_every_row_sequence_and_large_object(pg: PgServer, tmp_path: Path) -> None:
    sources = make_databases(pg, "rt_src")
    targets = make_empty_targets(pg, "rt_dst")
    for service, source in sources.items():
        env = script_env(pg.env(source))
        env["SGARCH_VERIFY_CHECKSUMS"] = "true"
        dump = run_script("pgdata.sh", ["dump", str(tmp_path / f"{service}.dump")], env)
        assert dump.returncode == 0, dump.stderr
        size, sha = result(dump.stdout, "dump")
        assert int(size) == (tmp_path / f"{service}.dump").stat().st_size
        counted = run_script("pgdata.sh", ["verify", str(tmp_path / f"{service}.counts")], env)
        assert counted.returncode == 0, counted.stderr

        target_env = script_env(pg.env(targets[service]))
        target_env["SGARCH_VERIFY_CHECKSUMS"] = "true"
        restore = run_script("pgdata.sh", ["restore", str(tmp_path / f"{service}.dump"), sha], target_env)
        assert restore.returncode == 0, restore.stderr
        recount = run_script("pgdata.sh", ["verify", str(tmp_path / f"{service}.restored")], target_env)
        assert recount.returncode == 0, recount.stderr

        assert table_rows(pg, targets[service]) == table_rows(pg, source)
        assert sequences(pg, targets[service]) == sequences(pg, source)
        assert large_objects(pg, targets[service]) == large_objects(pg, source)
        # The fresh target's own table is gone: the target holds exactly the source's data.
        assert "public.schema_migrations" not in table_rows(pg, targets[service])
        # The scripts' verify files agree with the test's own comparison.
        assert (tmp_path / f"{service}.counts").read_text() == (tmp_path / f"{service}.restored").read_text()
    # Sequences continue: the next id after the copy is past every copied id.
    target = targets["pgsql"]
    next_id, max_id = (
        pg.psql(target, "SELECT nextval('users_id_seq'), (SELECT max(id) FROM users);").strip().split("|")
    )
    assert int(next_id) > int(max_id)
    assert pg.psql(target, "SELECT nextval('global_event_seq');").strip() == "4243"
    # Foreign keys came back and are enforced.
    bad = subprocess.run(
        ["psql", "-X", "-c", "INSERT INTO user_repo_permissions VALUES (999999, 1);"],
        env=pg.env(target),
        capture_output=True,
        text=True,
        check=False,
    )
    assert "violates foreign key constraint" in bad.stderr


def test_verify_file_catches_a_changed_row(pg: PgServer, tmp_path: Path) -> None:
    source = make_databases(pg, "vf")["codeinsights-db"]
    env = script_env(pg.env(source))
    env["SGARCH_VERIFY_CHECKSUMS"] = "true"
    assert run_script("pgdata.sh", ["verify", str(tmp_path / "a")], env).returncode == 0
    pg.psql(source, "UPDATE insights.series SET query = 'changed' WHERE id = 3;")
    assert run_script("pgdata.sh", ["verify", str(tmp_path / "b")], env).returncode == 0
    before, after = (tmp_path / "a").read_text(), (tmp_path / "b").read_text()
    assert before != after
    assert [line.split("\t")[2] for line in before.splitlines()] == [
        line.split("\t")[2] for line in after.splitlines()
    ]


def test_verify_never_writes_to_the_source(pg: PgServer, tmp_path: Path) -> None:
    source = make_databases(pg, "ro")["pgsql"]
    before = pg.psql(
        source, "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables ORDER BY relname;"
    )
    xid = int(pg.psql(source, "SELECT txid_current();"))
    env = script_env(pg.env(source))
    assert run_script("pgdata.sh", ["verify", str(tmp_path / "c")], env).returncode == 0
    assert run_script("pgdata.sh", ["dump", str(tmp_path / "d")], env).returncode == 0
    assert (
        pg.psql(source, "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables ORDER BY relname;")
        == before
    )
    # Read-only work assigns no transaction id: the next one is the test's own +1.
    assert int(pg.psql(source, "SELECT txid_current();")) == xid + 1


def test_a_rerun_after_a_restore_failed_halfway_ends_correct(pg: PgServer, tmp_path: Path) -> None:
    source = make_databases(pg, "half_src")["codeintel-db"]
    target = make_empty_targets(pg, "half_dst")["codeintel-db"]
    env, target_env = script_env(pg.env(source)), script_env(pg.env(target))
    assert run_script("pgdata.sh", ["dump", str(tmp_path / "full.dump")], env).returncode == 0
    data = (tmp_path / "full.dump").read_bytes()
    (tmp_path / "cut.dump").write_bytes(data[: len(data) * 2 // 3])
    cut = run_script("pgdata.sh", ["restore", str(tmp_path / "cut.dump")], target_env)
    assert cut.returncode != 0
    assert table_rows(pg, target) != table_rows(pg, source)  # really half-restored
    again = run_script("pgdata.sh", ["restore", str(tmp_path / "full.dump")], target_env)
    assert again.returncode == 0, again.stderr
    assert table_rows(pg, target) == table_rows(pg, source)
    assert large_objects(pg, target) == large_objects(pg, source)


def test_restore_refuses_a_file_with_another_sha256(pg: PgServer, tmp_path: Path) -> None:
    target = make_empty_targets(pg, "sha_dst")["pgsql"]
    (tmp_path / "x.dump").write_bytes(b"not a dump")
    run = run_script("pgdata.sh", ["restore", str(tmp_path / "x.dump"), "0" * 64], script_env(pg.env(target)))
    assert run.returncode == 1
    assert "the manifest says" in run.stderr
    assert pg.psql(target, "SELECT count(*) FROM schema_migrations;").strip() == "1"  # untouched


def test_no_password_in_arguments(pg: PgServer, tmp_path: Path) -> None:
    """The password comes from PGPASSFILE; a run without it fails to authenticate instead of asking."""
    source = make_databases(pg, "pw")["pgsql"]
    env = script_env(pg.env(source))
    env.pop("PGPASSFILE")
    env["PGPASSFILE"] = str(tmp_path / "none")
    run = run_script("pgdata.sh", ["size"], env)
    assert run.returncode != 0
    assert "password" in run.stderr


def test_blobs_round_trip_replaces_the_target(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "dst"
    (source / "lsif-uploads" / "upload-1").mkdir(parents=True)
    (source / "lsif-uploads" / "upload-1" / "data.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)))
    (source / "search-jobs").mkdir()
    (source / "search-jobs" / "result.csv").write_text("a,b\n")
    (target / "stale").mkdir(parents=True)
    (target / "stale" / "old").write_text("x")
    env = {"PATH": "/usr/bin:/bin", "SGARCH_BLOBS_MODE": "direct", "SGARCH_BLOBS_DIR": str(source)}
    out = run_script("blobs.sh", ["export", str(tmp_path / "blobs.tar")], env)
    assert out.returncode == 0, out.stderr
    _size, sha, files = result(out.stdout, "export")
    assert files == "2"
    with tarfile.open(tmp_path / "blobs.tar") as tar:
        assert sorted(m.name for m in tar.getmembers() if m.isfile()) == [
            "./lsif-uploads/upload-1/data.gz",
            "./search-jobs/result.csv",
        ]
    env["SGARCH_BLOBS_DIR"] = str(target)
    back = run_script("blobs.sh", ["import", str(tmp_path / "blobs.tar"), sha], env)
    assert back.returncode == 0, back.stderr
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "lsif-uploads/upload-1/data.gz",
        "search-jobs/result.csv",
    ]
    assert (target / "lsif-uploads/upload-1/data.gz").read_bytes() == (
        source / "lsif-uploads/upload-1/data.gz"
    ).read_bytes()

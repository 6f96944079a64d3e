"""A real PostgreSQL for the migrate tests: Debian's server binaries, on 127.0.0.1, in a temporary directory.

The server runs as the ``postgres`` system user when the tests run as root (PostgreSQL refuses root), and
as the current user otherwise. Clients authenticate with a password (SCRAM) read from a PGPASSFILE, so the
scripts under test meet the same libpq set-up they meet in production, and a password never reaches argv.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SCHEMAS", "PgServer", "find_bin_dir", "make_databases", "make_empty_targets", "start_server"]

SUPERUSER = "sg"


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` with initdb and pg_ctl, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    for initdb in reversed(candidates):
        bin_dir = Path(initdb).parent
        if (bin_dir / "pg_ctl").exists() and (bin_dir / "pg_dump").exists():
            return bin_dir
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """A running server; :meth:`env` is the libpq environment for one of its databases."""

    bin_dir: Path
    root: Path
    port: int
    passfile: Path
    run_as: list[str]

    def env(
        self, database: str, base: Mapping[str, str] | None = None, *, user: str = SUPERUSER
    ) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update(
            PATH=f"{self.bin_dir}:{env.get('PATH', '/usr/bin:/bin')}",
            PGHOST="127.0.0.1",
            PGPORT=str(self.port),
            PGUSER=user,
            PGDATABASE=database,
            PGPASSFILE=str(self.passfile),
            PGSSLMODE="disable",
            PGCONNECT_TIMEOUT="10",
        )
        env.pop("PGPASSWORD", None)
        return env

    def psql(self, database: str, sql: str, *, user: str = SUPERUSER) -> str:
        """Run ``sql`` (from stdin, stop at the first error) and return the unaligned, tuples-only output."""
        result = subprocess.run(
            [str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
            input=sql,
            env=self.env(database, user=user),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def login_role(self, name: str) -> str:
        """A plain login role (no superuser, no CREATEDB), its password in the pass file; returns ``name``.

        Like ``sourcegraph`` on RDS, which owns what it creates but neither ``public`` nor the database.
        """
        if not self.psql("postgres", f"SELECT 1 FROM pg_roles WHERE rolname = '{name}';").strip():
            password = secrets.token_hex(16)
            self.psql("postgres", f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}';")
            with self.passfile.open("a") as passfile:
                passfile.write(f"127.0.0.1:{self.port}:*:{name}:{password}\n")
        return name

    def create_database(self, name: str) -> None:
        self.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);\nCREATE DATABASE "{name}";\n')

    def stop(self) -> None:
        subprocess.run(
            [
                *self.run_as,
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "-W",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_server(bin_dir: Path) -> PgServer:
    """initdb and start a server on a free port; the caller stops it."""
    root = Path(tempfile.mkdtemp(prefix="sgarch-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    password = secrets.token_hex(16)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if run_as:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
    )
    pwfile.unlink()
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [
            *run_as,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(root / "data"),
            "-l",
            str(root / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    # The clients run as this process's user; the pass file must be theirs and private (libpq checks).
    passfile = root / "pgpass"
    passfile.write_text(f"127.0.0.1:{port}:*:{SUPERUSER}:{password}\n")
    passfile.chmod(0o600)
    return PgServer(bin_dir=bin_dir, root=root, port=port, passfile=passfile, run_as=run_as)


# Three databases shaped like Sourcegraph's: foreign keys, citext and jsonb columns, a second schema,
# owned and free-standing sequences, large objects, a few thousand rows.
SCHEMAS = {
    "pgsql": """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE users (id serial PRIMARY KEY, username citext UNIQUE NOT NULL,
    created_at timestamptz NOT NULL DEFAULT '2026-01-01', settings jsonb);
CREATE TABLE repo (id bigserial PRIMARY KEY, name text UNIQUE NOT NULL, stars int, metadata jsonb);
CREATE TABLE user_repo_permissions (user_id int NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    repo_id bigint NOT NULL REFERENCES repo(id), PRIMARY KEY (user_id, repo_id));
CREATE TABLE critical_and_site_config (id serial PRIMARY KEY, contents text NOT NULL);
INSERT INTO users (username, settings) SELECT 'user' || g, jsonb_build_object('n', g) FROM generate_series(1, 2000) g;
INSERT INTO repo (name, stars, metadata)
    SELECT 'github.com/org/repo' || g, g % 97, jsonb_build_object('fork', g % 2 = 0) FROM generate_series(1, 1500) g;
INSERT INTO user_repo_permissions SELECT u, r FROM generate_series(1, 60) u, generate_series(1, 50) r;
INSERT INTO critical_and_site_config (contents) VALUES ('{"externalURL": "https://sourcegraph.example.com"}');
DELETE FROM users WHERE id % 10 = 0;
CREATE SEQUENCE global_event_seq;
SELECT setval('global_event_seq', 4242);
""",
    "codeintel-db": """
CREATE TABLE lsif_uploads (id serial PRIMARY KEY, repository_id int NOT NULL, commit bytea NOT NULL,
    payload oid);
CREATE TABLE lsif_references (id bigserial PRIMARY KEY, upload_id int NOT NULL REFERENCES lsif_uploads(id),
    scheme text, name text);
INSERT INTO lsif_uploads (repository_id, commit, payload)
    SELECT g, decode(md5(g::text), 'hex'), lo_from_bytea(0, convert_to(repeat('lsif', g), 'UTF8'))
    FROM generate_series(1, 40) g;
INSERT INTO lsif_references (upload_id, scheme, name)
    SELECT 1 + g % 40, 'npm', 'pkg' || g FROM generate_series(1, 3000) g;
""",
    "codeinsights-db": """
CREATE SCHEMA insights;
CREATE TABLE insights.series (id serial PRIMARY KEY, series_id text UNIQUE NOT NULL, query text);
CREATE TABLE insights.series_points (id bigserial PRIMARY KEY,
    series_id text NOT NULL REFERENCES insights.series(series_id), time timestamptz NOT NULL, value float8);
INSERT INTO insights.series (series_id, query) SELECT 's' || g, 'repo:foo ' || g FROM generate_series(1, 30) g;
INSERT INTO insights.series_points (series_id, time, value)
    SELECT 's' || (1 + g % 30), '2026-01-01'::timestamptz + g * interval '1 hour', g / 7.0
    FROM generate_series(1, 2500) g;
""",
}


def make_databases(pg: PgServer, prefix: str) -> dict[str, str]:
    """Create the three Sourcegraph-like databases as ``<prefix>_<service>``; service -> database name."""
    names = {}
    for service, sql in SCHEMAS.items():
        name = f"{prefix}_{service.replace('-', '_')}"
        pg.create_database(name)
        pg.psql(name, sql)
        names[service] = name
    return names


def make_empty_targets(pg: PgServer, prefix: str) -> dict[str, str]:
    """Three target databases, each already holding a table of its own (a fresh install's migrator ran)."""
    names = {}
    for service in SCHEMAS:
        name = f"{prefix}_{service.replace('-', '_')}"
        pg.create_database(name)
        pg.psql(
            name, "CREATE TABLE schema_migrations (version bigint); INSERT INTO schema_migrations VALUES (1);"
        )
        names[service] = name
    return names

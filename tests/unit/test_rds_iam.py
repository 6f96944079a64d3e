"""The SQL and script the rds_iam grant Job runs: fixed names, idempotent, safe in a Kubernetes command."""

from __future__ import annotations

import re

from sgarch.helm import rds_iam

# Every identifier the SQL names, and nothing a caller could pass in.
IDENTIFIERS = {rds_iam.IAM_USER, rds_iam.DATABASE, "rds_iam", "rds_superuser", "public"}


def test_sql_names_only_the_fixed_role_and_database() -> None:
    sql = rds_iam.GRANT_SQL
    assert re.findall(r"\bGRANT (\w+) TO (\w+);", sql) == [
        ("rds_iam", rds_iam.IAM_USER),
        ("rds_superuser", rds_iam.IAM_USER),
    ]
    assert f"ON DATABASE {rds_iam.DATABASE} TO {rds_iam.IAM_USER};" in sql
    assert f"ON SCHEMA public TO {rds_iam.IAM_USER};" in sql
    assert f"rolname = '{rds_iam.IAM_USER}'" in sql
    named = set(re.findall(r"\b(?:TO|ROLE|DATABASE|SCHEMA|GRANT) (\w+)", sql)) - {"ALL"}
    assert named <= IDENTIFIERS
    assert "{" not in sql and "%" not in sql  # no formatting, nothing interpolated


def test_sql_can_run_again() -> None:
    # CREATE ROLE only when missing; everything else re-grants what exists. No DROP, no password.
    sql = rds_iam.GRANT_SQL
    assert "IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles" in sql
    assert sql.count("CREATE ROLE") == 1
    assert "DROP" not in sql and "PASSWORD" not in sql.upper()
    # Never the master user: rds_iam would make RDS refuse its password.
    assert f"TO {rds_iam.MASTER_USER};" not in sql and rds_iam.IAM_USER != rds_iam.MASTER_USER


def test_command_survives_kubernetes_variable_expansion() -> None:
    spec = rds_iam.grant_job_spec(host="db.example", password_secret="pgsql-master-password", image="psql")
    (container,) = spec["template"]["spec"]["containers"]
    for arg in container["command"]:
        # Kubernetes expands $(VAR) and reduces $$ to $ in command and args.
        assert "$$" not in arg and "$(" not in arg
    assert container["command"][-1] == rds_iam.GRANT_SQL
    assert "ON_ERROR_STOP=1" in rds_iam.GRANT_SCRIPT
    env = {e["name"]: e for e in container["env"]}
    assert env["PGSSLMODE"]["value"] == "require" and env["PGUSER"]["value"] == rds_iam.MASTER_USER
    assert env["PGPASSWORD"]["value_from"]["secret_key_ref"] == {
        "name": "pgsql-master-password",
        "key": rds_iam.PASSWORD_KEY,
    }

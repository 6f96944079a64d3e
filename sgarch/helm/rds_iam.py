"""IAM database authentication on RDS: Sourcegraph's login role, and the Job that creates it before the chart.

RDS accepts an IAM token only for a user granted ``rds_iam``, and only after that grant has run with a
password. Granting ``rds_iam`` to the master user would make RDS refuse the master password from then on
("If the rds_iam role is added to the master user, IAM authentication takes precedence over password
authentication", AWS's *Database authentication with Amazon RDS*). The master user of each instance is
``sg`` (``managed.postgres``), so Sourcegraph logs in as its own role, :data:`IAM_USER`, and ``sg`` keeps
the password RDS manages in Secrets Manager, for administrators and for this grant.

One Kubernetes Job per database logs in as ``sg`` and runs :data:`GRANT_SQL`; the Helm release depends on
the Jobs, and Pulumi waits for a Job until it completes. The SQL names only the fixed identifiers below (no
value is interpolated into it) and can run any number of times.

Pure: no Pulumi import. The component passes Pulumi outputs where this module takes ``Any``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACTIVE_DEADLINE_SECONDS",
    "BACKOFF_LIMIT",
    "DATABASE",
    "DEFAULT_CLIENT_IMAGE",
    "GRANT_SCRIPT",
    "GRANT_SQL",
    "IAM_USER",
    "LABELS",
    "MASTER_USER",
    "PASSWORD_KEY",
    "grant_job_spec",
]

MASTER_USER = "sg"
"""Master user of every RDS instance sgarch creates (and the login of ``postgres_auth=secret``)."""
IAM_USER = "sourcegraph"
"""The role Sourcegraph logs in as with IAM tokens (``postgres_auth=iam``); ``rds-db:connect`` names it."""
DATABASE = "sg"
"""The database RDS creates on each instance, owned by the master user."""
DEFAULT_CLIENT_IMAGE = "index.docker.io/library/postgres:16-alpine"
"""The image whose ``psql`` runs the grant: Docker Hub's official PostgreSQL 16 (the RDS major version)."""
PASSWORD_KEY = "password"
"""Key of the master password in the Job's Kubernetes Secret."""
BACKOFF_LIMIT = 3
"""Pods a grant Job may retry with (a database still starting, a transient network error)."""
ACTIVE_DEADLINE_SECONDS = 600
"""After this long (image pull included) Kubernetes fails the Job, and with it the ``pulumi up``."""

# Sourcegraph's migrations create extensions (pg_stat_statements among them) and expect a superuser; on RDS
# that is rds_superuser, which may create the extensions the parameter group allows. The database belongs to
# the master user, so the role gets every privilege on it and on its public schema (PostgreSQL 15 and later
# give PUBLIC no CREATE there). Ownership stays with the master: handing it over would need membership in the
# new role, and through it rds_iam, which would lock the master user out.
GRANT_SQL = """\
DO $sgarch$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sourcegraph') THEN
    CREATE ROLE sourcegraph LOGIN;
  END IF;
END
$sgarch$;
ALTER ROLE sourcegraph LOGIN;
GRANT rds_iam TO sourcegraph;
GRANT rds_superuser TO sourcegraph;
GRANT ALL PRIVILEGES ON DATABASE sg TO sourcegraph;
GRANT ALL ON SCHEMA public TO sourcegraph;
"""
"""Idempotent: creates the role once, then only grants again what is already granted (PostgreSQL answers a
repeated GRANT of a role with a notice). Dollar-quoted with a tag, because Kubernetes turns ``$$`` into ``$``
in a container's command."""

# Runs as `sh -c GRANT_SCRIPT rds-iam-grant GRANT_SQL`, so the SQL is "$1" and never passes through the
# shell's parser. No command substitution: Kubernetes would try to expand "$(...)" as a variable.
GRANT_SCRIPT = """\
if psql --no-psqlrc --set=ON_ERROR_STOP=1 --command="$1"; then
  echo "sgarch: role sourcegraph on $PGHOST may now log in with IAM tokens"
  exit 0
fi
msg="sgarch: could not grant rds_iam on $PGHOST as the master user $PGUSER (psql's error is above). \
Check that pods reach the database on port 5432 and that the master password secret RDS manages is current \
(pulumi up reads it again). If 'GRANT rds_iam TO sg' was run by hand, the master user accepts only IAM \
tokens now: connect with one, run 'REVOKE rds_iam FROM sg;' and run pulumi up again (stacks/eks/README.md)."
echo "$msg" >&2
printf '%s\\n' "$msg" 2>/dev/null >/dev/termination-log || true
exit 1
"""
"""The grant Job's shell script: psql with the libpq environment, and a failure message that says what to
check."""

LABELS = {"app.kubernetes.io/name": "rds-iam-grant", "app.kubernetes.io/part-of": "sgarch"}
"""Labels of the grant Jobs and their pods (``kubectl -n sourcegraph logs -l app.kubernetes.io/name=rds-iam-grant``)."""
# Any unprivileged uid runs psql; nobody (65534) owns nothing in the image.
_NOBODY = 65534


def grant_job_spec(*, host: Any, password_secret: Any, image: str) -> dict[str, Any]:
    """The ``spec`` of one database's grant Job, as pulumi-kubernetes ``JobSpecArgs`` keys.

    ``host`` is the instance's address and ``password_secret`` the name of the Secret holding its master
    password under :data:`PASSWORD_KEY` (plain strings or Pulumi outputs).
    """
    env: list[dict[str, Any]] = [
        {"name": "PGHOST", "value": host},
        {"name": "PGPORT", "value": "5432"},
        {"name": "PGDATABASE", "value": DATABASE},
        {"name": "PGUSER", "value": MASTER_USER},
        {
            "name": "PGPASSWORD",
            "value_from": {"secret_key_ref": {"name": password_secret, "key": PASSWORD_KEY}},
        },
        # IAM authentication requires TLS, and the parameter group forces it for every login.
        {"name": "PGSSLMODE", "value": "require"},
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
        {"name": "PGAPPNAME", "value": "sgarch-rds-iam-grant"},
    ]
    container = {
        "name": "grant",
        "image": image,
        "image_pull_policy": "IfNotPresent",
        "command": ["/bin/sh", "-c", GRANT_SCRIPT, "rds-iam-grant", GRANT_SQL],
        "env": env,
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
        },
        "security_context": {
            "allow_privilege_escalation": False,
            "read_only_root_filesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "termination_message_policy": "FallbackToLogsOnError",
    }
    return {
        "backoff_limit": BACKOFF_LIMIT,
        "active_deadline_seconds": ACTIVE_DEADLINE_SECONDS,
        "template": {
            "metadata": {"labels": dict(LABELS)},
            "spec": {
                "restart_policy": "Never",
                # psql needs no Kubernetes API.
                "automount_service_account_token": False,
                "security_context": {
                    "run_as_non_root": True,
                    "run_as_user": _NOBODY,
                    "run_as_group": _NOBODY,
                    "seccomp_profile": {"type": "RuntimeDefault"},
                },
                "containers": [container],
            },
        },
    }

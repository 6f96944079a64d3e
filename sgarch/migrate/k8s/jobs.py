"""The Kubernetes objects of a migration on EKS, as plain data in pulumi-kubernetes' argument names.

Pure: no Pulumi import (the component resolves Outputs first and builds each spec inside an ``apply``), so
the specs are tested as data and ``tests/stacks/test_sdk_arguments.py`` checks every key against the SDK.

Every Job runs the scripts of ``sgarch/migrate/scripts`` (``pgdata.sh``, ``blobs.sh``: the same files the
single-node commands send through SSM) and of ``sgarch/migrate/k8s/scripts``, mounted read-only from one
ConfigMap. Images:

- the PostgreSQL client (:data:`DEFAULT_POSTGRES_CLIENT_IMAGE`): Debian's build of PostgreSQL 16, the major
  version of both RDS (``engine_version=16``) and the chart's own databases, so ``pg_restore`` and
  ``pg_dump`` match the server; Debian rather than Alpine because the scripts are bash;
- the AWS CLI (:data:`DEFAULT_AWS_CLI_IMAGE`) for S3 and for RDS IAM tokens, with the Job's EKS Pod Identity.

Passwords reach containers only as environment variables from Kubernetes Secrets, or as a libpq password
file of IAM tokens (``iam-token.sh``); never as arguments. Each pod runs as an unprivileged user with a
read-only root file system; what it writes goes to a scratch volume sized for the files it handles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "ACTIVE_DEADLINE_SECONDS",
    "BACKOFF_LIMIT",
    "BLOBS_JOB",
    "DATABASE_NAMES",
    "DEFAULT_AWS_CLI_IMAGE",
    "DEFAULT_POSTGRES_CLIENT_IMAGE",
    "EXPORT_JOB",
    "LABELS",
    "SCRATCH_MOUNT",
    "SCRIPTS_CONFIG_MAP",
    "SCRIPTS_MOUNT",
    "SERVICE_ACCOUNT",
    "BlobStorage",
    "BundleFile",
    "DatabaseConnection",
    "export_job_spec",
    "import_blobs_job_spec",
    "import_database_job_spec",
    "import_job_name",
    "in_cluster_database",
    "rds_database",
    "scratch_gib",
    "script_files",
]

DATABASE_NAMES: tuple[str, ...] = ("pgsql", "codeintel-db", "codeinsights-db")
"""Short names of Sourcegraph's databases: the chart's Services and the bundle's file names."""
SERVICE_ACCOUNT = "sgarch-migrate"
"""The service account of every migration Job; Pod Identity hands it the migration role."""
SCRIPTS_CONFIG_MAP = "sgarch-migrate-scripts"
"""The ConfigMap holding the scripts, mounted read-only at :data:`SCRIPTS_MOUNT` in every container."""
EXPORT_JOB = "migrate-export"
BLOBS_JOB = "migrate-import-blobs"
LABELS = {"app.kubernetes.io/name": "sgarch-migrate", "app.kubernetes.io/part-of": "sgarch"}
"""Labels of the migration objects (``kubectl -n sourcegraph get jobs -l app.kubernetes.io/name=sgarch-migrate``)."""

DEFAULT_POSTGRES_CLIENT_IMAGE = "index.docker.io/library/postgres:16-bookworm"
"""Docker Hub's official PostgreSQL 16 on Debian: bash, coreutils, awk and the PostgreSQL 16 client tools."""
DEFAULT_AWS_CLI_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.27.0"
"""The AWS CLI v2 image AWS publishes on ECR Public (no Docker Hub pull limit); v2 reads Pod Identity
credentials (the container-credentials provider with a token file)."""

BACKOFF_LIMIT = 2
"""Pods a Job may retry with. Every step is rerunnable (a restore empties the database first)."""
ACTIVE_DEADLINE_SECONDS = 6 * 3600
"""After this long Kubernetes fails the Job, and with it ``pulumi up`` (image pulls, downloads and a
restore of a few hundred GB included). Pulumi's own wait is set to match."""

SCRIPTS_MOUNT = "/sgarch/scripts"
SCRATCH_MOUNT = "/scratch"
# uid/gid 999 is `postgres` in the Debian image; the AWS CLI needs no user of its own. One uid for every
# container, so each reads what the one before wrote on the scratch volume (and libpq accepts the 0600
# password file).
_UID = 999
_SCRIPT_PACKAGES = {
    "sgarch.migrate": ("pgdata.sh", "blobs.sh"),
    "sgarch.migrate.k8s": (
        "fetch.sh",
        "import-db.sh",
        "export-db.sh",
        "store-blobs.sh",
        "iam-token.sh",
        "write-manifest.sh",
        "upload.sh",
    ),
}
_PASSFILE = f"{SCRATCH_MOUNT}/run/pgpass"
_SIDECAR_PROBE_SECONDS = 2


@cache
def script_files() -> dict[str, str]:
    """File name -> text of every script the Jobs run, read from the installed package (the ConfigMap's data)."""
    out: dict[str, str] = {}
    for package, names in _SCRIPT_PACKAGES.items():
        folder = resources.files(package) / "scripts"
        for name in names:
            out[name] = (folder / name).read_text(encoding="utf-8")
    return out


def import_job_name(database: str) -> str:
    """Name of the Job that imports one database (``migrate-import-pgsql``)."""
    return f"migrate-import-{database}"


@dataclass(frozen=True)
class BundleFile:
    """One file of the bundle: its object key, size and SHA-256, as the manifest lists them."""

    key: str
    bytes: int
    sha256: str

    @property
    def name(self) -> str:
        """The file's name on the scratch volume (the key's last part)."""
        return self.key.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DatabaseConnection:
    """How a Job reaches one database: the libpq settings, and where the password comes from.

    ``password_secret`` names a Kubernetes Secret whose ``password`` key holds it; ``iam`` instead logs in
    with RDS IAM tokens (``iam-token.sh``), as the role Sourcegraph itself uses, so restored objects belong
    to it.
    """

    name: str
    host: str
    user: str
    database: str
    sslmode: str
    password_secret: str | None = None
    iam: bool = False
    port: int = 5432


def in_cluster_database(name: str) -> DatabaseConnection:
    """One of the chart's own databases, with the credentials the chart keeps in its ``<name>-auth`` Secret."""
    # The chart's defaults (values.yaml `<db>.auth`): codeinsights-db runs as postgres, the others as sg.
    user = "postgres" if name == "codeinsights-db" else "sg"
    return DatabaseConnection(
        name=name, host=name, user=user, database=user, sslmode="disable", password_secret=f"{name}-auth"
    )


def rds_database(name: str, host: str, *, iam: bool, user: str, secret: str | None) -> DatabaseConnection:
    """One RDS instance sgarch created: TLS required, database ``sg``."""
    return DatabaseConnection(
        name=name, host=host, user=user, database="sg", sslmode="require", password_secret=secret, iam=iam
    )


@dataclass(frozen=True)
class BlobStorage:
    """Where the release keeps blobs: its S3 bucket's name, or None for the chart's blobstore."""

    bucket: str | None = None
    bundle_dir: str = "sourcegraph"
    """The directory an S3 bucket's objects get in a bundle's tar (blobstore keeps one per bucket)."""


def scratch_gib(*sizes: int, factor: float = 1.0) -> int:
    """A scratch volume for files of ``sizes`` bytes, ``factor`` times over, with 20% and 1 GiB to spare."""
    need = sum(sizes) * factor * 1.2 / 2**30 + 1
    return max(int(need) + 1, 4)


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


_PG_RESOURCES = _resources("500m", "1Gi", "2", "4Gi")
_AWS_RESOURCES = _resources("250m", "256Mi", "1", "1Gi")
_MOUNTS: list[dict[str, Any]] = [
    {"name": "scripts", "mount_path": SCRIPTS_MOUNT, "read_only": True},
    {"name": "scratch", "mount_path": SCRATCH_MOUNT},
    {"name": "tmp", "mount_path": "/tmp"},
]
_BASE_ENV = [
    {"name": "HOME", "value": "/tmp"},
    {"name": "SGARCH_SCRATCH", "value": SCRATCH_MOUNT},
    {"name": "SGARCH_SCRIPTS", "value": SCRIPTS_MOUNT},
]


def _env(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"name": k, "value": v} for k, v in values.items()]


def _container(
    name: str,
    image: str,
    script: str,
    env: Sequence[Mapping[str, Any]],
    *,
    postgres: bool,
    args: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "image_pull_policy": "IfNotPresent",
        "command": ["/bin/bash", f"{SCRIPTS_MOUNT}/{script}", *args],
        "env": [*_BASE_ENV, *env],
        "resources": _PG_RESOURCES if postgres else _AWS_RESOURCES,
        "security_context": {
            "allow_privilege_escalation": False,
            "read_only_root_filesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volume_mounts": [dict(m) for m in _MOUNTS],
        "termination_message_policy": "FallbackToLogsOnError",
    }


def _libpq_env(db: DatabaseConnection) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = _env(
        {
            "PGHOST": db.host,
            "PGPORT": str(db.port),
            "PGUSER": db.user,
            "PGDATABASE": db.database,
            "PGSSLMODE": db.sslmode,
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": "sgarch-migrate",
        }
    )
    if db.iam:
        env.append({"name": "PGPASSFILE", "value": _PASSFILE})
    elif db.password_secret is not None:
        env.append(
            {
                "name": "PGPASSWORD",
                "value_from": {"secret_key_ref": {"name": db.password_secret, "key": "password"}},
            }
        )
    return env


def _iam_sidecar(dbs: Sequence[DatabaseConnection], image: str, region: str) -> list[dict[str, Any]]:
    """The token sidecar (a native sidecar: an init container that keeps running), when any database uses IAM."""
    iam = [db for db in dbs if db.iam]
    if not iam:
        return []
    users = {db.user for db in iam}
    if len(users) != 1:  # pragma: no cover - every sgarch RDS instance has the one IAM user
        raise ValueError(f"one IAM database user expected, got {sorted(users)}")
    env = _env(
        {
            "SGARCH_IAM_USER": users.pop(),
            "SGARCH_IAM_HOSTS": " ".join(str(db.host) for db in iam),
            "PGPORT": "5432",
            "AWS_REGION": region,
            "PGPASSFILE": _PASSFILE,
        }
    )
    sidecar = _container("iam-token", image, "iam-token.sh", env, postgres=False)
    sidecar["restart_policy"] = "Always"
    # The next container starts once the first tokens are written.
    sidecar["startup_probe"] = {
        "exec_": {"command": ["/bin/bash", "-c", f"[[ -s {_PASSFILE} ]]"]},
        "period_seconds": _SIDECAR_PROBE_SECONDS,
        "failure_threshold": 60,
    }
    return [sidecar]


def _job(pod: dict[str, Any], *, deadline: int) -> dict[str, Any]:
    return {
        "backoff_limit": BACKOFF_LIMIT,
        "active_deadline_seconds": deadline,
        # No ttl_seconds_after_finished: the Job and its pod's logs stay until migrate_import is removed.
        "template": {"metadata": {"labels": dict(LABELS)}, "spec": pod},
    }


def _pod(
    init: list[dict[str, Any]], main: list[dict[str, Any]], *, scratch: str, storage_class: str
) -> dict[str, Any]:
    return {
        "restart_policy": "Never",
        "service_account_name": SERVICE_ACCOUNT,
        "security_context": {
            "run_as_non_root": True,
            "run_as_user": _UID,
            "run_as_group": _UID,
            "fs_group": _UID,
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        "init_containers": init,
        "containers": main,
        "volumes": [
            {"name": "scripts", "config_map": {"name": SCRIPTS_CONFIG_MAP, "default_mode": 0o555}},
            {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
            # A volume of its own, not the node's disk: a dump can be hundreds of GB. It lives as long as the pod.
            {
                "name": "scratch",
                "ephemeral": {
                    "volume_claim_template": {
                        "metadata": {"labels": dict(LABELS)},
                        "spec": {
                            "access_modes": ["ReadWriteOnce"],
                            "storage_class_name": storage_class,
                            "resources": {"requests": {"storage": scratch}},
                        },
                    }
                },
            },
        ],
    }


def _fetch(bucket: str, files: Sequence[BundleFile], image: str) -> dict[str, Any]:
    pairs = " ".join(f"{f.key}={f.sha256}" for f in files)
    return _container(
        "fetch", image, "fetch.sh", _env({"SGARCH_BUCKET": bucket, "SGARCH_FILES": pairs}), postgres=False
    )


def import_database_job_spec(
    db: DatabaseConnection,
    *,
    bucket: str,
    dump: BundleFile,
    counts: BundleFile,
    postgres_image: str,
    aws_image: str,
    region: str,
    storage_class: str,
    deadline: int = ACTIVE_DEADLINE_SECONDS,
) -> dict[str, Any]:
    """The ``spec`` of the Job that restores ``db`` from the bundle: fetch and check the dump, restore, compare."""
    restore_env = [
        *_libpq_env(db),
        *_env({"SGARCH_DUMP": dump.name, "SGARCH_DUMP_SHA256": dump.sha256, "SGARCH_COUNTS": counts.name}),
    ]
    init = [*_iam_sidecar([db], aws_image, region), _fetch(bucket, [dump, counts], aws_image)]
    main = [_container("restore", postgres_image, "import-db.sh", restore_env, postgres=True)]
    size = f"{scratch_gib(dump.bytes, counts.bytes)}Gi"
    return _job(_pod(init, main, scratch=size, storage_class=storage_class), deadline=deadline)


def import_blobs_job_spec(
    tar: BundleFile | None,
    *,
    bucket: str,
    target: BlobStorage,
    postgres_image: str,
    aws_image: str,
    storage_class: str,
    deadline: int = ACTIVE_DEADLINE_SECONDS,
) -> dict[str, Any]:
    """The ``spec`` of the Job that copies the bundle's blobs into the release's bucket or blobstore.

    ``tar`` None (an export without blobs): one container that says so, so the Job still completes.
    """
    if tar is None:
        note = _container("store", aws_image, "store-blobs.sh", [], postgres=False)
        note["command"] = ["/bin/bash", "-c", "echo 'sgarch: the bundle has no blobs; nothing to copy'"]
        return _job(_pod([], [note], scratch="1Gi", storage_class=storage_class), deadline=deadline)
    unpack_env = _env(
        {
            "SGARCH_BLOBS_MODE": "direct",
            "SGARCH_BLOBS_DIR": f"{SCRATCH_MOUNT}/blobs",
            "SGARCH_BLOB_TAR": f"{SCRATCH_MOUNT}/bundle/{tar.name}",
            "SGARCH_BLOB_SHA256": tar.sha256,
        }
    )
    unpack = _container("unpack", postgres_image, "blobs.sh", unpack_env, postgres=True)
    # blobs.sh wants the directory to exist, and takes the file and sum as arguments (neither is secret).
    unpack["command"] = [
        "/bin/bash",
        "-c",
        f'mkdir -p "$SGARCH_BLOBS_DIR" && exec bash {SCRIPTS_MOUNT}/blobs.sh import "$SGARCH_BLOB_TAR" "$SGARCH_BLOB_SHA256"',
    ]
    store_env = _env({"SGARCH_BLOB_BUCKET": target.bucket if target.bucket is not None else ""})
    init = [_fetch(bucket, [tar], aws_image), unpack]
    main = [_container("store", aws_image, "store-blobs.sh", store_env, postgres=False, args=["put"])]
    size = f"{scratch_gib(tar.bytes, factor=2)}Gi"
    return _job(_pod(init, main, scratch=size, storage_class=storage_class), deadline=deadline)


def export_job_spec(
    dbs: Sequence[DatabaseConnection],
    *,
    bucket: str,
    prefix: str,
    kms_key_arn: str,
    blobs: BlobStorage,
    sourcegraph_version: str,
    cluster: str,
    namespace: str,
    postgres_image: str,
    aws_image: str,
    region: str,
    storage_class: str,
    scratch: int,
    deadline: int = ACTIVE_DEADLINE_SECONDS,
) -> dict[str, Any]:
    """The ``spec`` of the Job that exports the release: dump each database, tar the blobs, write the
    manifest, upload everything (the manifest last)."""
    init = list(_iam_sidecar(dbs, aws_image, region))
    for db in dbs:
        env = [*_libpq_env(db), *_env({"SGARCH_DATABASE": db.name})]
        init.append(_container(f"dump-{db.name}", postgres_image, "export-db.sh", env, postgres=True))
    get_env = _env(
        {
            "SGARCH_BLOB_BUCKET": blobs.bucket if blobs.bucket is not None else "",
            "SGARCH_BLOB_DIR": blobs.bundle_dir,
        }
    )
    init.append(_container("blobs-get", aws_image, "store-blobs.sh", get_env, postgres=False, args=["get"]))
    pack_env = _env({"SGARCH_BLOBS_MODE": "direct", "SGARCH_BLOBS_DIR": f"{SCRATCH_MOUNT}/blobs"})
    pack = _container("blobs-pack", postgres_image, "blobs.sh", pack_env, postgres=True)
    out = f"{SCRATCH_MOUNT}/out"
    pack["command"] = [
        "/bin/bash",
        "-c",
        f"bash {SCRIPTS_MOUNT}/blobs.sh export {out}/blobs.tar >{out}/blobs.results.partial"
        f" && mv -f {out}/blobs.results.partial {out}/blobs.results",
    ]
    init.append(pack)
    where = {
        "SGARCH_BUCKET": bucket,
        "SGARCH_PREFIX": prefix,
        "SGARCH_KMS_KEY_ARN": kms_key_arn,
        "AWS_REGION": region,
    }
    manifest_env = _env(
        {
            **where,
            "SGARCH_DATABASES": " ".join(db.name for db in dbs),
            "SGARCH_SOURCEGRAPH_VERSION": sourcegraph_version,
            "SGARCH_CLUSTER": cluster,
            "SGARCH_NAMESPACE": namespace,
        }
    )
    init.append(_container("manifest", postgres_image, "write-manifest.sh", manifest_env, postgres=True))
    main = [_container("upload", aws_image, "upload.sh", _env(where), postgres=False)]
    return _job(_pod(init, main, scratch=f"{scratch}Gi", storage_class=storage_class), deadline=deadline)

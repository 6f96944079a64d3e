"""What ``sgarch migrate import --to eks`` (and an export from EKS) tells the user to run.

Pure: the CLI calls these and prints the steps; nothing here runs Pulumi or kubectl. The import itself is a
``pulumi up`` of ``stacks/eks`` with ``migrate_import`` set, because the Jobs must be ordered against the Helm
release that Pulumi owns (``component.py`` says how).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from sgarch.migrate.k8s.jobs import BLOBS_JOB, DATABASE_NAMES, EXPORT_JOB, import_job_name
from sgarch.migrate.k8s.locations import parse_export_uri, parse_import_uri, parse_kms_key_arn

__all__ = ["EksStep", "eks_export_steps", "eks_import_steps"]


@dataclass(frozen=True)
class EksStep:
    """One numbered step: what it does, the exact commands, and what it touches."""

    title: str
    commands: tuple[str, ...]
    touches: str


def _config(stack_dir: str, key: str, value: str) -> str:
    return f"pulumi -C {shlex.quote(stack_dir)} config set {key} {shlex.quote(value)}"


def eks_import_steps(
    manifest_uri: str,
    kms_key_arn: str,
    *,
    namespace: str = "sourcegraph",
    databases: Sequence[str] = DATABASE_NAMES,
    stack_dir: str = "stacks/eks",
) -> list[EksStep]:
    """The steps that import the bundle at ``manifest_uri`` into the EKS stack in ``stack_dir``.

    ``kms_key_arn`` is the key that encrypts the bundle (the migration bucket's default key); ``databases``
    are the short names of the databases the bundle holds (``pgsql``, ``codeintel-db``, ``codeinsights-db``).
    Raises ConfigError naming ``--manifest`` or ``--kms-key-id`` for a malformed value.
    """
    location = parse_import_uri(manifest_uri, "--manifest")
    key = parse_kms_key_arn(kms_key_arn, "--kms-key-id")
    ns = shlex.quote(namespace)
    up = f"pulumi -C {shlex.quote(stack_dir)} up"
    watch = tuple(f"kubectl -n {ns} logs -f job/{import_job_name(db)} --all-containers" for db in databases)
    return [
        EksStep(
            "Point the EKS stack at the bundle",
            (
                _config(stack_dir, "migrate_import", location.uri),
                _config(stack_dir, "migrate_kms_key_arn", key),
            ),
            "the stack's configuration only",
        ),
        EksStep(
            "Import: scale Sourcegraph's services to zero (maintenance mode), restore each database and copy "
            "the blobs; pulumi up waits until every Job has checked the SHA-256 sums and row counts",
            (up,),
            f"the release in namespace {namespace}: its databases and blob storage are replaced by the bundle's",
        ),
        EksStep(
            "Watch the Jobs (pulumi up fails with their last message if one fails; run it again to resume)",
            (*watch, f"kubectl -n {ns} logs -f job/{BLOBS_JOB} --all-containers"),
            "nothing",
        ),
        EksStep(
            "Confirm: leave maintenance mode, so the frontend starts on the imported data",
            (f"pulumi -C {shlex.quote(stack_dir)} config rm migrate_import", up),
            f"the release in namespace {namespace}: its services scale back up",
        ),
    ]


def eks_export_steps(
    destination_uri: str,
    kms_key_arn: str,
    *,
    namespace: str = "sourcegraph",
    stack_dir: str = "stacks/eks",
) -> list[EksStep]:
    """The steps that export the EKS stack in ``stack_dir`` to ``destination_uri`` (``s3://bucket/prefix``).

    Raises ConfigError naming ``--bucket`` or ``--kms-key-id`` for a malformed value.
    """
    location = parse_export_uri(destination_uri, "--bucket")
    key = parse_kms_key_arn(kms_key_arn, "--kms-key-id")
    ns = shlex.quote(namespace)
    up = f"pulumi -C {shlex.quote(stack_dir)} up"
    return [
        EksStep(
            "Point the EKS stack at the destination",
            (
                _config(stack_dir, "migrate_export", location.uri),
                _config(stack_dir, "migrate_kms_key_arn", key),
            ),
            "the stack's configuration only",
        ),
        EksStep(
            "Export: scale Sourcegraph's services to zero (maintenance mode), dump each database and copy the "
            f"blobs; the Job writes {location.manifest_uri} last",
            (up,),
            f"the release in namespace {namespace} (scaled to zero; its data is only read) and the bucket",
        ),
        EksStep(
            "Watch the Job",
            (f"kubectl -n {ns} logs -f job/{EXPORT_JOB} --all-containers",),
            "nothing",
        ),
        EksStep(
            "After the import elsewhere (or to abort): leave maintenance mode",
            (f"pulumi -C {shlex.quote(stack_dir)} config rm migrate_export", up),
            f"the release in namespace {namespace}: its services scale back up",
        ),
    ]

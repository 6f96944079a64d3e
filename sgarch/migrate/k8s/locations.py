"""Where a migration bundle lives: the ``migrate_import`` / ``migrate_export`` S3 URIs and the bundle's KMS key.

Pure: no Pulumi, no AWS calls. Each value ends up in IAM policies (the prefix the Jobs may read or write) and
in container environment variables, so the accepted characters are deliberately few: Kubernetes expands
``$(NAME)`` inside ``env`` values, and a policy resource with ``*`` or ``?`` in it would grant more than the
prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sgarch.errors import ConfigError

__all__ = [
    "MANIFEST_NAME",
    "ExportLocation",
    "ImportLocation",
    "check_migration_keys",
    "parse_export_uri",
    "parse_import_uri",
    "parse_kms_key_arn",
]

MANIFEST_NAME = "manifest.json"
"""The file name of a bundle's manifest, next to the files it lists."""

# S3's rules for new general-purpose buckets, without dots (virtual-host TLS breaks on them).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=+-]*")
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(?:mrk-)?[0-9a-f-]{32,36}")


@dataclass(frozen=True)
class ImportLocation:
    """A bundle to import: ``s3://<bucket>/<prefix>/manifest.json``."""

    bucket: str
    prefix: str

    @property
    def manifest_key(self) -> str:
        """The manifest's object key."""
        return f"{self.prefix}/{MANIFEST_NAME}"

    @property
    def uri(self) -> str:
        """The manifest's URI, as the user writes it."""
        return f"s3://{self.bucket}/{self.manifest_key}"

    def key(self, name: str) -> str:
        """The object key of a file the manifest names (relative to the bundle's prefix)."""
        return f"{self.prefix}/{name}"


@dataclass(frozen=True)
class ExportLocation:
    """Where an export writes its bundle: ``s3://<bucket>/<prefix>``."""

    bucket: str
    prefix: str

    @property
    def manifest_key(self) -> str:
        """The object key the export writes its manifest to, last."""
        return f"{self.prefix}/{MANIFEST_NAME}"

    @property
    def uri(self) -> str:
        """The bundle's URI, as the user writes it."""
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def manifest_uri(self) -> str:
        """What ``migrate_import`` (or ``sgarch migrate import --manifest``) takes to import this bundle."""
        return f"s3://{self.bucket}/{self.manifest_key}"


def _split(field: str, value: object, example: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://bucket/key`` URI whose key is a clean, non-empty path."""
    text = value if isinstance(value, str) else ""
    rest = text.removeprefix("s3://")
    bucket, _, key = rest.partition("/")
    expected = f"an S3 URI like {example}"
    if not text.startswith("s3://") or not key:
        raise ConfigError(field, expected, value, f"write it as {example}")
    if not _BUCKET.fullmatch(bucket):
        raise ConfigError(
            field,
            expected,
            value,
            f"{bucket!r} is not a bucket name: 3 to 63 lowercase letters, digits and hyphens",
        )
    key = key.rstrip("/")
    if not all(_SEGMENT.fullmatch(part) for part in key.split("/")):
        raise ConfigError(
            field,
            expected,
            value,
            "use only letters, digits and . _ = + - in the key, with single slashes between parts "
            "(the prefix becomes an IAM policy resource and a container environment value)",
        )
    return bucket, key


def parse_import_uri(value: object, field: str = "migrate_import") -> ImportLocation:
    """The bundle a ``migrate_import`` value names, or a ConfigError naming ``field``.

    The manifest must sit under a prefix (not at the bucket's root), so the Jobs' read access is that prefix
    and nothing else in the bucket.
    """
    example = f"s3://my-bucket/migrations/2026-01-31/{MANIFEST_NAME}"
    bucket, key = _split(field, value, example)
    prefix, _, name = key.rpartition("/")
    if name != MANIFEST_NAME or not prefix:
        raise ConfigError(
            field,
            f"the {MANIFEST_NAME} of a bundle under a prefix, like {example}",
            value,
            "give the manifest URI that sgarch migrate export printed",
        )
    return ImportLocation(bucket, prefix)


def parse_export_uri(value: object, field: str = "migrate_export") -> ExportLocation:
    """The bucket and prefix a ``migrate_export`` value names, or a ConfigError naming ``field``."""
    example = "s3://my-bucket/migrations/2026-01-31"
    bucket, key = _split(field, value, example)
    if key.endswith(".json"):
        raise ConfigError(
            field,
            f"a prefix to write the bundle under, like {example}",
            value,
            f"name the prefix only; the export writes {MANIFEST_NAME} and the dumps under it",
        )
    return ExportLocation(bucket, key)


def parse_kms_key_arn(value: object, field: str = "migrate_kms_key_arn") -> str:
    """A KMS key ARN (not an alias: IAM policies name keys by ARN), or a ConfigError naming ``field``."""
    if isinstance(value, str) and _KMS_KEY_ARN.fullmatch(value):
        return value
    raise ConfigError(
        field,
        "the ARN of the KMS key that encrypts the migration bucket, like "
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        value,
        "aws s3api get-bucket-encryption --bucket <bucket> names it (an alias will not do: "
        "IAM policies name keys by ARN)",
    )


def check_migration_keys(
    migrate_import: str | None, migrate_export: str | None, kms_key_arn: str | None
) -> None:
    """The ``stacks/eks`` migration keys together: at most one direction, each URI well formed, and the key
    set whenever a direction is. ConfigError naming the key otherwise."""
    if migrate_import and migrate_export:
        raise ConfigError(
            "migrate_export",
            "unset while migrate_import is set",
            migrate_export,
            "an import and an export are separate runs: pulumi config rm one of them",
        )
    if migrate_import:
        parse_import_uri(migrate_import)
    if migrate_export:
        parse_export_uri(migrate_export)
    if (migrate_import or migrate_export) and not kms_key_arn:
        raise ConfigError(
            "migrate_kms_key_arn",
            "set with migrate_import or migrate_export",
            None,
            "pulumi config set migrate_kms_key_arn <the migration bucket's KMS key ARN>",
        )
    if kms_key_arn:
        parse_kms_key_arn(kms_key_arn)

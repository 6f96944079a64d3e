"""The S3 object read (``aws.s3.get_object``) under mocks: a migration bundle's manifest, so plans run offline.

``stacks/eks`` with ``migrate_import`` reads the bundle's ``manifest.json`` while it plans (the Jobs' files,
sums and scratch sizes come from it). Offline there is no bucket, so the mocks answer any key ending in
``/manifest.json`` with a finished single-node export at that very prefix, made for the release the stack
pins: the plan shows every Job as ``pulumi up`` would create it for a real bundle. Any other key fails the
way a missing object does. Tests that need another bundle (another release, a database missing) register
their own handler for :data:`GET_OBJECT`; a registered handler replaces this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from sgarch.eks.versions import SOURCEGRAPH_CHART_VERSION
from sgarch.migrate.manifest import DATABASES, FileEntry, Manifest, Source
from sgarch.testing._fakes import InvokeFailedError, fake_hex

__all__ = ["GET_OBJECT", "S3_INVOKES", "mock_manifest"]

GET_OBJECT = "aws:s3/getObject:getObject"
"""The invoke token of ``aws.s3.get_object`` and ``get_object_output``."""

MANIFEST_NAME = "manifest.json"
# Sizes of a mid-sized instance's export (GiB): dumps in custom format are compressed, counts are small.
_DUMP_GIB = {"pgsql": 6, "codeintel-db": 4, "codeinsights-db": 1}
_BLOBS_GIB = 2
_GIB = 2**30


def _pinned_release() -> str:
    """The ``sourcegraph_version`` the running program's stack pins, else the chart release it defaults to.

    A bundle imports only into the release it was exported from, so the answer must match the stack.
    """
    value = pulumi.runtime.get_config(f"{pulumi.get_project()}:sourcegraph_version")
    return str(value) if value else SOURCEGRAPH_CHART_VERSION


def mock_manifest(bucket: str, prefix: str, region: str, sourcegraph_version: str) -> Manifest:
    """A finished export of a single node at ``s3://bucket/prefix``: every database, the blobs, fake sums."""
    instance = "i-0" + fake_hex("migrate-source", bucket, prefix, length=16)
    out = Manifest(
        sourcegraph_version=sourcegraph_version,
        source=Source(
            "single-node",
            region,
            instance_id=instance,
            data_volume_id="vol-0" + fake_hex("migrate-volume", instance, length=16),
            snapshot_id="snap-0" + fake_hex("migrate-snapshot", instance, length=16),
        ),
        bucket=bucket,
        prefix=prefix,
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:40:00Z",
    )
    for db in DATABASES:
        for kind, size in (("dump", _DUMP_GIB[db] * _GIB), ("counts", 64 * 1024)):
            name = f"{db}.{kind}"
            out.files[name] = FileEntry(
                kind, f"{prefix}/{name}", size, fake_hex("migrate-file", bucket, prefix, name, length=64), db
            )
    out.files["blobs.tar"] = FileEntry(
        "blobs",
        f"{prefix}/blobs.tar",
        _BLOBS_GIB * _GIB,
        fake_hex("migrate-file", bucket, prefix, "blobs.tar", length=64),
        files=1000,
    )
    return out


def _get_object(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
    bucket, key = str(args.get("bucket")), str(args.get("key"))
    prefix, _, name = key.rpartition("/")
    if name != MANIFEST_NAME or not prefix:
        raise InvokeFailedError(
            f"reading S3 Object (s3://{bucket}/{key}): NotFound: the mocks hold only migration manifests "
            f"(PREFIX/{MANIFEST_NAME}); register a handler for {GET_OBJECT} to give other objects"
        )
    body = mock_manifest(bucket, prefix, region, _pinned_release()).to_json()
    return {
        "id": key,
        "bucket": bucket,
        "key": key,
        # The provider returns a body only for text content types; the export uploads application/json.
        "body": body,
        "contentType": "application/json",
        "contentLength": float(len(body.encode())),
        "etag": fake_hex("etag", bucket, key, length=32),
        "lastModified": "Thu, 01 Jan 2026 00:40:00 UTC",
        "serverSideEncryption": "aws:kms",
        "bucketKeyEnabled": True,
        "metadata": {},
        "tags": {},
        "region": region,
    }


S3_INVOKES = {GET_OBJECT: _get_object}
"""S3 invoke answers the mocks give by default."""

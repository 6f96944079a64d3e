"""Read a bundle's manifest for an import on EKS: which files each Job fetches, with the sums it checks.

Pure: the component hands in the manifest's text (read from S3 by ``pulumi up``) and gets plain data back.
The manifest itself is :mod:`sgarch.migrate.manifest`'s; this only checks what an EKS import relies on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sgarch.errors import ConfigError
from sgarch.migrate.k8s.jobs import BundleFile
from sgarch.migrate.k8s.locations import ImportLocation
from sgarch.migrate.manifest import FileEntry, parse_manifest

__all__ = ["DatabaseFiles", "EksBundle", "read_bundle"]

_FIELD = "migrate_import"


@dataclass(frozen=True)
class DatabaseFiles:
    """One database's dump and the row counts taken with it."""

    dump: BundleFile
    counts: BundleFile


@dataclass(frozen=True)
class EksBundle:
    """What an EKS import restores: a dump and counts per database, and the blob tar if the export had one."""

    sourcegraph_version: str
    databases: dict[str, DatabaseFiles]
    blobs: BundleFile | None


def _file(entry: FileEntry, location: ImportLocation) -> BundleFile:
    if not entry.key.startswith(f"{location.prefix}/") or "/" in entry.key.removeprefix(
        f"{location.prefix}/"
    ):
        # The Jobs may read the bundle's prefix and nothing else in the bucket.
        raise ConfigError(
            f"manifest files.{entry.key}",
            f"a key directly under {location.prefix}/",
            entry.key,
            "import the manifest the export wrote, unedited",
        )
    return BundleFile(key=entry.key, bytes=entry.bytes, sha256=entry.sha256)


def read_bundle(
    text: str | None, location: ImportLocation, *, databases: Sequence[str], sourcegraph_version: str
) -> EksBundle:
    """The files of the bundle at ``location`` for a release with ``databases`` running ``sourcegraph_version``.

    ConfigError when the manifest is unreadable, describes another location, is unfinished, was exported
    from another Sourcegraph release (the issue's rule: the same release on both sides; upgrade first), or
    lacks a database the release runs.
    """
    if not text:
        raise ConfigError(
            _FIELD,
            "a manifest S3 returns with Content-Type application/json",
            location.uri,
            "check the URI; a manifest uploaded by hand needs --content-type application/json, or Pulumi "
            "cannot read its body",
        )
    manifest = parse_manifest(text, location.uri)
    if (manifest.bucket, manifest.prefix) != (location.bucket, location.prefix):
        raise ConfigError(
            _FIELD,
            f"the manifest of s3://{manifest.bucket}/{manifest.prefix}",
            location.uri,
            "the bundle was moved: import it from where it was exported",
        )
    if not manifest.finished_at:
        raise ConfigError(
            _FIELD, "a finished export", location.uri, "run the export again until it reports the manifest"
        )
    if manifest.sourcegraph_version != sourcegraph_version:
        raise ConfigError(
            "sourcegraph_version",
            f"the release the bundle was exported from ({manifest.sourcegraph_version})",
            sourcegraph_version,
            "both sides must run the same release: pin it with pulumi config set sourcegraph_version "
            f"{manifest.sourcegraph_version}, or upgrade the source first (sgarch upgrade plan)",
        )
    found: dict[str, dict[str, BundleFile]] = {}
    blobs: BundleFile | None = None
    for entry in manifest.files.values():
        if entry.kind == "blobs":
            blobs = _file(entry, location)
        elif entry.database is not None:
            found.setdefault(entry.database, {})[entry.kind] = _file(entry, location)
    out: dict[str, DatabaseFiles] = {}
    for name in databases:
        files = found.get(name, {})
        if "dump" not in files or "counts" not in files:
            raise ConfigError(
                _FIELD,
                f"a bundle with the dump and row counts of {name}",
                location.uri,
                f"export {name} too, or turn off what uses it on this stack (codeinsights-db: code insights)",
            )
        out[name] = DatabaseFiles(dump=files["dump"], counts=files["counts"])
    return EksBundle(sourcegraph_version=manifest.sourcegraph_version, databases=out, blobs=blobs)

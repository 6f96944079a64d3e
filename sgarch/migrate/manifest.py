"""The migration manifest: what an export holds, where, with which sums, and which steps have finished.

One JSON document at ``s3://<bucket>/<prefix>/manifest.json`` next to the files it describes. It is the
idempotency key of ``sgarch migrate``: every step records its completion here as soon as it finishes, so
running ``export`` or ``import`` again skips finished work and redoes unfinished work. It holds no
password and no presigned URL, only names, sizes and SHA-256 sums.

Pure: no boto3, no pulumi. :func:`parse_manifest` validates a document and names the bad field in a
:class:`~sgarch.errors.ConfigError`, so a hand-edited or truncated manifest stops a command before it
touches anything.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sgarch.errors import ConfigError

__all__ = [
    "DATABASES",
    "FORMAT",
    "FileEntry",
    "ImportState",
    "Manifest",
    "Source",
    "parse_manifest",
    "parse_s3_url",
    "utc_now",
]

#: The value of the ``format`` key; a manifest with another one was written by an incompatible sgarch.
FORMAT = "sgarch-migrate-manifest/1"

#: Sourcegraph's three databases, by the name of their compose service (and of their dump files).
DATABASES: tuple[str, ...] = ("pgsql", "codeintel-db", "codeinsights-db")

_KINDS = ("dump", "counts", "blobs")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ARCHES = ("single-node", "eks")
_FIX = "export again into a new --prefix, or restore the manifest.json the export wrote"


def utc_now() -> str:
    """Now, as the manifest writes times: ISO 8601 in UTC to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_s3_url(url: str, flag: str = "--manifest") -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); ConfigError naming ``flag`` otherwise."""
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+)", url or "")
    if not match:
        raise ConfigError(
            flag, "an S3 URL like s3://BUCKET/PREFIX/manifest.json", url, "copy it from the export's output"
        )
    return match.group(1), match.group(2)


@dataclass
class FileEntry:
    """One file of the export: its S3 key, size and SHA-256; ``database`` for dumps and row counts."""

    kind: str
    key: str
    bytes: int
    sha256: str
    database: str | None = None
    #: blobs only: how many files the tar holds.
    files: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "key": self.key,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }
        if self.database is not None:
            data["database"] = self.database
        if self.files is not None:
            data["files"] = self.files
        return data


@dataclass
class Source:
    """Where the data came from: an instance and its data volume, or an EKS cluster and namespace."""

    architecture: str
    region: str
    instance_id: str | None = None
    data_volume_id: str | None = None
    snapshot_id: str | None = None
    cluster: str | None = None
    namespace: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ImportState:
    """Progress of one import into one target (an instance id, or ``eks:<cluster>/<namespace>``)."""

    started_at: str
    steps: dict[str, str] = field(default_factory=dict)
    finished_at: str | None = None
    #: The target's maintenance window the restores ran in; another one means they must run again.
    maintenance_epoch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"started_at": self.started_at, "steps": dict(self.steps)}
        for key in ("finished_at", "maintenance_epoch"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass
class Manifest:
    """An export. ``steps`` maps a step id (``dump:pgsql``, ``upload:pgsql.dump``, ...) to when it finished."""

    sourcegraph_version: str
    source: Source
    bucket: str
    prefix: str
    started_at: str
    kms_key_id: str | None = None
    #: The source's maintenance window the dumps were taken in (see host.sh); another one makes them stale.
    maintenance_epoch: str | None = None
    #: Whether the row-count files also hold per-table row checksums (import must count the same way).
    row_checksums: bool = False
    finished_at: str | None = None
    files: dict[str, FileEntry] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)
    imports: dict[str, ImportState] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The manifest's own S3 key."""
        return f"{self.prefix}/manifest.json"

    @property
    def url(self) -> str:
        """``s3://bucket/prefix/manifest.json``, the value ``sgarch migrate import --manifest`` takes."""
        return f"s3://{self.bucket}/{self.key}"

    def done(self, step: str) -> bool:
        return step in self.steps

    def mark(self, step: str) -> None:
        self.steps[step] = utc_now()

    def forget(self, *prefixes: str) -> None:
        """Drop the steps whose id starts with one of ``prefixes`` (their results are stale)."""
        self.steps = {k: v for k, v in self.steps.items() if not k.startswith(prefixes)}
        self.finished_at = None

    def missing_files(self) -> list[str]:
        """The files a finished export must hold that this manifest lacks (import refuses without them).

        ``blobs.tar`` is optional: a source without a blob store (an EKS release on S3 with no uploads) has none.
        """
        wanted = [f"{db}.{kind}" for db in DATABASES for kind in ("dump", "counts")]
        return [name for name in wanted if name not in self.files]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT,
            "sourcegraph_version": self.sourcegraph_version,
            "source": self.source.to_dict(),
            "bucket": self.bucket,
            "prefix": self.prefix,
            "started_at": self.started_at,
            "row_checksums": self.row_checksums,
            "files": {name: entry.to_dict() for name, entry in sorted(self.files.items())},
            "steps": dict(self.steps),
            "imports": {target: state.to_dict() for target, state in sorted(self.imports.items())},
        }
        for key in ("kms_key_id", "maintenance_epoch", "finished_at"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def _need(
    data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, optional: bool = False
) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) or value == "":
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        expected = {"str": "a string", "int": "a whole number", "dict": "an object"}.get(names, names)
        raise ConfigError(f"manifest {where}{key}", expected, value, _FIX)
    return value


def _file_entry(name: str, raw: Any) -> FileEntry:
    where = f"files.{name}."
    if not isinstance(raw, dict):
        raise ConfigError(f"manifest files.{name}", "an object", raw, _FIX)
    kind = _need(raw, "kind", str, where)
    if kind not in _KINDS:
        raise ConfigError(f"manifest {where}kind", "one of " + ", ".join(_KINDS), kind, _FIX)
    size = _need(raw, "bytes", int, where)
    if size < 0:
        raise ConfigError(f"manifest {where}bytes", "0 or more", size, _FIX)
    sha = _need(raw, "sha256", str, where)
    if not _SHA256.fullmatch(sha):
        raise ConfigError(f"manifest {where}sha256", "64 lowercase hex digits", sha, _FIX)
    database = _need(raw, "database", str, where, optional=True)
    if kind in ("dump", "counts") and database not in DATABASES:
        raise ConfigError(f"manifest {where}database", "one of " + ", ".join(DATABASES), database, _FIX)
    files = _need(raw, "files", int, where, optional=True)
    return FileEntry(
        kind=kind, key=_need(raw, "key", str, where), bytes=size, sha256=sha, database=database, files=files
    )


def _steps(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ConfigError(f"manifest {where}", "an object of step names and times", raw, _FIX)
    return dict(raw)


def parse_manifest(text: str, origin: str = "manifest.json") -> Manifest:
    """Validate and load a manifest; ConfigError naming the field when anything is missing or wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("--manifest", f"JSON (line {exc.lineno}: {exc.msg})", origin, _FIX) from None
    if not isinstance(data, dict):
        raise ConfigError("--manifest", "a JSON object", origin, _FIX)
    if data.get("format") != FORMAT:
        raise ConfigError(
            "manifest format", repr(FORMAT), data.get("format"), "use the sgarch that exported it"
        )
    version = _need(data, "sourcegraph_version", str, "")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ConfigError("manifest sourcegraph_version", "a version like 7.5.4453", version, _FIX)
    raw_source = _need(data, "source", dict, "")
    arch = _need(raw_source, "architecture", str, "source.")
    if arch not in _ARCHES:
        raise ConfigError("manifest source.architecture", "single-node or eks", arch, _FIX)
    source = Source(
        architecture=arch,
        region=_need(raw_source, "region", str, "source."),
        **{
            key: _need(raw_source, key, str, "source.", optional=True)
            for key in ("instance_id", "data_volume_id", "snapshot_id", "cluster", "namespace")
        },
    )
    if arch == "single-node" and not (source.instance_id and source.data_volume_id):
        raise ConfigError(
            "manifest source.instance_id", "set, with data_volume_id, for a single node", None, _FIX
        )
    if arch == "eks" and not (source.cluster and source.namespace):
        raise ConfigError("manifest source.cluster", "set, with namespace, for EKS", None, _FIX)
    raw_files = _need(data, "files", dict, "")
    files = {name: _file_entry(name, raw) for name, raw in raw_files.items()}
    raw_imports = data.get("imports") or {}
    if not isinstance(raw_imports, dict):
        raise ConfigError("manifest imports", "an object", raw_imports, _FIX)
    imports = {}
    for target, raw in raw_imports.items():
        if not isinstance(raw, dict):
            raise ConfigError(f"manifest imports.{target}", "an object", raw, _FIX)
        imports[target] = ImportState(
            started_at=_need(raw, "started_at", str, f"imports.{target}."),
            steps=_steps(raw.get("steps"), f"imports.{target}.steps"),
            finished_at=_need(raw, "finished_at", str, f"imports.{target}.", optional=True),
            maintenance_epoch=_need(raw, "maintenance_epoch", str, f"imports.{target}.", optional=True),
        )
    checksums = data.get("row_checksums", False)
    if not isinstance(checksums, bool):
        raise ConfigError("manifest row_checksums", "true or false", checksums, _FIX)
    return Manifest(
        sourcegraph_version=version,
        row_checksums=checksums,
        source=source,
        bucket=_need(data, "bucket", str, ""),
        prefix=_need(data, "prefix", str, "").strip("/"),
        started_at=_need(data, "started_at", str, ""),
        kms_key_id=_need(data, "kms_key_id", str, "", optional=True),
        maintenance_epoch=_need(data, "maintenance_epoch", str, "", optional=True),
        finished_at=_need(data, "finished_at", str, "", optional=True),
        files=files,
        steps=_steps(data.get("steps"), "steps"),
        imports=imports,
    )

"""Export from and import onto a single node, through SSM, S3 and the manifest; and maintenance mode.

An export is an ordered list of steps, each recorded in the manifest the moment it finishes:

1. a snapshot of the data volume from the last hour must exist (``sgarch upgrade snapshot`` makes one);
2. maintenance mode on (host.sh): the writers stop, a maintenance page answers;
3. pre-flight: the data volume has room for the dumps;
4. per database: ``pg_dump`` in its own container, then its row counts (pgdata.sh);
5. the blob store as one tar (blobs.sh);
6. per file: a multipart upload through presigned URLs, with SSE-KMS;
7. the work directory on the host is removed; the manifest says when the export finished.

Running it again skips what the manifest marks as done. Maintenance mode stays on after the export: the
source must take no writes the export lacks. If maintenance mode ended in between (``sgarch migrate
abort``, a reboot), the dumps are stale and are taken again. The source is never changed otherwise.

An import runs the reverse on a target node: maintenance on, download (SHA-256 checked against the
manifest), restore each database, compare its row counts with the source's, unpack the blobs, clean up.
The target stays in maintenance mode until ``sgarch migrate import --finish``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sgarch.errors import BuildError, ConfigError
from sgarch.migrate import s3 as s3ops
from sgarch.migrate.manifest import (
    DATABASES,
    FileEntry,
    ImportState,
    Manifest,
    Source,
    parse_manifest,
    utc_now,
)
from sgarch.migrate.ssm import SsmHost
from sgarch.migrate.steps import blobs_command, host_command, pg_command, step_script, work_file
from sgarch.upgrade.outputs import StackOutputs
from sgarch.upgrade.snapshot import PURPOSE, PURPOSE_TAG

__all__ = [
    "SNAPSHOT_MAX_AGE_SECONDS",
    "ManifestStore",
    "export_single_node",
    "import_single_node",
    "load_export",
    "maintenance",
    "recent_snapshot",
]

#: How old the data volume's snapshot may be when an export starts.
SNAPSHOT_MAX_AGE_SECONDS = 3600
#: The work directory needs the databases' and blobs' sizes plus 1/10 (custom-format dumps are compressed,
#: so this is generous; the tar of the blobs is their size plus headers).
_HEADROOM_DIVISOR = 10

ProgressFn = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class ManifestStore:
    """The manifest's place in the bucket; :meth:`save` after every step is what makes reruns resume."""

    s3: Any
    bucket: str
    prefix: str
    kms_key_id: str | None = None

    def load(self) -> Manifest | None:
        key = f"{self.prefix}/manifest.json"
        text = s3ops.get_text(self.s3, self.bucket, key)
        return None if text is None else parse_manifest(text, f"s3://{self.bucket}/{key}")

    def save(self, manifest: Manifest) -> None:
        s3ops.put_text(self.s3, self.bucket, manifest.key, manifest.to_json(), self.kms_key_id)


def recent_snapshot(
    ec2: Any,
    volume_id: str,
    *,
    now: datetime | None = None,
    max_age_seconds: int = SNAPSHOT_MAX_AGE_SECONDS,
) -> str:
    """The newest completed sgarch snapshot of ``volume_id`` from the last hour; ConfigError without one."""
    found = ec2.describe_snapshots(
        OwnerIds=["self"],
        Filters=[
            {"Name": "volume-id", "Values": [volume_id]},
            {"Name": f"tag:{PURPOSE_TAG}", "Values": [PURPOSE]},
        ],
    )
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(seconds=max_age_seconds)
    fresh = []
    for snap in found.get("Snapshots", []):
        started = snap.get("StartTime")
        if isinstance(started, datetime) and started.tzinfo is None:
            started = started.replace(tzinfo=timezone.utc)
        if snap.get("State") == "completed" and isinstance(started, datetime) and started >= cutoff:
            fresh.append((started, str(snap["SnapshotId"])))
    if not fresh:
        raise ConfigError(
            "--stack-outputs data_volume_id",
            f"a volume with a completed sgarch snapshot from the last {max_age_seconds // 60} minutes",
            volume_id,
            "run `sgarch upgrade snapshot --stack-outputs FILE` first; it waits until the snapshot completes",
        )
    return max(fresh)[1]


def maintenance(host: SsmHost, action: str, work: str = "maintenance") -> str | None:
    """``host.sh maintenance on|off|status`` on the node; the epoch when maintenance is on."""
    results = host.run(f"maintenance {action}", step_script(work, [host_command("maintenance", action)]))
    values = results.get("maintenance", [])
    return values[1] if len(values) > 1 and values[0] == "on" else None


def _entry(kind: str, key: str, values: list[str], database: str | None = None) -> FileEntry:
    try:
        return FileEntry(kind=kind, key=key, bytes=int(values[0]), sha256=values[1], database=database)
    except (IndexError, ValueError):
        raise BuildError(
            f"the host's answer for {key} is incomplete ({values}); run the command again"
        ) from None


def _require(results: dict[str, list[str]], name: str, label: str) -> list[str]:
    if name not in results:
        raise BuildError(f"{label}: the host printed no result; run the command again")
    return results[name]


def _preflight(host: SsmHost, work: str, extra_bytes: int, measure: bool) -> None:
    """Check the work directory has room: the databases' and blobs' sizes (measured on the host) or ``extra``."""
    commands = ["total=0"]
    if measure:
        sizes = [pg_command(db, "size", checksums=False) for db in DATABASES] + [blobs_command("size")]
        for command in sizes:
            commands.append(f"total=$((total + $({command} | awk '$1 == \"sgarch-result\" {{print $3}}')))")
    commands.append(f"total=$((total + {int(extra_bytes)}))")
    commands.append(host_command("preflight", '"$work"', f'"$((total + total / {_HEADROOM_DIVISOR}))"'))
    _require(host.run("pre-flight", step_script(work, commands)), "preflight", "pre-flight")


def _upload(host: SsmHost, s3: Any, manifest: Manifest, name: str, progress: ProgressFn) -> None:
    entry = manifest.files[name]
    upload = s3ops.start_upload(s3, manifest.bucket, entry.key, entry.bytes, manifest.kms_key_id)
    if upload.missing:
        list_key = f"{manifest.prefix}/.transfer/{name}.urls"
        s3ops.put_text(
            s3, manifest.bucket, list_key, s3ops.part_urls(s3, manifest.bucket, upload), manifest.kms_key_id
        )
        try:
            progress(f"uploading {name} ({entry.bytes:,} bytes, {len(upload.missing)} parts)")
            command = host_command(
                "put",
                work_file(name),
                str(upload.part_bytes),
                f"'{s3ops.presign_get(s3, manifest.bucket, list_key)}'",
            )
            host.run(f"upload {name}", step_script(manifest.prefix, [command]))
        finally:
            s3ops.delete_object(s3, manifest.bucket, list_key)
    s3ops.complete_upload(s3, manifest.bucket, upload, entry.bytes)


def export_single_node(
    outputs: StackOutputs,
    *,
    host: SsmHost,
    ec2: Any,
    store: ManifestStore,
    region: str,
    row_checksums: bool = False,
    progress: ProgressFn = _quiet,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Manifest:
    """Export the node in ``outputs`` into the store's bucket and prefix; the finished manifest."""
    if not outputs.sourcegraph_version:
        raise ConfigError(
            "--stack-outputs sourcegraph_version",
            "present",
            None,
            "refresh the file with `pulumi stack output --json`",
        )
    assert outputs.instance_id and outputs.data_volume_id  # load_stack_outputs required them
    manifest = store.load()
    if manifest is not None and manifest.source.instance_id != outputs.instance_id:
        raise ConfigError(
            "--prefix",
            f"a prefix of this instance's export (s3://{store.bucket}/{store.prefix} holds {manifest.source.instance_id}'s)",
            store.prefix,
            "pick another --prefix",
        )
    epoch = maintenance(host, "status", store.prefix)
    resumable = (
        manifest is not None
        and manifest.maintenance_epoch is not None
        and manifest.maintenance_epoch == epoch
    )
    if manifest is not None and manifest.finished_at and resumable:
        progress(f"already exported to {manifest.url}; the source is still in maintenance mode")
        return manifest
    snapshot_id = manifest.source.snapshot_id if resumable and manifest else None
    if snapshot_id is None:
        snapshot_id = recent_snapshot(ec2, outputs.data_volume_id, now=now())
    if manifest is None:
        manifest = Manifest(
            sourcegraph_version=outputs.sourcegraph_version,
            source=Source("single-node", region, outputs.instance_id, outputs.data_volume_id, snapshot_id),
            bucket=store.bucket,
            prefix=store.prefix,
            started_at=utc_now(),
            kms_key_id=store.kms_key_id,
            row_checksums=row_checksums,
        )
    progress(f"snapshot {snapshot_id} of {outputs.data_volume_id} is recent; maintenance mode on")
    epoch = maintenance(host, "on", store.prefix)
    if epoch != manifest.maintenance_epoch:
        # Writes may have happened since the earlier dumps: everything taken then is stale.
        manifest.forget("preflight", "dump:", "blobs", "upload:", "cleanup")
        manifest.files = {}
        manifest.maintenance_epoch = epoch
        manifest.source.snapshot_id = snapshot_id
    manifest.mark("maintenance")
    store.save(manifest)
    work = manifest.prefix
    if not manifest.done("preflight"):
        _preflight(host, work, 0, measure=True)
        manifest.mark("preflight")
        store.save(manifest)
    for db in DATABASES:
        if manifest.done(f"dump:{db}"):
            continue
        progress(f"dumping {db}")
        commands = [
            pg_command(db, "dump", f"{db}.dump", checksums=manifest.row_checksums),
            pg_command(db, "verify", f"{db}.counts", checksums=manifest.row_checksums),
        ]
        results = host.run(f"dump {db}", step_script(work, commands))
        manifest.files[f"{db}.dump"] = _entry("dump", f"{work}/{db}.dump", _require(results, "dump", db), db)
        counts = _require(results, "verify", db)
        manifest.files[f"{db}.counts"] = _entry("counts", f"{work}/{db}.counts", counts[2:], db)
        progress(f"{db}: {counts[0]} tables, {int(counts[1]):,} rows")
        manifest.mark(f"dump:{db}")
        store.save(manifest)
    if not manifest.done("blobs"):
        progress("copying the blob store")
        values = _require(
            host.run("blobs", step_script(work, [blobs_command("export", "blobs.tar")])), "export", "blobs"
        )
        manifest.files["blobs.tar"] = _entry("blobs", f"{work}/blobs.tar", values)
        manifest.files["blobs.tar"].files = int(values[2]) if len(values) > 2 else None
        manifest.mark("blobs")
        store.save(manifest)
    for name in sorted(manifest.files):
        if not manifest.done(f"upload:{name}"):
            _upload(host, store.s3, manifest, name, progress)
            manifest.mark(f"upload:{name}")
            store.save(manifest)
    if not manifest.done("cleanup"):
        host.run("cleanup", step_script(work, [host_command("cleanup", '"$work"')]))
        manifest.mark("cleanup")
    manifest.finished_at = utc_now()
    store.save(manifest)
    progress(
        f"exported to {manifest.url}; the source stays in maintenance mode (`sgarch migrate abort` lifts it)"
    )
    return manifest


def load_export(store: ManifestStore, url: str) -> Manifest:
    """The finished export at ``url``; ConfigError when it is missing, unfinished or incomplete."""
    manifest = store.load()
    if manifest is None:
        raise ConfigError(
            "--manifest", "the manifest of an export", url, "copy the URL `sgarch migrate export` printed"
        )
    if not manifest.finished_at:
        raise ConfigError(
            "--manifest",
            "a finished export",
            url,
            "run `sgarch migrate export` again until it reports success",
        )
    missing = manifest.missing_files()
    if missing:
        raise ConfigError(
            "--manifest", "an export with every file", url, f"it lacks {', '.join(missing)}: export again"
        )
    return manifest


def import_single_node(
    outputs: StackOutputs,
    manifest: Manifest,
    *,
    host: SsmHost,
    store: ManifestStore,
    progress: ProgressFn = _quiet,
) -> Manifest:
    """Restore ``manifest``'s export onto the node in ``outputs``; it stays in maintenance mode."""
    target = outputs.instance_id
    assert target  # load_stack_outputs required it
    if target == manifest.source.instance_id:
        raise ConfigError(
            "--stack-outputs instance_id",
            "another instance than the export's source",
            target,
            "an import replaces every database of its target; point it at the new deployment's outputs",
        )
    if outputs.sourcegraph_version and outputs.sourcegraph_version != manifest.sourcegraph_version:
        raise ConfigError(
            "--stack-outputs sourcegraph_version",
            f"{manifest.sourcegraph_version}, the exported data's release",
            outputs.sourcegraph_version,
            f"pin the target to it (`pulumi config set sourcegraph_version {manifest.sourcegraph_version}` and "
            "`pulumi up`), or plan the upgrade with `sgarch upgrade plan` after the move",
        )
    state = manifest.imports.setdefault(target, ImportState(started_at=utc_now()))
    if state.finished_at:
        progress(f"already imported onto {target}; it stays in maintenance mode until `--finish`")
        return manifest
    epoch = maintenance(host, "on", f"import-{manifest.prefix}")
    if epoch != state.maintenance_epoch:
        # Sourcegraph ran on the target since the earlier restores: do them again.
        state.steps = {k: v for k, v in state.steps.items() if k.startswith("get:")}
        state.maintenance_epoch = epoch
    state.steps["maintenance"] = utc_now()
    store.save(manifest)
    work = f"import-{manifest.prefix}"
    if "preflight" not in state.steps:
        _preflight(host, work, sum(entry.bytes for entry in manifest.files.values()), measure=False)
        state.steps["preflight"] = utc_now()
    for name, entry in sorted(manifest.files.items()):
        if f"get:{name}" in state.steps:
            continue
        progress(f"downloading {name} ({entry.bytes:,} bytes)")
        url = s3ops.presign_get(store.s3, manifest.bucket, entry.key)
        command = host_command("get", f"'{url}'", work_file(name), entry.sha256)
        _require(host.run(f"download {name}", step_script(work, [command])), "get", name)
        state.steps[f"get:{name}"] = utc_now()
        store.save(manifest)
    for db in DATABASES:
        if f"restore:{db}" in state.steps:
            continue
        progress(f"restoring {db}")
        dump, counts = manifest.files[f"{db}.dump"], manifest.files[f"{db}.counts"]
        commands = [
            pg_command(db, "restore", f"{db}.dump", sha256=dump.sha256, checksums=manifest.row_checksums),
            pg_command(db, "verify", f"{db}.restored-counts", checksums=manifest.row_checksums),
            # On a mismatch, show the first differences (table names and counts; no row data).
            f"diff {work_file(f'{db}.counts')} {work_file(f'{db}.restored-counts')} | head -n 20 >&2 || true",
        ]
        results = host.run(f"restore {db}", step_script(work, commands))
        verify = _require(results, "verify", db)
        if len(verify) < 4 or verify[3] != counts.sha256:
            raise BuildError(
                f"{db}: the restored row counts differ from the source's ({verify[:2]} tables/rows); the target "
                "stays in maintenance mode: see the differences in the SSM command's error output, then rerun"
            )
        progress(f"{db}: {verify[0]} tables, {int(verify[1]):,} rows, equal to the source")
        state.steps[f"restore:{db}"] = utc_now()
        store.save(manifest)
    if "blobs" not in state.steps and "blobs.tar" in manifest.files:
        progress("restoring the blob store")
        blobs = manifest.files["blobs.tar"]
        values = _require(
            host.run("blobs", step_script(work, [blobs_command("import", "blobs.tar", sha256=blobs.sha256)])),
            "import",
            "blobs",
        )
        if blobs.files is not None and len(values) > 2 and int(values[2]) != blobs.files:
            raise BuildError(f"blobs: {values[2]} files unpacked, the export holds {blobs.files}; run again")
        state.steps["blobs"] = utc_now()
        store.save(manifest)
    host.run("cleanup", step_script(work, [host_command("cleanup", '"$work"')]))
    state.finished_at = utc_now()
    store.save(manifest)
    progress(f"imported onto {target}; it stays in maintenance mode until you confirm with --finish")
    return manifest

"""export / import / abort for single nodes, end to end: a moto server for S3, SSM and EC2, the step bodies
read back from moto and run here against the real PostgreSQL (through a fake ``docker``), presigned URLs
exercised with real HTTP (curl) against the moto server, and a failure injected at each step."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from migrate_fakes import WRITERS, FakeNode, LocalHost
from migrate_pg import PgServer, make_databases, make_empty_targets
from test_migrate_scripts import large_objects, table_rows

from sgarch.cli.app import main
from sgarch.errors import BuildError, ConfigError
from sgarch.migrate.manifest import DATABASES, parse_manifest
from sgarch.migrate.s3 import ensure_bucket, s3_client
from sgarch.migrate.single_node import (
    ManifestStore,
    export_single_node,
    import_single_node,
    load_export,
    maintenance,
)
from sgarch.upgrade.outputs import load_stack_outputs

REGION = "us-east-1"
BUCKET = "sg-migration-test"
VERSION = "7.5.4453"


@pytest.fixture(scope="module")
def aws(moto_url: str) -> Iterator[dict[str, Any]]:
    """Credentials for moto, the migration bucket, and a volume with a fresh sgarch snapshot.

    moto gap: it applies a bucket policy's Deny statements without evaluating their Condition, so the
    bucket's TLS-only statement (deny when aws:SecureTransport is false) would deny every request. The
    test talks plain HTTP to moto in place of S3's HTTPS, where that statement never matches; the patch
    makes moto skip exactly that statement and nothing else.
    """
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    original = FakeBucket.get_permission

    def get_permission(self: Any, action: str, resource: str) -> Any:
        statements = json.loads(self.policy.decode()).get("Statement", []) if self.policy else []
        if statements and all(
            st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for st in statements
        ):
            return PermissionResult.NEUTRAL
        return original(self, action, resource)

    mp = pytest.MonkeyPatch()
    mp.setattr(FakeBucket, "get_permission", get_permission)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        mp.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        mp.delenv(key, raising=False)
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_url)
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=10)["VolumeId"]
    snap = ec2.create_snapshot(
        VolumeId=volume,
        TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "sgarch:purpose", "Value": "pre-upgrade"}]}
        ],
    )["SnapshotId"]
    s3 = s3_client(REGION, moto_url)
    ensure_bucket(s3, BUCKET, REGION)
    yield {
        "url": moto_url,
        "volume": volume,
        "snapshot": snap,
        "s3": s3,
        "ec2": ec2,
        "ssm": boto3.client("ssm", region_name=REGION, endpoint_url=moto_url),
    }
    mp.undo()


def outputs_file(tmp_path: Path, name: str, instance: str, volume: str) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(
        json.dumps(
            {"instance_id": instance, "data_volume_id": volume, "sourcegraph_version": VERSION, "tier": "S"}
        )
    )
    return path


def blob_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def source_node(pg: PgServer, tmp_path: Path, prefix: str) -> FakeNode:
    node = FakeNode(tmp_path / "source", make_databases(pg, prefix), pg.env("postgres"))
    (node.root / "blobstore" / "lsif-uploads").mkdir()
    (node.root / "blobstore" / "lsif-uploads" / "upload-7.gz").write_bytes(bytes(range(256)) * 50)
    return node


def snapshot_of(pg: PgServer, node: FakeNode) -> dict[str, Any]:
    """What must never change on a source: every row, every large object, the blobs."""
    return {
        service: (table_rows(pg, database), large_objects(pg, database))
        for service, database in node.databases.items()
    } | {"blobs": blob_tree(node.root / "blobstore")}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_export_import_finish_and_abort_through_the_cli(
    pg: PgServer,
    aws: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = source_node(pg, tmp_path, "cli_src")
    target = FakeNode(
        tmp_path / "target", make_empty_targets(pg, "cli_dst"), pg.env("postgres"), behind_load_balancer=False
    )
    hosts: dict[str, LocalHost] = {}

    def fake_host(instance_id: str, region: str, endpoint_url: str | None, poll_seconds: float) -> LocalHost:
        assert endpoint_url == aws["url"]
        node = source if instance_id == "i-0source" else target
        return hosts.setdefault(instance_id, LocalHost(aws["ssm"], instance_id, poll_seconds=0, node=node))

    monkeypatch.setattr("sgarch.cli.migrate_data._host", fake_host)
    before = snapshot_of(pg, source)
    src_outputs = outputs_file(tmp_path, "old", "i-0source", aws["volume"])
    dst_outputs = outputs_file(tmp_path, "new", "i-0target", "vol-0target")
    common = ["--region", REGION, "--endpoint-url", aws["url"], "--poll-seconds", "0"]

    code, out, err = run_cli(
        ["migrate", "export", "--stack-outputs", str(src_outputs), "--bucket", BUCKET, *common], capsys
    )
    assert code == 0, err
    url = out.strip()
    assert url == f"s3://{BUCKET}/exports/i-0source/manifest.json"
    assert "dumping pgsql" in err

    # The manifest describes every file, and S3 holds them with those sums, encrypted with KMS.
    s3 = aws["s3"]
    manifest = parse_manifest(
        s3.get_object(Bucket=BUCKET, Key="exports/i-0source/manifest.json")["Body"].read().decode()
    )
    assert manifest.finished_at and manifest.source.snapshot_id == aws["snapshot"]
    assert (manifest.source.instance_id, manifest.source.data_volume_id) == ("i-0source", aws["volume"])
    assert sorted(manifest.files) == sorted(
        [f"{db}.{k}" for db in DATABASES for k in ("dump", "counts")] + ["blobs.tar"]
    )
    for entry in manifest.files.values():
        obj = s3.get_object(Bucket=BUCKET, Key=entry.key)
        assert hashlib.sha256(obj["Body"].read()).hexdigest() == entry.sha256
        assert obj["ServerSideEncryption"] == "aws:kms"
    assert "password" not in json.dumps(manifest.to_dict()).lower()
    # Nothing the host was sent carries a password or a libpq password variable.
    secret = pg.passfile.read_text().strip().rsplit(":", 1)[1]
    for _, commands in hosts["i-0source"].sent:
        assert secret not in "\n".join(commands)
        assert "PGPASSWORD=" not in "\n".join(commands)
    # Maintenance mode: every writer stopped, the page published where the frontend was.
    containers = source.containers()
    assert not any(containers[name]["running"] for name in WRITERS)
    page = containers["sgarch-maintenance"]["run"]
    assert page[page.index("--network-alias") + 1] == "sourcegraph-frontend-0"
    assert page[page.index("--publish") + 1] == "0.0.0.0:80:3080/tcp"
    assert "respond" in page and "503" in page
    assert snapshot_of(pg, source) == before
    assert not any((source.root / "migrate").iterdir()) or not any((source.root / "migrate").rglob("*.dump"))

    code, out, err = run_cli(
        [
            "migrate",
            "import",
            "--to",
            "single-node",
            "--stack-outputs",
            str(dst_outputs),
            "--manifest",
            url,
            *common,
        ],
        capsys,
    )
    assert code == 0, err
    for service, database in target.databases.items():
        assert table_rows(pg, database) == table_rows(pg, source.databases[service])
        assert large_objects(pg, database) == large_objects(pg, source.databases[service])
    assert blob_tree(target.root / "blobstore") == before["blobs"]
    assert not target.containers()["worker"]["running"]  # still in maintenance mode
    # No load balancer: the page takes the frontend's name on its network, with the release's caddy image.
    page = target.containers()["sgarch-maintenance"]["run"]
    assert "--publish" not in page and page[page.index("--network") + 1] == "sourcegraph_sourcegraph"

    code, out, err = run_cli(
        [
            "migrate",
            "import",
            "--to",
            "single-node",
            "--stack-outputs",
            str(dst_outputs),
            "--manifest",
            url,
            "--finish",
            *common,
        ],
        capsys,
    )
    assert code == 0, err
    assert all(target.containers()[name]["running"] for name in WRITERS)
    assert "sgarch-maintenance" not in target.containers()

    code, out, err = run_cli(["migrate", "abort", "--stack-outputs", str(src_outputs), *common], capsys)
    assert code == 0, err
    assert all(source.containers()[name]["running"] for name in WRITERS)
    assert "sgarch-maintenance" not in source.containers()
    assert snapshot_of(pg, source) == before


def test_export_refuses_without_a_recent_snapshot(aws: dict[str, Any], tmp_path: Path) -> None:
    outputs = load_stack_outputs(outputs_file(tmp_path, "o", "i-0nosnap", "vol-0nosnapshot"))
    host = LocalHost(aws["ssm"], "i-0nosnap", poll_seconds=0, node=None)
    host.fail = ("maintenance on", "before")  # must never get that far
    store = ManifestStore(aws["s3"], BUCKET, "exports/i-0nosnap")
    with pytest.raises(ConfigError, match=r"sgarch upgrade snapshot"):
        # maintenance status is the only step allowed before the check; it runs on a node-less host.
        host.node = FakeNode(tmp_path / "n", {}, {"PATH": "/usr/bin:/bin", "PGUSER": "x"})
        export_single_node(outputs, host=host, ec2=aws["ec2"], store=store, region=REGION)
    assert [label for label, _ in host.sent] == ["maintenance status"]


def test_abort_starts_every_stopped_service_when_some_refuse_and_names_those(
    aws: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = FakeNode(tmp_path / "n", {}, {"PATH": "/usr/bin:/bin", "PGUSER": "x"})
    host = LocalHost(aws["ssm"], "i-0abort", poll_seconds=0, node=node)
    epoch = maintenance(host, "on")
    assert epoch and not any(node.containers()[name]["running"] for name in WRITERS)
    # The first service to start, and a later one, refuse: the old loop stopped at the first.
    refused = [WRITERS[0], WRITERS[-2]]
    for name in refused:
        (node.state_dir / name / "refuse-start").touch()
    monkeypatch.setattr("sgarch.cli.migrate_data._host", lambda *_: host)
    argv = ["migrate", "abort", "--stack-outputs", str(outputs_file(tmp_path, "o", "i-0abort", "vol-0"))]
    argv += ["--region", REGION, "--endpoint-url", aws["url"], "--poll-seconds", "0"]

    code, _, err = run_cli(argv, capsys)

    containers = node.containers()
    assert code == 1
    assert [name for name in WRITERS if not containers[name]["running"]] == refused
    assert "sgarch-maintenance" not in containers
    assert f"still stopped: {' '.join(refused)}" in err and f"docker start {' '.join(refused)}" in err
    # Still in maintenance mode, in a new window: writers ran, so an export's earlier dumps are stale.
    again = maintenance(host, "status")
    assert again is not None and again != epoch

    for name in refused:
        (node.state_dir / name / "refuse-start").unlink()
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert all(node.containers()[name]["running"] for name in WRITERS)
    assert maintenance(host, "status") is None


# A failure at each step of an export, in step order. "after": the host did the work but the CLI never
# learned it (a lost connection, a timeout), so the step's result was never recorded.
EXPORT_FAULTS = [
    ("maintenance on", "after"),
    ("dump codeintel-db", "after"),
    ("upload pgsql.dump", "after"),
    ("cleanup", "before"),
]


def test_a_fault_at_each_export_step_leaves_the_source_untouched_and_each_rerun_resumes(
    pg: PgServer, aws: dict[str, Any], tmp_path: Path
) -> None:
    """One export, failed at each fault point in turn, then run to the end.

    Each rerun starts from what the failed run left (in the manifest and on the host): it must skip what was
    recorded as done, redo the step that failed, and get at least as far as the next fault point. The last
    rerun completes. So every fault point is left by a rerun, as if each were tested on a fresh export,
    without paying for a fresh export per fault.
    """
    node = source_node(pg, tmp_path, "fx")
    before = snapshot_of(pg, node)
    outputs = load_stack_outputs(outputs_file(tmp_path, "faults", "i-0faultsource", aws["volume"]))
    store = ManifestStore(aws["s3"], BUCKET, "exports/faults")
    host = LocalHost(aws["ssm"], "i-0faultsource", poll_seconds=0, node=node)
    previous: tuple[str, str] | None = None
    for fault in [*EXPORT_FAULTS, None]:
        host.fail = fault
        done_before = store.load()
        sent_before = len(host.sent)
        if fault is None:
            manifest = export_single_node(outputs, host=host, ec2=aws["ec2"], store=store, region=REGION)
        else:
            with pytest.raises(BuildError, match="injected"):
                export_single_node(outputs, host=host, ec2=aws["ec2"], store=store, region=REGION)
        assert snapshot_of(pg, node) == before
        run = [label for label, _ in host.sent[sent_before:]]
        if fault is not None:
            assert run[-1] == fault[0]  # it got as far as this fault point
        # It skipped what the run before had recorded as done ...
        if done_before is not None:
            for step in done_before.steps:
                if step.startswith("dump:"):
                    assert f"dump {step[5:]}" not in run
        # ... and redid the step that failed (an upload whose parts all arrived is only completed).
        if (
            previous is not None
            and previous[0] != "maintenance on"
            and previous != ("upload pgsql.dump", "after")
        ):
            assert previous[0] in run
        previous = fault
    assert manifest.finished_at
    assert done_before is not None and done_before.maintenance_epoch == manifest.maintenance_epoch
    for entry in manifest.files.values():
        body = aws["s3"].get_object(Bucket=BUCKET, Key=entry.key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == entry.sha256


@pytest.fixture(scope="module")
def exported(pg: PgServer, aws: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("exported")
    node = source_node(pg, tmp, "imp_src")
    outputs = load_stack_outputs(outputs_file(tmp, "o", "i-0imp", aws["volume"]))
    store = ManifestStore(aws["s3"], BUCKET, "exports/i-0imp")
    host = LocalHost(aws["ssm"], "i-0imp", poll_seconds=0, node=node)
    manifest = export_single_node(outputs, host=host, ec2=aws["ec2"], store=store, region=REGION)
    return {"node": node, "manifest": manifest, "store": store}


IMPORT_FAULTS = [("restore codeintel-db", "after"), ("blobs", "before")]


def test_a_fault_at_each_import_step_then_a_rerun_ends_with_the_source_data(
    pg: PgServer, aws: dict[str, Any], exported: dict[str, Any], tmp_path: Path
) -> None:
    """One import, failed at each fault point in turn (as the export test does), then run to the end."""
    target = FakeNode(tmp_path / "target", make_empty_targets(pg, "fi_dst"), pg.env("postgres"))
    outputs = load_stack_outputs(outputs_file(tmp_path, "t", "i-0dstfaults", "vol-0t"))
    store: ManifestStore = exported["store"]
    host = LocalHost(aws["ssm"], "i-0dstfaults", poll_seconds=0, node=target)
    previous: tuple[str, str] | None = None
    for fault in [*IMPORT_FAULTS, None]:
        host.fail = fault
        manifest = load_export(store, exported["manifest"].url)
        sent_before = len(host.sent)
        if fault is None:
            import_single_node(outputs, manifest, host=host, store=store)
        else:
            with pytest.raises(BuildError, match="injected"):
                import_single_node(outputs, manifest, host=host, store=store)
        run = [label for label, _ in host.sent[sent_before:]]
        if fault is not None:
            assert run[-1] == fault[0]
        if previous is not None:
            assert previous[0] in run  # the failed step ran again ...
            assert "restore pgsql" not in run  # ... and the one recorded before it did not
        previous = fault
    source: FakeNode = exported["node"]
    for service, database in target.databases.items():
        assert table_rows(pg, database) == table_rows(pg, source.databases[service])
    assert blob_tree(target.root / "blobstore") == blob_tree(source.root / "blobstore")
    assert load_export(store, manifest.url).imports["i-0dstfaults"].finished_at


def test_import_refuses_the_source_itself_and_another_release(
    aws: dict[str, Any], exported: dict[str, Any], tmp_path: Path
) -> None:
    store, manifest = exported["store"], exported["manifest"]
    host = LocalHost(aws["ssm"], "i-0imp", poll_seconds=0, node=None)
    same = load_stack_outputs(outputs_file(tmp_path, "s", "i-0imp", "vol-0x"))
    with pytest.raises(ConfigError, match="another instance than the export's source"):
        import_single_node(same, manifest, host=host, store=store)
    path = outputs_file(tmp_path, "v", "i-0other", "vol-0y")
    path.write_text(path.read_text().replace(VERSION, "7.6.0"))
    with pytest.raises(ConfigError, match=r"sourcegraph_version must be 7\.5\.4453"):
        import_single_node(load_stack_outputs(path), manifest, host=host, store=store)
    assert host.sent == []


def test_existing_bucket_without_tls_policy_is_refused(aws: dict[str, Any]) -> None:
    s3 = aws["s3"]
    s3.create_bucket(Bucket="loose-bucket")
    s3.put_bucket_versioning(Bucket="loose-bucket", VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(ConfigError, match="--bucket must be a bucket that blocks all public access"):
        ensure_bucket(s3, "loose-bucket", REGION)
    # The bucket sgarch made passes its own check, and has what it promises.
    assert ensure_bucket(s3, BUCKET, REGION).created is False
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

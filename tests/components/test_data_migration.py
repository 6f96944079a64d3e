"""Migration on EKS under Pulumi mocks: stacks/eks with migrate_import or migrate_export, planned offline.

What is read back is what the program produced (the recorded resources and their inputs), checked against
the manifest the test hands to the S3 read, the package's script files and the release's own resources.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from sgarch.cli.app import main
from sgarch.errors import ConfigError
from sgarch.migrate.manifest import FileEntry, Manifest, Source
from sgarch.plan import Plan, run_plan
from sgarch.plan._runner import StackProgramError
from sgarch.sizing.helm_values import SCALABLE
from sgarch.testing import DEFAULT_INVOKES, InvokeFailedError, ResourceRecord, SgarchMocks
from sgarch.testing._s3_invokes import mock_manifest

ROOT = Path(__file__).parents[2]
STACK = ROOT / "stacks" / "eks"
GET_OBJECT = "aws:s3/getObject:getObject"
JOB = "kubernetes:batch/v1:Job"
RELEASE = "kubernetes:helm.sh/v3:Release"
KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
BUCKET, PREFIX = "sgarch-migrations", "exports/2026-11-23"
MANIFEST_URI = f"s3://{BUCKET}/{PREFIX}/manifest.json"
DATABASES = ("pgsql", "codeintel-db", "codeinsights-db")
IN_CLUSTER = {"postgres": "false", "redis": "false", "s3": "false"}
SCRIPT_DIRS = (ROOT / "sgarch" / "migrate" / "scripts", ROOT / "sgarch" / "migrate" / "k8s" / "scripts")


def manifest(
    version: str = "7.6.0", *, blobs: bool = True, databases: tuple[str, ...] = DATABASES
) -> Manifest:
    """A finished single-node export, as sgarch.migrate.manifest writes it."""
    out = Manifest(
        sourcegraph_version=version,
        source=Source(
            "single-node", "us-east-1", instance_id="i-0123456789abcdef0", data_volume_id="vol-0123"
        ),
        bucket=BUCKET,
        prefix=PREFIX,
        started_at="2026-11-23T10:00:00Z",
        finished_at="2026-11-23T10:40:00Z",
        kms_key_id=KEY,
    )
    for n, db in enumerate(databases):
        out.files[f"{db}.dump"] = FileEntry(
            "dump", f"{PREFIX}/{db}.dump", (n + 3) * 2**30, f"{n + 1:x}" * 64, db
        )
        out.files[f"{db}.counts"] = FileEntry("counts", f"{PREFIX}/{db}.counts", 4096, f"{n + 7:x}" * 64, db)
    if blobs:
        out.files["blobs.tar"] = FileEntry("blobs", f"{PREFIX}/blobs.tar", 2**30, "e" * 64, files=12)
    return out


def plan(config: Mapping[str, str], document: Manifest | None = None) -> tuple[Plan, SgarchMocks]:
    mocks = SgarchMocks()
    body = (document or manifest()).to_json()

    def get_object(args: Mapping[str, Any], region: str) -> Mapping[str, Any]:
        assert (args["bucket"], args["key"]) == (BUCKET, f"{PREFIX}/manifest.json")
        return {"id": args["key"], "bucket": args["bucket"], "key": args["key"], "body": body}

    mocks.register_invoke(GET_OBJECT, get_object)
    result = run_plan(
        STACK, stack="example", config={"tier": "M", "migrate_kms_key_arn": KEY, **config}, mocks=mocks
    )
    return result, mocks


def jobs(result: Plan) -> dict[str, ResourceRecord]:
    return {r.inputs["metadata"]["name"]: r for r in result.by_type(JOB) if "migrate" in r.name}


def containers(job: ResourceRecord) -> dict[str, dict[str, Any]]:
    pod = job.inputs["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*pod.get("initContainers", []), *pod["containers"]]}


def env_of(container: Mapping[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def release_values(result: Plan) -> dict[str, Any]:
    (release,) = [r for r in result.by_type(RELEASE) if r.inputs["chart"] == "sourcegraph"]
    values: dict[str, Any] = yaml.safe_load(release.inputs["valueYamlFiles"][0].text)
    return values


def assert_no_secret_on_command_lines(job: ResourceRecord, secrets: list[str]) -> None:
    for container in containers(job).values():
        argv = " ".join([*container["command"], *container.get("args", [])])
        assert "PGPASSWORD=" not in argv and "password" not in argv.lower()
        for secret in secrets:
            assert secret not in argv


def test_import_waits_for_the_release_in_maintenance_mode_and_checks_the_manifest() -> None:
    result, mocks = plan({"migrate_import": MANIFEST_URI})
    document = manifest()
    found = jobs(result)
    assert set(found) == {f"migrate-import-{db}" for db in DATABASES} | {"migrate-import-blobs"}
    assert result.exports["migration_jobs"] == [
        *(f"migrate-import-{db}" for db in DATABASES),
        "migrate-import-blobs",
    ]
    # Maintenance mode: no Sourcegraph service runs (the frontend would migrate the empty schema first).
    values = release_values(result)
    assert {key: values[key]["replicaCount"] for key in SCALABLE} == dict.fromkeys(SCALABLE, 0)
    (chart,) = [r for r in result.by_type(RELEASE) if r.inputs["chart"] == "sourcegraph"]
    for job in found.values():
        assert chart.urn in job.options.depends_on
        spec = job.inputs["spec"]
        assert 0 < spec["backoffLimit"] <= 3 and spec["activeDeadlineSeconds"] >= 3600
        assert "ttlSecondsAfterFinished" not in spec
        assert job.inputs["metadata"]["annotations"] == {"pulumi.com/replaceUnready": "true"}
        pod = spec["template"]["spec"]
        assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "sgarch-migrate"
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
        for container in containers(job).values():
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["resources"]["requests"] and container["resources"]["limits"]
    # The manifest was read once, from the bundle's prefix; each Job checks the sums it lists.
    assert [(i.args["bucket"], i.args["key"]) for i in mocks.invoked(GET_OBJECT)] == [
        (BUCKET, f"{PREFIX}/manifest.json")
    ]
    for db in DATABASES:
        job = found[f"migrate-import-{db}"]
        parts = containers(job)
        dump, counts = document.files[f"{db}.dump"], document.files[f"{db}.counts"]
        fetch = env_of(parts["fetch"])
        assert fetch["SGARCH_BUCKET"] == BUCKET
        assert fetch["SGARCH_FILES"].split() == [f"{dump.key}={dump.sha256}", f"{counts.key}={counts.sha256}"]
        restore = env_of(parts["restore"])
        assert parts["restore"]["image"].startswith("index.docker.io/library/postgres:16")
        assert restore["SGARCH_DUMP_SHA256"] == dump.sha256
        assert (restore["SGARCH_DUMP"], restore["SGARCH_COUNTS"]) == (f"{db}.dump", f"{db}.counts")
        # The scratch volume holds the dump, sized from the manifest.
        (scratch,) = [v for v in job.inputs["spec"]["template"]["spec"]["volumes"] if v["name"] == "scratch"]
        claim = scratch["ephemeral"]["volumeClaimTemplate"]["spec"]
        assert claim["storageClassName"] == "ebs-gp3"
        assert int(claim["resources"]["requests"]["storage"].removesuffix("Gi")) * 2**30 > dump.bytes
    blobs = env_of(containers(found["migrate-import-blobs"])["unpack"])
    assert blobs["SGARCH_BLOB_SHA256"] == document.files["blobs.tar"].sha256


def test_import_into_rds_with_iam_logs_in_as_sourcegraph_with_tokens() -> None:
    result, _ = plan({"migrate_import": MANIFEST_URI})  # the example: RDS with IAM auth, S3, ElastiCache
    assert len(result.by_type("aws:rds/instance:Instance")) == 3
    for db, job in ((db, jobs(result)[f"migrate-import-{db}"]) for db in DATABASES):
        parts = containers(job)
        restore = env_of(parts["restore"])
        instance = next(r for r in result.by_type("aws:rds/instance:Instance") if r.name.endswith(f"-{db}"))
        assert restore["PGHOST"] == instance.outputs["address"]
        assert (restore["PGUSER"], restore["PGDATABASE"], restore["PGSSLMODE"]) == (
            "sourcegraph",
            "sg",
            "require",
        )
        assert "PGPASSWORD" not in restore and restore["PGPASSFILE"].startswith("/scratch/")
        sidecar = parts["iam-token"]
        assert sidecar["restartPolicy"] == "Always" and "startupProbe" in sidecar
        assert env_of(sidecar)["SGARCH_IAM_HOSTS"] == instance.outputs["address"]
        assert env_of(sidecar)["PGPASSFILE"] == restore["PGPASSFILE"]
        assert_no_secret_on_command_lines(job, [])
    # The blobs go to the release's bucket.
    bucket = next(r for r in result.by_type("aws:s3/bucket:Bucket") if r.name.endswith("-objects"))
    store = env_of(containers(jobs(result)["migrate-import-blobs"])["store"])
    assert store["SGARCH_BLOB_BUCKET"] == bucket.outputs["bucket"]


def test_the_jobs_role_reads_only_the_bundle_and_its_key() -> None:
    result, _ = plan({"migrate_import": MANIFEST_URI})
    (role,) = [r for r in result.by_type("aws:iam/role:Role") if r.name.endswith("-migrate-role")]
    (policy,) = [
        r for r in result.by_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-migrate-policy")
    ]
    assert policy.inputs["role"] == role.outputs["name"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["ListBundle"]["Resource"] == [f"arn:aws:s3:::{BUCKET}"]
    assert statements["ListBundle"]["Condition"]["StringLike"]["s3:prefix"] == [PREFIX, f"{PREFIX}/*"]
    assert statements["ReadBundle"] == {
        "Sid": "ReadBundle",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{BUCKET}/{PREFIX}/*"],
    }
    assert statements["BundleKey"]["Action"] == ["kms:Decrypt"] and statements["BundleKey"]["Resource"] == [
        KEY
    ]
    bucket = next(r for r in result.by_type("aws:s3/bucket:Bucket") if r.name.endswith("-objects"))
    assert statements["WriteBlobs"]["Resource"] == [f"arn:aws:s3:::{bucket.outputs['bucket']}/*"]
    ids = sorted(r.outputs["resourceId"] for r in result.by_type("aws:rds/instance:Instance"))
    assert sorted(a.rsplit(":dbuser:", 1)[1] for a in statements["DatabaseLogin"]["Resource"]) == [
        f"{i}/sourcegraph" for i in ids
    ]
    for statement in statements.values():
        assert all("*" not in action for action in statement["Action"])
        assert all(r.endswith("/*") or "*" not in r for r in statement["Resource"])
    (association,) = [
        r
        for r in result.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if r.name.endswith("-migrate-pod-identity")
    ]
    assert association.inputs["roleArn"] == role.outputs["arn"]
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        "sourcegraph",
        "sgarch-migrate",
    )
    (account,) = [r for r in result.by_type("kubernetes:core/v1:ServiceAccount") if "migrate" in r.name]
    assert account.inputs["metadata"] == {
        "name": "sgarch-migrate",
        "namespace": "sourcegraph",
        "labels": {"app.kubernetes.io/name": "sgarch-migrate", "app.kubernetes.io/part-of": "sgarch"},
    }
    for job in jobs(result).values():
        assert association.urn in job.options.depends_on and account.urn in job.options.depends_on
    # The service account lives in the release's namespace: it waits for the release, which creates it.
    (chart,) = [r for r in result.by_type(RELEASE) if r.inputs["chart"] == "sourcegraph"]
    assert chart.urn in account.options.depends_on


def test_the_config_map_holds_the_package_scripts_byte_for_byte() -> None:
    result, _ = plan({"migrate_import": MANIFEST_URI})
    (config_map,) = [r for r in result.by_type("kubernetes:core/v1:ConfigMap") if "migrate" in r.name]
    expected = {
        p.name: p.read_text() for d in SCRIPT_DIRS for p in sorted(d.glob("*.sh")) if p.name != "host.sh"
    }
    assert config_map.inputs["data"] == expected
    name = config_map.inputs["metadata"]["name"]
    for job in jobs(result).values():
        pod = job.inputs["spec"]["template"]["spec"]
        (scripts,) = [v for v in pod["volumes"] if v["name"] == "scripts"]
        assert scripts["configMap"]["name"] == name
        for container in containers(job).values():
            # Each command runs a script the ConfigMap holds.
            named = [part.rsplit("/", 1)[-1] for part in container["command"] if part.endswith(".sh")]
            assert set(named) <= set(expected)


def test_import_into_the_charts_databases_uses_the_charts_secrets_and_blobstore() -> None:
    result, _ = plan({"migrate_import": MANIFEST_URI, **IN_CLUSTER})
    found = jobs(result)
    for db in DATABASES:
        restore = env_of(containers(found[f"migrate-import-{db}"])["restore"])
        assert restore["PGHOST"] == db and restore["PGSSLMODE"] == "disable"
        assert restore["PGPASSWORD"] == {"secretKeyRef": {"name": f"{db}-auth", "key": "password"}}
        assert "iam-token" not in containers(found[f"migrate-import-{db}"])
    assert env_of(containers(found["migrate-import-blobs"])["store"])["SGARCH_BLOB_BUCKET"] == ""
    statements = {
        s["Sid"] for s in json.loads(result.named("example-migrate-policy")[0].inputs["policy"])["Statement"]
    }
    assert statements == {"ListBundle", "ReadBundle", "BundleKey"}


def test_import_into_rds_with_a_password_reads_the_releases_credentials_secrets() -> None:
    result, _ = plan(
        {
            "migrate_import": MANIFEST_URI,
            **IN_CLUSTER,
            "postgres": "true",
            "postgres_auth": "secret",
            "postgres_password": "pw-0123456789",
        }
    )
    secrets = {r.inputs["metadata"]["name"] for r in result.by_type("kubernetes:core/v1:Secret")}
    for db in DATABASES:
        job = jobs(result)[f"migrate-import-{db}"]
        restore = env_of(containers(job)["restore"])
        ref = restore["PGPASSWORD"]["secretKeyRef"]
        assert ref["name"] in secrets and ref["key"] == "password"
        assert restore["PGUSER"] == "sg"
        assert_no_secret_on_command_lines(job, ["pw-0123456789"])
        assert "pw-0123456789" not in json.dumps(job.inputs)


def test_a_bundle_without_blobs_still_completes_the_blob_job() -> None:
    result, _ = plan({"migrate_import": MANIFEST_URI, **IN_CLUSTER}, manifest(blobs=False))
    blob_job = jobs(result)["migrate-import-blobs"]
    assert list(containers(blob_job)) == ["store"]
    assert "no blobs" in " ".join(containers(blob_job)["store"]["command"])


def test_export_dumps_every_database_and_uploads_the_manifest_last() -> None:
    result, mocks = plan(
        {"migrate_export": f"s3://{BUCKET}/{PREFIX}", **IN_CLUSTER, "sourcegraph_version": "7.5.4453"}
    )
    assert mocks.invoked(GET_OBJECT) == []  # an export reads nothing from the bucket
    (job,) = jobs(result).values()
    assert job.inputs["metadata"]["name"] == "migrate-export"
    pod = job.inputs["spec"]["template"]["spec"]
    order = [c["name"] for c in pod["initContainers"]] + [c["name"] for c in pod["containers"]]
    assert order == [*(f"dump-{db}" for db in DATABASES), "blobs-get", "blobs-pack", "manifest", "upload"]
    parts = containers(job)
    manifest_env = env_of(parts["manifest"])
    assert manifest_env["SGARCH_SOURCEGRAPH_VERSION"] == "7.5.4453"
    assert manifest_env["SGARCH_DATABASES"].split() == list(DATABASES)
    assert (manifest_env["SGARCH_BUCKET"], manifest_env["SGARCH_PREFIX"]) == (BUCKET, PREFIX)
    assert manifest_env["SGARCH_CLUSTER"] == result.exports["cluster_name"]
    assert env_of(parts["upload"])["SGARCH_KMS_KEY_ARN"] == KEY
    assert parts["upload"]["command"][-1].endswith("upload.sh")
    statements = {
        s["Sid"]: s
        for s in json.loads(result.named("example-migrate-policy")[0].inputs["policy"])["Statement"]
    }
    assert statements["WriteBundle"]["Resource"] == [f"arn:aws:s3:::{BUCKET}/{PREFIX}/*"]
    assert "s3:GetObject" not in statements["WriteBundle"]["Action"]
    assert statements["BundleKey"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    values = release_values(result)
    assert all(values[key]["replicaCount"] == 0 for key in SCALABLE)


def test_without_the_keys_nothing_changes() -> None:
    result = run_plan(STACK, stack="example", config={"tier": "M"})
    assert not [r for r in result.resources if "migrate" in r.name]
    assert "migration_jobs" not in result.exports
    assert release_values(result)["frontend"]["replicaCount"] > 0


@pytest.mark.parametrize(
    ("config", "field", "text"),
    [
        ({"migrate_import": "https://bucket/x/manifest.json"}, "migrate_import", "S3 URI"),
        ({"migrate_import": f"s3://{BUCKET}/manifest.json"}, "migrate_import", "under a prefix"),
        ({"migrate_import": f"s3://{BUCKET}/{PREFIX}/other.json"}, "migrate_import", "manifest.json"),
        ({"migrate_import": "s3://Bad_Bucket/p/manifest.json"}, "migrate_import", "bucket name"),
        ({"migrate_import": f"s3://{BUCKET}/a/$(id)/manifest.json"}, "migrate_import", "letters, digits"),
        ({"migrate_export": f"s3://{BUCKET}/{PREFIX}/manifest.json"}, "migrate_export", "prefix only"),
        (
            {"migrate_import": MANIFEST_URI, "migrate_export": f"s3://{BUCKET}/x"},
            "migrate_export",
            "separate runs",
        ),
        ({"migrate_import": MANIFEST_URI, "migrate_kms_key_arn": ""}, "migrate_kms_key_arn", "set with"),
        (
            {"migrate_import": MANIFEST_URI, "migrate_kms_key_arn": "alias/migrations"},
            "migrate_kms_key_arn",
            "alias",
        ),
    ],
)
def test_bad_migration_keys_name_the_key(config: dict[str, str], field: str, text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        plan(config)
    assert raised.value.field.endswith(field)
    assert text in str(raised.value)


@pytest.mark.parametrize(
    ("document", "text"),
    [
        (
            manifest("7.5.4453"),
            "sourcegraph_version must be the release the bundle was exported from (7.5.4453)",
        ),
        (manifest(databases=("pgsql", "codeintel-db")), "dump and row counts of codeinsights-db"),
    ],
)
def test_a_bundle_the_stack_cannot_take_stops_pulumi_up(document: Manifest, text: str) -> None:
    with pytest.raises((ConfigError, StackProgramError), match=text.replace("(", r"\(").replace(")", r"\)")):
        plan({"migrate_import": MANIFEST_URI}, document)


def test_sgarch_plan_imports_offline_with_the_mocks_own_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sgarch plan stacks/eks` with migrate_import needs no bucket: the default mocks answer the manifest
    read with a finished export at that prefix, made for the release the stack pins (not the default)."""
    stack = tmp_path / "eks"
    stack.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(STACK / name, stack / name)
    project = yaml.safe_load((STACK / "Pulumi.yaml").read_text())["name"]
    config = yaml.safe_load((STACK / "Pulumi.example.yaml").read_text())
    config["config"].update(
        {
            f"{project}:migrate_import": MANIFEST_URI,
            f"{project}:migrate_kms_key_arn": KEY,
            f"{project}:sourcegraph_version": "7.5.4453",
        }
    )
    (stack / "Pulumi.offline.yaml").write_text(yaml.safe_dump(config))

    with pytest.raises(SystemExit) as exit_info:
        main(["plan", str(stack), "--stack", "offline", "--json"])
    out, err = capsys.readouterr()
    assert exit_info.value.code in (0, None), err
    data = json.loads(out)
    assert data["exports"]["sourcegraph_version"] == "7.5.4453"
    found = {
        r["inputs"]["metadata"]["name"]: r
        for r in data["resources"]
        if r["type"] == JOB and "migrate" in r["name"]
    }
    assert set(found) == {f"migrate-import-{db}" for db in DATABASES} | {"migrate-import-blobs"}
    region = config["config"]["aws:region"]
    document = mock_manifest(BUCKET, PREFIX, region, "7.5.4453")
    for db in DATABASES:
        pod = found[f"migrate-import-{db}"]["inputs"]["spec"]["template"]["spec"]
        restore = next(c for c in pod["containers"] if c["name"] == "restore")
        assert env_of(restore)["SGARCH_DUMP_SHA256"] == document.files[f"{db}.dump"].sha256


def test_the_mocks_hold_no_other_object() -> None:
    with pytest.raises(InvokeFailedError, match=r"s3://b/notes\.txt.*register a handler"):
        DEFAULT_INVOKES[GET_OBJECT]({"bucket": "b", "key": "notes.txt"}, "us-east-1")

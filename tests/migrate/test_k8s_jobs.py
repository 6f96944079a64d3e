"""The EKS migration Jobs' containers, run here in the order Kubernetes runs them, against a real PostgreSQL.

Each container's command and environment come from the Job specs ``sgarch.migrate.k8s.jobs`` builds (the
mount paths swapped for temporary directories), and its scripts from the ConfigMap's data. The AWS CLI is a
stand-in on PATH that keeps "S3" in a directory: an export from one set of databases and blobstore must
import into empty ones with equal rows, sequences and blobs, and write a manifest ``parse_manifest`` reads.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from migrate_pg import SUPERUSER, PgServer, make_databases, make_empty_targets

from sgarch.errors import ConfigError
from sgarch.migrate.k8s import eks_export_steps, eks_import_steps
from sgarch.migrate.k8s import jobs as specs
from sgarch.migrate.k8s.bundle import read_bundle
from sgarch.migrate.k8s.locations import parse_export_uri, parse_import_uri
from sgarch.migrate.manifest import parse_manifest

SCRIPTS = Path(__file__).parents[2] / "sgarch" / "migrate" / "k8s" / "scripts"
KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
BUCKET, PREFIX = "sgarch-migrations", "exports/round-trip"
VERSION = "7.6.0"

# Maps s3://bucket/key to $FAKE_S3/bucket/key, or to $FAKE_BLOBSTORE with --endpoint-url (the chart's
# blobstore); logs every call. Only what the scripts use: s3 cp, s3 sync [--delete], s3 mb, s3api
# head-bucket and list-buckets.
FAKE_AWS = r"""#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "$*" >>"$FAKE_AWS_LOG"
root="$FAKE_S3"
delete=0
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --endpoint-url) root="$FAKE_BLOBSTORE"; shift 2 ;;
    --delete) delete=1; shift ;;
    --only-show-errors) shift ;;
    --bucket) args+=("$2"); shift 2 ;;
    --sse | --sse-kms-key-id | --content-type | --query | --output) shift 2 ;;
    *) args+=("$1"); shift ;;
    esac
done
local_path() { if [[ "$1" == s3://* ]]; then printf '%s/%s' "$root" "${1#s3://}"; else printf '%s' "$1"; fi; }
case "${args[0]} ${args[1]}" in
"s3 cp")
    dst="$(local_path "${args[3]}")"
    mkdir -p "$(dirname "$dst")"
    cp "$(local_path "${args[2]}")" "$dst"
    ;;
"s3 sync")
    src="$(local_path "${args[2]}")" dst="$(local_path "${args[3]}")"
    [[ $delete -eq 1 ]] && rm -rf "$dst"
    mkdir -p "$dst"
    cp -a "$src/." "$dst/"
    ;;
"s3 mb") mkdir -p "$(local_path "${args[2]}")" ;;
"s3api head-bucket") [[ -d "$root/${args[2]}" ]] ;;
"s3api list-buckets") names="$(ls "$root")"; printf '%s\n' "${names:-None}" ;;
*) echo "fake aws: unsupported: ${args[*]}" >&2; exit 2 ;;
esac
"""


class Cluster:
    """Temporary directories standing in for the volumes, S3 and blobstore, and a runner for containers."""

    def __init__(self, root: Path, pg: PgServer) -> None:
        self.root, self.pg = root, pg
        self.s3, self.log = root / "s3", root / "aws.log"
        self.scripts = root / "scripts"
        self.scripts.mkdir()
        for name, text in specs.script_files().items():  # the ConfigMap's data
            (self.scripts / name).write_text(text)
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "aws").write_text(FAKE_AWS)
        (bin_dir / "aws").chmod(0o755)
        self.path = f"{bin_dir}:{pg.bin_dir}:/usr/bin:/bin"

    def _swap(self, text: str, scratch: Path) -> str:
        return text.replace(specs.SCRIPTS_MOUNT, str(self.scripts)).replace(specs.SCRATCH_MOUNT, str(scratch))

    def run_job(self, spec: Mapping[str, Any], scratch: Path, blobstore: Path, *, fail: bool = False) -> str:
        """Run the Job's init containers, then its containers, in order; return their stderr."""
        pod = spec["template"]["spec"]
        scratch.mkdir(exist_ok=True)
        logs = []
        for container in [*pod.get("init_containers", []), *pod["containers"]]:
            env = {
                "PATH": self.path,
                "FAKE_S3": str(self.s3),
                "FAKE_BLOBSTORE": str(blobstore),
                "FAKE_AWS_LOG": str(self.log),
                "LC_ALL": "C",
                # The Secret's password: the test server's password file.
                "PGPASSFILE": str(self.pg.passfile),
            }
            for item in container["env"]:
                assert "value_from" in item or isinstance(item["value"], str), item
                if "value" in item:
                    env[item["name"]] = self._swap(item["value"], scratch)
            env["HOME"] = str(scratch)
            result = subprocess.run(
                [self._swap(part, scratch) for part in container["command"] + container.get("args", [])],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            logs.append(result.stderr)
            if result.returncode != 0:
                if fail:
                    return "".join(logs)
                pytest.fail(f"{container['name']} failed: {result.stderr}")
        assert not fail, "the Job was expected to fail"
        return "".join(logs)


def connection(pg: PgServer, name: str, database: str) -> specs.DatabaseConnection:
    return specs.DatabaseConnection(
        name=name, host="127.0.0.1", port=pg.port, user=SUPERUSER, database=database, sslmode="disable"
    )


def verify(cluster: Cluster, database: str) -> str:
    """The database's rows, sequences and large objects with a checksum of every row (pgdata.sh verify)."""
    out = cluster.root / f"{database}.verify"
    env = cluster.pg.env(database) | {"SGARCH_PG_MODE": "direct", "SGARCH_VERIFY_CHECKSUMS": "true"}
    subprocess.run(
        ["bash", str(cluster.scripts / "pgdata.sh"), "verify", str(out)],
        env=env,
        check=True,
        capture_output=True,
    )
    return out.read_text()


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def cluster(tmp_path: Path, pg: PgServer) -> Cluster:
    return Cluster(tmp_path, pg)


def export_spec(cluster: Cluster, sources: Mapping[str, str]) -> dict[str, Any]:
    location = parse_export_uri(f"s3://{BUCKET}/{PREFIX}")
    return specs.export_job_spec(
        [connection(cluster.pg, name, db) for name, db in sources.items()],
        bucket=location.bucket,
        prefix=location.prefix,
        kms_key_arn=KEY,
        blobs=specs.BlobStorage(),
        sourcegraph_version=VERSION,
        cluster="sourcegraph-test",
        namespace="sourcegraph",
        postgres_image="postgres",
        aws_image="aws",
        region="us-east-1",
        storage_class="ebs-gp3",
        scratch=20,
    )


def test_export_then_import_through_the_job_containers(cluster: Cluster, pg: PgServer) -> None:
    sources = make_databases(pg, "k8s_src")
    targets = make_empty_targets(pg, "k8s_dst")
    source_blobs = cluster.root / "blobstore-source"
    (source_blobs / "lsif-uploads").mkdir(parents=True)
    for n in range(5):
        (source_blobs / "lsif-uploads" / f"upload-{n}.lsif.gz").write_bytes(os.urandom(1000 + n))
    (source_blobs / "search-jobs" / "1").mkdir(parents=True)
    (source_blobs / "search-jobs" / "1" / "results.jsonl").write_text('{"repo": "a"}\n')

    cluster.run_job(export_spec(cluster, sources), cluster.root / "export-scratch", source_blobs)

    # The manifest is sgarch's format, describes every uploaded file exactly, and was uploaded last,
    # encrypted with the migration key, as JSON.
    text = (cluster.s3 / BUCKET / PREFIX / "manifest.json").read_text()
    manifest = parse_manifest(text)
    assert (manifest.bucket, manifest.prefix, manifest.sourcegraph_version) == (BUCKET, PREFIX, VERSION)
    assert (manifest.source.architecture, manifest.source.cluster) == ("eks", "sourcegraph-test")
    assert manifest.finished_at and manifest.kms_key_id == KEY
    for entry in manifest.files.values():
        data = (cluster.s3 / BUCKET / entry.key).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry.bytes, entry.sha256)
    assert sorted(manifest.files) == sorted(
        [*(f"{db}.dump" for db in sources), *(f"{db}.counts" for db in sources), "blobs.tar"]
    )
    assert manifest.files["blobs.tar"].files == 6
    uploads = [
        line
        for line in cluster.log.read_text().splitlines()
        if line.startswith("s3 cp") and "s3://" in line.split()[-1]
    ]
    assert all(f"--sse aws:kms --sse-kms-key-id {KEY}" in line for line in uploads)
    assert (
        uploads[-1].endswith(f"s3://{BUCKET}/{PREFIX}/manifest.json")
        and "--content-type application/json" in uploads[-1]
    )

    # Import into fresh databases (already migrated by a fresh install) and an empty blobstore.
    location = parse_import_uri(f"s3://{BUCKET}/{PREFIX}/manifest.json")
    bundle = read_bundle(text, location, databases=list(sources), sourcegraph_version=VERSION)
    target_blobs = cluster.root / "blobstore-target"
    target_blobs.mkdir()
    for name, db in targets.items():
        files = bundle.databases[name]
        spec = specs.import_database_job_spec(
            connection(pg, name, db),
            bucket=BUCKET,
            dump=files.dump,
            counts=files.counts,
            postgres_image="postgres",
            aws_image="aws",
            region="us-east-1",
            storage_class="ebs-gp3",
        )
        logs = cluster.run_job(spec, cluster.root / f"import-{name}", target_blobs)
        assert "SHA-256 matches the manifest" in logs and "equal the source's" in logs
        assert verify(cluster, db) == verify(cluster, sources[name])
    # Sequences continue where the source stopped.
    top = int(pg.psql(targets["pgsql"], "SELECT max(id) FROM users;"))
    assert int(pg.psql(targets["pgsql"], "SELECT nextval('users_id_seq');")) > top
    blob_spec = specs.import_blobs_job_spec(
        bundle.blobs,
        bucket=BUCKET,
        target=specs.BlobStorage(),
        postgres_image="postgres",
        aws_image="aws",
        storage_class="ebs-gp3",
    )
    cluster.run_job(blob_spec, cluster.root / "import-blobs", target_blobs)
    assert tree(target_blobs) == tree(source_blobs)

    # A rerun (a retried pod on a fresh volume, or the same one) ends with the same data.
    files = bundle.databases["codeintel-db"]
    rerun = specs.import_database_job_spec(
        connection(pg, "codeintel-db", targets["codeintel-db"]),
        bucket=BUCKET,
        dump=files.dump,
        counts=files.counts,
        postgres_image="postgres",
        aws_image="aws",
        region="us-east-1",
        storage_class="ebs-gp3",
    )
    logs = cluster.run_job(rerun, cluster.root / "import-codeintel-db", target_blobs)
    assert "already here with the manifest's SHA-256" in logs
    assert verify(cluster, targets["codeintel-db"]) == verify(cluster, sources["codeintel-db"])

    # A dump that does not match its sum stops the Job before the database is touched.
    (cluster.s3 / BUCKET / files.dump.key).write_bytes(b"not the dump")
    before = verify(cluster, targets["codeintel-db"])
    logs = cluster.run_job(rerun, cluster.root / "import-again", target_blobs, fail=True)
    assert "does not have the SHA-256 the manifest gives" in logs
    assert verify(cluster, targets["codeintel-db"]) == before


def test_import_and_export_steps_name_the_exact_commands() -> None:
    steps = eks_import_steps(f"s3://{BUCKET}/{PREFIX}/manifest.json", KEY, stack_dir="stacks/eks")
    commands = [c for step in steps for c in step.commands]
    assert commands[:3] == [
        f"pulumi -C stacks/eks config set migrate_import s3://{BUCKET}/{PREFIX}/manifest.json",
        f"pulumi -C stacks/eks config set migrate_kms_key_arn {KEY}",
        "pulumi -C stacks/eks up",
    ]
    assert "kubectl -n sourcegraph logs -f job/migrate-import-pgsql --all-containers" in commands
    assert commands[-2:] == ["pulumi -C stacks/eks config rm migrate_import", "pulumi -C stacks/eks up"]
    export = [c for step in eks_export_steps(f"s3://{BUCKET}/{PREFIX}", KEY) for c in step.commands]
    assert export[0] == f"pulumi -C stacks/eks config set migrate_export s3://{BUCKET}/{PREFIX}"
    assert "kubectl -n sourcegraph logs -f job/migrate-export --all-containers" in export
    with pytest.raises(ConfigError, match=r"^--manifest must be"):
        eks_import_steps(f"s3://{BUCKET}/{PREFIX}/dump.sql", KEY)
    with pytest.raises(ConfigError, match=r"^--kms-key-id must be"):
        eks_import_steps(f"s3://{BUCKET}/{PREFIX}/manifest.json", "alias/x")


@pytest.mark.parametrize("path", sorted(SCRIPTS.glob("*.sh")), ids=lambda p: p.name)
def test_job_scripts_are_strict_executable_and_shellcheck_clean(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "\nset -euo pipefail\n" in text
    assert path.stat().st_mode & 0o111
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck); .ci/run installs it")
    result = subprocess.run(
        ["shellcheck", "--severity=style", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout

"""The manifest (pure): it round-trips, and every bad field stops a command with a ConfigError naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sgarch.errors import ConfigError
from sgarch.migrate.manifest import FileEntry, ImportState, Manifest, Source, parse_manifest, parse_s3_url
from sgarch.migrate.s3 import MIB, part_size
from sgarch.migrate.ssm import parse_results, wrap
from sgarch.migrate.steps import pg_command, step_script

SHA = "a" * 64


def manifest() -> Manifest:
    m = Manifest(
        sourcegraph_version="7.5.4453",
        source=Source("single-node", "us-east-1", "i-0abc", "vol-0abc", "snap-0abc"),
        bucket="sg-migration",
        prefix="exports/i-0abc",
        started_at="2026-12-05T09:00:00Z",
        maintenance_epoch="20261205T090000Z-1-2",
    )
    for db in ("pgsql", "codeintel-db", "codeinsights-db"):
        m.files[f"{db}.dump"] = FileEntry("dump", f"exports/i-0abc/{db}.dump", 10, SHA, db)
        m.files[f"{db}.counts"] = FileEntry("counts", f"exports/i-0abc/{db}.counts", 5, SHA, db)
    m.files["blobs.tar"] = FileEntry("blobs", "exports/i-0abc/blobs.tar", 10240, SHA, files=3)
    m.mark("dump:pgsql")
    m.imports["i-0def"] = ImportState(started_at="2026-12-05T10:00:00Z", steps={"get:pgsql.dump": "x"})
    return m


def test_round_trip() -> None:
    original = manifest()
    loaded = parse_manifest(original.to_json())
    assert loaded.to_dict() == original.to_dict()
    assert loaded.url == "s3://sg-migration/exports/i-0abc/manifest.json"
    assert loaded.missing_files() == []


def edited(path: str, value: Any) -> str:
    data = manifest().to_dict()
    # "files.pgsql.dump.sha256": the file's name holds a dot, so a files path has exactly four parts.
    parts = path.split(".")
    if parts[0] == "files":
        parts = ["files", ".".join(parts[1:-1]), parts[-1]]
    *parents, last = parts
    node = data
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return json.dumps(data)


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("format", "other/2", "manifest format must be 'sgarch-migrate-manifest/1' (got 'other/2')"),
        ("sourcegraph_version", "latest", "manifest sourcegraph_version must be a version like 7.5.4453"),
        ("source.architecture", "nomad", "manifest source.architecture must be single-node or eks"),
        ("source.instance_id", _DELETE, "manifest source.instance_id must be set"),
        (
            "files.pgsql.dump.sha256",
            "XYZ",
            "manifest files.pgsql.dump.sha256 must be 64 lowercase hex digits",
        ),
        ("files.pgsql.dump.bytes", "12", "manifest files.pgsql.dump.bytes must be a whole number"),
        ("files.blobs.tar.kind", "zip", "manifest files.blobs.tar.kind must be one of dump, counts, blobs"),
        ("files.pgsql.counts.database", "mysql", "manifest files.pgsql.counts.database must be one of"),
        ("steps", ["dump:pgsql"], "manifest steps must be an object of step names and times"),
        ("row_checksums", "yes", "manifest row_checksums must be true or false"),
    ],
)
def test_bad_fields_are_named(path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_manifest(edited(path, value))
    assert str(info.value).startswith(message)


def test_not_json_names_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--manifest must be JSON \(line 1"):
        parse_manifest("{oops", "s3://b/p/manifest.json")


@pytest.mark.parametrize("url", ["", "https://b/x", "s3://B/x", "s3://bucket"])
def test_s3_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="--manifest must be an S3 URL"):
        parse_s3_url(url)
    assert parse_s3_url("s3://sg-migration/exports/i-1/manifest.json") == (
        "sg-migration",
        "exports/i-1/manifest.json",
    )


@pytest.mark.parametrize(
    ("size", "part"),
    [
        (0, 64 * MIB),
        (5 * 1024 * MIB, 64 * MIB),
        (100 * 1024 * MIB, 205 * MIB),
        (10 * 1024**4, 5 * 1024 * MIB),
    ],
)
def test_part_sizes_fit_s3_limits(size: int, part: int) -> None:
    assert part_size(size) == part
    assert part % MIB == 0
    assert -(-size // part) <= 10_000  # S3's part limit


def test_step_bodies_carry_the_packaged_scripts_and_no_secret() -> None:
    script = step_script(
        "exports/i-0abc", [pg_command("codeinsights-db", "dump", "codeinsights-db.dump", checksums=False)]
    )
    assert "PGUSER=postgres PGDATABASE=postgres" in script
    command_part = script.split('cd "$work"\n', 1)[1]
    assert "PASSWORD" not in command_part  # the scripts above only name the container's own variable
    commands = wrap(script)
    assert commands[-1] == "exit $rc" and len("\n".join(commands)) < 60_000
    assert parse_results("noise\nsgarch-result dump 10 abc\nsgarch-result dump 11 def\n") == {
        "dump": ["11", "def"]
    }


def test_cli_bad_target_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from sgarch.cli.app import main

    with pytest.raises(SystemExit) as info:
        main(
            [
                "migrate",
                "import",
                "--to",
                "nomad",
                "--stack-outputs",
                "x.json",
                "--manifest",
                "s3://bucket/p/manifest.json",
            ]
        )
    assert info.value.code == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: --to must be single-node or eks (got 'nomad'): pick one of them."
    )

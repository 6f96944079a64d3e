"""Image specs: the shipped ones load, bad ones fail with one readable line, the hash tracks content."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgarch.ami.spec import AmiSpec, load_spec, resolve_script
from sgarch.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
INSTALL_SH = REPO / "sgarch" / "host" / "scripts" / "install.sh"


def test_single_node_runs_the_single_node_install_script_first() -> None:
    loaded = load_spec(REPO / "amis" / "single-node")
    first = loaded.provisioners[0]
    assert first.ref == "package:sgarch.host/scripts/install.sh"
    assert first.path.resolve() == INSTALL_SH
    assert first.content == INSTALL_SH.read_bytes()  # the very script cloud-init runs on a stock AMI
    assert first.args == ("--pull-images",)
    assert [s.ref for s in loaded.hardening] == ["package:sgarch.ami/scripts/harden.sh"]
    spec = loaded.spec
    assert (spec.build_region, spec.encryption.mode, spec.source_ami.architecture) == (
        "us-east-1",
        "none",
        "x86_64",
    )
    assert spec.marketplace is not None and spec.marketplace.operating_system_version == "2023"


def test_executor_spec_loads_with_the_default_hardening() -> None:
    loaded = load_spec(REPO / "amis" / "executor" / "ami.yaml")
    assert [s.ref for s in loaded.provisioners] == ["install-executor.sh"]
    assert loaded.hardening[0].path == REPO / "sgarch" / "ami" / "scripts" / "harden.sh"
    assert loaded.spec.marketplace is None


def _spec_error(tmp_path: Path, yaml_text: str) -> str:
    (tmp_path / "ami.yaml").write_text("name: x1\nsourcegraph_version: 7.5.4453\n" + yaml_text)
    with pytest.raises(ConfigError) as raised:
        load_spec(tmp_path)
    return str(raised.value)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "copy_regions: [us-east-1]\n",
            "copy_regions must be regions other than the build region (got ['us-east-1'])",
        ),
        ("copy_regions: [mars-1]\n", "copy_regions must be region names like eu-west-1, not 'mars-1'"),
        ("copy_regions: [eu-west-1, eu-west-1]\n", "copy_regions must be regions without duplicates"),
        (
            "sharing: {account_ids: ['123']}\n",
            "sharing.account_ids must be a 12-digit AWS account id, not '123'",
        ),
        ("colour: blue\n", "colour must be a known setting (got 'blue'): remove it or check its spelling."),
        (
            "tags: {'sgarch:image': x}\n",
            "tags must be tag keys outside the reserved sgarch: and aws: prefixes",
        ),
        (
            "encryption: {mode: kms, kms_key_ids: {us-east-1: k1}}\ncopy_regions: [eu-west-1]\n",
            "encryption.kms_key_ids must be a key for every region the image goes to (got ['us-east-1']): "
            "add keys for eu-west-1.",
        ),
        (
            "encryption: {mode: kms, kms_key_ids: {us-east-1: alias/aws/ebs}}\n"
            "sharing: {account_ids: ['111122223333']}\n",
            "encryption.kms_key_ids must be customer-managed keys when the image is shared (got 'alias/aws/ebs'): "
            "snapshots encrypted with the AWS-managed key aws/ebs cannot be shared",
        ),
        (
            "encryption: {mode: kms, kms_key_ids: {us-east-1: k1}}\nmarketplace: {}\n",
            "encryption.mode must be none for a Marketplace image (got 'kms')",
        ),
        (
            "provisioners: [../escape.sh]\n",
            "provisioners[0] must be a path inside the spec folder (got '../escape.sh')",
        ),
        ("provisioners: [missing.sh]\n", "provisioners[0] must be an existing script (got 'missing.sh')"),
        # Volume settings per type (EC2 API reference, EbsBlockDevice Iops/Throughput).
        (
            "root_volume: {volume_size_gib: 50, volume_type: io2}\n",
            "root_volume.iops must be set for an io2 volume (got None): add iops: between 100 and 256000.",
        ),
        (
            "root_volume: {volume_size_gib: 50, volume_type: gp2, iops: 3000}\n",
            "root_volume.iops must be unset for a gp2 volume (got 3000): gp2 IOPS follow the volume size",
        ),
        (
            "extra_volumes: [{device_name: /dev/sdb, volume_size_gib: 50, volume_type: io2, iops: 100, "
            "throughput_mibps: 500}]\n",
            "extra_volumes[0].throughput_mibps must be unset for a io2 volume (got 500): throughput can be set on "
            "gp3 only",
        ),
        (
            "root_volume: {volume_size_gib: 50, iops: 80001}\n",
            "root_volume.iops must be between 3,000 and 80,000 for gp3 (got 80,001)",
        ),
        (
            "root_volume: {volume_size_gib: 50, volume_type: io2, iops: 256001}\n",
            "root_volume.iops must be between 100 and 256,000 for io2 (got 256,001)",
        ),
        (
            "root_volume: {volume_size_gib: 50, throughput_mibps: 124}\n",
            "root_volume.throughput_mibps must be between 125 and 2,000 MiB/s for gp3 (got 124)",
        ),
        # What Marketplace's AddDeliveryOptions needs, found at load time rather than hours into a scan.
        (
            "marketplace: {security_groups: [{from_port: 443, to_port: 443}]}\n",
            "marketplace.usage_instructions must be set (got '')",
        ),
        (
            "marketplace: {usage_instructions: Open https, security_groups: []}\n",
            "marketplace.security_groups must be at least one inbound rule (got [])",
        ),
        (
            "marketplace: {usage_instructions: x, security_groups: [{from_port: 443, to_port: 80}]}\n",
            "marketplace.security_groups[0].to_port must be at least from_port (443) (got 80)",
        ),
        (
            "marketplace: {usage_instructions: x, security_groups: [{from_port: 443, to_port: 443, "
            "ip_ranges: [everywhere]}]}\n",
            "marketplace.security_groups[0].ip_ranges must be CIDR blocks like 0.0.0.0/0 (got 'everywhere')",
        ),
        (
            "hardening: ['package:sgarch.nonexistent/x.sh']\n",
            "hardening[0] must be a script in an installed package (got 'package:sgarch.nonexistent/x.sh')",
        ),
        (
            "hardening: ['package:sgarch.errors/x.sh']\n",
            "hardening[0] must be a script in an installed package (got 'package:sgarch.errors/x.sh'): "
            "sgarch.errors is a module; name its package.",
        ),
        (
            "hardening: ['package:sgarch.host/scripts/missing.sh']\n",
            "hardening[0] must be an existing script (got 'package:sgarch.host/scripts/missing.sh')",
        ),
    ],
)
def test_bad_specs_fail_with_one_line(tmp_path: Path, yaml_text: str, message: str) -> None:
    assert _spec_error(tmp_path, yaml_text).startswith(message)


@pytest.mark.parametrize(
    "volume",
    [
        "{volume_size_gib: 50, volume_type: gp3, iops: 80000, throughput_mibps: 2000}",
        "{volume_size_gib: 50, volume_type: io2, iops: 100}",
        "{volume_size_gib: 50, volume_type: gp2}",
    ],
)
def test_volume_settings_at_the_limits_load(tmp_path: Path, volume: str) -> None:
    (tmp_path / "ami.yaml").write_text(f"name: x1\nsourcegraph_version: 7.5.4453\nroot_volume: {volume}\n")
    assert load_spec(tmp_path).spec.root_volume.volume_size_gib == 50


def test_missing_spec_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^SPEC must be a spec folder or YAML file"):
        load_spec(tmp_path / "nope")
    (tmp_path / "ami.yaml").write_text("- a list\n")
    with pytest.raises(ConfigError, match=r"^SPEC must be a YAML mapping"):
        load_spec(tmp_path)


def test_package_references_resolve_without_importing_pulumi() -> None:
    script = resolve_script("package:sgarch.ami/scripts/harden.sh", Path("."), "hardening[0]")
    assert script.content.startswith(b"#!/usr/bin/env bash\n")
    # In a fresh interpreter: loading the single-node spec reads the host's scripts, never Pulumi.
    code = (
        "import sys; from sgarch.ami.spec import load_spec; "
        f"load_spec({str(REPO / 'amis' / 'single-node')!r}); "
        "print(sorted(m for m in sys.modules if m.startswith(('sgarch.single_node', 'pulumi'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_hash_tracks_version_regions_and_script_content(spec_dir: Path) -> None:
    loaded = load_spec(spec_dir)
    assert load_spec(spec_dir).spec_hash == loaded.spec_hash
    assert loaded.with_overrides(version="v7.6.0").spec.sourcegraph_version == "7.6.0"
    assert loaded.with_overrides(version="7.6.0").spec_hash != loaded.spec_hash
    assert loaded.with_overrides(copy_regions=("eu-west-1",)).spec_hash != loaded.spec_hash
    (spec_dir / "install.sh").write_text("#!/usr/bin/env bash\necho changed\n")
    assert load_spec(spec_dir).spec_hash != loaded.spec_hash


REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(REGIONS), unique=True))
def test_regions_override_keeps_order_and_drops_the_build_region(regions: list[str]) -> None:
    from sgarch.ami.spec import LoadedSpec

    base = LoadedSpec(AmiSpec(name="x1", sourcegraph_version="7.5.4453"), Path("."), (), ())
    spec = base.with_overrides(copy_regions=tuple(regions)).spec
    assert spec.copy_regions == tuple(r for r in regions if r != "us-east-1")
    assert spec.regions[0] == "us-east-1" and len(set(spec.regions)) == len(spec.regions)

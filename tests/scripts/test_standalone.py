"""The sgarch AMI booted without sgarch's user-data (Marketplace, console): boot.sh and the image's finalize.sh.

Standalone, boot.sh takes the release from the baked image.env, finds the data volume by its label or as
the only unused EBS volume, and picks the largest tier whose machine the instance matches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from host_sandbox import VERSION, Sandbox

from sgarch.host import render_upgrade_paths, script_text, standalone_tier_files

REPO = Path(__file__).resolve().parents[2]
GIB_KB = 1024 * 1024


def standalone_host(
    box: Sandbox, *, vcpu: int = 8, memory_gib: float = 32, upgrade_table: bool = True
) -> None:
    """What the image holds (image.env, tiers, the upgrade table unless the image was built with another
    --version) and an instance of ``vcpu``/``memory_gib`` (nominal)."""
    config = box.root / "etc" / "sgarch"
    (config / "tiers").mkdir(parents=True, exist_ok=True)
    (config / "image.env").write_text(f"SGARCH_SOURCEGRAPH_VERSION={VERSION}\nSGARCH_IMAGE=sgarch\n")
    if upgrade_table:
        (config / "upgrade-paths").write_text(render_upgrade_paths(VERSION))
    for name, text in standalone_tier_files().items():
        (config / "tiers" / name).write_text(text)
    # Only the image carries standalone.sh (the user-data never does); boot.sh sources it.
    (box.tmp / "standalone.sh").write_text(script_text("standalone.sh"))
    box.env["SGARCH_STANDALONE_SH"] = str(box.tmp / "standalone.sh")
    box.set_state("nproc", str(vcpu))
    # The kernel reports a little less than the instance's nominal memory.
    meminfo = box.tmp / "meminfo"
    meminfo.write_text(f"MemTotal:       {int(memory_gib * 0.97 * GIB_KB)} kB\nMemFree:  1000 kB\n")
    box.env["SGARCH_MEMINFO"] = str(meminfo)
    box.add_release()


def tier_override(box: Sandbox) -> str:
    return (box.data / "sourcegraph" / "sgarch-tier.override.yaml").read_text()


def test_fresh_instance_formats_the_only_unused_volume_and_starts_its_tier(sandbox: Sandbox) -> None:
    standalone_host(sandbox, vcpu=16, memory_gib=64)
    sandbox.attach_volume()
    result = sandbox.run("boot.sh")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no sgarch user-data: standalone boot" in result.stdout
    assert "standalone: tier S for 16 vCPU" in result.stdout
    # The root disk (partitions, mounts) is never a candidate.
    assert sandbox.calls("mkfs.xfs") == [["mkfs.xfs", "-q", "-L", "sgdata", sandbox.device]]
    assert tier_override(sandbox) == standalone_tier_files()["S.yaml"]
    assert (sandbox.data / ".sourcegraph-version").read_text().strip() == VERSION
    assert any("up" in call for call in sandbox.calls("docker"))


def test_reboot_finds_the_volume_by_its_label_and_keeps_the_data(sandbox: Sandbox) -> None:
    standalone_host(sandbox)
    sandbox.attach_volume()
    assert sandbox.run("boot.sh").returncode == 0
    sandbox.reboot()

    result = sandbox.run("boot.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.calls("blkid")[0] == ["blkid", "-L", "sgdata"]
    assert sandbox.calls("mkfs.xfs") == []


def device_searches(box: Sandbox) -> int:
    """How often boot.sh looked for the data volume (each look lists the disks with their serials)."""
    return len([call for call in box.calls("lsblk") if "NAME,SERIAL" in call])


def test_two_unused_volumes_are_refused_at_once_untouched(sandbox: Sandbox) -> None:
    standalone_host(sandbox)
    sandbox.attach_volume()
    sandbox.set_state("extra_disks", f"{sandbox.root}/dev/nvme2n1 vol0bbbbbbbbbbbbbbbb")
    result = sandbox.run("boot.sh")

    assert result.returncode == 1
    assert "2 unused EBS volumes" in result.stdout
    assert "xfs_admin -L sgdata" in result.stdout
    # The refusal ends the boot on the first look: no 30-minute wait, no advice to attach a volume.
    assert sandbox.calls("sleep") == [] and device_searches(sandbox) == 1
    assert "waiting up to" not in result.stdout and "attach an empty EBS volume" not in result.stdout
    assert sandbox.calls("mkfs.xfs") == [] and sandbox.calls("mount") == []


def test_a_small_new_volume_is_refused_but_a_labelled_one_is_used(sandbox: Sandbox) -> None:
    """The console's default 8 GiB extra volume is not a data volume; an existing sgdata volume always is."""
    standalone_host(sandbox)
    sandbox.attach_volume()
    sandbox.set_state("size_bytes", str(8 * 1024**3))
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    assert "has 8 GiB: attach an empty volume of at least 100 GiB" in result.stdout
    assert sandbox.calls("sleep") == [] and device_searches(sandbox) == 1
    assert "waiting up to" not in result.stdout and "is not attached after" not in result.stdout
    assert sandbox.calls("mkfs.xfs") == []

    sandbox.set_state("fstype", "xfs")
    sandbox.set_state("label", "sgdata")
    sandbox.reset_calls()
    result = sandbox.run("boot.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.calls("mkfs.xfs") == []


def test_instance_store_disks_are_not_data_volumes(sandbox: Sandbox) -> None:
    """NVMe instance storage has an AWS… serial, not vol…; it must never be formatted as the data volume."""
    standalone_host(sandbox)
    sandbox.attach_volume()
    sandbox.set_state("extra_disks", f"{sandbox.root}/dev/nvme2n1 AWS1234567890ABCDEF")
    result = sandbox.run("boot.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.calls("mkfs.xfs") == [["mkfs.xfs", "-q", "-L", "sgdata", sandbox.device]]


def test_no_data_volume_times_out_with_the_fix(sandbox: Sandbox) -> None:
    standalone_host(sandbox)
    result = sandbox.run("boot.sh", SGARCH_DEVICE_TIMEOUT_SECONDS="10")
    assert result.returncode == 1
    assert "attach an empty EBS volume" in result.stdout + result.stderr
    assert "systemctl restart sgarch-boot" in result.stdout + result.stderr
    assert sandbox.calls("mkfs.xfs") == []


@pytest.mark.parametrize(
    ("vcpu", "memory_gib", "tier"),
    [
        (8, 32, "XS"),
        (8, 64, "XS"),
        (16, 32, "XS"),
        (32, 64, "S"),
        (32, 128, "M"),
        (48, 192, "L"),
        (96, 384, "XL"),
    ],
)
def test_the_largest_tier_the_instance_matches_is_chosen(
    sandbox: Sandbox, vcpu: int, memory_gib: int, tier: str
) -> None:
    standalone_host(sandbox, vcpu=vcpu, memory_gib=memory_gib)
    sandbox.attach_volume()
    result = sandbox.run("boot.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"tier {tier} for {vcpu} vCPU" in result.stdout
    assert tier_override(sandbox) == standalone_tier_files()[f"{tier}.yaml"]


def test_instance_below_the_smallest_tier_is_refused_before_the_disk(sandbox: Sandbox) -> None:
    standalone_host(sandbox, vcpu=4, memory_gib=16)
    sandbox.attach_volume()
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    assert "less than the smallest tier: use m6a.2xlarge or larger" in result.stdout
    assert sandbox.calls("blkid") == [] and sandbox.calls("mkfs.xfs") == []


def test_an_image_without_standalone_sh_says_so(sandbox: Sandbox) -> None:
    standalone_host(sandbox)
    sandbox.attach_volume()
    result = sandbox.run("boot.sh", SGARCH_STANDALONE_SH=str(sandbox.tmp / "missing.sh"))
    assert result.returncode == 1
    assert "missing.sh is missing: this image cannot boot without user-data" in result.stdout
    assert sandbox.calls("mkfs.xfs") == []


def test_data_from_an_older_minor_follows_the_images_upgrade_table(sandbox: Sandbox) -> None:
    standalone_host(sandbox)
    sandbox.attach_volume()
    assert sandbox.run("boot.sh").returncode == 0
    (sandbox.data / ".sourcegraph-version").write_text("7.4.0\n")
    sandbox.reboot()

    result = sandbox.run("boot.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    status = (sandbox.data / ".sgarch-upgrade-status").read_text().strip()
    assert status == f"ok: v{VERSION} (standard from v7.4.0)"


def test_without_the_table_a_patch_starts_and_another_minor_is_refused(sandbox: Sandbox) -> None:
    """An image built with another --version has no table: a patch change still starts, a minor jump not."""
    standalone_host(sandbox, upgrade_table=False)
    sandbox.attach_volume()
    assert sandbox.run("boot.sh").returncode == 0
    marker = sandbox.data / ".sourcegraph-version"
    status = sandbox.data / ".sgarch-upgrade-status"

    marker.write_text("7.5.1000\n")
    sandbox.reboot()
    result = sandbox.run("boot.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert status.read_text().strip() == f"ok: v{VERSION} (patch from v7.5.1000)"

    marker.write_text("7.3.0\n")
    sandbox.reboot()
    result = sandbox.run("boot.sh")
    assert result.returncode == 2
    assert status.read_text().startswith("refused: no-upgrade-paths:")
    assert marker.read_text().strip() == "7.3.0"


def test_user_data_settings_win_over_the_image(sandbox: Sandbox) -> None:
    """The stack's instances run the sgarch AMI too: their sgarch.env decides, never the standalone path."""
    standalone_host(sandbox, vcpu=96, memory_gib=384)
    sandbox.write_config()
    sandbox.attach_volume()
    result = sandbox.run("boot.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "standalone" not in result.stdout
    assert tier_override(sandbox) == "services:\n  gitserver-0:\n    cpus: 4\n"


def test_the_index_lists_every_machine_tier_from_small_to_large() -> None:
    files = standalone_tier_files()
    rows = [line.split() for line in files["index"].splitlines() if not line.startswith("#")]
    assert [row[0] for row in rows] == ["XS", "S", "M", "L", "XL"]
    assert [int(row[1]) for row in rows] == sorted(int(row[1]) for row in rows)
    assert all(f"{row[0]}.yaml" in files for row in rows)


# --- finalize.sh (the image build's last provisioner) ------------------------------------------------------


def image_host(box: Sandbox, *, with_tiers: bool = True) -> Path:
    """A build instance after install.sh and the spec's files; returns finalize.sh's path in the sandbox."""
    state = box.root / "var" / "lib" / "sgarch"
    state.mkdir(parents=True)
    (state / "install.done").write_text(f"version={VERSION}\ncompose=2.40.3\n")
    (state / f"images-v{VERSION}.done").touch()
    (state.parent / "docker").mkdir(parents=True, exist_ok=True)
    bin_dir = box.root / "opt" / "sgarch" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "boot.sh").write_text("#!/bin/bash\n")
    (bin_dir / "install.sh").write_text("#!/bin/bash\n")
    unit = box.root / "etc" / "systemd" / "system" / "sgarch-boot.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Unit]\n")
    tiers = box.root / "etc" / "sgarch" / "tiers"
    tiers.mkdir(parents=True)
    for name, text in standalone_tier_files().items():
        if with_tiers or name == "index":
            (tiers / name).write_text(text)
    (box.root / "etc" / "sgarch" / "sgarch.env").write_text("SGARCH_DATA_VOLUME_ID=vol-0from0a0test0\n")
    script = box.tmp / "finalize.sh"
    script.write_text((REPO / "amis" / "single-node" / "finalize.sh").read_text())
    # docker image ls --quiet: the pulled images.
    (box.bin / "docker").write_text(
        '#!/bin/bash\nprintf "%s\\t" docker "$@" >>"$STUB_LOG"; echo >>"$STUB_LOG"\necho sha256:1\n'
    )
    return script


def test_finalize_enables_the_standalone_boot_with_the_baked_release(sandbox: Sandbox) -> None:
    image_host(sandbox)
    result = sandbox.run("finalize.sh", SGARCH_SOURCEGRAPH_VERSION=VERSION)
    assert result.returncode == 0, result.stdout + result.stderr

    config = sandbox.root / "etc" / "sgarch"
    assert f"SGARCH_SOURCEGRAPH_VERSION={VERSION}\n" in (config / "image.env").read_text()
    assert not (config / "sgarch.env").exists(), "a build's own settings must not ship in the image"
    assert ["systemctl", "enable", "sgarch-boot.service"] in sandbox.calls("systemctl")
    assert sandbox.calls("systemctl")[-1] == ["systemctl", "stop", "docker.service", "docker.socket"]


def test_finalize_keeps_the_upgrade_table_of_its_release_only(sandbox: Sandbox) -> None:
    """A --version build must not ship verdicts computed for another target release."""
    image_host(sandbox)
    table = sandbox.root / "etc" / "sgarch" / "upgrade-paths"
    table.write_text(render_upgrade_paths(VERSION))
    assert sandbox.run("finalize.sh", SGARCH_SOURCEGRAPH_VERSION=VERSION).returncode == 0
    assert table.read_text() == render_upgrade_paths(VERSION)

    state = sandbox.root / "var" / "lib" / "sgarch"
    (state / "install.done").write_text("version=7.6.1000\ncompose=2.40.3\n")
    (state / "images-v7.6.1000.done").touch()
    result = sandbox.run("finalize.sh", SGARCH_SOURCEGRAPH_VERSION="7.6.1000")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not table.exists()
    assert "rendered for another release than v7.6.1000; removed" in result.stdout


def test_finalize_fails_when_a_tier_override_is_missing(sandbox: Sandbox) -> None:
    image_host(sandbox, with_tiers=False)
    result = sandbox.run("finalize.sh", SGARCH_SOURCEGRAPH_VERSION=VERSION)
    assert result.returncode == 1
    assert "tiers/XS.yaml is missing: check the spec's files" in result.stdout
    assert not (sandbox.root / "etc" / "sgarch" / "image.env").exists()


def test_the_image_spec_copies_everything_the_standalone_boot_needs() -> None:
    """finalize.sh refuses an image without these; catch a missing entry before a 20-minute build does."""
    from sgarch.ami import load_spec

    loaded = load_spec(REPO / "amis" / "single-node")
    copied = {f.destination: f for f in loaded.files}
    for name in ("boot.sh", "standalone.sh", "install.sh"):
        assert copied[f"/opt/sgarch/bin/{name}"].content.decode() == script_text(name)
    # install.sh checks the baked release's tag against it.
    assert copied["/etc/sgarch/deploy-commits"].content.decode() == script_text("deploy-commits")
    assert copied["/opt/sgarch/bin/boot.sh"].mode == "0755"
    assert "/etc/systemd/system/sgarch-boot.service" in copied
    for name, text in standalone_tier_files().items():
        assert copied[f"/etc/sgarch/tiers/{name}"].content.decode() == text
    table = copied["/etc/sgarch/upgrade-paths"].content.decode()
    assert table == render_upgrade_paths(loaded.spec.sourcegraph_version)

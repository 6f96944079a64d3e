"""boot.sh on a fake host: format only empty volumes, mount by label, Docker on the volume, compose up."""

from __future__ import annotations

import json

from host_sandbox import SERIAL, SERVICES, VERSION, VOLUME_ID, Sandbox

FSTAB_LINE = "LABEL=sgdata {data} xfs defaults,nofail 0 2"


def compose_up_calls(box: Sandbox) -> list[list[str]]:
    return [call for call in box.calls("docker") if "up" in call]


def compose_files(call: list[str]) -> list[str]:
    return [call[i + 1] for i, arg in enumerate(call) if arg == "--file"]


def boot(box: Sandbox, **env: str) -> str:
    """Run boot.sh and expect success; return its output."""
    result = box.run("boot.sh", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def fresh_host(box: Sandbox, **config: object) -> None:
    box.write_config(**config)  # type: ignore[arg-type]
    box.add_release()
    box.attach_volume()


def test_fresh_volume_is_formatted_once_mounted_and_sourcegraph_started(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    out = boot(sandbox)

    assert sandbox.calls("mkfs.xfs") == [["mkfs.xfs", "-q", "-L", "sgdata", sandbox.device]]
    assert sandbox.calls("xfs_admin") == []
    assert sandbox.calls("mount") == [["mount", str(sandbox.data)]]
    fstab = (sandbox.root / "etc" / "fstab").read_text().splitlines()
    assert fstab == [FSTAB_LINE.format(data=sandbox.data)]

    daemon = json.loads((sandbox.root / "etc" / "docker" / "daemon.json").read_text())
    assert daemon["data-root"] == f"{sandbox.data}/docker"
    assert daemon["default-ulimits"]["nofile"]["Soft"] == 262144
    dropin = sandbox.root / "etc" / "systemd" / "system" / "docker.service.d" / "sgarch-data.conf"
    assert f"RequiresMountsFor={sandbox.data}" in dropin.read_text()
    assert ["systemctl", "restart", "docker.service"] in sandbox.calls("systemctl")

    compose_dir = sandbox.data / "sourcegraph"
    (up,) = compose_up_calls(sandbox)
    assert up[:4] == ["docker", "compose", "--project-name", "sourcegraph"]
    assert up[-3:] == ["up", "--detach", "--remove-orphans"]
    assert compose_files(up) == [
        f"{compose_dir}/deploy/docker-compose/docker-compose.yaml",
        f"{compose_dir}/sgarch-tier.override.yaml",
    ]
    assert (
        compose_dir / "sgarch-tier.override.yaml"
    ).read_text() == "services:\n  gitserver-0:\n    cpus: 4\n"
    assert (compose_dir / "deploy" / ".sgarch-release").read_text().strip() == VERSION
    assert not (compose_dir / "sgarch-alb.override.yaml").exists()
    assert (sandbox.data / ".sourcegraph-version").read_text().strip() == VERSION
    log = (sandbox.root / "var" / "log" / "sgarch-boot.log").read_text()
    assert "formatting" in log and "boot finished" in log
    assert "first start of v7.5.4453" in out


def test_volume_with_a_filesystem_is_never_formatted(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    sandbox.set_state("fstype", "xfs")
    sandbox.set_state("label", "sgdata")
    out = boot(sandbox)
    assert sandbox.calls("mkfs.xfs") == []
    assert sandbox.calls("xfs_admin") == []
    assert "keeping its data" in out
    assert len(compose_up_calls(sandbox)) == 1


def test_xfs_volume_with_another_label_is_relabelled_not_formatted(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    sandbox.set_state("fstype", "xfs")
    sandbox.set_state("label", "/mnt/data")
    boot(sandbox)
    assert sandbox.calls("mkfs.xfs") == []
    assert sandbox.calls("xfs_admin") == [["xfs_admin", "-L", "sgdata", sandbox.device]]


def test_foreign_filesystem_stops_the_boot_untouched(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    sandbox.set_state("fstype", "ext4")
    result = sandbox.run("boot.sh")
    assert result.returncode != 0
    assert "holds 'ext4', not XFS; refusing" in result.stdout
    assert (
        sandbox.calls("mkfs.xfs") == [] and sandbox.calls("mount") == [] and compose_up_calls(sandbox) == []
    )


def test_probe_error_never_leads_to_format(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    sandbox.set_state("blkid_rc", "8")  # ambivalent probe: several signatures
    result = sandbox.run("boot.sh")
    assert result.returncode != 0
    assert "blkid could not probe" in result.stdout
    assert sandbox.calls("mkfs.xfs") == []


def test_blkid_and_lsblk_disagreeing_never_leads_to_format(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    sandbox.set_state("lsblk_fstype", "xfs")  # blkid sees nothing, lsblk's udev data says xfs
    result = sandbox.run("boot.sh")
    assert result.returncode != 0
    assert "refusing to format" in result.stdout
    assert sandbox.calls("mkfs.xfs") == []


def test_second_boot_does_not_format_and_gives_the_same_result(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    boot(sandbox)
    first = {
        path.relative_to(sandbox.root): path.read_bytes()
        for path in sandbox.root.rglob("*")
        if path.is_file() and path.name not in ("sgarch-boot.log", "last-boot")
    }
    sandbox.reboot()
    boot(sandbox)

    assert sandbox.calls("mkfs.xfs") == []
    assert sandbox.calls("mount") == [["mount", str(sandbox.data)]]
    # Nothing changed, so Docker keeps running and systemd is not reloaded.
    systemctl = sandbox.calls("systemctl")
    assert ["systemctl", "restart", "docker.service"] not in systemctl
    assert ["systemctl", "daemon-reload"] not in systemctl
    assert len(compose_up_calls(sandbox)) == 1
    second = {
        path.relative_to(sandbox.root): path.read_bytes()
        for path in sandbox.root.rglob("*")
        if path.is_file() and path.name not in ("sgarch-boot.log", "last-boot")
    }
    assert second == first


def test_already_mounted_volume_skips_the_probe(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    sandbox.set_state("mounted")  # fstab mounted it at boot
    boot(sandbox)
    assert sandbox.calls("blkid") == [] and sandbox.calls("mkfs.xfs") == [] and sandbox.calls("mount") == []


def test_late_device_is_waited_for(sandbox: Sandbox) -> None:
    sandbox.write_config()
    sandbox.add_release()
    sandbox.attach_volume(appear_after=3)
    out = boot(sandbox)
    assert sandbox.calls("sleep") == [["sleep", "5"]] * 3
    assert f"waiting up to 1800s for data volume {VOLUME_ID}" in out
    assert sandbox.calls("mkfs.xfs") == [["mkfs.xfs", "-q", "-L", "sgdata", sandbox.device]]


def test_missing_device_times_out_without_touching_anything(sandbox: Sandbox) -> None:
    sandbox.write_config()
    sandbox.add_release()
    result = sandbox.run("boot.sh", SGARCH_DEVICE_TIMEOUT_SECONDS="20")
    assert result.returncode != 0
    assert f"data volume {VOLUME_ID} is not attached after 20s" in result.stdout
    assert sandbox.calls("sleep") == [["sleep", "5"]] * 4
    assert (
        sandbox.calls("blkid") == [] and sandbox.calls("mkfs.xfs") == [] and compose_up_calls(sandbox) == []
    )
    assert not (sandbox.data / ".sourcegraph-version").exists()


def test_fallback_device_name_without_nvme_serial(sandbox: Sandbox) -> None:
    sandbox.write_config()
    sandbox.add_release()
    xvdf = sandbox.root / "dev" / "xvdf"
    xvdf.touch()
    boot(sandbox, SGARCH_FALLBACK_DEVICES=f"{sandbox.root}/dev/sdf {xvdf}")
    assert sandbox.calls("mkfs.xfs") == [["mkfs.xfs", "-q", "-L", "sgdata", str(xvdf)]]


def test_other_disks_are_ignored(sandbox: Sandbox) -> None:
    """The root disk (another serial) is listed too; only the volume's serial counts."""
    fresh_host(sandbox)
    boot(sandbox)
    assert all(call[-1] == sandbox.device for call in sandbox.calls("blkid"))
    assert SERIAL in (sandbox.state / "serial").read_text()


def test_alb_mode_removes_caddy_and_publishes_the_frontend_on_80(sandbox: Sandbox) -> None:
    fresh_host(sandbox, behind_load_balancer=True)
    boot(sandbox)
    alb = sandbox.data / "sourcegraph" / "sgarch-alb.override.yaml"
    text = alb.read_text()
    assert "  caddy: !reset {}\n" in text
    assert '  sourcegraph-frontend-0:\n    ports:\n      - "0.0.0.0:80:3080"\n' in text
    (up,) = compose_up_calls(sandbox)
    assert compose_files(up)[-1] == str(alb)  # last, so nothing re-adds caddy


def test_leaving_alb_mode_removes_the_alb_override(sandbox: Sandbox) -> None:
    fresh_host(sandbox, behind_load_balancer=True)
    boot(sandbox)
    sandbox.write_config(behind_load_balancer=False)
    sandbox.reboot()
    boot(sandbox)
    assert not (sandbox.data / "sourcegraph" / "sgarch-alb.override.yaml").exists()
    (up,) = compose_up_calls(sandbox)
    assert [f.rsplit("/", 1)[-1] for f in compose_files(up)] == [
        "docker-compose.yaml",
        "sgarch-tier.override.yaml",
    ]


def test_extra_env_reaches_every_service(sandbox: Sandbox) -> None:
    fresh_host(sandbox, behind_load_balancer=True, extra_env="HTTPS_PROXY=http://proxy:3128\n")
    boot(sandbox)
    compose_dir = sandbox.data / "sourcegraph"
    env_file = compose_dir / "sourcegraph.env"
    assert "HTTPS_PROXY=http://proxy:3128" in env_file.read_text()
    override = (compose_dir / "sgarch-env.override.yaml").read_text()
    expected_services = sorted(s for s in SERVICES if s != "caddy")
    for service in expected_services:
        assert f"  {service}:\n    env_file:\n      - {env_file}\n" in override
    assert "caddy" not in override
    (up,) = compose_up_calls(sandbox)
    assert compose_files(up)[2:] == [
        str(compose_dir / "sgarch-env.override.yaml"),
        str(compose_dir / "sgarch-alb.override.yaml"),
    ]


def test_no_extra_env_means_no_env_override(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    boot(sandbox)
    assert not (sandbox.data / "sourcegraph" / "sgarch-env.override.yaml").exists()
    assert not [call for call in sandbox.calls("docker") if "config" in call]


def test_new_instance_with_old_volume_keeps_the_data_and_upgrades(sandbox: Sandbox) -> None:
    """The volume already carries an older version's data and Docker root; the new instance pins 7.5."""
    fresh_host(sandbox)
    sandbox.set_state("fstype", "xfs")
    sandbox.set_state("label", "sgdata")
    (sandbox.data / "docker" / "volumes" / "pgsql").mkdir(parents=True)
    (sandbox.data / "docker" / "volumes" / "pgsql" / "PG_VERSION").write_text("16\n")
    (sandbox.data / ".sourcegraph-version").write_text("7.4.1234\n")
    (sandbox.root / "var" / "lib" / "docker" / "image").mkdir(parents=True)  # the new AMI's pre-pulled images

    out = boot(sandbox)
    assert sandbox.calls("mkfs.xfs") == []
    assert (sandbox.data / "docker" / "volumes" / "pgsql" / "PG_VERSION").read_text() == "16\n"
    assert ["systemctl", "stop", "docker.socket", "docker.service"] not in sandbox.calls("systemctl")
    assert "data is at v7.4.1234, pinned version is v7.5.4453: standard upgrade" in out
    assert (sandbox.data / ".sourcegraph-version").read_text().strip() == VERSION
    assert len(compose_up_calls(sandbox)) == 1


def test_failed_compose_up_keeps_the_old_version_marker(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    (sandbox.data).mkdir(parents=True)
    (sandbox.data / ".sourcegraph-version").write_text("7.4.1234\n")
    sandbox.set_state("fstype", "xfs")
    sandbox.set_state("label", "sgdata")
    (sandbox.bin / "docker").write_text('#!/bin/bash\ncase " $* " in *" up "*) exit 1 ;; esac\n')
    result = sandbox.run("boot.sh")
    assert result.returncode != 0
    assert (sandbox.data / ".sourcegraph-version").read_text() == "7.4.1234\n"


def test_prepulled_images_seed_a_fresh_volume(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    image_dir = sandbox.root / "var" / "lib" / "docker" / "image" / "overlay2"
    image_dir.mkdir(parents=True)
    (image_dir / "repositories.json").write_text("{}")
    boot(sandbox)
    assert (sandbox.data / "docker" / "image" / "overlay2" / "repositories.json").read_text() == "{}"
    systemctl = sandbox.calls("systemctl")
    assert systemctl.index(["systemctl", "stop", "docker.socket", "docker.service"]) < systemctl.index(
        ["systemctl", "restart", "docker.service"]
    )


def test_missing_release_is_fetched_with_install_sh(sandbox: Sandbox) -> None:
    sandbox.write_config(version="7.6.0")
    sandbox.attach_volume()
    boot(sandbox)
    assert sandbox.calls("install.sh") == [["install.sh", "--version", "7.6.0"]]
    assert (sandbox.data / "sourcegraph" / "deploy" / ".sgarch-release").read_text().strip() == "7.6.0"


def test_fstab_keeps_other_entries_and_replaces_a_stale_data_entry(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    fstab = sandbox.root / "etc" / "fstab"
    fstab.write_text(
        f"UUID=abc / xfs defaults 0 0\n# a comment\n/dev/nvme1n1 {sandbox.data} xfs defaults 0 2\n"
    )
    boot(sandbox)
    assert fstab.read_text().splitlines() == [
        "UUID=abc / xfs defaults 0 0",
        "# a comment",
        FSTAB_LINE.format(data=sandbox.data),
    ]


def test_bad_settings_stop_before_touching_the_disk(sandbox: Sandbox) -> None:
    fresh_host(sandbox, version="latest")
    result = sandbox.run("boot.sh")
    assert result.returncode != 0
    assert "SGARCH_SOURCEGRAPH_VERSION must look like 7.5.4453 (got 'latest')" in result.stdout
    assert sandbox.calls() == []


def test_cloudwatch_agent_publishes_the_disk_metric_the_alarm_watches(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    boot(sandbox)
    config_path = sandbox.root / "opt" / "sgarch" / "cloudwatch-agent.json"
    assert sandbox.calls("amazon-cloudwatch-agent-ctl") == [
        ["amazon-cloudwatch-agent-ctl", "-a", "fetch-config", "-m", "ec2", "-s", "-c", f"file:{config_path}"]
    ]
    config = json.loads(config_path.read_text())
    metrics = config["metrics"]
    # The alarm's dimensions are exactly InstanceId and path; aggregation publishes that set.
    assert metrics["aggregation_dimensions"] == [["InstanceId", "path"]]
    assert metrics["append_dimensions"] == {"InstanceId": "${aws:InstanceId}"}
    assert str(sandbox.data) in metrics["metrics_collected"]["disk"]["resources"]
    assert metrics["namespace"] == "CWAgent"

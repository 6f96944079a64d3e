"""boot.sh on a fake host: format only empty volumes, mount the volume found by id, Docker on the volume,
compose up, and an outcome in the status file for every way a boot can end."""

from __future__ import annotations

import json
import subprocess

from docker_unit import daemon_json_key, unit_flags
from host_sandbox import FS_UUID, SERIAL, SERVICES, VERSION, VOLUME_ID, Sandbox

FSTAB_LINE = f"UUID={FS_UUID} {{data}} xfs defaults,nofail 0 2"


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
    # The device found by the volume id, not whatever carries the label; fstab names its UUID.
    assert sandbox.calls("mount") == [["mount", sandbox.device, str(sandbox.data)]]
    fstab = (sandbox.root / "etc" / "fstab").read_text().splitlines()
    assert fstab == [FSTAB_LINE.format(data=sandbox.data)]

    daemon = json.loads((sandbox.root / "etc" / "docker" / "daemon.json").read_text())
    assert daemon == {
        "data-root": f"{sandbox.data}/docker",
        "log-driver": "json-file",
        "log-opts": {"max-size": "50m", "max-file": "5"},
    }
    docker_env = sandbox.root / "etc" / "sgarch" / "docker.env"
    assert docker_env.read_text() == 'OPTIONS="--default-ulimit nofile=262144:262144"\n'
    dropin = sandbox.root / "etc" / "systemd" / "system" / "docker.service.d" / "sgarch.conf"
    assert dropin.read_text() == (
        f"[Unit]\nRequiresMountsFor={sandbox.data}\n[Service]\nEnvironmentFile=-{docker_env}\n"
    )
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
    assert sandbox.calls("mount") == [["mount", sandbox.device, str(sandbox.data)]]
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
    sandbox.set_state("fstype", "xfs")
    sandbox.set_state("mounted", sandbox.device)  # fstab mounted it at boot
    boot(sandbox)
    assert [call for call in sandbox.calls("blkid") if "export" in call] == []
    assert sandbox.calls("mkfs.xfs") == [] and sandbox.calls("mount") == []


def test_a_copy_mounted_at_the_data_directory_stops_the_boot(sandbox: Sandbox) -> None:
    """A volume restored from a snapshot of the data volume has its label and UUID; fstab may mount it."""
    fresh_host(sandbox)
    sandbox.set_state("fstype", "xfs")
    copy = sandbox.root / "dev" / "nvme2n1"
    copy.touch()
    sandbox.set_state("mounted", str(copy))
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    assert f"holds {copy}, not the data volume {sandbox.device}: detach {copy}" in result.stdout
    assert (
        compose_up_calls(sandbox) == [] and ["systemctl", "restart", "docker.service"] not in sandbox.calls()
    )


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


# --- Docker: daemon.json never repeats a flag of the distribution's unit ----------------------------------


def test_daemon_json_sets_nothing_the_units_flags_set(sandbox: Sandbox) -> None:
    """dockerd refuses to start when a directive is both a flag and a daemon.json key: the old default-ulimits
    in daemon.json met AL2023's `--default-ulimit` flag and Docker never started."""
    fresh_host(sandbox)
    boot(sandbox)
    daemon = json.loads((sandbox.root / "etc" / "docker" / "daemon.json").read_text())
    dropins = sandbox.root / "etc" / "systemd" / "system" / "docker.service.d"
    flags = unit_flags(sandbox.root / "etc" / "sysconfig" / "docker", dropins)
    assert {daemon_json_key(flag) for flag in flags} & set(daemon) == set()
    # The distribution's lower nofile limit is replaced, not repeated.
    assert " ".join(flags).count("--default-ulimit") == 1
    assert "--default-ulimit nofile=262144:262144" in " ".join(flags)
    # Without the drop-in, the distribution's own flag is what dockerd would get.
    distro = unit_flags(sandbox.root / "etc" / "sysconfig" / "docker", None)
    assert "--default-ulimit nofile=32768:65536" in " ".join(distro)


# --- every exit after the mount leaves an outcome; die ends the boot from anywhere ------------------------


def status(box: Sandbox) -> str:
    return (box.data / ".sgarch-upgrade-status").read_text()


def test_a_command_failing_under_set_e_leaves_a_failed_status(sandbox: Sandbox) -> None:
    """Not only die: any failing command ends the boot with `failed: <command>`, never an old `ok:`."""
    fresh_host(sandbox)
    sandbox.data.mkdir(parents=True)
    (sandbox.data / ".sgarch-upgrade-status").write_text(f"ok: v{VERSION}\n")  # the last boot's
    (sandbox.bin / "systemctl").write_text('#!/bin/bash\n[ "$1" != restart ]\n')
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    assert status(sandbox) == "failed: configure_docker: systemctl restart docker.service exited 1\n"
    assert "ERROR: configure_docker: systemctl restart docker.service exited 1" in result.stdout
    assert compose_up_calls(sandbox) == []


def test_an_exit_status_2_that_is_no_refusal_becomes_1(sandbox: Sandbox) -> None:
    """The unit does not restart exit status 2 (refusals); a command that happens to exit 2 is a failure."""
    fresh_host(sandbox)
    (sandbox.bin / "systemctl").write_text('#!/bin/bash\n[ "$1" != restart ] || exit 2\n')
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    assert status(sandbox) == "failed: configure_docker: systemctl restart docker.service exited 2\n"


def test_die_in_a_command_substitution_ends_the_boot(sandbox: Sandbox) -> None:
    """bash ignores errors inside $(...) unless inherit_errexit: the caller would carry on (the cause of the
    30-minute wait behind a refused volume). boot.sh sets it, so the die ends every level at once."""
    script = sandbox.tmp / "boot.sh"
    probe = (
        'inner() { die "the volume is refused"; }\n'
        'outer() { local got; got="$(inner)"; echo "outer carried on"; }\n'
        'result="$(outer)"; echo "caller carried on: $result"\n'
    )
    done = subprocess.run(
        ["bash", "-c", f'source "{script}"; {probe}'],
        env={"PATH": "/usr/bin:/bin", "SGARCH_ROOT": str(sandbox.root)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "carried on" not in done.stdout
    assert "ERROR: the volume is refused" in done.stderr


def test_the_marker_is_replaced_whole_never_rewritten_in_place(sandbox: Sandbox) -> None:
    """A full disk during an in-place write leaves an empty marker; a rename leaves the old one or the new."""
    fresh_host(sandbox)
    sandbox.data.mkdir(parents=True)
    marker = sandbox.data / ".sourcegraph-version"
    marker.write_text("7.4.1234\n")
    sandbox.set_state("fstype", "xfs")
    sandbox.set_state("label", "sgdata")
    before = marker.stat().st_ino
    boot(sandbox)
    assert marker.read_text() == f"{VERSION}\n"
    assert marker.stat().st_ino != before
    assert not (sandbox.data / ".sourcegraph-version.new").exists()


def test_a_marker_that_cannot_be_written_keeps_the_old_one(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    sandbox.data.mkdir(parents=True)
    marker = sandbox.data / ".sourcegraph-version"
    marker.write_text("7.4.1234\n")
    (sandbox.data / ".sourcegraph-version.new").mkdir()  # the write fails, as on a full disk
    sandbox.set_state("fstype", "xfs")
    sandbox.set_state("label", "sgdata")
    result = sandbox.run("boot.sh")
    assert result.returncode == 1
    assert marker.read_text() == "7.4.1234\n"
    assert status(sandbox).startswith("failed: ")


def test_an_empty_marker_on_a_volume_with_data_is_refused_not_a_first_start(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    sandbox.set_state("fstype", "xfs")
    sandbox.set_state("label", "sgdata")
    (sandbox.data / "docker" / "volumes" / "sourcegraph_pgsql" / "_data").mkdir(parents=True)
    (sandbox.data / ".sourcegraph-version").write_text("")
    result = sandbox.run("boot.sh")
    assert result.returncode == 2, result.stdout
    assert "first start" not in result.stdout
    assert compose_up_calls(sandbox) == []
    assert status(sandbox).startswith("refused: unreadable-marker: data is at v?, pinned v7.5.4453: ")
    assert (sandbox.data / ".sourcegraph-version").read_text() == ""


def test_a_first_start_marks_the_data_before_starting_it(sandbox: Sandbox) -> None:
    """A first start that fails in `up` has created the databases: the next boot must know their release."""
    fresh_host(sandbox)
    (sandbox.bin / "docker").write_text('#!/bin/bash\ncase " $* " in *" up "*) exit 1 ;; esac\n')
    assert sandbox.run("boot.sh").returncode == 1
    assert (sandbox.data / ".sourcegraph-version").read_text() == f"{VERSION}\n"
    assert status(sandbox) == "failed: docker compose up exited 1\n"


def test_inotify_watches_are_raised_when_low_and_never_lowered(sandbox: Sandbox) -> None:
    fresh_host(sandbox)
    boot(sandbox)  # the stub's kernel: 8192
    assert ["sysctl", "-q", "-w", "fs.inotify.max_user_watches=128000"] in sandbox.calls("sysctl")
    sandbox.reboot()
    sandbox.set_state("sysctl_fs.inotify.max_user_watches", "1048576")  # AL2023 on a large machine
    boot(sandbox)
    assert [call for call in sandbox.calls("sysctl") if "-w" in call] == []

"""install.sh on a fake AL2023 host: packages, Compose plugin, OS tuning, the release; a second run is a no-op."""

from __future__ import annotations

from host_sandbox import VERSION, Sandbox

NETWORK_AND_PACKAGES = ("dnf", "curl", "git", "sysctl")


def install(box: Sandbox, *args: str, **env: str) -> str:
    result = box.run("install.sh", *args, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_first_run_installs_everything_without_starting_sourcegraph(sandbox: Sandbox) -> None:
    install(sandbox, "--version", VERSION)

    assert sandbox.calls("dnf") == [
        ["dnf", "install", "-y", "docker", "git", "xfsprogs", "amazon-cloudwatch-agent"]
    ]
    assert ["systemctl", "enable", "docker.service"] in sandbox.calls("systemctl")
    plugin = sandbox.root / "usr" / "local" / "lib" / "docker" / "cli-plugins" / "docker-compose"
    assert plugin.read_text() == "fake compose binary\n" and plugin.stat().st_mode & 0o111
    urls = [call[-1] for call in sandbox.calls("curl")]
    assert urls == [
        "https://github.com/docker/compose/releases/download/v2.29.7/docker-compose-linux-x86_64",
        "https://github.com/docker/compose/releases/download/v2.29.7/checksums.txt",
    ]

    sysctl = (sandbox.root / "etc" / "sysctl.d" / "90-sgarch.conf").read_text()
    assert "fs.inotify.max_user_watches = 128000\n" in sysctl and "vm.max_map_count = 300000\n" in sysctl
    assert sandbox.calls("sysctl") == [["sysctl", "--system"]]
    limits = (sandbox.root / "etc" / "security" / "limits.d" / "90-sgarch.conf").read_text().splitlines()
    assert limits[1:] == [
        "* soft nproc 8192",
        "* hard nproc 16384",
        "* soft nofile 262144",
        "* hard nofile 262144",
    ]

    (clone,) = sandbox.calls("git")
    assert clone[1:6] == ["clone", "--quiet", "--depth", "1", "--branch"]
    assert clone[6:8] == [f"v{VERSION}", "https://github.com/sourcegraph/deploy-sourcegraph-docker.git"]
    release = sandbox.root / "opt" / "sourcegraph" / "releases" / f"v{VERSION}"
    assert (release / "docker-compose" / "docker-compose.yaml").exists()
    assert (release / ".sgarch-complete").exists() and not (release / ".git").exists()
    assert (sandbox.root / "var" / "lib" / "sgarch" / "install.done").read_text() == (
        f"version={VERSION}\ncompose=v2.29.7\n"
    )
    # No data volume at bake time: nothing is formatted, mounted or started.
    assert sandbox.calls("docker") == [] and sandbox.calls("mkfs.xfs") == [] and sandbox.calls("mount") == []


def test_second_run_is_a_no_op(sandbox: Sandbox) -> None:
    install(sandbox, "--version", VERSION)
    sandbox.reset_calls()
    out = install(sandbox, "--version", VERSION)
    assert "nothing to do" in out
    assert sandbox.calls() == []


def test_a_new_version_fetches_only_the_release(sandbox: Sandbox) -> None:
    install(sandbox, "--version", VERSION)
    sandbox.reset_calls()
    install(sandbox, "--version", "7.6.0")
    assert [call[0] for call in sandbox.calls()] == ["git"]
    assert (sandbox.root / "opt" / "sourcegraph" / "releases" / "v7.6.0" / ".sgarch-complete").exists()
    assert (sandbox.root / "opt" / "sourcegraph" / "releases" / f"v{VERSION}" / ".sgarch-complete").exists()


def test_pull_images_pulls_the_release_once(sandbox: Sandbox) -> None:
    install(sandbox, "--version", VERSION, "--pull-images")
    compose_file = sandbox.root / "opt" / "sourcegraph" / "releases" / f"v{VERSION}" / "docker-compose"
    assert sandbox.calls("docker") == [
        [
            "docker",
            "compose",
            "--project-name",
            "sourcegraph",
            "--file",
            f"{compose_file}/docker-compose.yaml",
            "pull",
            "--quiet",
        ]
    ]
    sandbox.reset_calls()
    install(sandbox, "--version", VERSION, "--pull-images")
    assert sandbox.calls() == []


def test_version_comes_from_the_settings_file(sandbox: Sandbox) -> None:
    sandbox.write_config(version="7.6.0")
    install(sandbox)
    assert sandbox.calls("git")[0][6] == "v7.6.0"


def test_checksum_mismatch_installs_nothing(sandbox: Sandbox) -> None:
    sandbox.set_state("bad_checksum")
    result = sandbox.run("install.sh", "--version", VERSION)
    assert result.returncode != 0
    assert "Docker Compose checksum mismatch" in result.stdout
    assert not (sandbox.root / "usr" / "local" / "lib" / "docker" / "cli-plugins" / "docker-compose").exists()
    assert not (sandbox.root / "var" / "lib" / "sgarch" / "packages.done").exists()


def test_bad_version_is_rejected_before_any_change(sandbox: Sandbox) -> None:
    result = sandbox.run("install.sh", "--version", "v7.5.4453")
    assert result.returncode != 0
    assert "Sourcegraph version must look like 7.5.4453 (got 'v7.5.4453')" in result.stdout
    assert sandbox.calls() == []


def test_interrupted_fetch_is_retried(sandbox: Sandbox) -> None:
    """A clone that dies half-way leaves no release behind, so the next run fetches again."""
    (sandbox.bin / "git").write_text('#!/bin/bash\nmkdir -p "${*: -1}"; exit 128\n')
    result = sandbox.run("install.sh", "--version", VERSION)
    assert result.returncode != 0
    release = sandbox.root / "opt" / "sourcegraph" / "releases" / f"v{VERSION}"
    assert not release.exists()
    assert list(release.parent.iterdir()) == []  # the scratch clone is cleaned up
    assert not (sandbox.root / "var" / "lib" / "sgarch" / "install.done").exists()

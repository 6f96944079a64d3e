"""install.sh on a fake AL2023 host: packages, Compose plugin, OS tuning, the release; a second run is a no-op."""

from __future__ import annotations

from host_sandbox import VERSION, Sandbox, deploy_commit

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
    # Only the binary: its sha256 is pinned, the release's checksums.txt (same origin) is not consulted.
    urls = [call[-1] for call in sandbox.calls("curl")]
    assert urls == ["https://github.com/docker/compose/releases/download/v2.29.7/docker-compose-linux-x86_64"]

    # Not fs.inotify.max_user_watches: a fixed value would lower AL2023's memory-sized default (boot.sh
    # raises it at run time when it is lower).
    sysctl = (sandbox.root / "etc" / "sysctl.d" / "90-sgarch.conf").read_text()
    assert sysctl.splitlines()[1:] == ["vm.max_map_count = 300000"]
    assert sandbox.calls("sysctl") == [["sysctl", "--system"]]
    limits = (sandbox.root / "etc" / "security" / "limits.d" / "90-sgarch.conf").read_text().splitlines()
    assert limits[1:] == [
        "* soft nproc 8192",
        "* hard nproc 16384",
        "* soft nofile 262144",
        "* hard nofile 262144",
    ]

    clone, check = sandbox.calls("git")
    assert clone[1:6] == ["clone", "--quiet", "--depth", "1", "--branch"]
    assert clone[6:8] == [f"v{VERSION}", "https://github.com/sourcegraph/deploy-sourcegraph-docker.git"]
    assert check[3:] == ["rev-parse", "HEAD"]  # against the pinned commit
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
    install(sandbox, "--version", "7.4.0")
    assert [call[0] for call in sandbox.calls()] == ["git", "git"]
    assert (sandbox.root / "opt" / "sourcegraph" / "releases" / "v7.4.0" / ".sgarch-complete").exists()
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
    sandbox.write_config(version="7.4.0")
    install(sandbox)
    assert sandbox.calls("git")[0][6] == "v7.4.0"


def test_checksum_mismatch_installs_nothing(sandbox: Sandbox) -> None:
    result = sandbox.run("install.sh", "--version", VERSION, SGARCH_COMPOSE_SHA256="0" * 64)
    assert result.returncode != 0
    assert "Docker Compose checksum mismatch" in result.stdout
    assert not (sandbox.root / "usr" / "local" / "lib" / "docker" / "cli-plugins" / "docker-compose").exists()
    assert not (sandbox.root / "var" / "lib" / "sgarch" / "packages.done").exists()


def test_the_compose_binary_must_have_the_pinned_sha256(sandbox: Sandbox) -> None:
    """Without an override, v2.29.7's real sha256 is expected: the stub's binary is not Compose."""
    sandbox.env.pop("SGARCH_COMPOSE_SHA256")
    result = sandbox.run("install.sh", "--version", VERSION)
    assert result.returncode == 1
    assert "Docker Compose checksum mismatch" in result.stdout
    assert not (sandbox.root / "usr" / "local" / "lib" / "docker" / "cli-plugins" / "docker-compose").exists()


def test_another_compose_version_needs_its_sha256(sandbox: Sandbox) -> None:
    sandbox.env.pop("SGARCH_COMPOSE_SHA256")
    result = sandbox.run("install.sh", "--version", VERSION, SGARCH_COMPOSE_VERSION="v2.30.0")
    assert result.returncode == 1
    assert "no pinned sha256 for Docker Compose v2.30.0 (x86_64): set SGARCH_COMPOSE_SHA256" in result.stdout
    assert sandbox.calls("curl") == []


def test_a_moved_tag_is_refused(sandbox: Sandbox) -> None:
    sandbox.set_state(f"tag_v{VERSION}", "f" * 40)
    result = sandbox.run("install.sh", "--version", VERSION)
    assert result.returncode == 1
    assert (
        f"tag v{VERSION} of https://github.com/sourcegraph/deploy-sourcegraph-docker.git is at "
        in result.stdout
    )
    assert f"not at the pinned {deploy_commit(VERSION)}: refusing it" in result.stdout
    release = sandbox.root / "opt" / "sourcegraph" / "releases" / f"v{VERSION}"
    assert not release.exists() and list(release.parent.iterdir()) == []


def test_a_release_without_a_pinned_commit_is_refused_before_any_change(sandbox: Sandbox) -> None:
    result = sandbox.run("install.sh", "--version", "7.9.0")
    assert result.returncode == 1
    assert "no pinned commit for deploy-sourcegraph-docker v7.9.0: pass --commit" in result.stdout
    assert sandbox.calls() == []


def test_the_commit_comes_from_the_settings_or_the_command_line(sandbox: Sandbox) -> None:
    """A stock AL2023 host has no table: user-data's sgarch.env names the pinned release's commit."""
    (sandbox.root / "etc" / "sgarch" / "deploy-commits").unlink()
    sandbox.write_config()
    install(sandbox)
    assert sandbox.calls("git")[0][6] == f"v{VERSION}"

    sandbox.set_state("tag_v7.9.0", "a" * 40)
    install(sandbox, "--version", "7.9.0", "--commit", "a" * 40)
    assert (sandbox.root / "opt" / "sourcegraph" / "releases" / "v7.9.0" / ".sgarch-complete").exists()


def test_the_commit_table_matches_the_releases_sgarch_knows() -> None:
    """Every line is `VERSION COMMIT`; the default release and the upgrade stops are pinned."""
    from sgarch.host import script_text
    from sgarch.upgrade.gates import REQUIRED_STOPS

    rows = [line.split() for line in script_text("deploy-commits").splitlines() if not line.startswith("#")]
    assert all(len(row) == 2 and len(row[1]) == 40 and int(row[1], 16) >= 0 for row in rows)
    assert len({row[0] for row in rows}) == len(rows)
    for version in (VERSION, *(str(gate.stop) for gate in REQUIRED_STOPS)):
        assert deploy_commit(version) is not None, version


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

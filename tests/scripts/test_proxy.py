"""proxy.sh on a fake AL2023 host: the proxy that user-data renders reaches every client's own configuration.

proxy.env is taken from the rendered user-data (not written here), so a change in what sgarch renders shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from docker_unit import read_env_file
from host_sandbox import PROXY_URL, VERSION, Sandbox, proxy_config, rendered_file

from sgarch.host import PROXY_ENV

# A real TOML reader (the agent's is BurntSushi/toml); the standard library has one from Python 3.11.
tomllib = pytest.importorskip("tomllib")

# AL2023's /etc/dnf/dnf.conf, plus a proxy= line left by an earlier run or an admin.
DNF_CONF = "[main]\ngpgcheck=1\ninstallonly_limit=3\nproxy=http://old:1\nskip_if_unavailable=False\n"
UNITS = ("docker", "amazon-ssm-agent", "sgarch-boot")


def prepare(box: Sandbox) -> dict[str, str]:
    """proxy.env and dnf.conf on the fake host; returns the rendered proxy settings."""
    env = box.root / PROXY_ENV.lstrip("/")
    env.parent.mkdir(parents=True, exist_ok=True)
    env.write_text(rendered_file(proxy_config(), PROXY_ENV))
    dnf = box.root / "etc" / "dnf" / "dnf.conf"
    dnf.parent.mkdir(parents=True, exist_ok=True)
    dnf.write_text(DNF_CONF)
    return read_env_file(env)


def seen_env(box: Sandbox, name: str) -> None:
    """Replace the stub ``name`` with one that also records the proxy variables it runs with."""
    stub = box.bin / name
    body = stub.read_text().split("\n", 1)[1]
    record = f'printf "%s %s %s %s\\n" "$HTTP_PROXY" "$HTTPS_PROXY" "$NO_PROXY" "$http_proxy" >>"$STUB_STATE/env_{name}"\n'
    stub.write_text("#!/bin/bash\n" + record + body)


def test_every_client_gets_the_proxy(sandbox: Sandbox) -> None:
    settings = prepare(sandbox)
    assert settings["HTTP_PROXY"] == settings["HTTPS_PROXY"] == settings["http_proxy"] == PROXY_URL
    for name in ("curl", "git"):
        seen_env(sandbox, name)
    result = sandbox.run("proxy.sh", "bash", str(sandbox.tmp / "install.sh"), "--version", VERSION)
    assert result.returncode == 0, result.stdout + result.stderr

    # curl and git in install.sh ran with the proxy's environment.
    expected = f"{PROXY_URL} {PROXY_URL} {settings['NO_PROXY']} {PROXY_URL}\n"
    for name in ("curl", "git"):
        assert set((sandbox.state / f"env_{name}").read_text().splitlines(keepends=True)) == {expected}, name
    # dnf: one proxy= line, under [main], the old one gone.
    dnf = (sandbox.root / "etc" / "dnf" / "dnf.conf").read_text().splitlines()
    assert [line for line in dnf if line.startswith("proxy=")] == [f"proxy={PROXY_URL}"]
    assert dnf.index(f"proxy={PROXY_URL}") == dnf.index("[main]") + 1
    # dockerd, the SSM agent and the boot unit read proxy.env through drop-ins (at the host's path).
    for unit in UNITS:
        dropin = sandbox.root / "etc" / "systemd" / "system" / f"{unit}.service.d" / "sgarch-proxy.conf"
        assert dropin.read_text() == f"[Service]\nEnvironmentFile={PROXY_ENV}\n", unit
    # The CloudWatch agent's own file, written after install.sh installed its package.
    common = sandbox.root / "opt" / "aws" / "amazon-cloudwatch-agent" / "etc" / "common-config.toml"
    assert tomllib.loads(common.read_text()) == {
        "proxy": {"http_proxy": PROXY_URL, "https_proxy": PROXY_URL, "no_proxy": settings["NO_PROXY"]}
    }
    calls = sandbox.calls("systemctl")
    assert ["systemctl", "daemon-reload"] in calls
    assert ["systemctl", "try-restart", "docker.service", "amazon-ssm-agent.service"] in calls
    assert calls.index(["systemctl", "daemon-reload"]) < calls.index(
        ["systemctl", "try-restart", "docker.service", "amazon-ssm-agent.service"]
    )
    profile = sandbox.root / "etc" / "profile.d" / "sgarch-proxy.sh"
    assert f". {PROXY_ENV}" in profile.read_text()


def test_the_no_proxy_lists_keep_the_host_the_metadata_service_and_aws(sandbox: Sandbox) -> None:
    host = prepare(sandbox)["NO_PROXY"].split(",")
    assert {
        "localhost",
        "127.0.0.1",
        "169.254.169.254",
        ".us-east-1.amazonaws.com",
        ".corp.example.com",
    } <= set(host)
    containers = read_env_file(_written(sandbox, "/etc/sgarch/sourcegraph.env"))
    assert containers["HTTP_PROXY"] == containers["HTTPS_PROXY"] == PROXY_URL
    # Every service calls the others by their Compose names; those never go to the proxy.
    assert set(host) | {"sourcegraph-frontend-0", "gitserver-0", "pgsql", "redis-cache"} <= set(
        containers["NO_PROXY"].split(",")
    )


def _written(box: Sandbox, path: str) -> Path:
    target = box.root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rendered_file(proxy_config(), path))
    return target


def test_a_second_run_changes_nothing(sandbox: Sandbox) -> None:
    prepare(sandbox)
    first = sandbox.run("proxy.sh")
    assert first.returncode == 0, first.stdout + first.stderr
    files = {p: p.read_bytes() for p in (sandbox.root / "etc").rglob("*") if p.is_file()}
    second = sandbox.run("proxy.sh")
    assert second.returncode == 0, second.stdout + second.stderr
    assert {p: p.read_bytes() for p in (sandbox.root / "etc").rglob("*") if p.is_file()} == files


def test_a_failing_command_fails_the_step(sandbox: Sandbox) -> None:
    prepare(sandbox)
    result = sandbox.run("proxy.sh", "false")
    assert result.returncode != 0
    common = sandbox.root / "opt" / "aws" / "amazon-cloudwatch-agent" / "etc" / "common-config.toml"
    assert not common.exists()

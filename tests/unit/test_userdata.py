"""render_user_data: content, determinism, size and validation (the gzip it relies on: test_gzip.py)."""

from __future__ import annotations

import base64
import gzip
import re
from typing import Any

import pytest
import yaml

from sgarch.errors import ConfigError
from sgarch.host import (
    MAX_NO_PROXY_CHARS,
    MAX_USER_DATA_BYTES,
    UserDataConfig,
    render_user_data,
    render_user_data_base64,
    script_text,
    user_data_fingerprint,
)
from sgarch.sizing import estimate_for_tier
from sgarch.sizing.compose import render_compose_override
from sgarch.tiers import TIERS, machine_tiers

VOLUME = "vol-0123456789abcdef0"
OVERRIDE = {
    "services": {"gitserver-0": {"cpus": 4.0, "mem_limit": "8g"}, "pgsql": {"cpus": 2, "mem_limit": "4g"}}
}


def config(**changes: Any) -> UserDataConfig:
    values: dict[str, Any] = {
        "sourcegraph_version": "7.5.4453",
        "compose_override": OVERRIDE,
        "data_volume_id": VOLUME,
    }
    values.update(changes)
    return UserDataConfig(**values)


def files(document: str) -> dict[str, dict[str, Any]]:
    """write_files entries by path, with compressed content decoded."""
    parsed = yaml.safe_load(document)
    out = {}
    for entry in parsed["write_files"]:
        if entry.get("encoding") == "gz+b64":
            entry = {**entry, "content": gzip.decompress(base64.b64decode(entry["content"])).decode()}
        out[entry["path"]] = entry
    return out


def test_document_is_cloud_config_with_every_file() -> None:
    text = render_user_data(config())
    assert text.startswith("#cloud-config\n")
    written = files(text)
    assert sorted(written) == [
        "/etc/sgarch/compose-override.yaml",
        "/etc/sgarch/sgarch.env",
        "/etc/sgarch/sourcegraph.env",
        "/etc/sgarch/upgrade-paths",
        "/etc/systemd/system/sgarch-boot.service",
        "/opt/sgarch/bin/boot.sh",
        "/opt/sgarch/bin/install.sh",
    ]
    assert all(entry["owner"] == "root:root" for entry in written.values())
    assert written["/opt/sgarch/bin/boot.sh"]["permissions"] == "0755"
    assert written["/etc/sgarch/sgarch.env"]["content"].splitlines()[1:] == [
        "SGARCH_SOURCEGRAPH_VERSION=7.5.4453",
        f"SGARCH_DATA_VOLUME_ID={VOLUME}",
        "SGARCH_IMAGE=sgarch",
        "SGARCH_BEHIND_LOAD_BALANCER=false",
        "SGARCH_REGION=us-east-1",
        # deploy-sourcegraph-docker's tag v7.5.4453 (install.sh refuses the tag at any other commit).
        "SGARCH_DEPLOY_COMMIT=d4187d0c31e4fccc6b0edca3287b51b7e521853b",
    ]
    assert yaml.safe_load(written["/etc/sgarch/compose-override.yaml"]["content"]) == OVERRIDE
    unit = script_text("sgarch-boot.service").splitlines()
    assert written["/etc/systemd/system/sgarch-boot.service"]["content"].splitlines() == [
        line for i, line in enumerate(unit) if line and (i == 0 or not line.startswith("#"))
    ]


def code_lines(text: str) -> list[str]:
    return [
        line.strip() for line in text.splitlines()[1:] if line.strip() and not re.match(r"^\s*#(\s|$)", line)
    ]


def test_embedded_scripts_are_the_package_scripts_without_comments() -> None:
    """Comment lines and indentation go; tests/scripts/test_shellcheck.py proves bash parses both alike."""
    written = files(render_user_data(config()))
    for name in ("install.sh", "boot.sh"):
        shipped = written[f"/opt/sgarch/bin/{name}"]["content"]
        source = script_text(name)
        assert shipped.startswith("#!/usr/bin/env bash\n")
        assert code_lines(shipped) == code_lines(source)
        assert len(shipped) < len(source)


def test_sgarch_image_only_starts_the_boot_unit() -> None:
    runcmd = yaml.safe_load(render_user_data(config()))["runcmd"]
    assert runcmd == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "sgarch-boot.service"],
        ["systemctl", "start", "--no-block", "sgarch-boot.service"],
    ]


def test_stock_image_runs_install_first() -> None:
    runcmd = yaml.safe_load(render_user_data(config(image="stock")))["runcmd"]
    assert runcmd[0] == ["/opt/sgarch/bin/install.sh"]
    assert runcmd[-1] == ["systemctl", "start", "--no-block", "sgarch-boot.service"]


def test_load_balancer_and_extra_env_reach_the_settings_files() -> None:
    text = render_user_data(
        config(
            behind_load_balancer=True,
            extra_env={"NO_PROXY": "localhost,.internal", "HTTPS_PROXY": "http://p:3128"},
        )
    )
    written = files(text)
    assert "SGARCH_BEHIND_LOAD_BALANCER=true" in written["/etc/sgarch/sgarch.env"]["content"]
    env = written["/etc/sgarch/sourcegraph.env"]["content"].splitlines()
    assert env[1:] == ["HTTPS_PROXY=http://p:3128", "NO_PROXY=localhost,.internal"]  # sorted


def test_rendering_is_deterministic_and_ignores_dict_order() -> None:
    reordered = {"services": dict(reversed(list(OVERRIDE["services"].items())))}
    assert render_user_data(config()) == render_user_data(config())
    assert render_user_data(config()) == render_user_data(config(compose_override=reordered))
    assert user_data_fingerprint(config()) == user_data_fingerprint(config(compose_override=reordered))
    assert re.fullmatch(r"[0-9a-f]{16}", user_data_fingerprint(config()))
    assert user_data_fingerprint(config()) != user_data_fingerprint(config(sourcegraph_version="7.6.0"))


@pytest.mark.parametrize("tier", machine_tiers(), ids=str)
@pytest.mark.parametrize("image", ["sgarch", "stock"])
def test_every_tier_fits_ec2s_user_data_limit(tier: Any, image: str) -> None:
    spec = TIERS[tier]
    override = render_compose_override(
        estimate_for_tier(tier), host_vcpu=spec.vcpu, host_memory_gb=spec.memory_gb
    )
    text = render_user_data(
        config(
            compose_override=override,
            image=image,
            behind_load_balancer=True,
            extra_env={
                "HTTPS_PROXY": "http://proxy.internal:3128",
                "NO_PROXY": "localhost,127.0.0.1,.internal",
            },
        )
    )
    size = len(text.encode("utf-8"))
    assert size < MAX_USER_DATA_BYTES
    # Headroom for the scripts to grow (the multi-version upgrade step): 2 KiB of compressed text, about
    # 5 KiB of script. When this fails, compress better or move code out of user-data; don't raise it.
    assert size < MAX_USER_DATA_BYTES - 2048, f"{tier}/{image}: {size} bytes"


@pytest.mark.parametrize("tier", machine_tiers(), ids=str)
@pytest.mark.parametrize("image", ["sgarch", "stock"])
def test_with_a_proxy_every_tier_fits_the_same_budget_gzipped(tier: Any, image: str) -> None:
    """A proxy adds proxy.sh, its settings and the containers' NO_PROXY (every service name): too much for
    plain text, so the instance gets the document gzipped whole; EC2 counts those bytes. The longest
    no_proxy sgarch accepts, a long host name and a long region are the worst case."""
    spec = TIERS[tier]
    override = render_compose_override(
        estimate_for_tier(tier), host_vcpu=spec.vcpu, host_memory_gb=spec.memory_gb
    )
    longest = tuple(f".team{i:03}.corp.example.com" for i in range(MAX_NO_PROXY_CHARS // 26))
    assert len(",".join(longest)) <= MAX_NO_PROXY_CHARS
    proxy = config(
        compose_override=override,
        image=image,
        behind_load_balancer=True,
        region="ap-southeast-2",
        http_proxy="http://" + "p" * 50 + ".proxies.corp.example.com:3128",
        no_proxy=longest,
        aws_endpoints_in_vpc=True,
    )
    raw = base64.b64decode(render_user_data_base64(proxy))
    assert gzip.decompress(raw).decode() == render_user_data(proxy)
    assert len(raw) < MAX_USER_DATA_BYTES - 2048, f"{tier}/{image}: {len(raw)} bytes"


def test_a_proxy_adds_its_files_and_runs_proxy_sh_first() -> None:
    written = files(render_user_data(config(http_proxy="http://10.0.0.5:3128")))
    assert {"/etc/sgarch/proxy.env", "/opt/sgarch/bin/proxy.sh"} <= set(written)
    shipped = written["/opt/sgarch/bin/proxy.sh"]["content"]
    assert code_lines(shipped) == code_lines(script_text("proxy.sh"))
    runcmd = yaml.safe_load(render_user_data(config(http_proxy="http://10.0.0.5:3128")))["runcmd"]
    assert runcmd[0] == ["/opt/sgarch/bin/proxy.sh"]
    plain = render_user_data(config())
    assert "proxy" not in plain.lower()


def test_nothing_secret_or_ssh_related_is_rendered() -> None:
    text = render_user_data(config(image="stock", extra_env={"HTTPS_PROXY": "http://proxy:3128"}))
    lowered = text.lower()
    for forbidden in ("ssh_authorized_keys", "ssh_keys", "chpasswd", "password", "passwd", "private"):
        assert forbidden not in lowered


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"sourcegraph_version": "v7.5.4453"},
            "sourcegraph_version must be a release like 7.5.4453 (got 'v7.5.4453'): drop the leading v.",
        ),
        (
            {"sourcegraph_version": "latest"},
            "sourcegraph_version must be a release like 7.5.4453 (got 'latest'): use a release tag.",
        ),
        (
            {"data_volume_id": "vol_123"},
            "data_volume_id must be an EBS volume id (vol-…) (got 'vol_123'): pass Volume.id.",
        ),
        (
            {"image": "ubuntu"},
            "image must be one of sgarch, stock (got 'ubuntu'): use stock without the sgarch AMI.",
        ),
        (
            {"region": "US East"},
            "region must be an AWS region like us-east-1 (got 'US East'): check the region name.",
        ),
        (
            {"compose_override": {"services": ["x"]}},
            "compose_override.services must be a mapping (got 'list'): map service names to settings.",
        ),
        (
            {"compose_override": {"services": {"x": {"cpus": object()}}}},
            "compose_override must be plain YAML data (got 'RepresenterError'): use dicts, lists, strings and numbers.",
        ),
        (
            {"extra_env": {"HTTP PROXY": "x"}},
            "extra_env must be environment variable names (got 'HTTP PROXY'): use letters, digits and _.",
        ),
        (
            {"extra_env": {"NO_PROXY": "a b"}},
            "extra_env.NO_PROXY must be one word without quotes, $, \\, # or spaces (got 'a b'): simplify the value.",
        ),
    ],
)
def test_invalid_settings_name_the_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config(**changes)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "extra_env",
    [
        {"SRC_LICENSE_KEY": "hunter2hunter2"},
        {"AWS_SECRET_ACCESS_KEY": "hunter2hunter2"},
        {"GITHUB_TOKEN": "hunter2hunter2"},
        {"PGPASSWORD": "hunter2hunter2"},
        {"HTTPS_PROXY": "http://user:hunter2hunter2@proxy:3128"},
    ],
)
def test_secrets_are_refused_without_echoing_them(extra_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        config(extra_env=extra_env)
    assert "hunter2" not in str(info.value)
    assert "user-data is readable from the instance" in str(info.value)

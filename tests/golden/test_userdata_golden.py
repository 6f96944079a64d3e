"""The single-node user-data per tier (and two variants), committed and compared. Regenerate: `make golden`.

Each tier renders its own compose override on its recommended machine, behind a load balancer on the sgarch
AMI (the reference architecture's usual shape). Two variants cover the other branches: a stock AL2023 image
with caddy serving TLS, and extra (proxy) environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sgarch.host import UserDataConfig, render_user_data
from sgarch.sizing import estimate_for_tier
from sgarch.sizing.compose import render_compose_override
from sgarch.tiers import TIERS, Tier, machine_tiers

VERSION = "7.5.4453"
VOLUME = "vol-0123456789abcdef0"


def tier_config(tier: Tier, **changes: Any) -> UserDataConfig:
    spec = TIERS[tier]
    override = render_compose_override(
        estimate_for_tier(tier), host_vcpu=spec.vcpu, host_memory_gb=spec.memory_gb
    )
    values: dict[str, Any] = {
        "sourcegraph_version": VERSION,
        "compose_override": override,
        "data_volume_id": VOLUME,
        "image": "sgarch",
        "behind_load_balancer": True,
    }
    values.update(changes)
    return UserDataConfig(**values)


@pytest.mark.parametrize("tier", machine_tiers(), ids=str)
def test_user_data_golden(tier: Tier, golden: Callable[[str, str], None]) -> None:
    golden(f"userdata/{tier}.yaml", render_user_data(tier_config(tier)))


def test_user_data_golden_stock_image_with_caddy(golden: Callable[[str, str], None]) -> None:
    config = tier_config(Tier.XS, image="stock", behind_load_balancer=False, region="eu-west-1")
    golden("userdata/XS-stock-caddy.yaml", render_user_data(config))


def test_user_data_golden_with_proxy_environment(golden: Callable[[str, str], None]) -> None:
    env = {"HTTP_PROXY": "http://proxy.internal:3128", "HTTPS_PROXY": "http://proxy.internal:3128"}
    env["NO_PROXY"] = "localhost,127.0.0.1,169.254.169.254,.internal,.amazonaws.com"
    golden("userdata/M-proxy.yaml", render_user_data(tier_config(Tier.M, extra_env=env)))


def test_user_data_golden_with_http_proxy(golden: Callable[[str, str], None]) -> None:
    """The proxy's files (proxy.env, proxy.sh, the containers' NO_PROXY); the instance gets this text gzipped."""
    config = tier_config(
        Tier.M,
        image="stock",
        region="eu-west-1",
        http_proxy="http://proxy.corp.example.com:3128",
        no_proxy=(".corp.example.com", "10.0.0.0/8"),
        aws_endpoints_in_vpc=True,
    )
    golden("userdata/M-http-proxy.yaml", render_user_data(config))

"""Profiles, virtual users and thresholds: the table is data, checked against the tier table and k6."""

from __future__ import annotations

import ipaddress
import json
import math
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sgarch.errors import ConfigError
from sgarch.loadtest import (
    LOOPBACK_ONLY_BLOCKLIST,
    THRESHOLDS,
    Profile,
    build_plan,
    thresholds_for,
    virtual_users,
)
from sgarch.loadtest.profiles import QueryClass, SearchType, k6_thresholds, scaled_stages
from sgarch.loadtest.runner import find_k6
from sgarch.tiers import TIERS, Tier


@pytest.mark.parametrize("tier", list(Tier))
@pytest.mark.parametrize("profile", [Profile.LOAD, Profile.STRESS])
def test_virtual_users_are_the_tier_tables_concurrent_users(tier: Tier, profile: Profile) -> None:
    assert virtual_users(tier, profile) == TIERS[tier].concurrent_users
    # 20% of the tier's user limit, 2XL and 3XL included.
    assert virtual_users(tier, profile) == TIERS[tier].max_users // 5


def test_kubernetes_tiers_run_8000_and_10000_users() -> None:
    assert virtual_users(Tier.XXL, Profile.LOAD) == 8_000
    assert virtual_users(Tier.XXXL, Profile.STRESS) == 10_000


@pytest.mark.parametrize("tier", list(Tier))
def test_search_profile_is_one_user(tier: Tier) -> None:
    assert virtual_users(tier, Profile.SEARCH, 0.5) == 1


@given(tier=st.sampled_from(list(Tier)), a=st.floats(1e-6, 1.0), b=st.floats(1e-6, 1.0))
def test_scaled_users_stay_between_one_and_the_tier_and_grow_with_scale(
    tier: Tier, a: float, b: float
) -> None:
    lo, hi = sorted((a, b))
    vus_lo, vus_hi = virtual_users(tier, Profile.LOAD, lo), virtual_users(tier, Profile.LOAD, hi)
    assert 1 <= vus_lo <= vus_hi <= TIERS[tier].concurrent_users


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.01, 2.0, math.nan, math.inf])
@pytest.mark.parametrize("flag", ["--scale", "--duration-scale"])
def test_scales_outside_zero_to_one_are_rejected(bad: float, flag: str) -> None:
    kwargs = {"scale": bad} if flag == "--scale" else {"duration_scale": bad}
    with pytest.raises(ConfigError) as err:
        build_plan("http://127.0.0.1:1", "M", "load", **kwargs)  # type: ignore[arg-type]
    assert str(err.value).startswith(f"{flag} must be greater than 0 and at most 1 (got ")


def test_load_stages_are_one_three_one_minutes_at_full_size() -> None:
    stages = scaled_stages(Profile.LOAD, 1_000)
    assert [(s.name, s.seconds, s.target_vus) for s in stages] == [
        ("ramp up", 60.0, 1_000),
        ("hold", 180.0, 1_000),
        ("ramp down", 60.0, 0),
    ]
    assert scaled_stages(Profile.STRESS, 5)[0].seconds == 90.0
    assert scaled_stages(Profile.SEARCH, 1)[0].seconds == 32 * 60.0


def test_duration_scale_shortens_stages_but_never_below_a_second() -> None:
    stages = scaled_stages(Profile.LOAD, 10, 0.1)
    assert [s.seconds for s in stages] == [6.0, 18.0, 6.0]
    assert [s.seconds for s in scaled_stages(Profile.LOAD, 10, 0.001)] == [1.0, 1.0, 1.0]


def test_plan_options_follow_the_profile() -> None:
    load = build_plan("http://127.0.0.1:1", "M", "load", scale=0.1, duration_scale=0.5).k6_options()
    scenario = load["scenarios"]["load"]
    assert scenario["executor"] == "ramping-vus"
    assert [s["target"] for s in scenario["stages"]] == [100, 100, 0]
    assert [s["duration"] for s in scenario["stages"]] == ["30000ms", "90000ms", "30000ms"]
    stress = build_plan("http://127.0.0.1:1", "L", "stress").k6_options()["scenarios"]["stress"]
    assert (stress["executor"], stress["vus"], stress["iterations"], stress["maxDuration"]) == (
        "per-vu-iterations",
        2_000,
        1,
        "90000ms",
    )
    search = build_plan("http://127.0.0.1:1", "L", "search").k6_options()["scenarios"]["search"]
    assert (search["executor"], search["vus"], search["iterations"]) == ("shared-iterations", 1, 30)


def test_thresholds_match_sourcegraphs_file() -> None:
    load = {t.selector: t.expression for t in thresholds_for(Profile.LOAD)}
    assert load["checks"] == "rate>0.9"
    assert load["http_req_failed"] == "rate<=0.5"
    assert load["http_req_waiting{search_type:literal}"] == "med<5500"
    assert load["http_req_waiting{search_type:highlight}"] == "med<2000"
    assert load["http_req_waiting{search_type:unindexed}"] == "med<35000"
    assert all(t.abort_on_fail for t in thresholds_for(Profile.LOAD) if t.metric == "checks")

    stress = {t.selector: t.expression for t in thresholds_for(Profile.STRESS)}
    assert stress["checks{search_type:structural}"] == "rate>0.5"
    assert stress["checks{search_type:literal}"] == "rate>0.9"

    search = {t.selector: t.expression for t in thresholds_for(Profile.SEARCH)}
    assert search["http_req_failed"] == "rate<=0.1"
    assert search["checks{search_type:regexp,query_class:expensive}"] == "rate>0.99"
    # The threshold file (3.5 s / 2.5 s), not the README (5.5 s): see ProfileThresholds.
    assert search["http_req_waiting{search_type:structural,query_class:regular}"] == "p(95)<3500"
    assert search["http_req_waiting{search_type:unindexed,query_class:regular}"] == "p(95)<2500"
    assert search["http_req_waiting{search_type:unindexed,query_class:expensive}"] == "p(95)<50000"
    assert len(THRESHOLDS[Profile.SEARCH].ttfb_ms) == 8


def test_thresholds_only_for_rows_that_have_queries() -> None:
    rows: tuple[tuple[SearchType, QueryClass | None], ...] = ((SearchType.LITERAL, QueryClass.REGULAR),)
    selectors = {t.selector for t in thresholds_for(Profile.SEARCH, rows)}
    assert selectors == {
        "checks",
        "http_req_failed",
        "checks{search_type:literal,query_class:regular}",
        "http_req_waiting{search_type:literal,query_class:regular}",
    }


def test_loopback_blocklist_leaves_only_127_reachable() -> None:
    networks = [ipaddress.ip_network(n) for n in LOOPBACK_ONLY_BLOCKLIST]

    def blocked(address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip.version == n.version and ip in n for n in networks)

    assert not blocked("127.0.0.1") and not blocked("127.255.0.9")
    for outside in ("10.0.0.1", "8.8.8.8", "192.168.1.10", "126.255.255.255", "128.0.0.1", "255.255.255.255"):
        assert blocked(outside), outside
    assert blocked("::1") and blocked("2001:db8::1")


def _k6_accepts(thresholds: dict[str, list[object]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "noop.js"
    script.write_text(
        "export const options = JSON.parse(open(__ENV.OPTS));\nexport default function () {}\n",
        encoding="utf-8",
    )
    opts = tmp_path / "opts.json"
    opts.write_text(json.dumps({"iterations": 1, "vus": 1, "thresholds": thresholds}), encoding="utf-8")
    return subprocess.run(
        [str(find_k6()), "run", "--no-usage-report", "--quiet", "--address", "", str(script)],
        env={"OPTS": str(opts), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_k6_accepts_every_threshold_expression(tmp_path: Path) -> None:
    everything: dict[str, list[object]] = {}
    for profile in Profile:
        for selector, entries in k6_thresholds(thresholds_for(profile), 60.0).items():
            everything.setdefault(selector, []).extend(entries)
    proc = _k6_accepts(everything, tmp_path)
    # 0: all held; 99: some crossed (no traffic was sent). Anything else means k6 rejected the options.
    assert proc.returncode in (0, 99), proc.stdout + proc.stderr

    broken = _k6_accepts({"checks": ["rate>>0.9"]}, tmp_path)
    assert broken.returncode not in (0, 99), "the check above would not notice a bad expression"

"""First-fit decreasing packing and EKS node-group sizing: pure functions, table-driven and property tests."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgarch.errors import ConfigError
from sgarch.sizing import Workload, estimate, estimate_for_tier
from sgarch.sizing.instances import CANDIDATE_INSTANCE_TYPES, INSTANCE_TYPES, get_instance_type
from sgarch.sizing.nodegroups import EXTERNAL_SERVICES, plan_node_groups, pod_requests
from sgarch.sizing.packing import (
    NodeShape,
    PodRequest,
    PodTooLargeError,
    first_fit_decreasing,
    kube_reserved_cpu_millis,
    kube_reserved_memory_mib,
    node_allocatable,
)
from sgarch.tiers import Tier


@pytest.mark.parametrize(("vcpu", "millis"), [(1, 60), (2, 70), (4, 80), (8, 90), (32, 150), (64, 230)])
def test_kube_reserved_cpu(vcpu: int, millis: int) -> None:
    assert kube_reserved_cpu_millis(vcpu) == millis


@pytest.mark.parametrize(("pods", "mib"), [(58, 893), (110, 1465), (250, 3005)])
def test_kube_reserved_memory(pods: int, mib: int) -> None:
    assert kube_reserved_memory_mib(pods) == mib


def test_allocatable_of_m6a_4xlarge() -> None:
    cpu, memory = node_allocatable(INSTANCE_TYPES["m6a.4xlarge"])
    # 16 cores minus 110m; 64 GiB minus 7.5% VM overhead, kube-reserved for 110 pods and 100Mi eviction.
    assert cpu == 15_890
    assert memory == math.floor(65_536 * 0.925) - 1_465 - 100


def test_ffd_packs_a_known_case_tightly() -> None:
    shape = NodeShape("t", cpu_millis=1000, memory_mib=1000, pods=10)
    pods = [PodRequest(f"p{i}", "s", c, 100) for i, c in enumerate([500, 700, 300, 200, 300])]
    nodes = first_fit_decreasing(pods, shape)
    assert sorted(sorted(p.cpu_millis for p in n) for n in nodes) == [[200, 300, 500], [300, 700]]


def test_ffd_respects_pod_slots() -> None:
    shape = NodeShape("t", cpu_millis=10_000, memory_mib=10_000, pods=2)
    nodes = first_fit_decreasing([PodRequest(f"p{i}", "s", 1, 1) for i in range(5)], shape)
    assert [len(n) for n in nodes] == [2, 2, 1]


def test_ffd_rejects_a_pod_larger_than_a_node() -> None:
    shape = NodeShape("m6a.2xlarge", cpu_millis=1000, memory_mib=1000, pods=10)
    with pytest.raises(PodTooLargeError, match="big requests 1000m CPU and 1001Mi"):
        first_fit_decreasing([PodRequest("big", "s", 1000, 1001)], shape)


pod_sizes = st.lists(st.tuples(st.integers(1, 4000), st.integers(1, 16_000)), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(pod_sizes, st.integers(1, 30))
def test_ffd_places_every_pod_once_and_never_overfills(sizes: list[tuple[int, int]], slots: int) -> None:
    shape = NodeShape("t", cpu_millis=4000, memory_mib=16_000, pods=slots)
    pods = [PodRequest(f"p{i}", "s", c, m) for i, (c, m) in enumerate(sizes)]
    nodes = first_fit_decreasing(pods, shape)
    placed = sorted(p.name for n in nodes for p in n)
    assert placed == sorted(p.name for p in pods)
    for node in nodes:
        assert node, "no empty nodes"
        assert sum(p.cpu_millis for p in node) <= shape.cpu_millis
        assert sum(p.memory_mib for p in node) <= shape.memory_mib
        assert len(node) <= shape.pods
    lower = max(
        math.ceil(sum(c for c, _ in sizes) / shape.cpu_millis),
        math.ceil(sum(m for _, m in sizes) / shape.memory_mib),
        math.ceil(len(sizes) / slots),
    )
    assert lower <= len(nodes)


@pytest.mark.parametrize("tier", list(Tier), ids=str)
def test_every_tier_fits_its_node_groups(tier: Tier) -> None:
    plan = plan_node_groups(estimate_for_tier(tier))
    assert plan.instance_type.name in CANDIDATE_INSTANCE_TYPES
    assert plan.node_count >= 2 and plan.az_count >= 2
    assert sum(plan.nodes_per_az) == plan.node_count and min(plan.nodes_per_az) >= 1
    # Allocatable covers every pod request plus the DaemonSets on every node.
    assert plan.allocatable_cpu_millis >= plan.requested_cpu_millis
    assert plan.allocatable_memory_mib >= plan.requested_memory_mib
    # Every pod sits on exactly one node, and no node (or single pod) exceeds what a node offers.
    assert sorted(p.name for n in plan.nodes for p in n) == sorted(p.name for p in plan.pods)
    for node in plan.nodes:
        assert sum(p.cpu_millis for p in node) <= plan.shape.cpu_millis
        assert sum(p.memory_mib for p in node) <= plan.shape.memory_mib
    allocatable_cpu, allocatable_memory = node_allocatable(plan.instance_type)
    for pod in plan.pods:
        assert plan.shape.fits(pod)
        assert pod.cpu_millis <= allocatable_cpu and pod.memory_mib <= allocatable_memory
    assert plan.monthly_usd == pytest.approx(plan.node_count * plan.instance_type.hourly_usd * 730)


def test_pods_expand_replicas_and_merge_zoekt() -> None:
    est = estimate(Workload(users=1000, repos=150_000, total_repo_gb=3000))
    pods = pod_requests(est)
    names = [p.name for p in pods]
    assert names.count("gitserver-0") == 1 and "gitserver-1" in names
    assert not any(n.startswith("indexedSearchIndexer") for n in names)
    zoekt = next(p for p in pods if p.name == "indexed-search-0")
    replicas = est.service("indexedSearch").replicas
    web, indexer = est.service("indexedSearch"), est.service("indexedSearchIndexer")
    assert zoekt.cpu_millis == math.ceil(web.cpu_request / replicas * 1000) + math.ceil(
        indexer.cpu_request / replicas * 1000
    )


def test_managed_services_free_node_capacity() -> None:
    est = estimate_for_tier(Tier.S)
    inside = plan_node_groups(est)
    outside = plan_node_groups(est, excluded_services=EXTERNAL_SERVICES)
    assert not any(p.service in EXTERNAL_SERVICES for p in outside.pods)
    assert outside.requested_memory_mib < inside.requested_memory_mib


def test_oversized_sharded_service_gets_more_replicas() -> None:
    # 3XL's gitserver replicas request more CPU each than an m6a.2xlarge offers pods.
    plan = plan_node_groups(estimate_for_tier(Tier.XXXL), instance_type="m6a.2xlarge")
    service, before, after = plan.resharded[0]
    assert service == "gitserver" and after > before
    assert plan.estimate.service("gitserver").replicas == after
    # Totals are unchanged: the replicas share them.
    assert (
        plan.estimate.service("gitserver").cpu_request
        == estimate_for_tier(Tier.XXXL).service("gitserver").cpu_request
    )


def test_overrides_win_and_are_checked() -> None:
    est = estimate_for_tier(Tier.XS)
    plan = plan_node_groups(est, instance_type="m6a.16xlarge", node_count=4)
    assert plan.instance_type.name == "m6a.16xlarge" and plan.node_count == 4 and plan.nodes_per_az == (2, 2)
    with pytest.raises(
        ConfigError, match=r"^node_count must be at least 2 \(what the pods need on m6a.2xlarge\)"
    ):
        plan_node_groups(est, node_count=1)
    with pytest.raises(ConfigError, match=r"^instance_type must be an instance type sgarch knows"):
        get_instance_type("t3.micro")
    with pytest.raises(ConfigError, match=r"^availability_zone_count must be at least 2 \(got 1\)"):
        plan_node_groups(est, az_count=1)


def test_an_unsharded_pod_too_large_for_the_chosen_type_is_a_config_error() -> None:
    # Syntactic code intel on a 150 GB repository: upstream's 150 cores per pod, a share of them requested.
    est = estimate(
        Workload(users=10, repos=10, total_repo_gb=200, largest_repo_gb=150, syntactic_code_intel=True)
    )
    with pytest.raises(ConfigError, match=r"^instance_type must be a type whose nodes hold the largest pod"):
        plan_node_groups(est, instance_type="m6a.2xlarge")


def test_headroom_buys_more_nodes() -> None:
    est = estimate_for_tier(Tier.L)
    assert plan_node_groups(est, headroom=0.4).node_count >= plan_node_groups(est, headroom=0.0).node_count

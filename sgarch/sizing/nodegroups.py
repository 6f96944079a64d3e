"""Size the EKS node groups for an estimate: which instance type, how many nodes, spread over which zones.

The estimate's pods (replicas expanded, the two zoekt containers of an indexed-search pod counted as one
pod) plus the cluster's own pods are packed with first-fit decreasing onto each candidate instance type;
the cheapest packing wins, and on a tie the smaller type (more nodes, smaller failure domains). Nodes are
spread round-robin over at least two availability zones, one managed node group per zone, because a pod
with an EBS volume can only ever run in its volume's zone.

The tier's documented size is a floor: a tier's nodes together never offer less vCPU or memory than
Sourcegraph's tier table gives it (48 vCPU / 192 GB for L), because that is the size Sourcegraph load-tested
and the estimate's requests are shares of it (:mod:`sgarch.sizing.estimator`). Memory nobody requested is
the page cache gitserver and zoekt live on. Managed AWS services (RDS, ElastiCache, S3) do not lower the
floor.

Every plan stays within EKS's default quotas: at most :data:`EKS_NODE_GROUP_QUOTA` nodes per managed node
group and :data:`EKS_NODE_GROUPS_PER_CLUSTER_QUOTA` node groups per cluster. A plan that needs more is a
:class:`~sgarch.errors.ConfigError` naming the quota to raise.

When a single pod of a sharded service (gitserver, indexed-search, searcher) is larger than the biggest
node can hold, the service gets more replicas, each with a share of the total: these services split their
repositories across replicas, so a replica's memory and disk follow its share. Other pods that are too
large are a :class:`~sgarch.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from sgarch.errors import ConfigError
from sgarch.sizing.estimator import SINGLETONS, Estimate, Totals
from sgarch.sizing.instances import CANDIDATE_INSTANCE_TYPES, InstanceType, get_instance_type
from sgarch.sizing.packing import (
    NodeShape,
    PodRequest,
    PodTooLargeError,
    first_fit_decreasing,
    node_allocatable,
    node_shape,
)
from sgarch.tiers import TIERS, Tier

__all__ = [
    "CLUSTER_PODS",
    "DAEMONSETS",
    "DEFAULT_HEADROOM",
    "EKS_NODE_GROUPS_PER_CLUSTER_QUOTA",
    "EKS_NODE_GROUP_QUOTA",
    "EXTERNAL_SERVICES",
    "NODE_AMI_TYPE",
    "NODE_CAPACITY_TYPE",
    "NodePlan",
    "daemonset_requests",
    "floor_node_count",
    "node_group_generation",
    "plan_node_groups",
    "pod_requests",
]

DEFAULT_HEADROOM = 0.15
"""Fraction of the nodes' pod capacity kept free over the plan: room for a rolling update's surge pod and
for requests we estimate rather than read (the EKS add-ons). No node is packed beyond its allocatable."""

EKS_NODE_GROUP_QUOTA = 450
"""EKS's default service quota of nodes per managed node group (adjustable in Service Quotas)."""

EKS_NODE_GROUPS_PER_CLUSTER_QUOTA = 30
"""EKS's default service quota of managed node groups per cluster (adjustable in Service Quotas)."""

NODE_AMI_TYPE = "AL2023_x86_64_STANDARD"
"""The AMI type of every node group: EKS's Amazon Linux 2023 for x86-64 (the default from Kubernetes 1.30)."""
NODE_CAPACITY_TYPE = "ON_DEMAND"
"""Node capacity: on-demand. Spot would interrupt gitserver and indexed-search, which hold state on EBS."""


def node_group_generation(
    instance_type: str,
    root_volume_gib: int,
    ami_type: str = NODE_AMI_TYPE,
    capacity_type: str = NODE_CAPACITY_TYPE,
) -> str:
    """Eight hex characters naming one generation of node groups; they change with any input that EKS cannot
    change on a running node group (instance type, AMI type, capacity type) and with the root volume.

    Node groups carry the generation in their logical names. A change then declares new node groups, which
    Pulumi creates first, and leaves the old ones out of the program, which Pulumi deletes only at the end
    of the update, once the new nodes are Ready (blue/green): never a replacement of a running group in
    place. Inputs EKS updates in place (node counts, Kubernetes version, launch template version) are left
    out, so those changes stay rolling updates of the same group.
    """
    inputs = {
        "instance_types": [instance_type],
        "ami_type": ami_type,
        "capacity_type": capacity_type,
        "root_volume_gib": root_volume_gib,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:8]


_MIB_PER_GB = 1_000_000_000 / 1_048_576

# (name, CPU millicores, memory MiB) of every DaemonSet, per node.
DAEMONSETS: tuple[tuple[str, int, int], ...] = (
    # Sourcegraph's chart (charts/sourcegraph/values.yaml, 7.6.0).
    ("cadvisor", 150, 200),
    ("node-exporter", 200, 100),
    ("otel-agent", 100, 100),
    # EKS add-ons (aws-node, kube-proxy, ebs-csi-node, eks-pod-identity-agent): an allowance rather than
    # their exact requests, which change between add-on versions.
    ("eks-addons", 250, 512),
)
"""DaemonSet requests on every node."""

# (name, replicas, CPU millicores, memory MiB) of the cluster's own Deployments.
CLUSTER_PODS: tuple[tuple[str, int, int, int], ...] = (
    ("coredns", 2, 100, 70),
    ("ebs-csi-controller", 2, 100, 256),
    ("aws-load-balancer-controller", 2, 100, 256),
    # Sourcegraph's OpenTelemetry gateway Deployment (chart default requests).
    ("otel-collector", 1, 1000, 1024),
)
"""Deployments that are not in the estimate but share the nodes."""

EXTERNAL_SERVICES = frozenset(
    {"pgsql", "codeIntelDB", "codeInsightsDB", "redisCache", "redisStore", "blobstore"}
)
"""Services a managed AWS service can replace (RDS, ElastiCache, S3); they then need no node capacity."""

# Services that split their data across replicas; indexedSearchIndexer runs in indexedSearch's pod.
_SHARDED: dict[str, tuple[str, ...]] = {
    "gitserver": ("gitserver",),
    "indexedSearch": ("indexedSearch", "indexedSearchIndexer"),
    "searcher": ("searcher",),
}
_POD_NAMES = {
    "frontend": "sourcegraph-frontend",
    "indexedSearch": "indexed-search",
    "syntectServer": "syntect-server",
    "preciseCodeIntel": "precise-code-intel-worker",
    "syntacticCodeIntel": "syntactic-code-intel-worker",
    "codeIntelDB": "codeintel-db",
    "codeInsightsDB": "codeinsights-db",
    "redisCache": "redis-cache",
    "redisStore": "redis-store",
}


@dataclass(frozen=True)
class NodePlan:
    """The node groups for one estimate, and the packing that proves the pods fit.

    ``estimate`` is the estimate the Helm values must be rendered from: the input, except for services
    given more replicas to fit a node (listed in ``resharded`` as ``(service, before, after)``).
    ``nodes`` holds one list of pods per node (empty lists for nodes added to reach ``az_count``).
    """

    instance_type: InstanceType
    node_count: int
    az_count: int
    headroom: float
    estimate: Estimate
    excluded_services: frozenset[str]
    pods: tuple[PodRequest, ...]
    daemonsets: tuple[PodRequest, ...]
    nodes: tuple[tuple[PodRequest, ...], ...]
    shape: NodeShape
    resharded: tuple[tuple[str, int, int], ...]
    candidates: tuple[tuple[str, int, float], ...]
    """Every instance type tried, as ``(type, nodes, monthly USD)``; 0 nodes when its nodes are too small."""
    warnings: tuple[str, ...]

    @property
    def nodes_per_az(self) -> tuple[int, ...]:
        """Desired nodes of each zone's node group, as even as possible (the first zones get the rest)."""
        base, extra = divmod(self.node_count, self.az_count)
        return tuple(base + (1 if i < extra else 0) for i in range(self.az_count))

    @property
    def allocatable_cpu_millis(self) -> int:
        """The kubelet's allocatable CPU over all nodes."""
        return node_allocatable(self.instance_type)[0] * self.node_count

    @property
    def allocatable_memory_mib(self) -> int:
        """The kubelet's allocatable memory over all nodes."""
        return node_allocatable(self.instance_type)[1] * self.node_count

    @property
    def requested_cpu_millis(self) -> int:
        """Requests of every pod plus the DaemonSets on every node."""
        per_node = sum(d.cpu_millis for d in self.daemonsets)
        return sum(p.cpu_millis for p in self.pods) + per_node * self.node_count

    @property
    def requested_memory_mib(self) -> int:
        """Memory requests of every pod plus the DaemonSets on every node."""
        per_node = sum(d.memory_mib for d in self.daemonsets)
        return sum(p.memory_mib for p in self.pods) + per_node * self.node_count

    @property
    def cpu_efficiency(self) -> float:
        """Requested over allocatable CPU, 0 to 1."""
        return self.requested_cpu_millis / self.allocatable_cpu_millis

    @property
    def memory_efficiency(self) -> float:
        """Requested over allocatable memory, 0 to 1."""
        return self.requested_memory_mib / self.allocatable_memory_mib

    @property
    def monthly_usd(self) -> float:
        """Approximate on-demand compute cost of the nodes for 730 hours (no EBS, no control plane)."""
        return self.instance_type.monthly_usd * self.node_count


def _mib(gb: float) -> int:
    # Helm renders memory in whole MB (rounded up); count exactly what the pod will request.
    megabytes = math.ceil(gb * 1000 - 1e-6)
    return math.ceil(megabytes * 1_000_000 / 1_048_576 - 1e-9)


def _millis(cores: float) -> int:
    return math.ceil(cores * 1000 - 1e-6)


def pod_requests(est: Estimate, excluded_services: Iterable[str] = ()) -> list[PodRequest]:
    """Every pod of the estimate plus the cluster's own Deployments, replicas expanded."""
    excluded = set(excluded_services)
    pods: list[PodRequest] = []
    for svc in est.services:
        if svc.name in excluded or svc.name == "indexedSearchIndexer" or not svc.enabled:
            continue
        containers = [svc]
        if svc.name == "indexedSearch":
            containers.append(est.service("indexedSearchIndexer"))
        count = 1 if svc.name in SINGLETONS else svc.replicas
        cpu = sum(_millis(c.cpu_request / count) for c in containers)
        memory = sum(_mib(c.memory_request_gb / count) for c in containers)
        base = _POD_NAMES.get(svc.name, svc.name)
        pods.extend(PodRequest(f"{base}-{i}", svc.name, cpu, memory) for i in range(count))
    for name, replicas, cpu, memory in CLUSTER_PODS:
        pods.extend(PodRequest(f"{name}-{i}", name, cpu, memory) for i in range(replicas))
    return pods


def daemonset_requests() -> tuple[PodRequest, ...]:
    """The DaemonSet pods every node runs."""
    return tuple(PodRequest(name, name, cpu, memory) for name, cpu, memory in DAEMONSETS)


def _reshard(
    est: Estimate, shape: NodeShape, excluded: frozenset[str]
) -> tuple[Estimate, list[tuple[str, int, int]]]:
    services = {s.name: s for s in est.services}
    changes: list[tuple[str, int, int]] = []
    for head, members in _SHARDED.items():
        svc = services[head]
        if head in excluded or not svc.enabled:
            continue
        cpu = sum(services[m].cpu_request for m in members)
        memory = sum(services[m].memory_request_gb for m in members)
        needed = svc.replicas
        # Grow until one replica's share, rounded as Helm renders it, fits an empty node.
        while True:
            pod_cpu = sum(_millis(services[m].cpu_request / needed) for m in members)
            pod_memory = sum(_mib(services[m].memory_request_gb / needed) for m in members)
            if pod_cpu <= shape.cpu_millis and pod_memory <= shape.memory_mib:
                break
            needed = max(
                needed + 1,
                math.ceil(cpu * 1000 / max(shape.cpu_millis, 1)),
                math.ceil(memory * _MIB_PER_GB / max(shape.memory_mib, 1)),
            )
        if needed != svc.replicas:
            changes.append((head, svc.replicas, needed))
            for m in members:
                services[m] = dataclasses.replace(services[m], replicas=needed)
    if not changes:
        return est, []
    ordered = tuple(services[s.name] for s in est.services)
    return dataclasses.replace(est, services=ordered, totals=Totals.of(ordered)), changes


def _lower_bound(pods: list[PodRequest], kept: NodeShape, shape: NodeShape) -> int:
    # Nodes the pods need whatever the placement: their total over what a node offers with its headroom,
    # and one node for each pod over half a node in the same resource. Every term grows with the pods, so a
    # growing workload never gets fewer nodes from it.
    for pod in pods:
        if not shape.fits(pod):
            raise PodTooLargeError(pod, shape)
    return max(
        math.ceil(sum(p.cpu_millis for p in pods) / max(kept.cpu_millis, 1)),
        math.ceil(sum(p.memory_mib for p in pods) / max(kept.memory_mib, 1)),
        math.ceil(len(pods) / max(kept.pods, 1)),
        sum(1 for p in pods if 2 * p.cpu_millis > shape.cpu_millis),
        sum(1 for p in pods if 2 * p.memory_mib > shape.memory_mib),
    )


def _consolidate(nodes: list[list[PodRequest]], shape: NodeShape) -> list[list[PodRequest]]:
    # Empty the least-loaded node into the others' free space when it all fits, then the next one.
    nodes = [list(n) for n in nodes]
    while len(nodes) > 1:
        nodes.sort(key=lambda n: sum(p.cpu_millis for p in n) + sum(p.memory_mib for p in n), reverse=True)
        moved = [list(n) for n in nodes[:-1]]
        for pod in sorted(nodes[-1], key=lambda p: (-p.memory_mib, -p.cpu_millis, p.name)):
            for node in moved:
                if (
                    sum(p.cpu_millis for p in node) + pod.cpu_millis <= shape.cpu_millis
                    and sum(p.memory_mib for p in node) + pod.memory_mib <= shape.memory_mib
                    and len(node) < shape.pods
                ):
                    node.append(pod)
                    break
            else:
                return nodes
        nodes = moved
    return nodes


def _pack(pods: list[PodRequest], shape: NodeShape, needed: int) -> list[list[PodRequest]]:
    # First-fit decreasing can need a node more for a slightly smaller workload (the classic anomaly). The
    # count comes from the monotone lower bound ``needed``, which leaves each node its headroom on average;
    # placing the pods on full nodes fits them in that count but in rare corner cases, and the best of three
    # orders, each followed by emptying its emptiest nodes into the others, makes those rarer still.
    best: list[list[PodRequest]] | None = None
    for order in ("dominant", "memory", "cpu"):
        nodes = first_fit_decreasing(pods, shape, order)
        if needed < len(nodes) <= 64:  # large plans are identical replicas, where the pass gains nothing
            nodes = _consolidate(nodes, shape)
        if best is None or len(nodes) < len(best):
            best = nodes
        if len(best) <= needed:
            break
    assert best is not None
    return best


def floor_node_count(instance: InstanceType, tier: Tier) -> int:
    """Nodes of ``instance`` that together offer at least ``tier``'s documented vCPU and memory."""
    spec = TIERS[tier]
    return max(math.ceil(spec.vcpu / instance.vcpu), math.ceil(spec.memory_gb / instance.memory_gib))


def _quota_error(nodes: int, az_count: int, itype: str) -> ConfigError:
    return ConfigError(
        "node_count",
        f"at most {EKS_NODE_GROUP_QUOTA * az_count} over {az_count} zones ({EKS_NODE_GROUP_QUOTA} nodes per managed "
        "node group, EKS's default quota)",
        f"{nodes} × {itype}",
        "pick a larger instance_type or more zones, or raise 'Nodes per managed node group' in Service Quotas "
        "and set node_count",
    )


def _too_large(error: PodTooLargeError, field: str) -> ConfigError:
    pod = error.pod
    return ConfigError(
        field,
        f"a type whose nodes hold the largest pod ({pod.name}: {pod.cpu_millis}m CPU, {pod.memory_mib}Mi memory)",
        error.shape.instance_type,
        f"{error.shape.instance_type} offers pods {error.shape.cpu_millis}m and {error.shape.memory_mib}Mi after "
        "reservations and DaemonSets; pick a larger type, or move the service to a managed AWS service",
    )


def plan_node_groups(
    est: Estimate,
    *,
    excluded_services: Iterable[str] = (),
    headroom: float = DEFAULT_HEADROOM,
    az_count: int = 2,
    instance_type: str | None = None,
    node_count: int | None = None,
    candidates: Iterable[str] = CANDIDATE_INSTANCE_TYPES,
) -> NodePlan:
    """Choose the instance type and node count for ``est``; an explicit ``instance_type`` or ``node_count``
    always wins. Raises ConfigError (naming ``instance_type``, ``node_count``, ``node_headroom`` or
    ``availability_zone_count``) when the pods cannot fit."""
    if not 0 <= headroom < 0.9:
        raise ConfigError(
            "node_headroom", "a fraction from 0 to 0.9", headroom, "0.15 keeps 15% of each node free"
        )
    if az_count < 2:
        raise ConfigError(
            "availability_zone_count", "at least 2", az_count, "spread nodes over two zones or more"
        )
    if az_count > EKS_NODE_GROUPS_PER_CLUSTER_QUOTA:
        raise ConfigError(
            "availability_zone_count",
            f"at most {EKS_NODE_GROUPS_PER_CLUSTER_QUOTA} (one managed node group per zone; EKS's default quota "
            "of managed node groups per cluster)",
            az_count,
            "use fewer zones, or raise 'Managed node groups per cluster' in Service Quotas",
        )
    excluded = frozenset(excluded_services)
    unknown = excluded - EXTERNAL_SERVICES
    if unknown:
        raise ConfigError(
            "excluded_services",
            f"a subset of {', '.join(sorted(EXTERNAL_SERVICES))}",
            sorted(unknown),
            "only stateful services have a managed AWS replacement",
        )
    types = (
        [get_instance_type(instance_type)] if instance_type else [get_instance_type(t) for t in candidates]
    )
    daemonsets = daemonset_requests()

    # (cost, added replicas, node count, type, shape, packing, estimate, resharded)
    best: (
        tuple[
            float,
            int,
            int,
            InstanceType,
            NodeShape,
            list[list[PodRequest]],
            Estimate,
            list[tuple[str, int, int]],
        ]
        | None
    ) = None
    tried: list[tuple[str, int, float]] = []
    last_error: PodTooLargeError | None = None
    quota_error: ConfigError | None = None
    for itype in types:
        # Sharded services split so that one replica fits a node with its headroom; the node count keeps the
        # headroom over the whole plan; the pods are then placed on nodes filled up to their allocatable.
        kept = node_shape(itype, daemonsets, headroom)
        shape = node_shape(itype, daemonsets)
        sized, resharded = _reshard(est, kept, excluded)
        pods = pod_requests(sized, excluded)
        try:
            needed = max(az_count, floor_node_count(itype, est.tier), _lower_bound(pods, kept, shape))
            nodes = _pack(pods, shape, needed)
        except PodTooLargeError as exc:
            last_error = exc
            tried.append((itype.name, 0, 0.0))
            continue
        count = max(len(nodes), needed)
        cost = count * itype.monthly_usd
        added = sum(after - before for _, before, after in resharded)
        tried.append((itype.name, count, cost))
        if math.ceil(count / az_count) > EKS_NODE_GROUP_QUOTA:
            quota_error = _quota_error(count, az_count, itype.name)
            continue
        # Cheapest wins. On a tie (prices are linear in vCPU), the type that splits services least, then
        # the smaller type (smaller failure domains), which the loop saw first.
        if best is None or (round(cost, 2), added) < (round(best[0], 2), best[1]):
            best = (cost, added, count, itype, shape, nodes, sized, resharded)
    if best is None:
        if quota_error is not None:
            raise quota_error
        assert last_error is not None
        raise _too_large(last_error, "instance_type")
    _, _, count, itype, shape, nodes, sized, resharded = best
    pods = pod_requests(sized, excluded)
    if node_count is not None:
        if node_count < count:
            raise ConfigError(
                "node_count",
                f"at least {count} (what the pods need on {itype.name})",
                node_count,
                "raise it, or leave it unset to size from the estimate",
            )
        count = node_count
    packed = [tuple(n) for n in nodes] + [()] * (count - len(nodes))
    warnings = []
    if node_count is not None and math.ceil(count / az_count) > EKS_NODE_GROUP_QUOTA:
        # An explicit count is the operator's word that the quota was raised; say which one it needs.
        warnings.append(
            f"{math.ceil(count / az_count)} nodes per zone exceed EKS's default quota of "
            f"{EKS_NODE_GROUP_QUOTA} nodes per managed node group; raise it in Service Quotas first"
        )
    for service, before, after in resharded:
        warnings.append(
            f"{service} runs {after} replicas instead of {before} so that one replica fits a "
            f"{itype.name} node; each holds its share of the data"
        )
    return NodePlan(
        instance_type=itype,
        node_count=count,
        az_count=az_count,
        headroom=headroom,
        estimate=sized,
        excluded_services=excluded,
        pods=tuple(pods),
        daemonsets=daemonsets,
        nodes=tuple(packed),
        shape=shape,
        resharded=tuple(resharded),
        candidates=tuple(tried),
        warnings=tuple(warnings),
    )

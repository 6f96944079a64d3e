"""Pack pod requests onto identical nodes: first-fit decreasing over CPU, memory and pod slots. Pure.

Quantities are integers (millicores, MiB, pod count) so a pod that fits exactly is never rejected by float
noise. The order is by each pod's *dominant share*, the larger of its CPU and memory fractions of one node,
which is the usual extension of first-fit decreasing to two dimensions: the pods that are hardest to place
go first, while the nodes are still empty.

Node capacity follows what the kubelet on an EKS AL2023 node makes allocatable:

- **VM overhead.** The memory the instance type advertises is not all visible to the OS; like Karpenter's
  default, 7.5% is set aside.
- **kube-reserved.** Memory ``11 MiB × max pods + 255 MiB``; CPU 6% of the first core, 1% of the second,
  0.5% of the third and fourth, 0.25% of every further core (the EKS AMIs' formulas).
- **Eviction threshold.** ``memory.available < 100Mi``.

DaemonSets take their requests on every node before any other pod is placed, and ``headroom`` keeps that
fraction of what is left free on each node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sgarch.sizing.instances import InstanceType

__all__ = [
    "EVICTION_MEMORY_MIB",
    "VM_MEMORY_OVERHEAD",
    "NodeShape",
    "PodRequest",
    "PodTooLargeError",
    "first_fit_decreasing",
    "kube_reserved_cpu_millis",
    "kube_reserved_memory_mib",
    "node_allocatable",
    "node_shape",
]

VM_MEMORY_OVERHEAD = 0.075
"""Fraction of an instance's advertised memory the kernel and hypervisor keep (Karpenter's default)."""

EVICTION_MEMORY_MIB = 100
"""The kubelet's hard eviction threshold on EKS nodes."""


@dataclass(frozen=True)
class PodRequest:
    """One pod's resource requests: ``name`` is unique (``gitserver-0``), ``service`` is the chart key."""

    name: str
    service: str
    cpu_millis: int
    memory_mib: int


@dataclass(frozen=True)
class NodeShape:
    """What one node offers the pods being packed, after reservations, DaemonSets and headroom."""

    instance_type: str
    cpu_millis: int
    memory_mib: int
    pods: int

    def fits(self, pod: PodRequest) -> bool:
        """Whether ``pod`` fits on an empty node of this shape."""
        return pod.cpu_millis <= self.cpu_millis and pod.memory_mib <= self.memory_mib and self.pods >= 1


class PodTooLargeError(ValueError):
    """A pod requests more than an empty node of the shape offers."""

    def __init__(self, pod: PodRequest, shape: NodeShape) -> None:
        self.pod = pod
        self.shape = shape
        super().__init__(
            f"{pod.name} requests {pod.cpu_millis}m CPU and {pod.memory_mib}Mi memory; a {shape.instance_type} "
            f"node offers {shape.cpu_millis}m and {shape.memory_mib}Mi to pods"
        )


def kube_reserved_cpu_millis(vcpu: int) -> int:
    """CPU the EKS AMIs reserve for the kubelet and container runtime on a node with ``vcpu`` cores."""
    steps = ((1, 60.0), (1, 10.0), (2, 5.0))
    reserved, left = 0.0, vcpu
    for cores, millis in steps:
        used = min(left, cores)
        reserved += used * millis
        left -= used
    reserved += max(left, 0) * 2.5
    return math.ceil(reserved)


def kube_reserved_memory_mib(max_pods: int) -> int:
    """Memory the EKS AMIs reserve for the kubelet and container runtime, from the node's pod limit."""
    return 11 * max_pods + 255


def node_allocatable(instance: InstanceType) -> tuple[int, int]:
    """The kubelet's allocatable (millicores, MiB) on one node of ``instance``."""
    memory = math.floor(instance.memory_gib * 1024 * (1 - VM_MEMORY_OVERHEAD))
    memory -= kube_reserved_memory_mib(instance.max_pods) + EVICTION_MEMORY_MIB
    cpu = instance.vcpu * 1000 - kube_reserved_cpu_millis(instance.vcpu)
    return cpu, memory


def node_shape(
    instance: InstanceType,
    daemonsets: Iterable[PodRequest] = (),
    headroom: float = 0.0,
) -> NodeShape:
    """What one node of ``instance`` offers other pods once ``daemonsets`` run and ``headroom`` is kept free."""
    cpu, memory = node_allocatable(instance)
    ds = list(daemonsets)
    cpu -= sum(p.cpu_millis for p in ds)
    memory -= sum(p.memory_mib for p in ds)
    keep = 1.0 - headroom
    return NodeShape(
        instance_type=instance.name,
        cpu_millis=max(math.floor(cpu * keep), 0),
        memory_mib=max(math.floor(memory * keep), 0),
        pods=max(instance.max_pods - len(ds), 0),
    )


def _dominant_share(pod: PodRequest, shape: NodeShape) -> float:
    return max(pod.cpu_millis / max(shape.cpu_millis, 1), pod.memory_mib / max(shape.memory_mib, 1))


_ORDERS: dict[str, Callable[[PodRequest, NodeShape], tuple[float, ...]]] = {
    "dominant": lambda p, s: (-_dominant_share(p, s), -p.memory_mib, -p.cpu_millis),
    "memory": lambda p, s: (-p.memory_mib, -p.cpu_millis),
    "cpu": lambda p, s: (-p.cpu_millis, -p.memory_mib),
}


def first_fit_decreasing(
    pods: Sequence[PodRequest], shape: NodeShape, order: str = "dominant"
) -> list[list[PodRequest]]:
    """Assign every pod to a node; return the nodes (lists of pods), fewest that first-fit decreasing finds.

    ``order`` sorts the pods before placing them: by dominant share (the default), by memory or by CPU.
    Raises :class:`PodTooLargeError` for a pod no empty node can hold. Deterministic: ties are broken by
    pod name. Runs in about O(pods + distinct pod sizes × nodes), so thousands of identical replicas pack
    in milliseconds.
    """
    for pod in pods:
        if not shape.fits(pod):
            raise PodTooLargeError(pod, shape)
    key = _ORDERS[order]
    ordered = sorted(pods, key=lambda p: (*key(p, shape), p.name))
    nodes: list[list[PodRequest]] = []
    free_cpu: list[int] = []
    free_memory: list[int] = []
    free_slots: list[int] = []
    # Free capacity only shrinks, so a pod identical to the previous one cannot fit on any node before the
    # one the previous pod went to: the scan resumes there.
    start = 0
    previous: tuple[int, int] | None = None
    for pod in ordered:
        size = (pod.cpu_millis, pod.memory_mib)
        if size != previous:
            start, previous = 0, size
        placed = -1
        for i in range(start, len(nodes)):
            if free_cpu[i] >= pod.cpu_millis and free_memory[i] >= pod.memory_mib and free_slots[i] >= 1:
                placed = i
                break
        if placed < 0:
            nodes.append([])
            free_cpu.append(shape.cpu_millis)
            free_memory.append(shape.memory_mib)
            free_slots.append(shape.pods)
            placed = len(nodes) - 1
        nodes[placed].append(pod)
        free_cpu[placed] -= pod.cpu_millis
        free_memory[placed] -= pod.memory_mib
        free_slots[placed] -= 1
        start = placed
    return nodes

"""Orchestration of an AMI build: the step list, ``--dry-run``'s plan, and :func:`build`.

The steps and their cleanups live in :mod:`sgarch.ami.steps`, one module each; the runner
(:mod:`sgarch.ami.runner`) runs them and their cleanups in reverse. SIGTERM and SIGHUP interrupt a build
like Ctrl-C. When a cleanup could not remove something, the error lists what is left by id and region and
the ``sgarch ami cleanup`` command that removes it.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from sgarch.ami.aws import ClientFactory
from sgarch.ami.cleanup import cleanup_command, find_leftovers
from sgarch.ami.runner import BuildEvent, Clock, EventSink, Step, SystemClock, run_steps
from sgarch.ami.spec import LoadedSpec
from sgarch.ami.steps import (
    BuildOptions,
    BuildState,
    ChooseSubnet,
    CopyToRegions,
    CreateImage,
    Harden,
    InstanceProfile,
    Launch,
    PreValidate,
    Provision,
    SecurityGroup,
    Share,
    SourceAmi,
    Stop,
    WaitForImage,
    WaitForSsm,
    WriteManifest,
)

__all__ = ["CHANGE_CALLS", "STEP_NAMES", "BuildPlan", "BuildResult", "build", "build_steps", "plan_build"]

#: Signals that interrupt a build like Ctrl-C (SIGINT), so its cleanups run.
INTERRUPT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def build_steps() -> list[Step[BuildState]]:
    """The build's steps, in order. Tests wrap single steps to inject faults."""
    return [
        PreValidate(),
        SourceAmi(),
        ChooseSubnet(),
        SecurityGroup(),
        InstanceProfile(),
        Launch(),
        WaitForSsm(),
        Provision(),
        Harden(),
        Stop(),
        CreateImage(),
        WaitForImage(),
        CopyToRegions(),
        Share(),
        WriteManifest(),
    ]


STEP_NAMES: tuple[str, ...] = tuple(step.name for step in build_steps())
#: ``(step, "service.Operation")`` for every AWS call a build makes that creates or changes something.
CHANGE_CALLS: tuple[tuple[str, str], ...] = tuple(
    (step.name, call) for step in build_steps() for call in getattr(step, "changes", ())
)


@dataclass(frozen=True)
class BuildResult:
    """What a build produced. ``skipped`` means an identical image existed and nothing was built."""

    build_id: str
    ami_name: str
    images: dict[str, str]
    manifest_path: Path | None
    skipped: bool = False
    existing_image_id: str | None = None


@dataclass(frozen=True)
class BuildPlan:
    """What ``--dry-run`` shows: the build as it would run, computed without calling AWS."""

    name: str
    version: str
    spec_hash: str
    build_region: str
    copy_regions: tuple[str, ...]
    steps: tuple[str, ...]
    scripts: tuple[str, ...]
    shared_with: tuple[str, ...]
    files: tuple[str, ...] = ()
    """``destination <- source`` for each ``files`` entry, in the order they are copied."""


def plan_build(loaded: LoadedSpec) -> BuildPlan:
    """The build as ``--dry-run`` shows it; no AWS calls."""
    spec = loaded.spec
    return BuildPlan(
        name=spec.name,
        version=spec.sourcegraph_version,
        spec_hash=loaded.spec_hash,
        build_region=spec.build_region,
        copy_regions=spec.copy_regions,
        steps=STEP_NAMES,
        scripts=tuple(s.ref for s in (*loaded.provisioners, *loaded.hardening)),
        files=tuple(f"{f.destination} <- {f.ref}" for f in loaded.files),
        shared_with=(
            *spec.sharing.account_ids,
            *spec.sharing.organization_arns,
            *spec.sharing.organizational_unit_arns,
        ),
    )


def build(
    loaded: LoadedSpec,
    options: BuildOptions,
    clients: ClientFactory,
    *,
    emit: EventSink | None = None,
    clock: Clock | None = None,
    steps: list[Step[BuildState]] | None = None,
    build_id: str | None = None,
) -> BuildResult:
    """Build the image described by ``loaded``; see :mod:`sgarch.ami.steps` for the steps.

    Raises :class:`AmiBuildError` after cleanups when a step fails, :class:`ConfigError` for bad input found
    on the way, and re-raises ``KeyboardInterrupt`` (:class:`~sgarch.ami.runner.Interrupted` for SIGTERM and
    SIGHUP, when called from the main thread) after cleanups.
    """
    state = BuildState(
        loaded=loaded, options=options, clients=clients, clock=clock or SystemClock(), emit=emit or _ignore
    )
    if build_id is not None:
        state.build_id = build_id
    run_steps(
        steps if steps is not None else build_steps(),
        state,
        state.emit,
        state.clock,
        signals=INTERRUPT_SIGNALS,
        report_leftovers=lambda errors: _leftovers(state, errors),
    )
    return BuildResult(
        build_id=state.build_id,
        ami_name=state.ami_name,
        images=dict(state.images),
        manifest_path=state.manifest_path,
        skipped=state.existing_image_id is not None,
        existing_image_id=state.existing_image_id,
    )


def _leftovers(state: BuildState, errors: list[str]) -> str:
    """What a failed cleanup left, found again by build id, and the command that removes it."""
    spec = state.loaded.spec
    command = cleanup_command(state.build_id, spec.regions)
    try:
        found = find_leftovers(state.clients, spec.regions, state.build_id, iam_region=spec.build_region)
    except Exception as exc:  # the listing can fail for the same reason the cleanup did
        state.emit(BuildEvent("warning", "cleanup", f"could not list what is left: {exc}"))
        return f"cleanup could not remove: {'; '.join(errors)}; remove what is left with: {command}"
    if not found:
        return f"cleanup reported errors but nothing is left ({'; '.join(errors)})"
    items = ", ".join(f"{f.kind} {f.resource_id} ({f.region})" for f in found)
    return f"left behind: {items}; remove them with: {command} (cleanup errors: {'; '.join(errors)})"


def _ignore(event: BuildEvent) -> None:
    """Default event sink."""

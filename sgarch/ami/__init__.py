"""Packer-style AMI builder: image specs, the build steps with their cleanups, list/prune and publishing.

Pure boto3 (no Pulumi): a build is an ordered list of steps, each with a cleanup that runs in reverse on
success, failure, Ctrl-C, SIGTERM or SIGHUP. See :mod:`sgarch.ami.steps` for the steps (one module each),
:mod:`sgarch.ami.pipeline` for how they run, :mod:`sgarch.ami.cleanup` for ``sgarch ami cleanup`` and
``amis/`` for the image specs.
"""

from __future__ import annotations

from sgarch.ami.aws import BUILD_COMPLETE_TAG, BUILD_ID_TAG, ClientFactory
from sgarch.ami.cleanup import Leftover, cleanup_command, find_leftovers, remove_leftovers
from sgarch.ami.inventory import (
    Build,
    BuiltImage,
    PruneResult,
    enabled_regions,
    list_builds,
    prune,
    prune_plan,
)
from sgarch.ami.pipeline import (
    CHANGE_CALLS,
    STEP_NAMES,
    BuildPlan,
    BuildResult,
    build,
    build_steps,
    plan_build,
)
from sgarch.ami.publish import PublishResult, load_manifest, publish
from sgarch.ami.runner import (
    BuildEvent,
    Clock,
    EventSink,
    Interrupted,
    Step,
    SystemClock,
    run_steps,
    wait_until,
)
from sgarch.ami.spec import AmiSpec, LoadedSpec, load_spec
from sgarch.ami.steps import BuildOptions, BuildState

__all__ = [
    "BUILD_COMPLETE_TAG",
    "BUILD_ID_TAG",
    "CHANGE_CALLS",
    "STEP_NAMES",
    "AmiSpec",
    "Build",
    "BuildEvent",
    "BuildOptions",
    "BuildPlan",
    "BuildResult",
    "BuildState",
    "BuiltImage",
    "ClientFactory",
    "Clock",
    "EventSink",
    "Interrupted",
    "Leftover",
    "LoadedSpec",
    "PruneResult",
    "PublishResult",
    "Step",
    "SystemClock",
    "build",
    "build_steps",
    "cleanup_command",
    "enabled_regions",
    "find_leftovers",
    "list_builds",
    "load_manifest",
    "load_spec",
    "plan_build",
    "prune",
    "prune_plan",
    "publish",
    "remove_leftovers",
    "run_steps",
    "wait_until",
]

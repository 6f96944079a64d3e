"""Packer-style AMI builder: image specs, the build steps with their cleanups, list/prune and publishing.

Pure boto3 (no Pulumi): a build is an ordered list of steps, each with a cleanup that runs in reverse on
success, failure or Ctrl-C. See :mod:`sgarch.ami.builder` for the steps and ``amis/`` for the image specs.
"""

from __future__ import annotations

from sgarch.ami.aws import BUILD_ID_TAG, ClientFactory
from sgarch.ami.builder import (
    STEP_NAMES,
    BuildOptions,
    BuildPlan,
    BuildResult,
    BuildState,
    build,
    build_steps,
    plan_build,
)
from sgarch.ami.inventory import Build, BuiltImage, enabled_regions, list_builds, prune, prune_plan
from sgarch.ami.publish import PublishResult, load_manifest, publish
from sgarch.ami.runner import BuildEvent, Clock, EventSink, Step, SystemClock, run_steps, wait_until
from sgarch.ami.spec import AmiSpec, LoadedSpec, load_spec

__all__ = [
    "BUILD_ID_TAG",
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
    "LoadedSpec",
    "PublishResult",
    "Step",
    "SystemClock",
    "build",
    "build_steps",
    "enabled_regions",
    "list_builds",
    "load_manifest",
    "load_spec",
    "plan_build",
    "prune",
    "prune_plan",
    "publish",
    "run_steps",
    "wait_until",
]

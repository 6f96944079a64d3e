"""Run a stack folder's ``__main__.py`` offline under :mod:`sgarch.testing` and collect a :class:`Plan`.

Each run gets its own copy of the Python context, a fresh event loop and a fresh Pulumi runtime, so plans
can run back to back in one process (every tier in a loop) without seeing each other. Modules the program
imports stay imported between runs, which is what makes the second plan fast.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import runpy
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pulumi

from sgarch.errors import ConfigError, SgarchError
from sgarch.plan._model import Plan
from sgarch.plan._project import (
    Project,
    ResolvedConfig,
    choose_stack,
    full_key,
    load_project,
    parse_overrides,
    resolve_config,
)
from sgarch.testing._mocks import SgarchMocks
from sgarch.testing._runtime import mocked_runtime, run_program, stack_outputs

__all__ = ["StackProgramError", "run_plan"]


class StackProgramError(SgarchError):
    """The stack's program raised something other than a config error; the original is the ``__cause__``."""


def run_plan(
    stack_dir: str | Path,
    stack: str | None = None,
    config: Mapping[str, str] | Sequence[str] | None = None,
    *,
    mocks: SgarchMocks | None = None,
) -> Plan:
    """Plan the stack in ``stack_dir`` offline and return every resource and export.

    ``stack`` picks ``Pulumi.<stack>.yaml`` (default: the only stack file, else ``dev``). ``config``
    overrides values, as a mapping or as ``key=value`` strings (keys without a namespace belong to the
    project). Raises :class:`~sgarch.errors.ConfigError` naming the key for missing or invalid config (also
    when the program itself raises one), :class:`StackProgramError` for any other failure of the program.
    """
    project = load_project(stack_dir)
    stack_name = choose_stack(project, stack)
    if config is None:
        overrides: dict[str, str] = {}
    elif isinstance(config, Mapping):
        overrides = {full_key(project.name, k): str(v) for k, v in config.items()}
    else:
        overrides = parse_overrides(config, project.name)
    resolved = resolve_config(project, stack_name, overrides)
    mocks = mocks if mocks is not None else SgarchMocks(region=resolved.region)
    # A copied context keeps the runtime's context variables (settings, root stack, config) of this run
    # away from the caller's and from the next run.
    return contextvars.copy_context().run(_run, project, stack_name, resolved, mocks)


def _run(project: Project, stack: str, config: ResolvedConfig, mocks: SgarchMocks) -> Plan:
    with (
        _program_environment(project),
        mocked_runtime(
            mocks,
            project=project.name,
            stack=stack,
            config=config.values,
            secret_keys=config.secret_keys,
            root_directory=str(project.directory.resolve()),
        ),
    ):
        try:
            run_program(lambda: runpy.run_path(str(project.program), run_name="__main__"))
            outputs = stack_outputs()
        except BaseException as exc:
            translated = _translate(exc, project, stack)
            if translated is exc:
                raise
            # A bug keeps its original for debugging; config errors stand alone, they are the whole story.
            raise translated from (exc if isinstance(translated, StackProgramError) else None)
    return Plan(
        project=project.name,
        stack=stack,
        records=mocks._records(),
        exports={k: v for k, (v, _) in outputs.items()},
        secret_exports=frozenset(k for k, (_, secret) in outputs.items() if secret),
        config=dict(config.values),
        secret_config=frozenset(config.secret_keys),
        invokes=mocks.invokes,
    )


@contextlib.contextmanager
def _program_environment(project: Project) -> Iterator[None]:
    """Run like ``pulumi up`` does: from the project folder, with it importable; restore both after."""
    directory = str(project.directory.resolve())
    cwd = os.getcwd()
    sys.path.insert(0, directory)
    os.chdir(directory)
    try:
        with warnings.catch_warnings():
            # pulumi-aws warns about its own deprecated modules at import; users can do nothing about it.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws(\..*)?")
            yield
    finally:
        os.chdir(cwd)
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _translate(exc: BaseException, project: Project, stack: str) -> BaseException:
    """Turn whatever the program raised into one sgarch error a user can act on."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return exc
    fix = f"set it in Pulumi.{stack}.yaml or with --config"
    for err in _chain(exc):
        if isinstance(err, ConfigError):
            return err
        if isinstance(err, pulumi.ConfigMissingError):
            return ConfigError(err.key, "set", None, fix)
        if isinstance(err, pulumi.ConfigTypeError):
            return ConfigError(err.key, f"a valid {err.expect_type}", err.value, fix)
    for err in _chain(exc):
        if isinstance(err, SgarchError):
            return err
    where = _program_frame(exc, project)
    return StackProgramError(f"{project.name} program failed{where}: {type(exc).__name__}: {exc}")


def _program_frame(exc: BaseException, project: Project) -> str:
    """`` at <file>:<line>`` for the innermost frame inside the stack folder, if any."""
    directory = str(project.directory.resolve())
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(directory):
            found = f" at {os.path.relpath(frame.filename, directory)}:{frame.lineno}"
    return found

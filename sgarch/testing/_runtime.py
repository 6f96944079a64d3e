"""Set up and tear down a mocked Pulumi runtime, and run programs in it to completion.

The Pulumi runtime keeps its state in context variables and in the current event loop. A second program
in the same process sees the first one's root stack, config and pending tasks unless all three are reset,
so :func:`mocked_runtime` gives each use a fresh event loop, fresh settings and a fresh root stack, and
closes the loop afterwards so no work leaks into the next test or plan.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from sgarch.errors import SgarchError
from sgarch.testing._mocks import SgarchMocks

__all__ = ["mocked_runtime", "resolve", "run_program", "stack_outputs"]

T = TypeVar("T")


@contextlib.contextmanager
def mocked_runtime(
    mocks: SgarchMocks | None = None,
    *,
    project: str = "test",
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: Sequence[str] = (),
    root_directory: str | None = None,
) -> Iterator[SgarchMocks]:
    """Run the enclosed block under ``mocks`` (fresh :class:`SgarchMocks` by default) with its own runtime.

    ``config`` maps full keys (``"aws:region"``, ``"myproject:tier"``) to strings, as ``pulumi config``
    stores them (objects and lists as JSON). Keys in ``secret_keys`` read back as secrets.
    """
    mocks = mocks if mocks is not None else SgarchMocks()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        # Building a Settings resets the runtime's context variables (RPC manager, pending outputs, root).
        runtime_settings.reset_options(
            project=project, stack=stack, root_directory=root_directory, preview=False
        )
        runtime_config.set_all_config(dict(config or {}), list(secret_keys))
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=mocks.monitor())
        yield mocks
    finally:
        _close_loop(loop)
        runtime_settings.ROOT.set(None)
        runtime_config.set_all_config({}, [])


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    # Cancel what a failed program left behind; a destroyed pending task or an unclosed loop would surface
    # later as a warning in some unrelated test.
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    asyncio.set_event_loop(None)


def run_program(program: Callable[[], T | Awaitable[T]]) -> T:
    """Run ``program`` in the current mocked runtime and wait until every resource is registered.

    Returns what ``program`` returned (awaited if it was a coroutine). An sgarch error raised inside an
    ``apply`` reaches the caller as itself, not inside Pulumi's "While processing input" ValueErrors;
    other exceptions propagate unchanged.
    """
    result: list[Any] = []

    async def body() -> None:
        value = program()
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            value = await value
        result.append(value)

    try:
        _sync_await(run_pulumi_func(body))
    except Exception as exc:
        # Every Output that depended on the failed one fails too, and nobody awaits those futures: asyncio
        # would log each one ("Future exception was never retrieved"), thousands of lines of traceback
        # after the one error that says what went wrong. That error is raised here, so the echoes go.
        with contextlib.suppress(RuntimeError):
            asyncio.get_event_loop().set_exception_handler(_quiet_unretrieved)
        inner = _sgarch_error_in_chain(exc)
        if inner is None or inner is exc:
            raise
        raise inner from None
    value: T = result[0]
    return value


def _quiet_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop asyncio's reports of unretrieved future exceptions; pass everything else on."""
    if "never retrieved" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


def _sgarch_error_in_chain(exc: BaseException) -> SgarchError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, SgarchError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def resolve(value: Any) -> Any:
    """The plain value of an ``Output`` (or any input, nested Outputs included) once it is known."""
    output = pulumi.Output.from_input(value)
    return _sync_await(output.future())


def stack_outputs() -> dict[str, tuple[Any, bool]]:
    """Every ``pulumi.export`` of the current program as ``{name: (value, is_secret)}``."""
    root = runtime_settings.get_root_resource()
    exported: dict[str, Any] = dict(getattr(root, "outputs", None) or {})
    result: dict[str, tuple[Any, bool]] = {}
    for key, raw in exported.items():
        output = pulumi.Output.from_input(raw)
        value = _sync_await(output.future())
        secret = bool(_sync_await(output.is_secret()))
        result[key] = (value, secret)
    return result

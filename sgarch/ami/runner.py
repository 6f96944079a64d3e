"""The step runner: an ordered list of steps, each with its own cleanup, run in reverse on success or failure.

This is the packer ``amazon-ebs`` model. A step is appended to the "ran" list *before* its ``run`` starts, so
a step that fails halfway still gets its cleanup; every cleanup therefore copes with resources that were
never created. Cleanups decide for themselves what to keep on success (the instance and the temporary
security group always go; images go only when the build did not succeed).

Waiting is done through :func:`wait_until` with an injectable :class:`Clock`, so tests run in no wall time,
and progress leaves through :class:`BuildEvent` callbacks, so the builder never prints.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from sgarch.errors import AmiBuildError, SgarchError

__all__ = [
    "BuildEvent",
    "Clock",
    "EventKind",
    "EventSink",
    "Interrupted",
    "Step",
    "SystemClock",
    "run_steps",
    "wait_until",
]

T = TypeVar("T")
S = TypeVar("S", contravariant=True)

EventKind = Literal[
    "step-started",
    "step-finished",
    "step-failed",
    "cleanup-started",
    "cleanup-finished",
    "cleanup-failed",
    "region",
    "output",
    "info",
    "warning",
]


@dataclass(frozen=True)
class BuildEvent:
    """One progress report. ``region`` is set for per-region work (copies, sharing, cleanup)."""

    kind: EventKind
    step: str
    message: str = ""
    region: str | None = None
    seconds: float | None = None


EventSink = Callable[[BuildEvent], None]


class Clock(Protocol):
    """Time as the builder sees it; tests pass a fake that advances instantly."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going backwards."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep()``."""
        time.sleep(seconds)


class Step(Protocol[S]):
    """One build step. ``cleanup`` runs whenever ``run`` was entered, even if it raised."""

    name: str

    def run(self, state: S) -> None:
        """Do the work, recording every resource in ``state`` as soon as it exists."""

    def cleanup(self, state: S) -> None:
        """Undo what ``run`` recorded; must tolerate a partial or absent ``run``."""


def wait_until(
    check: Callable[[], T | None],
    *,
    what: str,
    timeout_seconds: float,
    clock: Clock,
    initial_delay_seconds: float = 5.0,
    max_delay_seconds: float = 30.0,
    backoff: float = 1.5,
    cancelled: threading.Event | None = None,
) -> T:
    """Call ``check`` until it returns something other than None, backing off between calls.

    After the deadline ``check`` runs once more before failing: long AWS operations often finish just as a
    waiter gives up, and failing then would clean up a good image.
    """
    deadline = clock.monotonic() + timeout_seconds
    delay = initial_delay_seconds
    while True:
        if cancelled is not None and cancelled.is_set():
            raise AmiBuildError(f"cancelled while waiting for {what}")
        result = check()
        if result is not None:
            return result
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            result = check()
            if result is not None:
                return result
            raise AmiBuildError(
                f"timed out after {timeout_seconds:g} s waiting for {what}; raise the matching timeouts.* "
                "value in the spec if this is expected"
            )
        clock.sleep(min(delay, remaining))
        delay = min(delay * backoff, max_delay_seconds)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, turned into what Ctrl-C raises so that the same cleanups run."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@contextmanager
def _signals_interrupt(signals: Sequence[int], cleaning: threading.Event, emit: EventSink) -> Iterator[None]:
    """While the steps run, each of ``signals`` raises :class:`Interrupted` in the main thread.

    Once cleanup has begun a signal is reported and ignored: stopping a cleanup halfway is what leaks. Signal
    handlers can only be installed from the main thread; elsewhere (a caller's worker thread) nothing changes.
    """
    if not signals or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if cleaning.is_set():
            emit(BuildEvent("warning", "cleanup", f"{name} received; finishing the cleanup first"))
            return
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class _HasOutcome(Protocol):
    succeeded: bool
    finished_early: bool


St = TypeVar("St", bound=_HasOutcome)


def run_steps(
    steps: Sequence[Step[St]],
    state: St,
    emit: EventSink,
    clock: Clock,
    *,
    signals: Sequence[int] = (),
    report_leftovers: Callable[[list[str]], str] | None = None,
) -> None:
    """Run ``steps`` in order, then every entered step's cleanup in reverse.

    A step may set ``state.finished_early`` to end the build successfully (an identical image exists).
    ``signals`` (SIGTERM, SIGHUP) interrupt the steps like Ctrl-C. Raises :class:`AmiBuildError` for a failed
    step (the original sgarch error is kept when it is one) and re-raises ``KeyboardInterrupt`` (or
    :class:`Interrupted`) once cleanups are done. When a cleanup failed, the message ends with
    ``report_leftovers(errors)``: what is left, by id and region, and the command that removes it.
    """
    entered: list[Step[St]] = []
    failure: BaseException | None = None
    failed_step = ""
    cleaning = threading.Event()
    with _signals_interrupt(signals, cleaning, emit):
        try:
            for step in steps:
                if state.finished_early:
                    break
                entered.append(step)
                emit(BuildEvent("step-started", step.name))
                started = clock.monotonic()
                step.run(state)
                emit(BuildEvent("step-finished", step.name, seconds=clock.monotonic() - started))
            state.succeeded = True
        except BaseException as exc:
            cleaning.set()
            failure = exc
            failed_step = entered[-1].name if entered else ""
            reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
            if isinstance(exc, Interrupted):
                reason = f"interrupted by {exc}"
            emit(BuildEvent("step-failed", failed_step, reason))
        finally:
            cleaning.set()
        errors = _cleanup(entered, state, emit, clock)
    suffix = ""
    if errors:
        suffix = "; " + (
            report_leftovers(errors) if report_leftovers else f"cleanup could not remove: {'; '.join(errors)}"
        )
    if failure is None:
        if errors:
            raise AmiBuildError(f"the image was built, but cleanup failed{suffix}")
        return
    if isinstance(failure, KeyboardInterrupt):
        if errors:
            emit(BuildEvent("warning", failed_step, f"interrupted{suffix}"))
        raise failure
    if isinstance(failure, SgarchError) and not isinstance(failure, AmiBuildError) and not errors:
        # Bad input found by pre-validate stays a ConfigError: the CLI exits 2 with the field's name.
        raise failure
    raise AmiBuildError(f"step {failed_step} failed: {_describe(failure)}{suffix}") from failure


def _cleanup(entered: list[Step[St]], state: St, emit: EventSink, clock: Clock) -> list[str]:
    errors: list[str] = []
    for step in reversed(entered):
        emit(BuildEvent("cleanup-started", step.name))
        started = clock.monotonic()
        try:
            step.cleanup(state)
        except Exception as exc:
            # One failed cleanup must not stop the others: the instance still has to go.
            errors.append(f"{step.name}: {_describe(exc)}")
            emit(BuildEvent("cleanup-failed", step.name, _describe(exc)))
        else:
            emit(BuildEvent("cleanup-finished", step.name, seconds=clock.monotonic() - started))
    return errors


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())

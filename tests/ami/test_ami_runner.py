"""The step runner and the poller, without AWS."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from ami_moto import FakeClock

from sgarch.ami.runner import BuildEvent, run_steps, wait_until
from sgarch.errors import AmiBuildError, ConfigError


@dataclass
class _State:
    succeeded: bool = False
    finished_early: bool = False
    log: list[str] = field(default_factory=list)


@dataclass
class _Step:
    name: str
    fail: BaseException | None = None
    cleanup_fails: bool = False
    stop: bool = False

    def run(self, state: _State) -> None:
        state.log.append(f"run {self.name}")
        if self.stop:
            state.finished_early = True
        if self.fail is not None:
            raise self.fail

    def cleanup(self, state: _State) -> None:
        state.log.append(f"cleanup {self.name} succeeded={state.succeeded}")
        if self.cleanup_fails:
            raise RuntimeError(f"{self.name} still in use")


def test_cleanups_run_in_reverse_including_the_failed_step() -> None:
    state, events = _State(), []
    steps = [_Step("a"), _Step("b", fail=RuntimeError("boom")), _Step("c")]
    with pytest.raises(AmiBuildError, match=r"^step b failed: boom$"):
        run_steps(steps, state, events.append, FakeClock())
    assert state.log == ["run a", "run b", "cleanup b succeeded=False", "cleanup a succeeded=False"]
    assert BuildEvent("step-failed", "b", "boom") in events


def test_success_still_runs_cleanups_and_reports_a_failed_one() -> None:
    state = _State()
    with pytest.raises(
        AmiBuildError, match=r"built, but cleanup failed; cleanup could not remove: a: a still in use"
    ):
        run_steps([_Step("a", cleanup_fails=True), _Step("b")], state, lambda e: None, FakeClock())
    assert state.log == ["run a", "run b", "cleanup b succeeded=True", "cleanup a succeeded=True"]


def test_a_failed_cleanup_does_not_stop_the_others() -> None:
    state = _State()
    steps = [_Step("a"), _Step("b", cleanup_fails=True), _Step("c", fail=RuntimeError("x"))]
    with pytest.raises(
        AmiBuildError, match=r"step c failed: x; cleanup could not remove: b: b still in use$"
    ):
        run_steps(steps, state, lambda e: None, FakeClock())
    assert state.log[-1] == "cleanup a succeeded=False"


def test_keyboard_interrupt_is_re_raised_after_cleanup() -> None:
    state = _State()
    with pytest.raises(KeyboardInterrupt):
        run_steps([_Step("a"), _Step("b", fail=KeyboardInterrupt())], state, lambda e: None, FakeClock())
    assert state.log == ["run a", "run b", "cleanup b succeeded=False", "cleanup a succeeded=False"]


def test_config_errors_pass_through_unchanged() -> None:
    error = ConfigError("--regions", "enabled regions", "xx", "enable it")
    with pytest.raises(ConfigError) as raised:
        run_steps([_Step("a", fail=error)], _State(), lambda e: None, FakeClock())
    assert raised.value is error


def test_a_step_can_end_the_build_early() -> None:
    state = _State()
    run_steps([_Step("a", stop=True), _Step("b")], state, lambda e: None, FakeClock())
    assert state.succeeded and state.log == ["run a", "cleanup a succeeded=True"]


def test_wait_until_backs_off_and_checks_once_more_at_the_deadline() -> None:
    clock, answers = FakeClock(), iter([None, None, None, None, "done"])
    assert wait_until(lambda: next(answers), what="x", timeout_seconds=20, clock=clock) == "done"
    # 5, 7.5, then only the 7.5 s left before the deadline; the fifth check is the one after it.
    assert clock.slept == [5.0, 7.5, 7.5]


def test_wait_until_times_out_with_the_setting_to_raise() -> None:
    clock = FakeClock()
    with pytest.raises(
        AmiBuildError, match=r"^timed out after 60 s waiting for the thing; raise the matching timeouts"
    ):
        wait_until(lambda: None, what="the thing", timeout_seconds=60, clock=clock, max_delay_seconds=10)
    assert clock.now == 60 and max(clock.slept) == 10

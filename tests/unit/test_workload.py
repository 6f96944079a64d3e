from __future__ import annotations

import pytest

from sgarch.errors import ConfigError
from sgarch.sizing import Workload

FLAGS = {
    "users": "--users",
    "repos": "--repos",
    "total_repo_gb": "--total-repo-gb",
    "largest_repo_gb": "--largest-repo-gb",
    "largest_index_gb": "--largest-index-gb",
}


def parse(**raw: object) -> Workload:
    return Workload.parse(names=FLAGS, **raw)


def test_defaults_follow_the_upstream_estimator() -> None:
    w = Workload()
    assert (w.users, w.repos, w.total_repo_gb, w.largest_repo, w.largest_index_gb, w.code_insights) == (
        300,
        3000,
        100,
        5,
        1,
        True,
    )


def test_largest_repo_default_never_exceeds_total() -> None:
    assert Workload(total_repo_gb=3).largest_repo == 3


def test_strings_are_parsed_like_the_cli_passes_them() -> None:
    w = parse(users="1,000", repos="80000", total_repo_gb="12.5")
    assert (w.users, w.repos, w.total_repo_gb) == (1000, 80000, 12.5)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"users": "-5", "repos": 10},
            "--users must be a whole number from 1 to 50,000 (got -5): count the people who will use "
            "Sourcegraph; above 50,000 ask Sourcegraph for a custom sizing.",
        ),
        (
            {"users": 10, "repos": 5_000_001},
            "--repos must be a whole number from 1 to 5,000,000 (got 5,000,001): count the repositories "
            "Sourcegraph will clone; above 5,000,000 ask Sourcegraph for a custom sizing.",
        ),
        (
            {"users": 10, "repos": 10, "total_repo_gb": 30, "largest_repo_gb": 50},
            "--largest-repo-gb must be at most --total-repo-gb (30) (got 50): the largest repository is part "
            "of the total; raise --total-repo-gb or lower --largest-repo-gb.",
        ),
        (
            {"users": "lots", "repos": 10},
            "--users must be a whole number from 1 to 50,000 (got 'lots'): count the people who will use "
            "Sourcegraph; above 50,000 ask Sourcegraph for a custom sizing.",
        ),
        (
            {"users": 10, "repos": 10, "total_repo_gb": "ten"},
            "--total-repo-gb must be a number from 1 to 50,000,000 (got 'ten'): give the size of all "
            "repositories on disk in GB (git count-objects -vH, summed).",
        ),
        (
            {"users": 10, "repos": "2.5"},
            "--repos must be a whole number from 1 to 5,000,000 (got 2.5): count the repositories Sourcegraph "
            "will clone; above 5,000,000 ask Sourcegraph for a custom sizing.",
        ),
        (
            {"users": 10, "repos": 10, "largest_index_gb": 1001},
            "--largest-index-gb must be a number from 0 to 1,000 (got 1001): give the size of the largest SCIP "
            "index in GB, or 0 to turn precise code intel off.",
        ),
    ],
)
def test_invalid_input_gets_one_clear_line(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(**raw)
    assert str(err.value) == message


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be a known setting"):
        Workload.parse(users=1, repos=1, seats=3)


def test_workload_is_frozen() -> None:
    w = Workload()
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError for frozen models
        w.users = 5  # type: ignore[misc]

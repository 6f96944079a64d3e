from __future__ import annotations

import pytest

from sgarch.errors import ConfigError
from sgarch.naming import child_name, default_tags, merge_tags, validate_tags


def test_default_tags_and_user_tags_on_top() -> None:
    tags = default_tags("single-node", "prod", {"Team": "devx", "ManagedBy": "platform"})
    assert tags == {
        "sgarch:architecture": "single-node",
        "sgarch:stack": "prod",
        "ManagedBy": "platform",
        "Team": "devx",
    }
    assert default_tags("eks", "dev")["ManagedBy"] == "sgarch"


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (
            {"sgarch:stack": "x"},
            "tags must be free of keys starting with 'sgarch:' (got 'sgarch:stack'): sgarch sets those tags itself.",
        ),
        (
            {"aws:cloudformation": "x"},
            "tags must be free of keys starting with 'aws:' (got 'aws:cloudformation'): "
            "AWS reserves that prefix; rename it.",
        ),
        ({"k" * 129: "x"}, "tags must be keys of 1 to 128 characters"),
        ({"Team": "v" * 257}, "tags.Team must be a string of at most 256 characters"),
    ],
)
def test_invalid_tags(tags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_tags(tags)
    assert str(info.value).startswith(message)


def test_validate_tags_uses_the_field_name_given() -> None:
    with pytest.raises(ConfigError, match=r"^sgarch:tags must"):
        validate_tags({"aws:x": "y"}, field="sgarch:tags")


def test_merge_tags_later_layer_wins_and_skips_none() -> None:
    assert merge_tags({"a": "1", "b": "1"}, None, {"b": "2"}, {}) == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("parts", "expected"),
    [((), "sg"), (("vpc",), "sg-vpc"), (("private", 0), "sg-private-0"), (("ecr.api",), "sg-ecr.api")],
)
def test_child_name(parts: tuple[str | int, ...], expected: str) -> None:
    assert child_name("sg", *parts) == expected


@pytest.mark.parametrize("bad", ["", "has space", "-leading"])
def test_child_name_rejects_bad_parts(bad: str) -> None:
    with pytest.raises(ConfigError):
        child_name("sg", bad)


def test_child_name_needs_a_parent() -> None:
    with pytest.raises(ConfigError, match=r"^name must be a non-empty string"):
        child_name("")

from __future__ import annotations

import pytest

from sgarch.errors import ConfigError
from sgarch.naming import (
    DLM_DESCRIPTION,
    EC2_GROUP_DESCRIPTION,
    EC2_RULE_DESCRIPTION,
    LOAD_BALANCER_NAME,
    SECURITY_GROUP_NAME,
    TARGET_GROUP_NAME,
    AwsText,
    aws_text,
    check_autonamed,
    check_aws_text,
    child_name,
    default_tags,
    merge_tags,
    validate_tags,
)


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


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (
            {"Team": "it's"},
            'tags.Team must be letters, digits, spaces and _ . : / = + - @ only (got "it\'s")',
        ),
        ({"a,b": "x"}, "tags must be letters, digits, spaces and _ . : / = + - @ only (got 'a,b')"),
    ],
)
def test_tags_outside_the_characters_every_service_accepts(tags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_tags(tags)
    assert str(info.value).startswith(message)


def test_tags_may_use_any_letters_and_spaces() -> None:
    tags = {"Kostenstelle": "Zürich 2", "owner": "platform@example.com", "path": "a/b=c+d:e_f.g-h"}
    assert validate_tags(tags) == tags


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("sgarch prod: daily", DLM_DESCRIPTION, "sgarch prod- daily"),
        ("sgarch prod.v2 daily", DLM_DESCRIPTION, "sgarch prod-v2 daily"),
        ("To Sourcegraph's frontend", EC2_RULE_DESCRIPTION, "To Sourcegraph-s frontend"),
        ("a&b (c)", EC2_GROUP_DESCRIPTION, "a&b (c)"),
        ("a&b", EC2_RULE_DESCRIPTION, "a-b"),
        ("x" * 300, EC2_GROUP_DESCRIPTION, "x" * 255),
    ],
)
def test_aws_text_replaces_what_the_field_refuses(text: str, kind: AwsText, expected: str) -> None:
    assert aws_text(text, kind) == expected


def test_check_aws_text_names_the_refused_characters() -> None:
    assert check_aws_text("github.com (443)", EC2_RULE_DESCRIPTION, "egress_allowlist.description")
    with pytest.raises(ConfigError) as info:
        check_aws_text("GitHub's & GitLab's", EC2_RULE_DESCRIPTION, "egress_allowlist.description")
    assert str(info.value) == (
        'egress_allowlist.description must be free of "&\'" (got "GitHub\'s & GitLab\'s"): '
        "AWS refuses those characters in a security group rule description; reword it."
    )
    with pytest.raises(ConfigError, match=r"must be at most 255 characters"):
        check_aws_text("x" * 256, EC2_RULE_DESCRIPTION, "egress_allowlist.description")


def test_check_autonamed_states_the_tightest_limit() -> None:
    children = [("alb", LOAD_BALANCER_NAME), ("frontend", TARGET_GROUP_NAME)]
    check_autonamed("x" * 15, children, "stack name")
    check_autonamed("x" * 99, [], "stack name")
    with pytest.raises(ConfigError) as info:
        check_autonamed("sourcegraph-prod", children, "stack name")
    assert str(info.value) == (
        "stack name must be at most 15 characters (got 'sourcegraph-prod'): Pulumi makes a target group "
        "name of '<stack name>-frontend-' plus 7 random characters, and AWS allows 32; choose a shorter stack name."
    )


def test_check_autonamed_refuses_characters_and_prefixes_aws_refuses() -> None:
    with pytest.raises(ConfigError) as info:
        check_autonamed(
            "prod_eu.v2", [("instance", SECURITY_GROUP_NAME), ("alb", LOAD_BALANCER_NAME)], "stack name"
        )
    assert str(info.value) == (
        "stack name must be free of '._' (got 'prod_eu.v2'): AWS refuses '._' in a load balancer name, and "
        "Pulumi makes one of '<stack name>-alb-' plus 7 random characters; choose another stack name."
    )
    with pytest.raises(ConfigError) as info:
        check_autonamed("sg-prod", [("instance", SECURITY_GROUP_NAME)], "stack name")
    assert str(info.value).startswith(
        "stack name must be a name that does not start with 'sg-' (got 'sg-prod'): "
    )
    check_autonamed("prod_eu.v2", [("instance", SECURITY_GROUP_NAME)], "stack name")

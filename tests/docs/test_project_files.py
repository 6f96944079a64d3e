"""The stacks' ``Pulumi.yaml`` config sections are written from the settings models and stay in step with them.

`test_docs.py` compares the committed files with the generator (a hand edit, or a docstring changed without
`make docs`, fails there); these tests read the committed files and check what they say against the models.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter

from sgarch.docs import STACK_SETTINGS, config_description, render_project_file
from sgarch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(STACK_SETTINGS)
# What Pulumi's project schema accepts as a config type (pulumi/pulumi sdk/go/common/workspace/project.json).
PULUMI_TYPES = {"string", "integer", "boolean", "array"}
# Keys the program does not read; `sgarch plan` does.
READ_ELSEWHERE = {"policy_suppressions"}
# The "not set" value of each type, which read_settings skips.
UNSET: dict[str, Any] = {"string": "", "integer": 0, "array": []}


def project(slug: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "stacks" / slug / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("slug", STACKS)
def test_the_committed_file_is_what_the_model_generates(slug: str) -> None:
    text = (ROOT / "stacks" / slug / "Pulumi.yaml").read_text(encoding="utf-8")
    assert render_project_file(text, STACK_SETTINGS[slug], slug) == text, "run `make docs`"


@pytest.mark.parametrize("slug", STACKS)
def test_each_stack_reads_the_model_its_file_is_written_from(slug: str) -> None:
    program = (ROOT / "stacks" / slug / "__main__.py").read_text(encoding="utf-8")
    assert f"read_settings({STACK_SETTINGS[slug].__name__})" in program


@pytest.mark.parametrize("slug", STACKS)
def test_descriptions_are_the_docstrings(slug: str) -> None:
    fields = STACK_SETTINGS[slug].model_fields
    for key, spec in project(slug)["config"].items():
        assert spec["description"] == config_description(fields[key]), key
        assert "``" not in spec["description"] and "\n" not in spec["description"]


@pytest.mark.parametrize("slug", STACKS)
def test_every_setting_is_declared_except_maps(slug: str) -> None:
    model = STACK_SETTINGS[slug]
    declared = set(project(slug)["config"])
    undeclared = set(model.model_fields) - declared
    # Pulumi config has no map type: these are set with `pulumi config set --path`, as the header says.
    for key in undeclared:
        assert "dict" in str(model.model_fields[key].annotation), key
    assert declared - set(model.model_fields) - READ_ELSEWHERE == set()


@pytest.mark.parametrize("slug", STACKS)
def test_types_are_pulumi_types(slug: str) -> None:
    for key, spec in project(slug)["config"].items():
        assert spec["type"] in PULUMI_TYPES, key
        if spec["type"] == "array":
            assert spec["items"] == {"type": "string"}, key


@pytest.mark.parametrize("slug", STACKS)
def test_declared_defaults_are_the_models_defaults(slug: str) -> None:
    # Pulumi hands the program a declared default as if the stack had set it, so it must mean what the
    # model's default means: either "not set" (read_settings skips it) or the model's own value.
    fields = STACK_SETTINGS[slug].model_fields
    for key, spec in project(slug)["config"].items():
        info = fields[key]
        if info.is_required():
            assert "default" not in spec, key
            continue
        default = spec["default"]
        model_default = info.get_default(call_default_factory=True)
        if model_default is None or model_default == ():
            unset = UNSET[spec["type"]]
            assert default == unset and type(default) is type(unset), key
        else:
            parsed = TypeAdapter(info.annotation).validate_python(default)
            assert parsed == model_default, key


def test_sourcegraph_version_defaults_follow_the_code() -> None:
    from sgarch.eks.versions import SOURCEGRAPH_CHART_VERSION
    from sgarch.single_node.args import DEFAULT_SOURCEGRAPH_VERSION

    assert project("eks")["config"]["sourcegraph_version"]["default"] == SOURCEGRAPH_CHART_VERSION
    assert project("single-node")["config"]["sourcegraph_version"]["default"] == DEFAULT_SOURCEGRAPH_VERSION
    assert project("poc")["config"]["sourcegraph_version"]["default"] == DEFAULT_SOURCEGRAPH_VERSION


class Example(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    size: str | None = None
    """Size, ``XS`` or ``S``. Default: XS."""
    count: int = 2
    """How many. Default: 2."""
    flag: bool | None = None
    """On or off. Default: automatic."""
    names: tuple[str, ...] = ("a", "b")
    """Some names. Default: a and b."""
    labels: dict[str, str] = {}
    """A map. Default: none."""


HEAD = "# a comment, kept\nname: example\nruntime:\n  name: python\n"
TAIL = "options:\n  refresh: always\n"


def test_only_the_config_section_changes() -> None:
    text = (
        HEAD + "config:\n  count:\n    type: integer\n    description: stale words\n    default: 7\n" + TAIL
    )
    rendered = render_project_file(text, Example, "Pulumi.yaml")
    assert rendered.startswith(HEAD) and rendered.endswith(TAIL)
    config = yaml.safe_load(rendered)["config"]
    # The file's key first (its order is kept), then the new fields in the model's order around it.
    assert list(config) == ["size", "count", "flag", "names"]
    assert config["count"] == {"type": "integer", "description": "How many. Default: 2.", "default": 2}
    assert config["size"] == {"type": "string", "description": "Size, XS or S. Default: XS.", "default": ""}
    # An unset boolean is "", which only a string can hold.
    assert config["flag"]["type"] == "string" and config["flag"]["default"] == ""
    assert config["names"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "Some names. Default: a and b.",
        "default": ["a", "b"],
    }
    assert re.search(r"^config:\n  # Written by `make docs` from .*Example", rendered, re.M)
    assert render_project_file(rendered, Example, "Pulumi.yaml") == rendered


def test_a_file_without_config_gets_one() -> None:
    rendered = render_project_file(HEAD, Example, "Pulumi.yaml")
    assert rendered.startswith(HEAD)
    assert set(yaml.safe_load(rendered)["config"]) == {"size", "count", "flag", "names"}


def test_a_declared_type_that_cannot_carry_the_field_is_refused() -> None:
    text = HEAD + "config:\n  names:\n    type: boolean\n"
    with pytest.raises(ConfigError) as caught:
        render_project_file(text, Example, "stacks/x/Pulumi.yaml")
    assert str(caught.value).startswith(
        "stacks/x/Pulumi.yaml: config.names.type must be a Pulumi config type"
    )


def test_a_kept_type_is_kept() -> None:
    # The declared type is the users' contract (pulumi checks stack files against it): a string holding an
    # int is fine, and it is not "corrected".
    text = HEAD + "config:\n  count:\n    type: string\n    secret: true\n"
    config = yaml.safe_load(render_project_file(text, Example, "Pulumi.yaml"))["config"]
    assert config["count"] == {
        "type": "string",
        "secret": True,
        "description": "How many. Default: 2.",
        "default": "2",
    }

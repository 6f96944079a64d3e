"""Every argument is documented where it is declared, and every optional one says what happens by default.

The field docstrings are the only argument docs: pydantic reads them (``use_attribute_docstrings``), the
stacks' ``Pulumi.yaml`` descriptions are written from them, and IDEs show them. The convention checked here
is the one STYLE.md asks for: an optional field's docstring contains ``Default:`` followed by the behaviour
("Default: none", "Default: the tier's recommended type"), never just the value a reader can see anyway.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

import pytest
from pydantic import BaseModel, ConfigDict

import sgarch
from sgarch.docs import STACK_SETTINGS
from sgarch.validation import ArgsModel

DEFAULT_MARKER = "Default:"


def _import_everything() -> None:
    # Subclasses register when their module is imported; a model in a module nothing imports yet still counts.
    for module in pkgutil.walk_packages(sgarch.__path__, "sgarch."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


def _subclasses(cls: type[BaseModel]) -> set[type[BaseModel]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def argument_models() -> list[type[BaseModel]]:
    """Every component's Args model (and the models nested in them) and every stack's settings model."""
    _import_everything()
    models = _subclasses(ArgsModel)
    for settings in STACK_SETTINGS.values():
        models |= {c for c in settings.__mro__ if issubclass(c, BaseModel) and c is not BaseModel}
    # Only sgarch's own: other tests may define throwaway subclasses in the same session.
    return sorted(
        (m for m in models if m.__module__.startswith("sgarch.")), key=lambda m: m.__module__ + m.__name__
    )


def undocumented(models: Iterable[type[BaseModel]]) -> list[str]:
    """``Model.field`` for each field without a docstring, or optional without a ``Default:``."""
    problems = []
    for model in models:
        for name, info in model.model_fields.items():
            where = f"{model.__name__}.{name}"
            if not (info.description or "").strip():
                problems.append(f"{where}: no docstring")
            elif not info.is_required() and DEFAULT_MARKER not in info.description:
                problems.append(f"{where}: optional, but its docstring does not say '{DEFAULT_MARKER} ...'")
    return problems


@pytest.fixture(scope="module")
def models() -> list[type[BaseModel]]:
    return argument_models()


def test_the_models_are_found(models: list[type[BaseModel]]) -> None:
    names = {m.__name__ for m in models}
    expected = {
        "SingleNodeArgs",
        "LoadBalancerArgs",
        "EgressRule",
        "EksClusterArgs",
        "NetworkArgs",
        "SourcegraphReleaseArgs",
        "Workload",
        "WorkloadSettings",
        "SingleNodeSettings",
        "EksSettings",
        "PocSettings",
    }
    assert expected <= names


def test_every_field_has_a_docstring_and_every_optional_one_states_its_default(
    models: list[type[BaseModel]],
) -> None:
    assert undocumented(models) == []


def test_the_docstring_is_the_description(models: list[type[BaseModel]]) -> None:
    # use_attribute_docstrings must reach every model, subclasses with their own model_config included.
    for model in models:
        assert model.model_config.get("use_attribute_docstrings") is True, model.__name__


def test_a_missing_default_or_docstring_is_reported() -> None:
    class Example(BaseModel):
        model_config = ConfigDict(use_attribute_docstrings=True)

        required: str
        """Needs no default."""
        stated: int = 1
        """How many. Default: 1."""
        unstated: int = 2
        """How many more."""
        bare: bool = False

    assert undocumented([Example]) == [
        "Example.unstated: optional, but its docstring does not say 'Default: ...'",
        "Example.bare: no docstring",
    ]

"""The restructure of issue #20 changes nothing a ``pulumi up`` would act on, except the tags it promises.

``record.json`` was written by ``structure_record.py`` from the code before the restructure (a clean checkout
of the commit before it). Each variant (every stack at every tier, new and brought VPCs, the options that add
resources) is planned again with today's code and must have the same URNs (so the same logical names, types and
parents: nothing is replaced or orphaned), the same inputs byte for byte (user-data included, as its sha256),
the same resource options and dependencies, and the same exports. Tag maps may only grow, and only by the keys
``sgarch.naming`` promises on every resource: the architecture, the stack and ``ManagedBy``.

A change that is meant to alter a plan is not a restructure: re-record from the commit before the change
(see the recorder's docstring) and say why in the CHANGELOG.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from structure_record import VARIANTS, record_variant, unpack

from sgarch.naming import ARCHITECTURE_TAG, MANAGED_BY_TAG, MANAGED_BY_VALUE, STACK_TAG

ROOT = Path(__file__).resolve().parents[3]
RECORD = Path(__file__).with_name("record.json")
ARCHITECTURES = {"single-node": "single-node", "eks": "eks", "poc": "poc"}
"""Stack folder -> the ``sgarch:architecture`` value its resources carry."""
FROZEN_TAG_MAPS = {"aws:ec2/launchTemplate:LaunchTemplate": "tagSpecifications"}
"""Tag maps that must not change at all, not even by the convention's tags: a launch template's tag
specifications make a new template version, which rolls every EKS node."""


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    data: dict[str, Any] = unpack(json.loads(RECORD.read_text(encoding="utf-8")))
    return data


_PLANNED: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("structure")


def planned(name: str, scratch: Path) -> dict[str, Any]:
    """Today's record of variant ``name``, planned once per session."""
    if name not in _PLANNED:
        _PLANNED[name] = record_variant(name, ROOT, scratch)
    return _PLANNED[name]


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    """Each place where ``new`` differs from ``old``, as ``path: old -> new``."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(f"{where}: {old[key]!r} -> (gone)")
            elif key not in old:
                out.append(f"{where}: (absent) -> {new[key]!r}")
            else:
                _diff(old[key], new[key], where, out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    elif old != new or type(old) is not type(new):
        out.append(f"{path}: {old!r} -> {new!r}")


def tag_problems(
    old: Mapping[str, Any], new: Mapping[str, Any], expected: Mapping[str, str], frozen: str | None = None
) -> list[str]:
    """What is wrong with one resource's tag maps: a recorded key lost or changed, or a key added that is not
    one of the convention's (``expected``: key -> value). Maps under the path ``frozen`` must stay as they were."""
    problems = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path, {}), new.get(path)
        if after is None:
            problems.append(f"{path}: tag map gone (had {before!r})")
            continue
        if frozen is not None and path.startswith(frozen) and before != after:
            problems.append(f"{path}: {before!r} -> {after!r}, and these tags must not change")
            continue
        for key, value in before.items():
            if after.get(key) != value:
                problems.append(f"{path}.{key}: {value!r} -> {after.get(key, '(gone)')!r}")
        for key in sorted(set(after) - set(before)):
            if key not in expected:
                problems.append(f"{path}.{key}: added, and not a tag the convention promises")
            elif after[key] != expected[key]:
                problems.append(
                    f"{path}.{key}: added as {after[key]!r}, the convention says {expected[key]!r}"
                )
    return problems


def differences(
    old: Mapping[str, Any], new: Mapping[str, Any], expected_tags: Mapping[str, str]
) -> list[str]:
    """Every difference between a recorded variant and today's, as lines a reader can act on."""
    if "refused" in old or "refused" in new:
        return [] if old == new else [f"refusal: {old.get('refused')!r} -> {new.get('refused')!r}"]
    out: list[str] = []
    if old["stack"] != new["stack"]:
        out.append(f"stack: {old['stack']!r} -> {new['stack']!r}")
    before, after = old["resources"], new["resources"]
    out += [f"{urn}: gone (pulumi up would delete or replace it)" for urn in sorted(set(before) - set(after))]
    out += [f"{urn}: new" for urn in sorted(set(after) - set(before))]
    for urn in sorted(set(before) & set(after)):
        found: list[str] = []
        _diff(
            {k: v for k, v in before[urn].items() if k != "tags"},
            {k: v for k, v in after[urn].items() if k != "tags"},
            "",
            found,
        )
        frozen = FROZEN_TAG_MAPS.get(after[urn]["type"])
        found += tag_problems(before[urn]["tags"], after[urn]["tags"], expected_tags, frozen)
        out += [f"{urn}: {line}" for line in found]
    exports: list[str] = []
    _diff(old["exports"], new["exports"], "", exports)
    out += [f"export {line}" for line in exports]
    return out


def convention(variant: str, stack: str) -> dict[str, str]:
    """The tags sgarch promises on every resource of ``variant``, planned as ``stack`` (``ManagedBy`` as the
    user's tags set it, if they do)."""
    folder, _, overrides = VARIANTS[variant]
    managed_by = json.loads(overrides.get("tags", "{}")).get(MANAGED_BY_TAG, MANAGED_BY_VALUE)
    return {ARCHITECTURE_TAG: ARCHITECTURES[folder], STACK_TAG: stack, MANAGED_BY_TAG: managed_by}


def test_the_record_covers_every_variant(recorded: dict[str, Any]) -> None:
    """A variant added to the recorder needs a record taken from the code before the restructure."""
    assert sorted(recorded["variants"]) == sorted(VARIANTS)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_plan_is_the_recorded_one(variant: str, recorded: dict[str, Any], scratch: Path) -> None:
    old = recorded["variants"][variant]
    new = planned(variant, scratch)
    found = differences(old, new, convention(variant, new.get("stack", "")))
    assert found == [], f"{variant}: {len(found)} differences from {RECORD.name}:\n  " + "\n  ".join(
        found[:60]
    )


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_tag_map_carries_the_convention(variant: str, scratch: Path) -> None:
    """sgarch's three tags are on every tagged resource (but the frozen maps), with the right values."""
    new = planned(variant, scratch)
    if "refused" in new:
        return
    expected = convention(variant, new["stack"])
    wrong = sorted(
        f"{urn} {path}: {key}={tags.get(key)!r}, not {value!r}"
        for urn, data in new["resources"].items()
        for path, tags in data["tags"].items()
        if not path.startswith(FROZEN_TAG_MAPS.get(data["type"], "\0"))
        for key, value in expected.items()
        if tags.get(key) != value
    )
    assert wrong == [], f"{variant}: tags without sgarch's convention:\n  " + "\n  ".join(wrong[:40])


def test_the_comparison_sees_a_change(recorded: dict[str, Any]) -> None:
    """The comparison itself can fail: a changed input, a lost or changed tag, a foreign tag, a new URN."""
    old = recorded["variants"]["single-node-example"]
    expected = convention("single-node-example", old["stack"])
    urn, data = next((u, d) for u, d in old["resources"].items() if d["tags"].get("tags"))

    def changed(**replace: Any) -> dict[str, Any]:
        return {**old, "resources": {**old["resources"], urn: {**data, **replace}}}

    assert differences(old, old, expected) == []
    tags = data["tags"]["tags"]
    grown = {**data["tags"], "tags": {**tags, **expected}}
    assert differences(old, changed(tags=grown), expected) == []
    assert differences(old, changed(inputs={**data["inputs"], "extra": 1}), expected)
    key = next(iter(tags))
    assert differences(old, changed(tags={**data["tags"], "tags": {**tags, key: "other"}}), expected)
    assert differences(old, changed(tags={**data["tags"], "tags": {**tags, "team": "x"}}), expected)
    wrong = {**data["tags"], "tags": {**tags, ARCHITECTURE_TAG: "elsewhere"}}
    assert differences(old, changed(tags=wrong), expected)
    template = next(
        (v, u, d)
        for v in ("eks-example", "poc-eks-example")
        for u, d in recorded["variants"][v]["resources"].items()
        if d["type"] in FROZEN_TAG_MAPS
    )
    name, lt_urn, lt = template
    lt_tags = {p: {**t, **expected} for p, t in lt["tags"].items()}
    lt_old = recorded["variants"][name]
    lt_new = {**lt_old, "resources": {**lt_old["resources"], lt_urn: {**lt, "tags": lt_tags}}}
    assert any("must not change" in line for line in differences(lt_old, lt_new, expected))
    renamed = {
        **old,
        "resources": {f"{urn}-2": data, **{u: d for u, d in old["resources"].items() if u != urn}},
    }
    assert len(differences(old, renamed, expected)) == 2

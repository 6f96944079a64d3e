"""Suppressions, the --strict threshold, rule metadata, and every stack at every tier."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from sgarch.docs import ARCHITECTURES, plan_stack
from sgarch.errors import ConfigError
from sgarch.policy import RULES, Severity, evaluate, has_blocking, render_findings
from sgarch.testing import RecordedOptions, ResourceRecord

ROOT = Path(__file__).resolve().parents[2]


def _open_volume() -> ResourceRecord:
    return ResourceRecord(
        type="aws:ebs/volume:Volume",
        name="data",
        urn="urn:pulumi:t::t::aws:ebs/volume:Volume::data",
        parent=None,
        custom=True,
        id="vol-1",
        raw_inputs={"size": 100.0, "type": "gp3"},
        outputs={"id": "vol-1"},
        options=RecordedOptions(),
    )


def test_suppressed_findings_are_kept_with_their_reason_and_do_not_block() -> None:
    reason = "scratch volume, rebuilt from the code host on every boot"
    findings = evaluate([_open_volume()], {"SGA-002": reason, "SGA-012": reason, "SGA-013": reason})
    assert {f.rule_id for f in findings} == {"SGA-002", "SGA-012", "SGA-013"}
    assert all(f.suppressed and f.suppression_reason == reason for f in findings)
    assert not has_blocking(findings, "high")
    assert has_blocking(evaluate([_open_volume()]), "high")
    assert json.loads(json.dumps(findings[0].to_dict()))["suppression_reason"] == reason


def test_threshold_counts_only_at_or_above() -> None:
    findings = evaluate([_open_volume()])
    assert {f.severity for f in findings} == {Severity.HIGH}
    assert has_blocking(findings) and has_blocking(findings, Severity.MEDIUM)
    assert not has_blocking(findings, "critical")
    with pytest.raises(ConfigError, match=r"^--strict must be one of low, medium, high, critical"):
        has_blocking(findings, "severe")


def test_empty_reason_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        evaluate([], {"SGA-002": "  "})
    assert str(err.value) == (
        "policy_suppressions.SGA-002 must be a written reason (got '  '): "
        "say why the rule does not apply to this stack, for reviewers and auditors."
    )


def test_unknown_rule_id_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"^policy_suppressions must be keyed by rule ids from SGA-001 to SGA-023"
    ):
        evaluate([], {"SGA-999": "because"})


def test_rules_have_unique_sequential_ids_and_full_metadata() -> None:
    assert [r.id for r in RULES] == [f"SGA-{n:03d}" for n in range(1, len(RULES) + 1)]
    files = sorted(p.name for p in (ROOT / "sgarch" / "policy" / "rules").glob("sga*.py"))
    assert [re.match(r"sga(\d{3})_", f).group(1) for f in files] == [r.id[4:] for r in RULES]  # type: ignore[union-attr]
    for rule in RULES:
        assert rule.title and rule.cause.endswith(".") and rule.explanation.endswith(".") and rule.fix
        assert rule.applies_to


def test_render_marks_suppressed_findings() -> None:
    console = Console(record=True, width=200)
    render_findings(console, evaluate([_open_volume()], {"SGA-013": "snapshots by AWS Backup elsewhere"}))
    text = console.export_text()
    assert "SGA-002" in text and "suppressed: snapshots by AWS Backup elsewhere" in text
    assert "Policy: 2 high; 1 suppressed." in text


@pytest.mark.parametrize(
    "arch",
    [a for a in ARCHITECTURES if (ROOT / "stacks" / a.slug / "Pulumi.yaml").is_file()],
    ids=lambda a: a.slug,
)
def test_every_stack_at_every_tier_has_no_high_findings(arch: object) -> None:
    from sgarch.docs import Architecture

    assert isinstance(arch, Architecture)
    planned = plan_stack(ROOT / "stacks" / arch.slug, arch.docs_config, arch.tiers)
    assert planned
    for tier in planned:
        blocking = [
            (f.rule_id, f.resource, f.message)
            for f in tier.findings
            if f.severity >= Severity.HIGH and not f.suppressed
        ]
        assert blocking == [], f"{arch.slug} {tier.label}"

"""The committed reference-architecture pages match the code, generation is deterministic, content is right."""

from __future__ import annotations

from pathlib import Path

import pytest

import sgarch.docs._generate as generate_module
from sgarch.docs import DOCS_DIR, generate_pages, plan_stack, render_mermaid, stale_pages
from sgarch.docs.__main__ import main
from sgarch.host import IMAGE_SOURCE_DIR, TIERS_SOURCE_DIR
from sgarch.policy import RULES
from sgarch.refarch.single_node import SingleNodeSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return generate_pages(ROOT)


def test_committed_pages_match_the_code(pages: dict[str, str]) -> None:
    stale = [
        path
        for path, text in pages.items()
        if not (ROOT / path).is_file() or (ROOT / path).read_text(encoding="utf-8") != text
    ]
    assert stale == [], "pages differ from the code: run `make docs` (python -m sgarch.docs) and commit them"


def test_pages_exist_only_for_stacks_that_exist(pages: dict[str, str]) -> None:
    expected = {f"{DOCS_DIR}/README.md", f"{DOCS_DIR}/policy-rules.md"}
    expected |= {
        f"{DOCS_DIR}/{d.name}.md"
        for d in (ROOT / "stacks").iterdir()
        if d.name in ("single-node", "eks", "poc") and (d / "Pulumi.yaml").is_file()
    }
    # Moving data between the two needs both stacks.
    if {f"{DOCS_DIR}/single-node.md", f"{DOCS_DIR}/eks.md"} <= expected:
        expected.add(f"{DOCS_DIR}/migrate.md")
    # The single-node image's per-tier overrides and upgrade table come from the same generator.
    expected |= {
        f"{TIERS_SOURCE_DIR}/{name}" for name in ("index", "XS.yaml", "S.yaml", "M.yaml", "L.yaml", "XL.yaml")
    }
    expected.add(f"{IMAGE_SOURCE_DIR}/upgrade-paths")
    # The config sections of the stacks' project files are written from the settings models.
    expected |= {
        f"stacks/{d.name}/Pulumi.yaml"
        for d in (ROOT / "stacks").iterdir()
        if d.name in ("single-node", "eks", "poc") and (d / "Pulumi.yaml").is_file()
    }
    assert set(pages) == expected
    assert f"{DOCS_DIR}/validate-your-tier.md" not in pages


def test_generation_is_deterministic_and_skips_missing_stacks(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "single-node").symlink_to(ROOT / "stacks" / "single-node")
    first = generate_pages(tmp_path)
    second = generate_pages(tmp_path)
    assert first == second
    assert sorted(first) == [
        f"{DOCS_DIR}/README.md",
        f"{DOCS_DIR}/policy-rules.md",
        f"{DOCS_DIR}/single-node.md",
        "stacks/single-node/Pulumi.yaml",
    ]
    assert "[EKS](eks.md)" not in first[f"{DOCS_DIR}/README.md"]


def test_stale_page_is_reported_and_check_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = {f"{DOCS_DIR}/README.md": "# new\n", f"{DOCS_DIR}/poc.md": "# poc\n"}
    monkeypatch.setattr(generate_module, "generate_pages", lambda root: dict(fake))
    (tmp_path / DOCS_DIR).mkdir()
    (tmp_path / DOCS_DIR / "README.md").write_text("# old\n", encoding="utf-8")
    assert stale_pages(tmp_path) == [f"{DOCS_DIR}/README.md", f"{DOCS_DIR}/poc.md"]
    assert main(["--check", str(tmp_path)]) == 1
    assert main([str(tmp_path)]) == 0
    assert stale_pages(tmp_path) == []
    assert main(["--check", str(tmp_path)]) == 0


def test_a_hand_edited_or_outdated_pulumi_yaml_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the project files: planning the stack adds nothing here.
    monkeypatch.setattr(generate_module, "generate_pages", generate_module.project_files)
    project_file = tmp_path / "stacks" / "single-node" / "Pulumi.yaml"
    project_file.parent.mkdir(parents=True)
    committed = (ROOT / "stacks" / "single-node" / "Pulumi.yaml").read_text(encoding="utf-8")
    project_file.write_text(committed, encoding="utf-8")
    assert stale_pages(tmp_path) == []

    edited = committed.replace("Default: 10.40.0.0/16.", "Default: a /16.")
    assert edited != committed
    project_file.write_text(edited, encoding="utf-8")
    assert stale_pages(tmp_path) == ["stacks/single-node/Pulumi.yaml"]
    assert main([str(tmp_path)]) == 0
    assert project_file.read_text(encoding="utf-8") == committed

    # A docstring changed without `make docs`.
    monkeypatch.setattr(
        SingleNodeSettings.model_fields["vpc_cidr"], "description", "CIDR. Default: 10.40.0.0/16."
    )
    assert stale_pages(tmp_path) == ["stacks/single-node/Pulumi.yaml"]
    assert main(["--check", str(tmp_path)]) == 1
    assert main([str(tmp_path)]) == 0
    assert "description: 'CIDR. Default: 10.40.0.0/16.'" in project_file.read_text(encoding="utf-8")


def test_single_node_page_has_tiers_costs_io2_comparison_and_diagram(pages: dict[str, str]) -> None:
    page = pages[f"{DOCS_DIR}/single-node.md"]
    for tier, instance in (
        ("XS", "m6a.2xlarge"),
        ("S", "m6a.4xlarge"),
        ("M", "m6a.8xlarge"),
        ("L", "m6a.12xlarge"),
        ("XL", "m6a.24xlarge"),
    ):
        assert f"| **{tier}** |" in page and f"1 × {instance}" in page
    assert "| **2XL** |" not in page and "2XL, 3XL: not offered by this architecture." in page
    # The L and XL data volume: 500 GiB gp3 at 16,000 IOPS is $140 against $1,102.50 on io2.
    assert "| L | 500 GiB gp3, 16,000 IOPS, 1,000 MiB/s | $140.00 | $1,102.50 | $962.50 |" in page
    assert "| XL | 500 GiB gp3, 16,000 IOPS, 1,000 MiB/s | $140.00 | $1,102.50 | $962.50 |" in page
    assert "```mermaid\nflowchart LR" in page
    assert "**No findings at any tier.**" in page
    assert "Each NAT gateway processes 100 GB a month." in page
    assert "## Upgrades" in page and "## Backups" in page


def test_policy_rules_page_lists_every_rule(pages: dict[str, str]) -> None:
    page = pages[f"{DOCS_DIR}/policy-rules.md"]
    for rule in RULES:
        assert f"## {rule.id}" in page and rule.cause in page and rule.explanation in page
    assert "policy_suppressions" in page


def test_readme_is_a_choice_guide(pages: dict[str, str]) -> None:
    readme = pages[f"{DOCS_DIR}/README.md"]
    assert "[Single node](single-node.md)" in readme
    assert "## Tiers at a glance" in readme and "| **XS** | 500 | 5,000 |" in readme
    assert "no high or critical finding" in readme


def test_diagram_follows_references_through_hidden_resources() -> None:
    planned = plan_stack(ROOT / "stacks" / "single-node", {"users": "0", "repos": "0"}, ("L",))
    diagram = render_mermaid(planned[0].plan)
    # ALB -> listener/target group (hidden) -> instance; instance -> attachment (hidden) -> volume.
    assert "  users --> lb_example_alb" in diagram
    assert "  lb_example_alb --> i_example_instance" in diagram
    assert "  i_example_instance --> v_example_data" in diagram
    assert 'v_example_data["EBS gp3 500 GiB<br/>16,000 IOPS"]' in diagram
    assert diagram.index("subgraph private") < diagram.index("i_example_instance[")

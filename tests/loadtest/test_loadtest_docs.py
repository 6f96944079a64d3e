"""reference-architectures/validate-your-tier.md matches the code: thresholds, flags, tiers, query example."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sgarch.cli.app import _register, app
from sgarch.loadtest import QuerySet
from sgarch.loadtest.profiles import Profile, thresholds_markdown, virtual_users
from sgarch.tiers import Tier

PAGE = Path(__file__).resolve().parents[2] / "reference-architectures" / "validate-your-tier.md"


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_thresholds_table_is_the_code_table() -> None:
    assert thresholds_markdown() in page()


def test_virtual_users_row_matches_the_tier_table() -> None:
    row = next(line for line in page().splitlines() if line.startswith("| Virtual users |"))
    numbers = [int(cell.replace(",", "")) for cell in row.strip("|").split("|")[1:]]
    assert numbers == [virtual_users(t, Profile.LOAD) for t in Tier]


def test_every_documented_flag_exists() -> None:
    import typer.main

    _register()
    group = typer.main.get_command(app)
    loadtest = group.commands["loadtest"]  # type: ignore[attr-defined]
    run_flags = {opt for p in loadtest.commands["run"].params for opt in p.opts}
    documented = set(re.findall(r"^\| `(--[a-z-]+)` \|", page(), re.MULTILINE))
    assert documented == run_flags - {"--help"}
    for command in re.findall(r"^sgarch loadtest (\w+)", page(), re.MULTILINE):
        assert command in loadtest.commands


def test_query_example_is_a_valid_query_file() -> None:
    block = re.search(r"```yaml\n(.*?)```", page(), re.DOTALL)
    assert block is not None
    queries = QuerySet.model_validate(yaml.safe_load(block.group(1)))
    assert queries.literal.regular[1] == r"repo:^github\.com/acme/ payment"

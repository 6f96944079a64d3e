"""The default query set, the template and validation of a customer's query file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgarch.errors import ConfigError
from sgarch.loadtest import DEFAULT_QUERIES, QuerySet, load_queries, render_template
from sgarch.loadtest.profiles import SEARCH_TYPES, QueryClass, SearchType
from sgarch.loadtest.queries import write_template


def test_default_set_has_regular_and_expensive_queries_for_every_type() -> None:
    assert DEFAULT_QUERIES.rows() == tuple((t, c) for t in SEARCH_TYPES for c in QueryClass)


def test_default_set_names_no_repository_and_uses_filters_anywhere() -> None:
    queries = [q for t in SEARCH_TYPES for c in QueryClass for q in DEFAULT_QUERIES.section(t).of(c)]
    assert not [q for q in queries if "repo:" in q or "github.com" in q or "/" in q.split()[0]]
    assert sum("lang:" in q for q in queries) >= len(queries) // 2
    expensive = [q for t in SEARCH_TYPES for q in DEFAULT_QUERIES.section(t).expensive]
    assert all("count:" in q for q in expensive)


def test_template_round_trips_to_the_default_set(tmp_path: Path) -> None:
    path = write_template(tmp_path / "queries.yaml")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Queries for `sgarch loadtest run --queries FILE`.")
    assert text.count("\n#") >= 8
    assert load_queries(path) == DEFAULT_QUERIES
    assert render_template() == text


def test_template_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text("keep me", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"^--init must be a file that does not exist yet \(got '.*q\.yaml'\)"
    ):
        write_template(path)
    assert path.read_text(encoding="utf-8") == "keep me"


def test_a_partial_file_runs_only_its_types(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text("literal:\n  regular: ['lang:go  foo ']\nstructural:\n  expensive: [':[x] count:10']\n")
    queries = load_queries(path)
    assert queries.literal.regular == ("lang:go  foo",)
    assert queries.rows() == (
        (SearchType.LITERAL, QueryClass.REGULAR),
        (SearchType.STRUCTURAL, QueryClass.EXPENSIVE),
    )
    assert queries.search_types() == (SearchType.LITERAL, SearchType.STRUCTURAL)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("literal: [", r"^--queries must be valid YAML \(got '.*'\): fix the syntax near line \d+\.$"),
        ("- a\n- b\n", r"^--queries must be a mapping of search types to queries"),
        (
            "literal: {regulr: [a]}",
            r"^--queries q\.yaml: literal\.regulr must be a known setting \(got \['a'\]\)",
        ),
        ("fuzzy: {regular: [a]}", r"^--queries q\.yaml: fuzzy must be a known setting"),
        ("{}", r"^--queries q\.yaml: value must be a query set with at least one query"),
        ("literal: {regular: ['  ']}", r"literal\.regular must be a non-empty query"),
        (
            "regexp: {regular: ['foo patterntype:literal']}",
            r"regexp\.regular must be a query without patterntype:",
        ),
        (
            "literal: {expensive: ['foo index:no']}",
            r"literal\.expensive must be a query without patterntype:",
        ),
        (f"literal: {{regular: ['{'x' * 1001}']}}", r"must be a query of at most 1000 characters"),
    ],
)
def test_invalid_files_give_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        load_queries(path)
    assert "\n" not in str(err.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^--queries must be a readable query file \(got '.*missing\.yaml'\)"
    ):
        load_queries(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match=r"^--queries must be a readable query file"):
        load_queries(tmp_path)  # a directory
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00literal")
    with pytest.raises(ConfigError, match=r"not UTF-8 text\.$"):
        load_queries(binary)


def test_identifiers_that_merely_contain_type_are_allowed() -> None:
    queries = QuerySet.model_validate({"literal": {"regular": ["ContentType: json", "lang:go reflect.Type"]}})
    assert queries.literal.regular == ("ContentType: json", "lang:go reflect.Type")

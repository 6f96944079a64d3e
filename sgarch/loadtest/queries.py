"""The queries a load test sends: a default set that works on any instance, or the customer's own file.

A query set has one section per search type (literal, regexp, structural, unindexed), each with a
``regular`` and an ``expensive`` list. The section decides how a query runs: the runner adds the pattern type
and, for unindexed search, ``index:no``, so a query text never carries ``patterntype:`` or ``index:`` itself.

The default set names no repository. It leans on language filters, identifiers that every codebase has and
``count:`` to make a query expensive, so it runs against any instance; a customer who knows which searches
their developers run should bring those instead (``sgarch loadtest queries --init FILE`` writes a template).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from sgarch.errors import ConfigError, config_error_from_pydantic
from sgarch.loadtest.profiles import SEARCH_TYPES, QueryClass, SearchType

__all__ = [
    "DEFAULT_QUERIES",
    "MAX_QUERY_CHARS",
    "QueryClasses",
    "QuerySet",
    "load_queries",
    "render_template",
    "write_template",
]

MAX_QUERY_CHARS = 1_000
"""Longest query text accepted; Sourcegraph's own limit is higher, but a longer one is a pasting mistake."""

# The section sets these; a query carrying its own would run as something other than its section says.
_RESERVED = re.compile(r"(?<![\w-])(patterntype|patternType|index|type)\s*:", re.IGNORECASE)


class QueryClasses(BaseModel):
    """The queries of one search type, split by how heavy they are meant to be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    regular: tuple[str, ...] = ()
    """Queries a user runs all day. Default: none (the class is skipped)."""
    expensive: tuple[str, ...] = ()
    """Queries that scan far more, such as ``count:all``. Default: none (the class is skipped)."""

    @field_validator("regular", "expensive")
    @classmethod
    def _valid_queries(cls, queries: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(q.strip() for q in queries)
        for query in cleaned:
            if not query:
                raise ValueError("a non-empty query")
            if len(query) > MAX_QUERY_CHARS:
                raise ValueError(f"a query of at most {MAX_QUERY_CHARS} characters")
            if _RESERVED.search(query):
                raise ValueError("a query without patterntype:, type: or index: (its section sets them)")
        return cleaned

    def of(self, query_class: QueryClass) -> tuple[str, ...]:
        """The queries of one class."""
        return self.regular if query_class is QueryClass.REGULAR else self.expensive


class QuerySet(BaseModel):
    """Queries per search type. A type left out (or empty) is not run and not reported."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    literal: QueryClasses = QueryClasses()
    """Literal searches, answered by indexed search (zoekt)."""
    regexp: QueryClasses = QueryClasses()
    """Regular-expression searches, answered by indexed search (zoekt)."""
    structural: QueryClasses = QueryClasses()
    """Structural searches (comby), answered by searcher. Needs structural search enabled on the instance."""
    unindexed: QueryClasses = QueryClasses()
    """Literal searches with ``index:no``, answered by searcher."""

    @model_validator(mode="after")
    def _not_empty(self) -> QuerySet:
        if not self.rows():
            raise ValueError("a query set with at least one query")
        return self

    def section(self, search_type: SearchType) -> QueryClasses:
        """The queries of one search type."""
        if search_type not in SEARCH_TYPES:
            raise KeyError(search_type)
        section: QueryClasses = getattr(self, search_type.value)
        return section

    def rows(self) -> tuple[tuple[SearchType, QueryClass], ...]:
        """Every (search type, class) that has at least one query, in a stable order."""
        return tuple((t, c) for t in SEARCH_TYPES for c in QueryClass if getattr(self, t.value).of(c))

    def search_types(self) -> tuple[SearchType, ...]:
        """The search types that have at least one query."""
        return tuple(dict.fromkeys(t for t, _ in self.rows()))

    def for_k6(self) -> dict[str, dict[str, list[str]]]:
        """The set as the k6 script reads it: ``{type: {class: [query, ...]}}``."""
        return {t.value: {c.value: list(self.section(t).of(c)) for c in QueryClass} for t in SEARCH_TYPES}


_DEFAULT: dict[SearchType, tuple[tuple[str, ...], tuple[str, ...]]] = {
    SearchType.LITERAL: (
        ("lang:go func main", "lang:python import os", "lang:typescript export function"),
        ("error count:1000", "TODO count:all"),
    ),
    SearchType.REGEXP: (
        (r"lang:go func\s+Test\w+\(", r"lang:java public\s+class\s+\w+Test"),
        (r"(get|set)[A-Z]\w+\( count:1000", r"\w+Exception count:all"),
    ),
    SearchType.STRUCTURAL: (
        ("lang:go fmt.Errorf(:[args])", "lang:python print(:[args])"),
        ("lang:go for :[k], :[v] := range :[x] { :[body] } count:1000",),
    ),
    SearchType.UNINDEXED: (
        ("lang:markdown installation count:20", "lang:go TODO count:20"),
        ("lang:go context.Context count:1000",),
    ),
}

DEFAULT_QUERIES = QuerySet(
    **{t.value: QueryClasses(regular=reg, expensive=exp) for t, (reg, exp) in _DEFAULT.items()}
)
"""The default query set: no repository names, so it runs on any instance."""

_SECTION_NOTES: dict[SearchType, str] = {
    SearchType.LITERAL: "Literal searches (about 70% of real traffic); indexed search (zoekt) answers them.",
    SearchType.REGEXP: "Regular expressions; indexed search (zoekt) answers them.",
    SearchType.STRUCTURAL: (
        "Structural searches (comby syntax); searcher answers them. Remove this section when structural\n"
        "# search is disabled on your instance."
    ),
    SearchType.UNINDEXED: "Searches that skip the index (the runner adds index:no); searcher answers them.",
}


def render_template(queries: QuerySet = DEFAULT_QUERIES) -> str:
    """A commented YAML file holding ``queries``, for ``sgarch loadtest queries --init``."""
    lines = [
        "# Queries for `sgarch loadtest run --queries FILE`.",
        "#",
        "# One section per search type, each with `regular` and `expensive` queries. The section decides how",
        "# a query runs: do not write patterntype:, type: or index: in a query. A section or class left out",
        "# (or empty) is not run and not reported. Use the searches your developers really run: repo:,",
        "# file: and lang: filters are all allowed. The `search` profile holds each class to its own",
        "# time-to-first-byte limit (see reference-architectures/validate-your-tier.md).",
    ]
    for search_type in SEARCH_TYPES:
        section = queries.section(search_type)
        lines += ["", f"# {_SECTION_NOTES[search_type]}", f"{search_type.value}:"]
        for query_class in QueryClass:
            items = section.of(query_class)
            if not items:
                lines.append(f"  {query_class.value}: []")
                continue
            lines.append(f"  {query_class.value}:")
            # JSON-style double quotes are valid YAML and keep backslashes and colons unambiguous.
            lines += [f"    - {_yaml_string(q)}" for q in items]
    return "\n".join(lines) + "\n"


def _yaml_string(text: str) -> str:
    import json

    return json.dumps(text)


def write_template(path: Path, flag: str = "--init") -> Path:
    """Write the commented template to ``path``; refuses to overwrite an existing file."""
    if path.exists():
        raise ConfigError(flag, "a file that does not exist yet", str(path), "choose a new name or remove it")
    try:
        path.write_text(render_template(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(flag, "a writable path", str(path), exc.strerror or "check the directory") from exc
    return path


def load_queries(path: Path, flag: str = "--queries") -> QuerySet:
    """Read and validate a query file (YAML or JSON). Every problem is one :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(flag, "a readable query file", str(path), reason) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "the file"
        raise ConfigError(flag, "valid YAML", str(path), f"fix the syntax near {where}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            flag,
            "a mapping of search types to queries",
            str(path),
            "start from `sgarch loadtest queries --init`",
        )
    try:
        return QuerySet.model_validate(data)
    except ValidationError as exc:
        err = config_error_from_pydantic(exc)
        raise ConfigError(
            f"{flag} {path.name}: {err.field}",
            err.expected,
            err.value,
            "start from `sgarch loadtest queries --init`",
        ) from exc

"""No Python module of the package is over 500 lines, so a newcomer can read any one of them in a sitting.

Issue #20: long modules grew by accretion (two architectures in one class, an encoder inside the user-data
renderer). The limit makes the next split happen when a module outgrows it, not years later. A module that
holds only data (tables of constants) may be longer: it is listed in ``DATA_TABLES`` with its reason, and
the test checks that it really holds nothing but constants, so logic cannot hide in an exempt module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sgarch

MAX_LINES = 500
PACKAGE = Path(sgarch.__file__).resolve().parent

DATA_TABLES: dict[str, str] = {}
"""Modules allowed over ``MAX_LINES``, by path from the repository root, each with why it is one table."""


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _modules() -> dict[str, Path]:
    return {path.relative_to(PACKAGE.parent).as_posix(): path for path in sorted(PACKAGE.rglob("*.py"))}


def non_constant_statements(source: str) -> list[str]:
    """Every top-level statement of ``source`` that is not a constant, as ``line N: <kind>``.

    Allowed: docstrings (the module's and the attribute docstrings after assignments), imports, and
    assignments whose value holds no lambda. Functions, classes, loops, conditions and bare calls are logic.
    """
    found: list[str] = []
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(
            isinstance(inner, ast.Lambda) for inner in ast.walk(node)
        ):
            continue
        found.append(f"line {node.lineno}: {type(node).__name__}")
    return found


def test_no_module_is_over_the_limit() -> None:
    too_long = {
        name: lines
        for name, path in _modules().items()
        if name not in DATA_TABLES and (lines := _lines(path)) > MAX_LINES
    }
    assert not too_long, (
        f"modules over {MAX_LINES} lines: "
        + ", ".join(f"{name} ({lines})" for name, lines in sorted(too_long.items()))
        + ". Split each by concern into modules with clear names; a module that holds only constants may "
        "instead be listed in DATA_TABLES with its reason."
    )


def test_every_exempt_module_is_a_long_table_of_constants() -> None:
    modules = _modules()
    for name, reason in DATA_TABLES.items():
        assert name in modules, f"{name} is in DATA_TABLES but no longer exists: remove it from the list"
        assert reason.strip(), f"{name} needs a reason in DATA_TABLES"
        path = modules[name]
        assert _lines(path) > MAX_LINES, f"{name} is within {MAX_LINES} lines: remove it from DATA_TABLES"
        logic = non_constant_statements(path.read_text(encoding="utf-8"))
        assert not logic, (
            f"{name} is exempt as a data table but holds logic ({', '.join(logic)}): move it out"
        )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            '"""Prices."""\nfrom x import y\nTABLE = {"a": 1}\n"""What A costs."""\nNAMES: tuple[str, ...] = ()\n',
            [],
        ),
        ("ORDER = frozenset({1, 2})\nLENGTHS = [3] * 8 + [4] * 8\n", []),
        ("TABLE = {}\ndef lookup(key):\n    return TABLE[key]\n", ["line 2: FunctionDef"]),
        ("class Row:\n    pass\n", ["line 1: ClassDef"]),
        ("ROWS = []\nfor i in range(3):\n    ROWS.append(i)\n", ["line 2: For"]),
        ("KEY = 1\nprint(KEY)\n", ["line 2: Expr"]),
        ("PICK = lambda rows: rows[0]\n", ["line 1: Assign"]),
    ],
)
def test_the_constant_check_tells_data_from_logic(source: str, expected: list[str]) -> None:
    assert non_constant_statements(source) == expected

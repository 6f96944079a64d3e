"""Root of the ``sgarch`` CLI: registers every sub-command and turns sgarch errors into one line.

Exit statuses: 0 success, 1 a check or build failed, 2 bad input (flag, config value or file), 130
interrupted. A traceback in front of a user is a bug, so :func:`main` catches every sgarch error.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from sgarch import __version__
from sgarch.errors import ConfigError, SgarchError

app = typer.Typer(
    name="sgarch",
    help="Reference architectures for self-hosted Sourcegraph on AWS: size, plan, build images, upgrade.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sgarch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the sgarch version and exit."
    ),
) -> None:
    """Reference architectures for self-hosted Sourcegraph on AWS."""


# Sub-command modules, in the order `sgarch --help` lists them; importing one registers it on `app`.
COMMAND_MODULES: tuple[str, ...] = (
    "size",
    "plan",
    "loadtest",
    "ami",
    "upgrade",
    "migrate",
    "migrate_data",
    "doctor",
)


def _register() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(f"sgarch.cli.{module}")


def fail(message: str, status: int = 2) -> None:
    """Print one line to stderr and exit; for errors found by the CLI itself."""
    err_console.print(f"error: {message}", markup=False)
    raise typer.Exit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sgarch`` script."""
    _register()
    try:
        rv = app(args=argv, standalone_mode=False)
    except ConfigError as exc:
        err_console.print(f"error: {exc}", markup=False)
        sys.exit(2)
    except SgarchError as exc:
        err_console.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:
        # Typer >= 0.29 vendors click, so its exception classes are matched by name, not imported.
        kind = type(exc).__name__
        if kind == "Exit":
            sys.exit(getattr(exc, "exit_code", 0))
        if kind == "Abort":
            err_console.print("interrupted", markup=False)
            sys.exit(130)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            # Usage errors (unknown flag, missing option): one line, like our own errors.
            err_console.print(f"error: {exc.format_message()}", markup=False)
            sys.exit(exc.exit_code)
        raise
    sys.exit(rv if isinstance(rv, int) else 0)

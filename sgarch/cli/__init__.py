"""The ``sgarch`` command line. Nothing in sgarch imports this package."""

from sgarch.cli.app import app, main

__all__ = ["app", "main"]

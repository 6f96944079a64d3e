"""``sgarch migrate``: move a running Sourcegraph between single-node and EKS, with its data.

sgarch migrate plan --from single-node --to eks --from-version 7.5.4453 --to-version 7.5.4453
"""

from __future__ import annotations

import typer

from sgarch.cli.app import app

__all__ = ["migrate_app"]

migrate_app = typer.Typer(
    name="migrate",
    help="Move a running Sourcegraph between single-node and EKS: plan, export, import, abort.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(migrate_app, name="migrate")

"""``sgarch migrate export``, ``import`` and ``abort``: the commands that move the data."""

from __future__ import annotations

from sgarch.cli.migrate import migrate_app

__all__ = ["migrate_app"]

"""``python -m sgarch`` runs the CLI."""

from sgarch.cli import main

main()

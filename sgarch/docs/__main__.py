"""``python -m sgarch.docs [--check] [ROOT]``: regenerate (or check) reference-architectures/ and
the config descriptions of stacks/*/Pulumi.yaml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sgarch.docs._generate import stale_pages, write_pages
from sgarch.errors import SgarchError


def main(argv: list[str] | None = None) -> int:
    """Write the pages (exit 0), or with ``--check`` report stale ones (exit 1 when any)."""
    parser = argparse.ArgumentParser(prog="python -m sgarch.docs", description=__doc__)
    parser.add_argument("root", nargs="?", default=".", help="repository root (default: the current folder)")
    parser.add_argument("--check", action="store_true", help="only report pages that differ from the code")
    args = parser.parse_args(argv)
    root = Path(args.root)
    try:
        if args.check:
            stale = stale_pages(root)
            for path in stale:
                print(f"stale: {path} (run `make docs`)", file=sys.stderr)
            return 1 if stale else 0
        for path in write_pages(root):
            print(f"wrote {path}")
    except SgarchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if exc.__class__.__name__ == "ConfigError" else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

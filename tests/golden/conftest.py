"""Golden-file comparison. Regenerate after an intended change with `make golden`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compare text with ``tests/golden/<relative>``; rewrite it when SGARCH_UPDATE_GOLDEN=1."""

    def check(relative: str, text: str) -> None:
        path = GOLDEN_DIR / relative
        if os.environ.get("SGARCH_UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return
        assert path.exists(), f"missing golden file {path}; run `make golden` to create it"
        assert text == path.read_text(), (
            f"{path} differs from the rendered output; run `make golden` if intended"
        )

    return check

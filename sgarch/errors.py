"""The one exception hierarchy of sgarch.

Every error a user can cause derives from :class:`SgarchError`. The CLI prints ``str(error)`` on one line
and exits with status 2 for :class:`ConfigError` (bad input) and 1 for the others; a traceback in front of a
user is a bug.

Messages follow one shape, so users learn to read them once::

    <field> must be <expected> (got <value>): <how to fix>.

``field`` is the name the user wrote: the CLI flag (``--users``) or the Pulumi config key
(``sgarch:tier``), never an internal attribute name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AmiBuildError",
    "BuildError",
    "ConfigError",
    "PolicyViolation",
    "SgarchError",
    "config_error_from_pydantic",
    "format_value",
]


_NUMBER = re.compile(r"[-+]?\d[\d,_]*(\.\d+)?")


class SgarchError(Exception):
    """Base class of every error sgarch raises on purpose."""


class ConfigError(SgarchError, ValueError):
    """Bad input: an argument, a CLI flag or a stack config value. Raised before any resource exists.

    Build it from its parts so every message has the documented shape; ``field`` and ``value`` stay
    available to callers (the CLI maps internal names to flags, tests assert on the text).
    """

    def __init__(self, field: str, expected: str, value: Any, fix: str) -> None:
        self.field = field
        self.expected = expected
        self.value = value
        self.fix = fix.rstrip(".")
        super().__init__(f"{field} must be {expected} (got {format_value(value)}): {self.fix}.")

    def renamed(self, names: Mapping[str, str]) -> ConfigError:
        """Return the same error with ``field`` (and field names inside the text) spelled as in ``names``.

        Components validate with their own attribute names; the CLI and stacks call this to speak in the
        user's vocabulary (``largest_repo_gb`` -> ``--largest-repo-gb``).
        """
        field = names.get(self.field, self.field)
        expected, fix = self.expected, self.fix
        for internal, public in names.items():
            expected = _replace_word(expected, internal, public)
            fix = _replace_word(fix, internal, public)
        return ConfigError(field, expected, self.value, fix)


class BuildError(SgarchError):
    """A long-running operation (an image build, a snapshot) failed after it started."""


class AmiBuildError(BuildError):
    """An AMI build step failed; cleanups have run by the time this reaches the caller."""


class PolicyViolation(SgarchError):
    """A planned deployment breaks a policy rule at or above the requested severity."""


def format_value(value: Any) -> str:
    """Render a user-supplied value for an error message: strings quoted, numbers with separators."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return value.strip()  # a number typed on the command line reads better unquoted
    return repr(value)


def config_error_from_pydantic(exc: Any, names: Mapping[str, str] | None = None) -> ConfigError:
    """Turn the first error of a pydantic ``ValidationError`` into a :class:`ConfigError`.

    Pydantic's own messages are multi-line and name internal attributes; users get one line instead.
    """
    names = names or {}
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first.get("loc", ())) or "value"
    field = names.get(loc, loc)
    kind = first.get("type", "")
    value = first.get("input")
    if kind == "extra_forbidden":
        return ConfigError(field, "a known setting", value, "remove it or check its spelling")
    if kind == "missing":
        return ConfigError(field, "set", None, "give it a value")
    message = str(first.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    expected = message[0].lower() + message[1:] if message else "valid"
    expected = expected.removeprefix("input should be ")
    return ConfigError(field, expected, value, "see --help for the accepted values")


def _replace_word(text: str, old: str, new: str) -> str:
    return re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, text)

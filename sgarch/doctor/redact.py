"""Redact secret-looking values from text that leaves the account (the support bundle).

Rules are data: a name, a pattern and what replaces the match. They run in order, most specific first, so
a PEM block is removed whole before the line-based rules look inside it. False positives are cheap here (a
support engineer sees ``[REDACTED:...]``); a leaked key is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["REDACTION_RULES", "RedactionRule", "redact"]


@dataclass(frozen=True)
class RedactionRule:
    """One kind of secret: ``pattern`` matches it, ``replacement`` (a ``re.sub`` template) replaces it."""

    name: str
    pattern: re.Pattern[str]
    replacement: str


def _rule(name: str, pattern: str, replacement: str | None = None, flags: int = 0) -> RedactionRule:
    return RedactionRule(name, re.compile(pattern, flags), replacement or f"[REDACTED:{name}]")


_KEY_WORDS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|"
    r"client[_-]?secret|session[_-]?key|auth[_-]?token|authorization"
)

REDACTION_RULES: tuple[RedactionRule, ...] = (
    _rule(
        "pem-block",
        r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----",
        flags=re.DOTALL,
    ),
    # An unterminated PEM block (cut off in a log line) is still a key.
    _rule("pem-block", r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[^\n]*"),
    _rule("aws-access-key-id", r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b"),
    _rule("sourcegraph-token", r"\bsg(?:p|ph|s)_[A-Za-z0-9_]{8,}"),
    _rule("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    _rule("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{16,}"),
    _rule("slack-token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    # user:password@ in URLs and DSNs (postgres://sg:secret@host/db, https://u:p@git.example.com).
    _rule("url-password", r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)", r"\1[REDACTED:password]\2"),
    # Authorization headers: "token <value>", "Bearer <value>", "Basic <value>".
    _rule(
        "auth-header",
        r"(?i)\b(token|bearer|basic)(\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}",
        r"\1\2[REDACTED:credential]",
    ),
    # key=value, key: value, "key": "value" where the key names a secret (PGPASSWORD=..., "db_password": ...).
    _rule(
        "secret-value",
        rf"(?i)([\"']?[A-Za-z0-9_.-]*(?:{_KEY_WORDS})[A-Za-z0-9_.-]*[\"']?\s*[:=]\s*[\"']?)"
        r"(?!\[REDACTED)[^\s\"',;&}\]]+",
        r"\1[REDACTED:secret]",
    ),
    # A bare 40-character AWS secret access key: base64 alphabet with at least one lowercase, one uppercase
    # and one digit or / or +, so hex digests (lowercase only) and ids are left alone.
    _rule(
        "aws-secret-key",
        r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+=]*[a-z])(?=[A-Za-z0-9/+=]*[A-Z])(?=[A-Za-z0-9/+=]*[0-9/+])"
        r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
    ),
)


def redact(text: str) -> tuple[str, int]:
    """Return ``text`` with every secret-looking value replaced, and how many replacements were made."""
    total = 0
    for rule in REDACTION_RULES:
        text, count = rule.pattern.subn(rule.replacement, text)
        total += count
    return text, total

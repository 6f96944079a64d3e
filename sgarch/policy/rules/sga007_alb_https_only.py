"""SGA-007: load balancer listeners serve HTTPS; plain HTTP only redirects."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import LISTENERS, Resources
from sgarch.policy._model import Rule, Severity, Violation


def _redirects_to_https(action: dict[str, object]) -> bool:
    redirect = action.get("redirect")
    return (
        action.get("type") == "redirect"
        and isinstance(redirect, dict)
        and str(redirect.get("protocol", "")).upper() == "HTTPS"
    )


def check(resources: Resources) -> Iterator[Violation]:
    """Every HTTP listener's default actions all redirect to HTTPS."""
    for record in resources.of_type(*LISTENERS):
        protocol = str(record.inputs.get("protocol") or "HTTP").upper()
        if protocol != "HTTP":
            continue
        actions = record.inputs.get("defaultActions") or []
        if not actions or not all(_redirects_to_https(a) for a in actions):
            yield Violation(record, "an HTTP listener serves traffic instead of redirecting to HTTPS")


RULE = Rule(
    id="SGA-007",
    title="ALB listeners HTTPS only",
    severity=Severity.HIGH,
    applies_to=LISTENERS,
    cause="A load balancer listener uses plain HTTP for anything but a redirect to HTTPS.",
    explanation=(
        "Sign-in cookies, access tokens and source code cross this listener. Over HTTP anyone on the path "
        "reads them; a redirect-only listener on port 80 keeps old links working without carrying data."
    ),
    fix="Use protocol='HTTPS' with an ACM certificate and a TLS 1.2+ ssl_policy; make port 80 a redirect.",
    check=check,
)

"""boto3 plumbing shared by ``upgrade snapshot`` and ``doctor``: clients and error classification."""

from __future__ import annotations

from typing import Any

__all__ = ["FORBIDDEN_CODES", "client", "error_code", "error_message", "is_forbidden"]

#: Error codes AWS uses when the caller's policy denies an API call (EC2 says UnauthorizedOperation).
FORBIDDEN_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "Forbidden"}
)


def client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    """A boto3 client; ``endpoint_url`` points it at a local AWS stand-in (moto server) for tests and demos."""
    import boto3

    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError``, or the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    """The AWS error message of a ``ClientError``, or ``str(exc)``, on one line."""
    response = getattr(exc, "response", None)
    message = ""
    if isinstance(response, dict):
        message = str(response.get("Error", {}).get("Message", ""))
    return " ".join((message or str(exc)).split())


def is_forbidden(exc: BaseException) -> bool:
    """True when the call failed because IAM denied it."""
    return error_code(exc) in FORBIDDEN_CODES

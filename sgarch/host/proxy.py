"""The single node's HTTP proxy: the URL's checks and the NO_PROXY lists. Pure: no Pulumi, no AWS calls.

With ``http_proxy`` set, every client on the host goes through the proxy, each configured in its own place
(``scripts/proxy.sh`` writes them; :mod:`sgarch.host.userdata` ships it only when a proxy is set):
dnf, curl and git (install.sh), dockerd (image pulls), the SSM and CloudWatch agents, and Sourcegraph's
containers. What bypasses it is the NO_PROXY list: the host itself, the instance metadata service, with
``aws_endpoints_in_vpc`` the region's AWS endpoints, and for the containers each other's Compose service
names (they call each other by those names, which a proxy outside the host cannot resolve).

A security group filters by IP, not by name: the proxy's host name cannot open its port, hence
``proxy_cidrs`` when the URL names a host rather than an address.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from sgarch.errors import ConfigError
from sgarch.sizing.compose import COMPOSE_SERVICES

__all__ = [
    "MAX_NO_PROXY_CHARS",
    "ProxyTarget",
    "check_no_proxy",
    "container_no_proxy",
    "host_no_proxy",
    "parse_proxy_url",
]

MAX_NO_PROXY_CHARS = 512
"""Longest ``no_proxy`` (joined with commas) accepted: the list lands in user-data three times, and EC2 takes
at most 16 KB of it."""

_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
# A NO_PROXY entry: a host, a domain (``.corp.example.com``), an IP or a CIDR, or ``*``. Written unquoted
# into env files that bash, systemd and Docker Compose all read, so nothing they would interpret.
_NO_PROXY_ENTRY = re.compile(r"^[A-Za-z0-9._:/*\[\]-]+$")
# Never proxied: the host itself and the instance metadata service (the agents read the instance's role
# from it; a proxy would answer for its own host, or not at all).
_ALWAYS_DIRECT = ("localhost", "127.0.0.1", "169.254.169.254")


class ProxyTarget:
    """Where ``http_proxy`` points: the host as written, its port, and its address when the host is an IP."""

    def __init__(self, host: str, port: int, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None):
        self.host = host
        self.port = port
        self.address = address

    def default_cidrs(self) -> tuple[str, ...]:
        """The proxy's own address as a one-address CIDR, or nothing when the URL names a host."""
        if self.address is None:
            return ()
        return (f"{self.address}/{self.address.max_prefixlen}",)


def parse_proxy_url(field: str, url: str) -> ProxyTarget:
    """``url`` (``http://host:port``) split into host and port, or a ConfigError naming ``field``.

    Only ``http://``: it is the scheme every client here accepts for a proxy that tunnels HTTPS with CONNECT
    (dnf, curl, git, dockerd, the Go agents). No user or password: user-data, where the URL lands, is readable
    from the instance. An explicit port, since the security group opens exactly that port.
    """
    redacted = re.sub(r"//[^/@]*@", "//<redacted>@", url)
    if "@" in url.split("//", 1)[-1].split("/", 1)[0]:
        raise ConfigError(
            field,
            "a URL without a user or password",
            redacted,
            "user-data is readable from the instance; let the proxy admit the instance by its address instead",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme != "http" or not parts.hostname:
        raise ConfigError(
            field,
            "a URL like http://proxy.example.com:3128",
            url,
            "give the scheme http://, the host and the port",
        )
    if port is None:
        raise ConfigError(
            field, "a URL with a port, like http://proxy.example.com:3128", url, "add the proxy's port"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(
            field,
            "a URL without a path, like http://proxy.example.com:3128",
            url,
            "drop everything after the port",
        )
    host = parts.hostname
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
        if not _HOST_NAME.match(host):
            raise ConfigError(
                field, "a URL whose host is a DNS name or an IP address", url, "fix the host name"
            ) from None
    return ProxyTarget(host, port, address)


def check_no_proxy(field: str, entries: tuple[str, ...]) -> tuple[str, ...]:
    """``entries`` unchanged when each is one NO_PROXY entry and the list fits :data:`MAX_NO_PROXY_CHARS`."""
    for entry in entries:
        if not _NO_PROXY_ENTRY.match(entry):
            raise ConfigError(
                field,
                "host names, domains (.example.com), IP addresses or CIDRs, one per entry",
                entry,
                "list each entry on its own, without commas, spaces or quotes",
            )
    if len(",".join(entries)) > MAX_NO_PROXY_CHARS:
        raise ConfigError(
            field,
            f"at most {MAX_NO_PROXY_CHARS} characters joined with commas",
            len(",".join(entries)),
            "use domains (.corp.example.com) or CIDRs instead of single hosts; EC2 takes at most 16 KB of user-data",
        )
    return entries


def host_no_proxy(region: str, aws_endpoints_in_vpc: bool, extra: tuple[str, ...]) -> str:
    """NO_PROXY for the host's own clients (dnf, curl, git, dockerd, the agents), comma-separated.

    With ``aws_endpoints_in_vpc``, the region's AWS names (``.<region>.amazonaws.com``) go direct: private DNS
    makes them resolve to the interface endpoints, and S3 goes through its gateway endpoint. Without it they go
    through the proxy like everything else, since the security group opens nothing else to the outside.
    """
    aws = (f".{region}.amazonaws.com",) if aws_endpoints_in_vpc else ()
    return ",".join(dict.fromkeys([*_ALWAYS_DIRECT, *aws, *extra]))


def container_no_proxy(host: str) -> str:
    """NO_PROXY for Sourcegraph's containers: the host's list and every Compose service name."""
    return ",".join(dict.fromkeys([*host.split(","), *sorted(COMPOSE_SERVICES)]))

"""The files sgarch ships onto a single-node host, read from ``sgarch/host/scripts/``. Pure: no Pulumi.

The same files reach a host two ways: inside user-data (:mod:`sgarch.host.userdata`, comments stripped to fit
EC2's 16 KB) and inside the sgarch AMI (``amis/single-node/ami.yaml`` names them as
``package:sgarch.host/scripts/<file>``). The package is pure so that the AMI builder and the docs can read
them without importing Pulumi.
"""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["DEFAULT_SOURCEGRAPH_VERSION", "deploy_commits", "script_text", "strip_comments"]

DEFAULT_SOURCEGRAPH_VERSION = "7.5.4453"
"""The newest deploy-sourcegraph-docker release tag sgarch was checked against."""

# `<<WORD`, `<<-WORD`, `<<'WORD'` or `<<"WORD"`, but not the here-string `<<<`.
_HEREDOC_RE = re.compile(r"(?<!<)<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def script_text(name: str) -> str:
    """The source of an on-host file shipped in ``sgarch/host/scripts`` (``boot.sh``, ...)."""
    return resources.files("sgarch.host").joinpath("scripts").joinpath(name).read_text(encoding="utf-8")


def deploy_commits() -> dict[str, str]:
    """``{release: commit}`` from the ``deploy-commits`` table that install.sh checks a release's tag against."""
    pairs = (
        line.split()
        for line in script_text("deploy-commits").splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {fields[0]: fields[1] for fields in pairs if len(fields) == 2}


def strip_comments(script: str) -> str:
    """Drop comment-only and blank lines and leading indentation (the shebang stays); here-document bodies
    and lines continued from a line ending in ``\\`` stay as they are. bash reads the result exactly like
    the source: a test compares what bash parsed from both (``declare -f``)."""
    lines = script.splitlines()
    kept = [lines[0]]
    delimiter: str | None = None
    tabs_stripped = False
    continued = False
    for line in lines[1:]:
        if delimiter is not None:
            kept.append(line)
            if (line.lstrip("\t") if tabs_stripped else line) == delimiter:
                delimiter = None
            continue
        if not continued and (not line.strip() or re.match(r"^\s*#(\s|$)", line)):
            continue
        kept.append(line if continued else line.lstrip(" \t"))
        continued = line.endswith("\\")
        opener = _HEREDOC_RE.search(line)
        if opener is not None:
            tabs_stripped, delimiter = opener.group(1) == "-", opener.group(3)
    return "\n".join(kept) + "\n"

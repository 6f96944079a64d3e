"""sgarch: reference architectures for self-hosted Sourcegraph on AWS, as Pulumi code.

The top level holds pure data and logic only (tiers, the estimator); Pulumi components live in
sub-packages (``sgarch.network``, ``sgarch.single_node``...) so that importing sgarch stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

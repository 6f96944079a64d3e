"""Moved to :mod:`sgarch.alb_logs`, which the EKS release shares; kept so existing imports still work."""

from __future__ import annotations

from sgarch.alb_logs import (
    ELB_ACCOUNT_IDS,
    LOG_DELIVERY_SERVICE,
    LOG_EXPIRATION_DAYS,
    delivery_policy,
    log_bucket,
)

__all__ = ["ELB_ACCOUNT_IDS", "LOG_DELIVERY_SERVICE", "LOG_EXPIRATION_DAYS", "delivery_policy", "log_bucket"]

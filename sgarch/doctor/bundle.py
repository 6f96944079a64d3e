"""``sgarch doctor --support-bundle OUT.md``: the escalation template support asks for, filled in.

The bundle holds the deployment facts (method, version, tier, region, instance type), the doctor findings,
the recent CloudWatch alarm history of the deployment's alarms, the stack outputs, and two sections for the
admin to fill in ("steps already tried", "what is wrong"). The whole text goes through
:func:`sgarch.doctor.redact.redact` before it is returned, so nothing secret-looking leaves the account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sgarch.doctor.checks import DoctorContext, Finding, could_not_check
from sgarch.doctor.redact import redact

__all__ = ["AlarmReport", "collect_alarms", "render_support_bundle"]

#: How far back the alarm history goes, and how many items per alarm.
ALARM_HISTORY_DAYS = 7
ALARM_HISTORY_ITEMS = 20


@dataclass(frozen=True)
class AlarmReport:
    """The deployment's alarms now, their recent history, and notes on what could not be read."""

    alarms: tuple[dict[str, Any], ...]
    history: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]


def _related(alarm: dict[str, Any], ctx: DoctorContext) -> bool:
    # An alarm belongs to the deployment when one of its dimensions names the instance, the data volume
    # or the load balancer / target group (CloudWatch uses the ARN suffix "targetgroup/...").
    wanted = {ctx.instance_id, ctx.volume_id}
    for arn in (ctx.outputs.target_group_arn, ctx.outputs.load_balancer_arn):
        if arn:
            wanted.add(arn.split(":", 5)[-1].removeprefix("loadbalancer/"))
    wanted.discard("")
    return any(d.get("Value") in wanted for d in alarm.get("Dimensions", []))


def collect_alarms(ctx: DoctorContext) -> AlarmReport:
    """The deployment's alarms and their history; every failure becomes a note, never an exception."""
    from botocore.exceptions import BotoCoreError, ClientError

    errors = (ClientError, BotoCoreError, NotImplementedError)
    notes: list[str] = []
    try:
        found = ctx.cloudwatch.describe_alarms(MaxRecords=100)
    except errors as exc:
        return AlarmReport((), (), (_note("alarms", exc),))
    alarms = tuple(a for a in found.get("MetricAlarms", []) if _related(a, ctx))
    if not alarms:
        notes.append("no CloudWatch alarm names this instance, volume or load balancer.")
    end = ctx.now()
    history: list[dict[str, Any]] = []
    for alarm in alarms:
        try:
            items = ctx.cloudwatch.describe_alarm_history(
                AlarmName=alarm["AlarmName"],
                StartDate=end - timedelta(days=ALARM_HISTORY_DAYS),
                EndDate=end,
                MaxRecords=ALARM_HISTORY_ITEMS,
                ScanBy="TimestampDescending",
            ).get("AlarmHistoryItems", [])
        except errors as exc:
            notes.append(_note("alarm history", exc))
            break
        history.extend(items)
    history.sort(key=lambda item: _stamp(item.get("Timestamp")), reverse=True)
    return AlarmReport(alarms, tuple(history), tuple(notes))


def _note(what: str, exc: BaseException) -> str:
    finding = could_not_check(what, exc)
    return f"could not read {what}: {finding.summary}" + (f" Fix: {finding.fix}" if finding.fix else "")


def _stamp(value: Any) -> str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "")


def _cell(value: Any) -> str:
    return " ".join(str(value).split()).replace("|", "\\|") or "–"


def _instance_type(ctx: DoctorContext) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        instance = ctx.instance()
    except (ClientError, BotoCoreError, NotImplementedError) as exc:
        return f"could not check ({could_not_check('instance', exc).summary})"
    if instance is None:
        return "instance not found"
    return str(instance.get("InstanceType", "unknown"))


def render_support_bundle(
    ctx: DoctorContext,
    findings: list[Finding],
    *,
    sgarch_version: str,
    alarms: AlarmReport | None = None,
) -> tuple[str, int]:
    """Render the bundle as markdown and redact it; returns the text and the number of redactions."""
    outputs = ctx.outputs
    alarms = alarms if alarms is not None else collect_alarms(ctx)
    missing = "not in outputs"
    marker = next((f for f in findings if f.check == "version-marker"), None)
    version = outputs.sourcegraph_version or missing
    if marker is not None:
        version += f" (configured); data volume marker: {marker.status.value}, {marker.summary}"
    method = (
        "sgarch single-node: Docker Compose on one EC2 instance, managed by Pulumi"
        if outputs.instance_id
        else "sgarch (architecture not recognised from the outputs)"
    )
    generated = ctx.now().astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Sourcegraph support bundle",
        "",
        f"Generated by sgarch {sgarch_version} on {generated}. Secret-looking values are replaced with "
        "`[REDACTED:...]`; read the whole file before you send it.",
        "",
        "## Deployment",
        "",
        "| Fact | Value |",
        "|---|---|",
        f"| Deployment method | {_cell(method)} |",
        f"| Sourcegraph version | {_cell(version)} |",
        f"| Tier | {_cell(outputs.tier or missing)} |",
        f"| Region | {_cell(ctx.region)} |",
        f"| Instance type | {_cell(_instance_type(ctx))} |",
        f"| Instance | {_cell(outputs.instance_id or missing)} |",
        f"| Data volume | {_cell(outputs.data_volume_id or missing)} |",
        f"| URL | {_cell(outputs.url or missing)} |",
        f"| Load balancer | {_cell(outputs.load_balancer_arn or missing)} |",
        "",
        "## Doctor findings",
        "",
        "| Status | Check | Finding | Fix |",
        "|---|---|---|---|",
    ]
    lines += [f"| {f.status.value} | {f.check} | {_cell(f.summary)} | {_cell(f.fix)} |" for f in findings]
    lines += ["", f"## Recent CloudWatch alarm history (last {ALARM_HISTORY_DAYS} days)", ""]
    lines += [f"- {_cell(note)}" for note in alarms.notes]
    if alarms.notes:
        lines.append("")
    if alarms.alarms:
        lines += ["| Alarm | State now | Since (UTC) | Reason |", "|---|---|---|---|"]
        lines += [
            f"| {_cell(a.get('AlarmName'))} | {_cell(a.get('StateValue'))} | "
            f"{_cell(_stamp(a.get('StateUpdatedTimestamp')))} | {_cell(a.get('StateReason', ''))} |"
            for a in alarms.alarms
        ]
        lines.append("")
    if alarms.history:
        lines += ["| Time (UTC) | Alarm | Type | Summary |", "|---|---|---|---|"]
        lines += [
            f"| {_cell(_stamp(h.get('Timestamp')))} | {_cell(h.get('AlarmName'))} | "
            f"{_cell(h.get('HistoryItemType'))} | {_cell(h.get('HistorySummary'))} |"
            for h in alarms.history
        ]
        lines.append("")
    lines += [
        "## Stack outputs",
        "",
        "```json",
        json.dumps(dict(outputs.raw), indent=2, sort_keys=True, default=str),
        "```",
        "",
        "## Steps already tried",
        "",
        "<!-- List what you tried, in order, and what happened each time: commands and their output help most",
        "     (for example `sudo docker compose --project-name sourcegraph ps`, /var/log/sgarch-boot.log). -->",
        "",
        "1. ",
        "2. ",
        "",
        "## What is wrong",
        "",
        "<!-- What users see, since when, and what changed just before (an upgrade, a config change, growth). -->",
        "",
    ]
    return redact("\n".join(lines))

"""The dossier as one self-contained, printable HTML page: inline CSS, no scripts, no external
resources, every stored value escaped (it is text customers and agents typed)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from queries.dossier import Dossier

STYLE = """
body { font: 11pt/1.4 Georgia, serif; margin: 2em; color: #111; }
h1 { font-size: 18pt; margin-bottom: 0; } h2 { font-size: 13pt; border-bottom: 1px solid #999;
margin-top: 1.6em; } table { border-collapse: collapse; width: 100%; font-size: 9.5pt; }
th, td { border: 1px solid #bbb; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eee; } .ok { color: #064; font-weight: bold; }
.broken { color: #a00; font-weight: bold; } pre { white-space: pre-wrap; margin: 0;
font: 8.5pt/1.3 monospace; } .meta { color: #555; }
@media print { body { margin: 0; } h2 { page-break-after: avoid; }
tr { page-break-inside: avoid; } }
"""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return f"<pre>{escape(json.dumps(value, indent=1, default=str, ensure_ascii=False))}</pre>"
    return escape(str(value))


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{_text(v)}</td></tr>" for k, v in pairs)


def render_dossier(dossier: Dossier) -> str:
    c = dossier.complaint
    data = c.model_dump(mode="json")
    chain = (
        '<p class="ok">The stored events of this complaint verify against their hash chain.</p>'
        if dossier.chain_verified
        else '<p class="broken">The hash chain of this complaint is broken:</p><table><tr>'
        "<th>kind</th><th>version</th><th>position</th><th>expected</th><th>found</th>"
        "<th>detail</th></tr>"
        + "".join(
            f"<tr><td>{_text(b.kind.value)}</td><td>{_text(b.version)}</td>"
            f"<td>{_text(b.position)}</td><td>{_text(b.expected)}</td><td>{_text(b.found)}</td>"
            f"<td>{_text(b.detail)}</td></tr>"
            for b in dossier.chain_breaks
        )
        + "</table>"
    )
    sla = data.get("sla") or {}
    clocks = "".join(
        f"<tr><th>{escape(name.replace('_', ' '))}</th><td>{_text(clock.get('target'))}</td>"
        f"<td>{_text(clock.get('due_at'))}</td><td>{_text(clock.get('state'))}</td>"
        f"<td>{_text(clock.get('met_at'))}</td><td>{_text(clock.get('breached_at'))}</td></tr>"
        for name in ("first_response", "resolution")
        if isinstance(clock := sla.get(name), dict)
    )
    events = "".join(
        f"<tr><td>{e.version}</td><td>{_text(e.occurred_at.isoformat())}</td>"
        f"<td>{_text(e.type)}</td><td>{_text(e.actor)}</td><td>{_text(e.correlation_id)}</td>"
        f"<td>{_text(e.causation_id)}</td><td>{_text(e.position)}</td><td>{_text(e.data)}</td></tr>"
        for e in dossier.events
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Dossier {escape(dossier.reference)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Complaint {escape(dossier.reference)}</h1>"
        f'<p class="meta">{escape(str(dossier.complaint_id))} &middot; generated '
        f"{escape(dossier.generated_at.isoformat(timespec='seconds'))} by "
        f"{escape(dossier.generated_by)}</p>"
        "<h2>Chain verification</h2>"
        + chain
        + "<h2>Case</h2><table>"
        + _rows(
            [
                ("status", c.status),
                ("category", data.get("category")),
                ("severity", data.get("severity")),
                ("channel", data.get("channel")),
                ("received at", c.received_at.isoformat()),
                ("received by", c.received_by),
                ("filed at", c.filed_at.isoformat()),
                ("assignee", c.assignee),
                ("team", c.team),
                ("escalation level", c.escalation_level),
                ("first response at", c.first_response_at),
                ("closed at", c.closed_at),
                ("resolution", c.resolution_code),
                ("resolution summary", c.resolution_summary),
                ("reopened", c.reopen_count),
                ("version", c.version),
            ]
        )
        + "</table><h2>Intake</h2><table>"
        + _rows(sorted(dossier.intake.items()))
        + "</table><h2>SLA clocks</h2>"
        + (
            f"<p>Policy version {escape(str(sla.get('policy_version')))}, rule "
            f"{escape(str(sla.get('rule')))}, calendar {escape(str(sla.get('calendar')))}</p>"
            "<table><tr><th>clock</th><th>target</th><th>due at</th><th>state</th>"
            f"<th>met at</th><th>breached at</th></tr>{clocks}</table>"
            if sla
            else "<p>No SLA applies.</p>"
        )
        + "<h2>Story</h2><ol>"
        + "".join(f"<li>{_text(line.text)}</li>" for line in dossier.story)
        + "</ol><h2>Events</h2><table><tr><th>v</th><th>when (UTC)</th><th>type</th><th>actor</th>"
        "<th>correlation</th><th>causation</th><th>position</th><th>data</th></tr>"
        + events
        + "</table></body></html>\n"
    )

"""The complaint list: one row per complaint, for filtered, paginated and searchable lists.

One name for the feature: projection ``complaint_list``, table ``complaint_list``, queries in
``queries/complaint_list.py``, route ``GET /complaints`` in ``api/routers/complaint_list.py``.

Row changes mirror the aggregate's own ``apply`` methods (transcription, no rules): a projection
that disagrees with the aggregate about status would be a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aggregates.complaint import Complaint
from aggregates.personal_data import ERASED
from aggregates.vocabulary import Status, Visibility
from projections.complaint_rows import fold, rows_to_change, topics_of
from projections.projection import Positioned, Projection
from projections.schema import Index, Table, columns
from projections.store import Tx

NEW, ASSIGNED, CLOSED = Status.NEW.value, Status.ASSIGNED.value, Status.CLOSED.value
PENDING_CUSTOMER = Status.PENDING_CUSTOMER.value
CUSTOMER = Visibility.CUSTOMER.value

FILTER_COLUMNS = (
    "status", "category", "severity", "channel", "region", "assignee", "team", "customer_id",
)

# Search (``q``) is a case-insensitive substring match (see queries/complaint_list.py); on
# PostgreSQL a trigram index serves it. pg_trgm ships with PostgreSQL and is a trusted extension,
# but a role may still lack the right to create it: then search works unindexed rather than
# failing to start.
ENSURE_TRIGRAMS = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    BEGIN
      CREATE EXTENSION pg_trgm SCHEMA public;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR unique_violation THEN
      RAISE NOTICE 'pg_trgm unavailable: complaint search runs without an index';
    END;
  END IF;
END $$"""
TRIGRAM_SEARCH_INDEX = """
DO $$ DECLARE trgm_schema name;
BEGIN
  SELECT n.nspname INTO trgm_schema FROM pg_extension e
    JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
  IF trgm_schema IS NOT NULL THEN
    EXECUTE 'CREATE INDEX IF NOT EXISTS complaint_list_search ON {table} '
      || 'USING gin ((subject || '' '' || description) '
      || quote_ident(trgm_schema) || '.gin_trgm_ops)';
  END IF;
END $$"""

COMPLAINT_LIST = Table(
    name="complaint_list",
    columns=columns(
        "id uuid, reference text, status text, category text, severity text, channel text, "
        "region text?, customer_id text, customer_name text, customer_tier text, "
        "product_name text?, product_model text?, subject text, description text, "
        "assignee text?, team text?, escalation_level int, received_at timestamp, "
        "filed_at timestamp, assigned_at timestamp?, first_response_at timestamp?, "
        "closed_at timestamp?, reopen_count int, tags text, updated_at timestamp, version int, "
        "position int"
    ),
    key=("id",),
    indexes=(
        Index("complaint_list_filed", ("filed_at", "id")),
        Index("complaint_list_updated", ("updated_at", "id")),
        *(Index(f"complaint_list_{c}_filed", (c, "filed_at", "id")) for c in FILTER_COLUMNS),
    ),
    extra_ddl={"postgres": (ENSURE_TRIGRAMS,)},
    extra_indexes={"postgres": (TRIGRAM_SEARCH_INDEX,)},
)


class ComplaintListProjection(Projection):
    name = "complaint_list"  # was "complaints": see RENAMED_PROJECTIONS in projections/store.py
    # Every complaint event, also those that change no column but the version, update time and
    # position: a row's version is its complaint's (a client may send it as If-Match).
    topics = topics_of(
        Complaint.Filed, Complaint.Assigned, Complaint.Commented, Complaint.Escalated,
        Complaint.Closed, Complaint.Reopened, Complaint.SlaApplied, Complaint.CustomerAwaited,
        Complaint.CustomerReplied, Complaint.SlaCycleStarted, Complaint.SlaWarned,
        Complaint.SlaBreached, Complaint.PersonalDataErased,
        # closed loop (issue 12): no column but the version, update time and position.
        Complaint.RemedyProposed, Complaint.ApprovalRequested, Complaint.RemedyApproved,
        Complaint.RemedyRejected, Complaint.CustomerAccepted, Complaint.CustomerDeclined,
        Complaint.RemedyFulfilled, Complaint.SurveyRequested, Complaint.SatisfactionRecorded,
        Complaint.SlaBreached, Complaint.PersonalDataErased, Complaint.SeverityChanged,
        Complaint.Tagged, Complaint.Untagged, Complaint.NotificationRequested, Complaint.LinkedTo,
    )
    tables = (COMPLAINT_LIST,)

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        # Fetched rows are fresh dicts, so events change them in place: one row dict per
        # complaint and batch, however many of its events the batch holds.
        rows = rows_to_change(tx, COMPLAINT_LIST, events)
        fold(rows, events, transcribe)
        tx.upsert(COMPLAINT_LIST, list(rows.values()))


def tags_text(tags: Sequence[str]) -> str:
    """How the ``tags`` column holds a complaint's tags: each between spaces (``" a b "``; ``""``
    for none), so that ``LIKE '% a %'`` finds one (a tag holds no space: ``TAG_PATTERN``)."""
    return f" {' '.join(tags)} " if tags else ""


def tags_of(text: str) -> list[str]:
    return text.split()


def transcribe(row: dict[str, Any] | None, p: Positioned) -> dict[str, Any]:
    """The row after the event: a new one for a filing, else ``row`` itself, changed."""
    e = p.event
    kind = type(e)
    if kind is Complaint.Filed:
        row = {
            "id": e.originator_id,
            "reference": e.reference,
            "status": Status.NEW.value,
            "category": e.category,
            "severity": e.severity,
            "channel": e.channel,
            "region": e.region,
            "customer_id": str(e.customer.get("id")),
            "customer_name": str(e.customer.get("name")),
            "customer_tier": str(e.customer.get("tier")),
            "product_name": e.product.get("name"),
            "product_model": e.product.get("model"),
            "subject": e.subject,
            "description": e.description,
            "assignee": None,
            "team": None,
            "escalation_level": 0,
            "received_at": e.received_at,
            "filed_at": e.timestamp,
            "assigned_at": None,
            "first_response_at": None,
            "closed_at": None,
            "reopen_count": 0,
            "tags": "",
        }
    else:
        assert row is not None
        if kind is Complaint.Assigned:
            row["assignee"], row["team"] = e.assignee, e.team
            if row["status"] != PENDING_CUSTOMER:
                row["status"] = ASSIGNED
            row["assigned_at"] = row["assigned_at"] or e.timestamp
        elif kind is Complaint.Commented:
            if e.visibility == CUSTOMER and row["first_response_at"] is None:
                row["first_response_at"] = e.timestamp
        elif kind is Complaint.Escalated:
            row["escalation_level"] = e.level
        elif kind is Complaint.Closed:
            row["status"] = CLOSED
            row["closed_at"] = e.closed_time
        elif kind is Complaint.Reopened:
            row["status"] = ASSIGNED if row["assignee"] else NEW
            row["closed_at"] = None
            row["reopen_count"] += 1
        elif kind is Complaint.CustomerAwaited:
            row["status"] = PENDING_CUSTOMER
        elif kind is Complaint.CustomerReplied:
            row["status"] = ASSIGNED if row["assignee"] else NEW
        elif kind is Complaint.SeverityChanged:
            row["severity"] = e.severity
        elif kind is Complaint.Tagged:
            row["tags"] = tags_text([*tags_of(row["tags"]), e.tag])
        elif kind is Complaint.Untagged:
            row["tags"] = tags_text([t for t in tags_of(row["tags"]) if t != e.tag])
        elif kind is Complaint.PersonalDataErased:
            # The personal columns (the customer's name, the description that search runs over).
            row["customer_name"] = ERASED
            row["description"] = ERASED
    row["updated_at"] = e.timestamp
    row["version"] = e.originator_version
    row["position"] = p.position
    return row

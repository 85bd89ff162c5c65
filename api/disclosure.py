"""Personal data in answers: masked for whoever may not see it, and every clear showing logged.

Each read route takes a ``ReaderDep`` (the principal, the ``X-Purpose`` header and the request id)
and passes what it is about to answer through one of its methods, which mask the answer by the
rules of ``queries/disclosure.py`` and append what it still shows in clear to the access log
(``infra/access_log.py``) before the answer is sent. An entry that cannot be written fails the
read with 503: a disclosure nobody can trace is worse than no answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Request
from starlette.routing import Route

from aggregates.complaint import Complaint
from api.deps import VISIBLE_ASCII, Principal, principal_of
from api.problems import ProblemError
from api.request_log import current_request_id
from infra.access_log import AccessLog, Disclosure, ReadRequest
from queries.comments import CommentPage
from queries.complaint_list import ComplaintPage
from queries.complaint_state import ComplaintPublic
from queries.disclosure import (
    COMMENT_PAGE,
    COMPLAINT,
    LIST_ROW,
    NOTHING,
    Holding,
    Viewer,
    disclose,
    disclose_all,
    event_paths,
    withheld,
)
from queries.history import EVENT_TYPES, History
from stream.envelope import TYPE_CLASSES

log = logging.getLogger(__name__)

CustomerLookup = Callable[[list[UUID]], dict[UUID, str]]
"""The customers of the given complaints (those it knows)."""
_HEADER_VALUE = re.compile(r"[\x21-\x7e]{1,200}")


def holding_of(complaint: Complaint) -> Holding:
    return Holding(complaint.id, complaint.customer.id, complaint.assignee, complaint.team)


def _holding(complaint: ComplaintPublic) -> Holding:
    return Holding(complaint.id, complaint.customer.id, complaint.assignee, complaint.team)


@dataclass(frozen=True)
class Reader:
    """Who reads, why, and where their disclosures are logged."""

    principal: Principal
    request: ReadRequest
    access_log: AccessLog

    @property
    def viewer(self) -> Viewer:
        p = self.principal
        return Viewer(p.name, p.role, p.teams, p.grants)

    # ---- representations: masked, their disclosures logged (call from a worker thread) ------

    def complaint(
        self, complaint: ComplaintPublic, holding: Holding | None = None
    ) -> ComplaintPublic:
        """``complaint`` as this reader may see it; ``holding``: who holds it now, when that is
        not what the representation says (an as-of read)."""
        shown, disclosures = self._complaint(complaint, holding)
        self.record(disclosures)
        return shown

    async def complaint_async(self, complaint: ComplaintPublic) -> ComplaintPublic:
        """As ``complaint``, from the event loop: a thread only when there is an entry to write."""
        shown, disclosures = self._complaint(complaint, None)
        await self.record_async(disclosures)
        return shown

    def _complaint(
        self, complaint: ComplaintPublic, holding: Holding | None
    ) -> tuple[ComplaintPublic, list[Disclosure]]:
        holding = holding or _holding(complaint)
        shown, fields = disclose(complaint, COMPLAINT, withheld(self.viewer, holding))
        return shown, self._disclosures(holding, fields)

    def complaint_page(self, page: ComplaintPage) -> ComplaintPage:
        viewer = self.viewer
        items = []
        disclosures: list[Disclosure] = []
        for item in page.items:
            holding = Holding(item.id, item.customer.id, item.assignee, item.team)
            shown, fields = disclose(item, LIST_ROW, withheld(viewer, holding))
            items.append(shown)
            disclosures += self._disclosures(holding, fields)
        self.record(disclosures)
        return page.model_copy(update={"items": items})

    def comment_page(self, page: CommentPage, holding: Holding) -> CommentPage:
        shown, fields = disclose(page, COMMENT_PAGE, withheld(self.viewer, holding))
        self.record(self._disclosures(holding, fields))
        return shown

    def history(self, history: History, holding: Holding) -> History:
        hidden = withheld(self.viewer, holding)
        events, fields = disclose_all(
            (event, event_paths(_QUALNAMES[event.type], within="data"), hidden)
            for event in history.events
        )
        self.record(self._disclosures(holding, fields))
        return history.model_copy(update={"events": events})

    def events(self, events: Sequence[dict[str, Any]], customer_ids: CustomerLookup) -> None:
        """Logs a page of the event feed served in clear (``stream.feed.read_page`` masked it
        already for anyone else): one entry per complaint whose events showed personal fields.
        ``customer_ids`` finds the customers of complaints whose page holds no ``filed`` event."""
        if not self.viewer.sees_everything:
            return
        fields: dict[UUID, set[str]] = {}
        customers: dict[UUID, str] = {}
        for event in events:
            cls = TYPE_CLASSES[event["type"]]
            _, shown = disclose(event["data"], event_paths(cls.__qualname__), NOTHING)
            if not shown:
                continue
            complaint_id = UUID(event["subject"])
            fields.setdefault(complaint_id, set()).update(shown)
            customer = event["data"].get("customer")
            if isinstance(customer, dict) and isinstance(customer.get("id"), str):
                customers[complaint_id] = customer["id"]
        unknown = [c for c in fields if c not in customers]
        if unknown:
            try:
                customers |= customer_ids(unknown)
            except Exception:  # a convenience: the entries are written without it
                log.exception("access log: could not look up the customers of %s", unknown)
        self.record([Disclosure(c, customers.get(c), frozenset(f)) for c, f in fields.items()])

    def _disclosures(self, holding: Holding, fields: frozenset[str]) -> list[Disclosure]:
        if not fields:
            return []
        return [Disclosure(holding.complaint_id, holding.customer_id, fields)]

    def record(self, disclosures: Sequence[Disclosure]) -> None:
        """Appends the entries, or refuses the answer (503) when they cannot be written."""
        if not disclosures:
            return
        try:
            self.access_log.append(self.request, disclosures)
        except Exception:
            raise _unlogged(disclosures) from None

    async def record_async(self, disclosures: Sequence[Disclosure]) -> None:
        """As ``record``, from the event loop: awaits the log's writer thread, no thread hop."""
        if not disclosures:
            return
        try:
            await asyncio.wrap_future(self.access_log.submit(self.request, disclosures))
        except Exception:
            raise _unlogged(disclosures) from None


def _unlogged(disclosures: Sequence[Disclosure]) -> ProblemError:
    log.exception("access log: could not record %d disclosure(s)", len(disclosures))
    return ProblemError(
        503,
        "access-log-unavailable",
        "Access log unavailable",
        "personal data are only shown once their access is logged, and the access log "
        "could not be written; try again",
        {"Retry-After": "2"},
    )


_QUALNAMES = {name: cls.__qualname__ for cls, name in EVENT_TYPES.items()}


def _route(request: Request) -> str:
    route: Any = request.scope.get("route")
    path = route.path if isinstance(route, Route) else request.url.path
    return f"{request.method} {path}"


async def reader(
    request: Request,
    x_purpose: Annotated[
        str | None,
        VISIBLE_ASCII,
        Header(
            alias="X-Purpose",
            description="Why personal data are read (1-200 visible ASCII characters); "
            "recorded in the access log with every answer that shows them",
        ),
    ] = None,
    x_request_id: Annotated[
        str | None,
        VISIBLE_ASCII,
        Header(
            alias="X-Request-ID",
            description="Recorded in the access log (1-200 visible ASCII characters)",
        ),
    ] = None,
) -> Reader:
    # Authenticated once per request, by the route's permission check, which also documents the
    # header: declared here too, it would be validated a second time on every read.
    principal = await principal_of(request, request.headers.get("authorization"))
    for name, value in (("X-Purpose", x_purpose), ("X-Request-ID", x_request_id)):
        if value is not None and not _HEADER_VALUE.fullmatch(value):
            raise ProblemError(
                400,
                "bad-header",
                "Bad header",
                f"{name} must be 1-200 visible ASCII characters",
                errors=[{"field": name, "reason": "must be 1-200 visible ASCII characters"}],
            )
    return Reader(
        principal,
        ReadRequest(
            principal=principal.name,
            role=principal.role,
            token_id=principal.token_id,
            route=_route(request),
            request_id=x_request_id or current_request_id(),  # the HTTP log's id
            purpose=x_purpose,
        ),
        request.app.state.access_log,
    )


ReaderDep = Annotated[Reader, Depends(reader)]

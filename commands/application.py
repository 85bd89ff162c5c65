"""The write side: one eventsourcing ``Application`` with one method per command.

Each method validates, loads the aggregate, calls one domain method and saves; it returns a
``CommandResult`` (ids and positions), never an aggregate. Optimistic concurrency and
idempotency are enforced here: the library offers neither an expected-version argument nor
idempotency keys.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Generator, Mapping
from copy import deepcopy
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording

from aggregates.access_code import (
    AccessCode,
    access_code_id,
    code_matches,
    digest_of,
    new_access_code,
)
from aggregates.business_time import Target
from aggregates.complaint import CLOCK_SKEW, Complaint
from aggregates.errors import InvalidIntakeError, SurveyNotFoundError
from aggregates.money import Money
from aggregates.provenance import Provenance
from aggregates.reference import (
    REFERENCE_PATTERN,
    ComplaintReference,
    index_id,
    new_reference,
    normalise_reference,
)
from aggregates.survey_index import SurveyIndex, survey_index_id
from commands.automation_config import AutomationConfig
from commands.context import CommandContext
from commands.customer_history import CustomerHistory, NoHistory
from commands.directory import DirectoryService
from commands.errors import (
    ComplaintNotFoundError,
    ConcurrencyConflictError,
    IdempotencyKeyReusedError,
    PreconditionFailedError,
)
from commands.group_commit import GroupCommit, GroupCommitOptions
from commands.idempotency import IdempotencyRecord, fingerprint, legacy_record_id, record_id
from commands.models import (
    AcceptRemedy,
    AnswerSurvey,
    ApproveRemedy,
    AssignComplaint,
    AwaitCustomer,
    ChangeSeverity,
    CloseComplaint,
    Command,
    CommentOnComplaint,
    DeclineRemedy,
    EscalateComplaint,
    FileComplaint,
    FulfilRemedy,
    ProposeRemedy,
    ReapplySla,
    RecordCustomerReply,
    RecordSlaBreach,
    RecordSlaWarning,
    RejectRemedy,
    ReopenComplaint,
    TagComplaint,
    TrackReply,
    UntagComplaint,
)
from commands.observer import OK, REPLAYED, CommandObserver, Unobserved, outcome_of
from commands.permissions import authorize, authorize_assignment
from commands.personal_data_mapper import PersonalDataMapper
from commands.reactions import Reaction, react
from commands.routing_rules import RoutingRulesService
from commands.sla_clocks import SlaTerms, after_pauses, deadline, resumed
from commands.sla_config import SlaConfigService
from commands.sla_watch import WATCHER, Settled, escalation_for, settle
from commands.tokens import TokenService
from commands.tracing import NO_TRACING, CommandTracer

REFERENCE_ATTEMPTS = 5
SURVEY_VALIDITY = timedelta(days=30)
CUSTOMER = "customer"
"""The actor of what the customer does through the tracking page and the survey."""

Steps = Generator[tuple[Any, ...], "list[Recording[UUID]]", "CommandResult"]
"""A command's steps: yields what to save, is sent the recordings, returns the result."""


@dataclass(frozen=True)
class CommandResult:
    complaint_id: UUID
    version: int
    position: int | None
    """Notification id of the last event written; None when the result was replayed."""
    replayed: bool = False
    state: Complaint | None = None
    """The complaint as this command left it (None when replayed). A deliberate exception to
    "return ids, not aggregates": it spares the HTTP layer reading back what was just written.
    It is this request's own copy; treat it as read-only."""
    access_code: str | None = None
    """A filing's tracking code for the customer: in this answer only (a replay has none)."""


class ComplaintsApp(Application[UUID]):
    # A fixed name, because the library derives table names from it (PostgreSQL: complaints_events):
    # renaming the class must not point the application at new, empty tables.
    name = "complaints"
    # Keep recently used aggregates in memory; the repository fast-forwards them from the store
    # on every read, so the cache is safe with several processes writing.
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "10000"}

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        token_cache_seconds: float = TokenService.CACHE_SECONDS,
        sla_terms: SlaTerms | None = None,
        clock: Callable[[], datetime] | None = None,
        group_commit: GroupCommitOptions | None = None,
        survey_validity: timedelta = SURVEY_VALIDITY,
    ) -> None:
        super().__init__(env)
        self.survey_validity = survey_validity
        """How long a satisfaction survey issued on closing may be answered."""
        self.writer = GroupCommit(self, group_commit or GroupCommitOptions())
        """Where commands save: concurrent saves share a transaction (commands/group_commit.py)."""
        self.tracer: CommandTracer = NO_TRACING
        """A span around each command when tracing is on (commands/tracing.py)."""
        # Here, not in a composition root: tokens are saved through this application, and the
        # token cache must be one per process (a revocation made here takes effect at once).
        self.tokens = TokenService(self, token_cache_seconds)
        # SLA calendars and the policy (issue 9), stored through this application too.
        self.sla = SlaConfigService(self)
        self.sla_terms: SlaTerms = sla_terms or self.sla
        """Where SLA terms and calendars come from: the stored policy and calendars (policy
        version 0, built in, until one is set); tests may plug in their own."""
        self.clock: Callable[[], datetime] = clock or _now
        """The current instant, for SLA clocks: when a pause starts or ends, when a new
        resolution cycle starts, and what "now" is when a clock is read (tests inject one)."""
        self.directory = DirectoryService(self)
        """Teams and agents (issue 12): stored through this application; the write side reads
        them as a ``DirectoryLookup``."""
        self.routing_rules = RoutingRulesService(self, self.directory)
        """The routing rules (issue 12); the routing reaction reads them."""
        self.customer_history: CustomerHistory = NoHistory()
        """A customer's earlier complaints (the customers view, plugged in by the composition
        root)."""
        self.automation = AutomationConfig(self)
        """Automation rules: the rule book, its cache, dry-runs and follow-ups (issue 12)."""
        self.reactions: list[Reaction] = []
        """What runs on every save of a complaint, in order (``commands/reactions.py``): routing,
        automation rules, repeat-complaint links."""
        self.observer: CommandObserver = Unobserved()
        """Told each command's outcome (the metrics, plugged in by the composition root)."""

    mapper: PersonalDataMapper

    def construct_mapper(self) -> PersonalDataMapper:
        """The library's mapper, sealing personal fields once a data key store is attached
        (``commands/personal_data_mapper.py``; the composition root attaches it)."""
        return PersonalDataMapper(
            transcoder=self.construct_transcoder(),
            compressor=self.factory.compressor(),
            cipher=self.factory.cipher(),
        )

    # ---- complaints ------------------------------------------------------------------------

    def file_complaint(self, command: FileComplaint, ctx: CommandContext) -> CommandResult:
        with self.tracer.command_span(command, ctx):
            return self._run(self._file(command, ctx), "FileComplaint")

    async def file_complaint_async(
        self, command: FileComplaint, ctx: CommandContext
    ) -> CommandResult:
        """``file_complaint`` for an event loop: decided on the loop, the save awaited."""
        with self.tracer.command_span(command, ctx):
            return await self._run_async(self._file(command, ctx), "FileComplaint")

    def handle(self, complaint_id: UUID, command: Command, ctx: CommandContext) -> CommandResult:
        """Applies an update command (one of ``DECISIONS``) to the complaint: replays an
        idempotent retry, checks ``If-Match``, decides, saves."""
        with self.tracer.command_span(command, ctx):
            return self._run(self._handle(complaint_id, command, ctx), type(command).__name__)

    async def handle_async(
        self, complaint_id: UUID, command: Command, ctx: CommandContext
    ) -> CommandResult:
        """``handle`` for an event loop: decided on the loop, the save awaited."""
        with self.tracer.command_span(command, ctx):
            return await self._run_async(
                self._handle(complaint_id, command, ctx), type(command).__name__
            )

    # ---- running a command's steps ---------------------------------------------------------
    #
    # A command is written once, as a generator of its steps (``Steps``): it decides, then
    # yields what to save and receives the recordings (or has the ``IntegrityError`` thrown
    # in), possibly more than once (a reference drawn again), and returns its result. Two
    # drivers run it: ``_run`` blocks on each save (CLI, watcher, tests), ``_run_async`` awaits
    # it, so an HTTP worker's event loop keeps serving while the group-commit writer writes.

    def _run(self, steps: Steps, command: str) -> CommandResult:
        started = time.perf_counter()
        try:
            save = next(steps)
            while True:
                try:
                    recordings = self.writer.save(*save)
                except IntegrityError as conflict:
                    save = steps.throw(conflict)
                else:
                    save = steps.send(recordings)
        except StopIteration as done:
            return self._observed(command, started, done.value)
        except BaseException as error:
            self.observer.command_done(command, outcome_of(error), time.perf_counter() - started)
            raise

    async def _run_async(self, steps: Steps, command: str) -> CommandResult:
        started = time.perf_counter()
        try:
            save = next(steps)
            while True:
                try:
                    recordings = await self.writer.save_async(*save)
                except IntegrityError as conflict:
                    save = steps.throw(conflict)
                else:
                    save = steps.send(recordings)
        except StopIteration as done:
            return self._observed(command, started, done.value)
        except BaseException as error:
            self.observer.command_done(command, outcome_of(error), time.perf_counter() - started)
            raise

    def _observed(self, command: str, started: float, result: CommandResult) -> CommandResult:
        outcome = REPLAYED if result.replayed else OK
        self.observer.command_done(command, outcome, time.perf_counter() - started)
        return result

    def _file(self, command: FileComplaint, ctx: CommandContext) -> Steps:
        authorize("complaint.file", ctx.actor, _NO_COMPLAINT)
        print_ = fingerprint("file", None, command) if ctx.idempotency_key else ""
        if replay := self._replay(ctx, print_):
            return replay
        intake = command.filing()
        now = datetime.now(UTC)
        received_at = command.received_at or now
        if received_at > now + CLOCK_SKEW:
            raise InvalidIntakeError("received_at", "is in the future")
        for _ in range(REFERENCE_ATTEMPTS):
            reference = new_reference()
            complaint = Complaint.file(
                reference=reference,
                received_at=received_at,
                received_by=command.received_by,
                by=ctx.provenance,
                **intake,
            )
            # The clocks start with the filing, in the same save.
            self._apply_sla(complaint, None, ctx.provenance)
            index = ComplaintReference.register(reference, complaint.id)
            # The customer's tracking code: only its digest is stored; the code is answered once.
            code = new_access_code()
            access = AccessCode.issue(complaint.id, code)
            try:
                result = yield from self._save(complaint, ctx, print_, extra=(index, access))
                return replace(result, access_code=code)
            except _ReferenceTakenError:
                continue
        raise ConcurrencyConflictError("could not allocate a unique complaint reference")

    def _handle(self, complaint_id: UUID, command: Command, ctx: CommandContext) -> Steps:
        decide = DECISIONS[type(command)]
        print_ = (
            fingerprint(type(command).__name__, str(complaint_id), command)
            if ctx.idempotency_key
            else ""
        )
        if replay := self._replay(ctx, print_):
            return replay
        complaint = self.get_complaint(complaint_id)
        # The scope is judged on the complaint as stored, before If-Match (a refused caller
        # learns nothing of its version) and before the decision.
        authorize(ACTIONS[type(command)], ctx.actor, complaint)
        if isinstance(command, AssignComplaint):
            authorize_assignment(ctx.actor, command.assignee, command.team)
        if ctx.expected_version is not None and ctx.expected_version != complaint.version:
            raise PreconditionFailedError(ctx.expected_version, complaint.version)
        extra = decide(self, complaint, command, ctx.provenance) or ()
        return (yield from self._save(complaint, ctx, print_, extra=extra))

    # ---- decisions that need the application (its clock, its SLA terms) ----------------------

    def _reopen(self, complaint: Complaint, command: ReopenComplaint, by: Provenance) -> None:
        complaint.reopen(command.reason, by=by)
        if (sla := complaint.sla) is not None:
            # A new resolution cycle, on the terms the clocks run under (pinned versions).
            calendar = self.sla_terms.calendar(sla.calendar, sla.calendar_version)
            now = self.clock()
            target = Target.parse(sla.resolution.target)
            complaint.start_resolution_cycle(
                started_at=now,
                resolution=deadline(calendar, now, target, sla.at_risk_ratio),
                by=by,
            )

    def _record_customer_reply(
        self, complaint: Complaint, command: RecordCustomerReply, by: Provenance
    ) -> None:
        self._reply(complaint, command.body, command.channel, by)

    def _reply(
        self,
        complaint: Complaint,
        body: str,
        channel: str,
        by: Provenance,
        *,
        unprompted: bool = False,
    ) -> None:
        now = self.clock()
        moved, paused = None, None
        if (sla := complaint.sla) is not None and complaint.paused_since is not None:
            calendar = self.sla_terms.calendar(sla.calendar, sla.calendar_version)
            moved, paused = resumed(calendar, sla.resolution.deadline, complaint.paused_since, now)
        complaint.record_customer_reply(
            body,
            channel=channel,
            resumed_at=now,
            paused_seconds=paused,
            resolution=moved,
            by=by,
            unprompted=unprompted,
        )

    def settle_sla(self, complaint_id: UUID, now: datetime | None = None) -> Settled:
        """The deadline watcher: records what the complaint's SLA clocks call for at ``now``
        (default: the application's clock): warnings, breaches and the escalations they cause,
        in one save (``commands/sla_watch.py``). Decided on the complaint as stored, so a
        watcher reading a lagging view, or racing another, records nothing twice: a save that
        loses a race is decided again on the complaint the winner left."""
        now = now or self.clock()
        for attempt in range(1, 4):
            complaint = self.get_complaint(complaint_id)
            if complaint.sla is None:
                return Settled()
            sla = complaint.sla
            settled = settle(
                complaint,
                now,
                escalation=escalation_for(self.sla_terms, sla.policy_version),
                calendar=self.sla_terms.calendar(sla.calendar, sla.calendar_version),
                history=lambda: self.events.get(complaint_id),
                correlation_id=f"{WATCHER}:{uuid4()}",
            )
            if not settled.recorded:
                return settled
            try:
                self._run(
                    self._save(complaint, CommandContext(WATCHER, "system", WATCHER), ""),
                    "SettleSla",
                )
            except ConcurrencyConflictError:
                if attempt == 3:
                    raise
                continue
            return settled
        raise AssertionError("unreachable")

    def _apply_sla(self, complaint: Complaint, reason: str | None, by: Provenance) -> None:
        """Records the terms in force for ``complaint`` with its due times: first response
        from ``received_at``; resolution from the start of the current cycle, moved by the
        cycle's finished waits for the customer (a wait still running moves it when it ends)."""
        policy, rule, calendar = self.sla_terms.terms_for(
            complaint.severity, complaint.customer.tier, complaint.category, complaint.channel
        )
        ratio = rule.at_risk_ratio
        first_response = deadline(calendar, complaint.received_at, rule.first_response, ratio)
        resolution = after_pauses(
            calendar,
            deadline(calendar, complaint.resolution_started_at, rule.resolution, ratio),
            complaint.resolution_pauses,
        )
        complaint.apply_sla(
            policy_version=policy.version,
            rule=rule.name,
            calendar=calendar.name,
            calendar_version=calendar.version,
            first_response_target=rule.first_response.text,
            resolution_target=rule.resolution.text,
            at_risk_ratio=ratio,
            first_response=first_response,
            resolution=resolution,
            reason=reason,
            by=by,
        )

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        """The library's hook after every save: reactions that keep track of what they recorded
        (routing counts its assignments until the workload view has), and the customer history
        (a filing is a repeat's prior complaint at once), learn where it landed."""
        for listener in (*self.reactions, self.customer_history):
            saved = getattr(listener, "saved", None)
            if saved is not None:
                saved(recordings)

    # ---- closed loop (issue 12): remedies, the customer's side, the satisfaction survey -------

    def _close(self, complaint: Complaint, command: CloseComplaint, by: Provenance) -> tuple[Any]:
        """Closes, and issues the satisfaction survey in the same save, with the index that
        finds the complaint from the survey's token."""
        complaint.close(command.resolution_code, command.summary, by=by)
        token = secrets.token_urlsafe(24)
        complaint.request_survey(token, expires_at=self.clock() + self.survey_validity, by=by)
        return (SurveyIndex.register(token, complaint.id),)

    def _approval_limit(self, principal: str) -> Money | None:
        """The principal's approval limit from the directory; none without an entry."""
        agent = self.directory.agent(principal)
        return agent.approval_limit if agent is not None else None

    def _propose_remedy(self, complaint: Complaint, command: ProposeRemedy, by: Provenance) -> None:
        money = (
            Money.of(command.amount, command.currency or "")
            if command.amount is not None or command.currency is not None
            else None
        )
        complaint.propose_remedy(
            command.kind,
            money=money,
            description=command.description,
            limit=self._approval_limit(by.actor),
            by=by,
        )

    def customer_complaint(self, reference: str, code: str) -> Complaint:
        """The complaint ``reference`` names, if ``code`` is its tracking code; otherwise exactly
        the error an unknown reference gets (a wrong code must not tell that it exists)."""
        not_found = ComplaintNotFoundError("no complaint with this reference and access code")
        try:
            complaint_id = self.resolve_reference(reference)
        except ComplaintNotFoundError:
            code_matches(code, _UNMATCHABLE)  # as long as a wrong code takes
            raise not_found from None
        try:
            access: AccessCode = self.repository.get(access_code_id(complaint_id))
        except AggregateNotFoundError:  # filed before access codes
            access = None  # type: ignore[assignment]
        if not isinstance(access, AccessCode) or not access.matches(code):
            raise not_found
        return self.get_complaint(complaint_id)

    def handle_as_customer(
        self, reference: str, code: str, command: Command, ctx: CommandContext
    ) -> CommandResult:
        with self.tracer.command_span(command, ctx):
            return self._run(
                self._handle_as_customer(reference, code, command, ctx), type(command).__name__
            )

    async def handle_as_customer_async(
        self, reference: str, code: str, command: Command, ctx: CommandContext
    ) -> CommandResult:
        with self.tracer.command_span(command, ctx):
            return await self._run_async(
                self._handle_as_customer(reference, code, command, ctx), type(command).__name__
            )

    def _handle_as_customer(
        self, reference: str, code: str, command: Command, ctx: CommandContext
    ) -> Steps:
        """A command of the tracking page (``CUSTOMER_DECISIONS``): the code stands in for a
        token. Idempotency keys are the complaint's own (every customer acts as ``customer``)."""
        decide = CUSTOMER_DECISIONS[type(command)]
        complaint = self.customer_complaint(reference, code)
        if ctx.idempotency_key:
            ctx = ctx.keyed(f"{complaint.id}/{ctx.idempotency_key}")
        print_ = fingerprint(type(command).__name__, str(complaint.id), command)
        if replay := self._replay(ctx, print_ if ctx.idempotency_key else ""):
            return replay
        if ctx.expected_version is not None and ctx.expected_version != complaint.version:
            raise PreconditionFailedError(ctx.expected_version, complaint.version)
        decide(self, complaint, command, ctx.provenance)
        return (yield from self._save(complaint, ctx, print_ if ctx.idempotency_key else ""))

    def answer_survey(
        self, token: str, command: AnswerSurvey, ctx: CommandContext
    ) -> CommandResult:
        with self.tracer.command_span(command, ctx):
            return self._run(self._answer_survey(token, command, ctx), "AnswerSurvey")

    async def answer_survey_async(
        self, token: str, command: AnswerSurvey, ctx: CommandContext
    ) -> CommandResult:
        with self.tracer.command_span(command, ctx):
            return await self._run_async(self._answer_survey(token, command, ctx), "AnswerSurvey")

    def _answer_survey(self, token: str, command: AnswerSurvey, ctx: CommandContext) -> Steps:
        """Records the answer once (a second one is 409); an unknown, superseded or expired
        token is 404."""
        if not 0 < len(token) <= 100:
            raise SurveyNotFoundError("no such survey")
        try:
            index: SurveyIndex = self.repository.get(survey_index_id(token))
        except AggregateNotFoundError:
            raise SurveyNotFoundError("no such survey") from None
        if not isinstance(index, SurveyIndex):
            raise SurveyNotFoundError("no such survey")
        complaint = self.get_complaint(index.complaint_id)
        complaint.record_satisfaction(
            token,
            csat=command.csat,
            nps=command.nps,
            comment=command.comment,
            now=self.clock(),
            by=ctx.provenance,
        )
        return (yield from self._save(complaint, ctx, ""))

    def close(self) -> None:
        self.writer.close()  # what is queued is written before the connections close
        super().close()

    def get_complaint(self, complaint_id: UUID, version: int | None = None) -> Complaint:
        try:
            # The latest version comes from the repository's cache (fast-forwarded by one cheap
            # query); an older one is replayed from the store.
            complaint: Complaint = self.repository.get(complaint_id)
            if version is not None and complaint.version != version:
                complaint = self.repository.get(complaint_id, version=version)
        except AggregateNotFoundError:
            raise ComplaintNotFoundError(f"no complaint with id {complaint_id}") from None
        if not isinstance(complaint, Complaint):
            raise ComplaintNotFoundError(f"no complaint with id {complaint_id}")
        return complaint

    def resolve_reference(self, reference: str) -> UUID:
        not_found = ComplaintNotFoundError(f"no complaint with reference {reference[:40]!r}")
        normalised = normalise_reference(reference)
        # Whatever cannot be a reference is answered without a lookup.
        if not REFERENCE_PATTERN.fullmatch(normalised):
            raise not_found
        try:
            index: ComplaintReference = self.repository.get(index_id(normalised))
        except AggregateNotFoundError:
            raise not_found from None
        return index.complaint_id

    # ---- the handler skeleton --------------------------------------------------------------

    def _save(
        self,
        complaint: Complaint,
        ctx: CommandContext,
        print_: str,
        extra: tuple[Any, ...] = (),
    ) -> Steps:
        # Before the idempotency record: a replay answers the version the reactions left.
        react(self, complaint, self.reactions)
        record = (
            IdempotencyRecord.record(
                ctx.principal, ctx.idempotency_key, print_, complaint.id, complaint.version
            )
            if ctx.idempotency_key
            else None
        )
        try:
            recordings: list[Recording[UUID]] = yield (complaint, *extra, record)
        except IntegrityError:
            # Three things can collide: the complaint's next version (another writer won the
            # race), the idempotency record (the same key sent twice at once), or, for a filing,
            # the reference index. Tell them apart by looking at what is now stored.
            if replay := self._replay(ctx, print_):
                return replay
            index = extra[0] if extra else None
            if isinstance(index, ComplaintReference) and index.id in self.repository:
                raise _ReferenceTakenError from None
            raise ConcurrencyConflictError(
                "the complaint was changed by another request; reload it and try again"
            ) from None
        position = max(
            (r.notification.id for r in recordings if r.domain_event.originator_id == complaint.id),
            default=None,
        )
        self._cache(complaint)
        return CommandResult(complaint.id, complaint.version, position, state=complaint)

    def _cache(self, complaint: Complaint) -> None:
        """Puts the complaint as just saved in the repository's cache. The library caches only
        what it reads (it skips saved aggregates when it fast-forwards), so the first command on
        a new complaint replayed it from the store, decoding (and decrypting) every event. A
        copy: a reader fast-forwards the cached object in place, which the answer being
        rendered from ``complaint`` must not see. Safe with other processes: every read still
        fast-forwards from the cached version."""
        if self.repository.cache is not None:
            self.repository.cache.put(complaint.id, deepcopy(complaint))

    def _replay(self, ctx: CommandContext, print_: str) -> CommandResult | None:
        """The recorded outcome of the same request, when ``ctx`` carries a key already used."""
        if not ctx.idempotency_key:
            return None
        record = self._idempotency_record(ctx.principal, ctx.idempotency_key)
        if record is None:
            return None
        if record.fingerprint != print_:
            raise IdempotencyKeyReusedError(
                f"Idempotency-Key {ctx.idempotency_key!r} was already used with a different request"
            )
        return CommandResult(record.complaint_id, record.complaint_version, None, replayed=True)

    def _idempotency_record(self, principal: str, key: str) -> IdempotencyRecord | None:
        """The record of (principal, key): under its id, or under the legacy id if one written
        before the upgrade is there and really is this pair's (the legacy id is ambiguous)."""
        for candidate in (record_id(principal, key), legacy_record_id(principal, key)):
            try:
                record: IdempotencyRecord = self.repository.get(candidate)
            except AggregateNotFoundError:
                continue
            if (
                isinstance(record, IdempotencyRecord)
                and record.principal == principal
                and record.key == key
            ):
                return record
        return None


_UNMATCHABLE = digest_of(new_access_code())


def _now() -> datetime:
    return datetime.now(UTC)


class _ReferenceTakenError(Exception):
    """Raised when a freshly drawn reference collides with an existing one."""


@dataclass(frozen=True)
class _Unassigned:
    """What actions on no complaint (filing) are judged on."""

    assignee: str | None = None
    team: str | None = None


_NO_COMPLAINT = _Unassigned()


Decision = Callable[[ComplaintsApp, Complaint, Any, Provenance], "tuple[Any, ...] | None"]
"""Decides on the complaint; returns other aggregates to save with it (or nothing)."""


# What each update command asks of the complaint: adding a command is a model, a line here and a
# route (api/routers/complaints.py). Due instants are computed here, in the application (its
# clock, its SLA terms), and handed to the aggregate, so replaying events never recomputes them.
DECISIONS: dict[type[Command], Decision] = {
    AssignComplaint: lambda _, c, m, by: c.assign(
        m.assignee, team=m.team, reason=m.reason, by=by
    ),
    CommentOnComplaint: lambda _, c, m, by: c.comment(m.body, visibility=m.visibility, by=by),
    EscalateComplaint: lambda _, c, m, by: c.escalate(m.reason, level=m.level, by=by),
    CloseComplaint: ComplaintsApp._close,
    ReopenComplaint: ComplaintsApp._reopen,
    AwaitCustomer: lambda app, c, m, by: c.await_customer(m.reason, paused_at=app.clock(), by=by),
    RecordCustomerReply: ComplaintsApp._record_customer_reply,
    ReapplySla: lambda app, c, m, by: app._apply_sla(c, m.reason, by),
    # For the deadline watcher: SlaRecordRefusedError when the record does not apply.
    RecordSlaWarning: lambda _, c, m, by: c.warn_sla(
        m.metric, cycle=m.cycle, due_at=m.due_at, warned_at=m.warned_at, by=by
    ),
    RecordSlaBreach: lambda _, c, m, by: c.breach_sla(
        m.metric, cycle=m.cycle, due_at=m.due_at, breached_at=m.breached_at, by=by
    ),
    # A person overriding (or doing by hand) what automation rules do.
    TagComplaint: lambda _, c, m, by: c.tag(m.tag, reason=m.reason, by=by),
    UntagComplaint: lambda _, c, m, by: c.untag(m.tag, reason=m.reason, by=by),
    ChangeSeverity: lambda _, c, m, by: c.change_severity(m.severity, reason=m.reason, by=by),
    # closed loop: approval limits come from the directory (the proposer's, the approver's).
    ProposeRemedy: ComplaintsApp._propose_remedy,
    ApproveRemedy: lambda app, c, m, by: c.approve_remedy(
        m.remedy_id, limit=app._approval_limit(by.actor), by=by
    ),
    RejectRemedy: lambda app, c, m, by: c.reject_remedy(
        m.remedy_id, m.reason, limit=app._approval_limit(by.actor), by=by
    ),
    FulfilRemedy: lambda _, c, m, by: c.fulfil_remedy(m.remedy_id, m.note, by=by),
}

# What the customer may do through the tracking page (no token: the access code).
CUSTOMER_DECISIONS: dict[type[Command], Decision] = {
    TrackReply: lambda app, c, m, by: app._reply(c, m.body, "web", by, unprompted=True),
    AcceptRemedy: lambda _, c, m, by: c.accept_remedy(m.remedy_id, by=by),
    DeclineRemedy: lambda _, c, m, by: c.decline_remedy(m.remedy_id, m.reason, by=by),
}

# The permission table's action for each command (commands/permissions.py). The deadline
# watcher's records are the watcher's alone: no principal's role reaches them.
ACTIONS: dict[type[Command], str] = {
    AssignComplaint: "complaint.assign",
    CommentOnComplaint: "complaint.comment",
    EscalateComplaint: "complaint.escalate",
    CloseComplaint: "complaint.close",
    ReopenComplaint: "complaint.reopen",
    AwaitCustomer: "complaint.await_customer",
    RecordCustomerReply: "complaint.record_reply",
    ReapplySla: "sla.reapply",
    RecordSlaWarning: "sla.record",
    RecordSlaBreach: "sla.record",
    TagComplaint: "complaint.tag",
    UntagComplaint: "complaint.tag",
    ChangeSeverity: "complaint.severity",
    ProposeRemedy: "remedy.propose",
    ApproveRemedy: "remedy.approve",
    RejectRemedy: "remedy.approve",
    FulfilRemedy: "remedy.fulfil",
}

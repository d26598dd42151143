"""Claim queued EmailLog rows, send them through their provider, record the outcome.

The EmailLog table is the queue. A worker claims due pending rows (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so that many workers share the work and none sends a row another
holds), sends each through the store's provider (or the platform's), and records `sent`, a
retry with exponential backoff, or `failed` with an admin notification. A send whose outcome
is unknown (connection lost after the whole message went out) is not retried automatically:
the row is marked ambiguous for an admin to decide.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import select
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa
from flask import current_app
from psycopg import pq as psycopg_pq
from sqlalchemy.orm import Session

from ... import structured_logs
from ...extensions import AnySession, db
from ...i18n import _l
from ...models import (
    EmailLog,
    EmailStatus,
    NotificationPriority,
    NotificationType,
    Store,
    StoreEmailSettings,
)
from ...models.base import utcnow
from .. import notification_texts
from ..errors import ValidationError
from ..notifications import raise_admin_notification
from ..secrets import SecretUnreadable
from . import providers, suppression, tracking
from .dispatcher import dispatch_after_commit
from .providers import AmbiguousDelivery, DeliveryError, OutgoingEmail, PermanentError, Provider, TransientError

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 6 * 3600
# Extra-data purposes that are interactive: the person sees the outcome, no retry, no admin alert.
INTERACTIVE_PURPOSES = {"verification", "template_test"}


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[tuple[int, dt.datetime]] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return len(self.sent) + len(self.retrying) + len(self.failed)

    def merge(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed


def _settings(key: str):
    return current_app.config[key]


def _session() -> Session:
    # Its own session: delivery runs after the caller's commit (or in a worker), and keeps loaded
    # rows usable across its intermediate commits.
    return Session(db.engine, expire_on_commit=False)


def backoff(retry_count: int) -> dt.timedelta:
    """Delay before attempt retry_count + 1: base, 2 x base, 4 x base, ... capped at six hours."""
    seconds = _settings("EMAIL_RETRY_BASE_SECONDS") * 2 ** max(retry_count - 1, 0)
    return dt.timedelta(seconds=min(seconds, MAX_BACKOFF_SECONDS))


def _due(now: dt.datetime):
    return sa.and_(
        EmailLog.status == EmailStatus.PENDING.value,
        EmailLog.claimed_at.is_(None),
        sa.or_(EmailLog.next_attempt_at.is_(None), EmailLog.next_attempt_at <= now),
    )


def claim(session: Session, *, limit: int, ids: Iterable[int] | None = None,
          now: dt.datetime | None = None, commit: bool = True) -> tuple[str, list[int]]:
    """Claim up to `limit` due rows (only among `ids` if given) for this worker and commit the claim.

    Returns the claim token and the ids claimed. Rows another worker holds are skipped, not waited for.
    """
    now = now or utcnow()
    token = uuid.uuid4().hex
    candidates = sa.select(EmailLog.id).where(_due(now)).order_by(EmailLog.id).limit(limit)
    if ids is not None:
        candidates = candidates.where(EmailLog.id.in_(list(ids)))
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = session.scalars(
        sa.update(EmailLog)
        .where(EmailLog.id.in_(candidates.scalar_subquery()), EmailLog.claimed_at.is_(None))
        .values(claimed_at=now, claimed_by=token, send_started_at=None)
        .returning(EmailLog.id)
        .execution_options(synchronize_session=False)
    ).all()
    if commit:
        session.commit()
    return token, sorted(claimed)


def deliver(ids: Iterable[int]) -> DeliveryReport:
    """Deliver these rows if they are still due and unclaimed (the dispatcher's and the task's entry)."""
    ids = list(ids)
    report = DeliveryReport()
    if not ids:
        return report
    with _session() as session:
        token, claimed = claim(session, limit=len(ids), ids=ids, commit=False)
        if claimed:
            report = _deliver_claimed(session, token, claimed)
        session.commit()
    structured_logs.log_email_events(report, logger=log)
    return report


def deliver_due(limit: int | None = None) -> DeliveryReport:
    """Claim one batch of due rows, whoever queued them, and deliver it (the worker loop's step)."""
    with _session() as session:
        token, claimed = claim(session, limit=limit or _settings("EMAIL_BATCH_SIZE"), commit=False)
        if not claimed:
            session.commit()
            return DeliveryReport()
        report = _deliver_claimed(session, token, claimed)
    structured_logs.log_email_events(report, logger=log)
    return report


def _deliver_claimed(session: Session, token: str, ids: list[int]) -> DeliveryReport:
    rows = session.scalars(
        sa.select(EmailLog).where(EmailLog.id.in_(ids), EmailLog.claimed_by == token).order_by(EmailLog.id)
    ).all()
    _follow_plan_changes(session, rows)
    rows = _drop_suppressed(session, rows)
    groups: dict[tuple, list[EmailLog]] = {}
    for row in rows:
        key = (row.store_id, row.provider) if row.via_store_settings else (None, "platform")
        groups.setdefault(key, []).append(row)
    senders = {store_id: _provider_for(session, store_id) for store_id, _provider in groups}
    # The claim (and these reads) are committed before anything is sent: from here on another worker
    # skips these rows. Ending the transaction also matters on SQLite, where a reader that later
    # writes after another worker committed fails at once instead of waiting its turn.
    session.commit()
    report = DeliveryReport()
    for (store_id, _provider), group in groups.items():
        report.merge(_deliver_group(session, senders[store_id], group))
    return report


def _drop_suppressed(session: Session, rows: Sequence[EmailLog]) -> list[EmailLog]:
    """The rows still to send: one whose address was suppressed after it was queued (a retry due days later,
    the address has bounced since) is marked suppressed instead, saying why. One query for the claim."""
    blocked = suppression.find_blocking([suppression.recipient_of(row) for row in rows], session)
    kept = []
    for row, blocking in zip(rows, blocked, strict=True):
        if blocking is None:
            kept.append(row)
            continue
        row.status = EmailStatus.SUPPRESSED.value
        row.error_message = suppression.blocked_message(blocking)
        row.claimed_at = row.claimed_by = row.next_attempt_at = None
    return kept


def _follow_plan_changes(session: Session, rows: Sequence[EmailLog]) -> None:
    """Rows queued for a store's API provider (SendGrid, Mailgun, SES) whose plan has dropped below Business
    since go through the platform's sender instead, from its address (the store's own would fail SPF there)."""
    via_api = {row.store_id for row in rows if row.via_store_settings and row.provider != "smtp"}
    if not via_api:
        return
    tiers = {store.id: store.tier_enum for store in session.scalars(sa.select(Store).where(Store.id.in_(via_api)))}
    config = current_app.config
    for row in rows:
        if row.via_store_settings and row.store_id in tiers and not tiers[row.store_id].allows_provider(row.provider):
            row.via_store_settings = False
            row.from_email = config["MAIL_DEFAULT_SENDER_EMAIL"]
            row.provider = config.get("MAIL_PROVIDER", "file")


def _provider_for(session: Session, store_id: int | None) -> Provider | DeliveryError:
    """The sender's provider, or the error that keeps it from being built (recorded on each row)."""
    config = current_app.config
    try:
        if store_id is None:
            return providers.platform_provider(config)
        settings = session.scalar(sa.select(StoreEmailSettings).where(StoreEmailSettings.store_id == store_id))
        if settings is None:
            return PermanentError("the store's email settings were removed before this email was sent")
        return providers.store_provider(settings, config)
    except (SecretUnreadable, ValueError) as exc:
        return PermanentError(str(exc))


def _deliver_group(session: Session, provider: Provider | DeliveryError, rows: list[EmailLog]) -> DeliveryReport:
    """Send rows that share one sender, over one provider connection.

    Before each send, the row is marked as started in the same commit as the previous row's outcome (Progress):
    if this worker dies, only the row it was sending is "may have been delivered"; the rest of its claim was
    never started, and the sweep sends it again. Failures, rare, are written through the ORM (_record)."""
    report = DeliveryReport()
    try:
        if isinstance(provider, DeliveryError):
            raise provider
        opener = getattr(provider, "open", None)
        if opener is not None:
            opener()
    except DeliveryError as error:
        refusals = []
        for row in rows:
            refusals.append(Outcome(row.id, row.claimed_by, error, None, None))
            _record(session, row, error, None, report)
        _commit_recorded(session, refusals)
        return report
    progress = Progress(db.engine)
    if provider.calls_before_handover:
        provider.before_handover = progress.confirm_before_handover
    try:
        with provider:
            sent: dict | None = None
            for row in rows:
                progress.begin(sent, starting=row.id)
                if not provider.calls_before_handover:
                    progress.confirm()
                sent = None
                token = row.claimed_by
                try:
                    outcome, message_id = attempt(provider, row)
                except ProgressLost as lost:
                    raise lost.error from None  # as if the step had failed before the send: the sweep takes over
                progress.confirm()  # done already, unless the envelope was refused before DATA
                if outcome is None:
                    sent = {"id": row.id, "sent_at": utcnow(), "message_id": (message_id or "")[:255] or None,
                            "provider": row.provider if row.via_store_settings else provider.name}
                    report.sent.append(row.id)
                else:
                    _record(session, row, outcome, message_id, report, provider_name=provider.name)
                    _commit_recorded(session, [Outcome(row.id, token, outcome, message_id, provider.name)])
            progress.step(sent, starting=None)
    finally:
        provider.before_handover = None
        progress.close()
    return report


class ProgressLost(Exception):
    """The row could not be marked started before its handover (the database is gone): raised through the
    provider, which hands nothing over, to _deliver_group, which raises `error`."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Outcome:
    """An attempt's outcome written through the ORM (_record), kept until committed."""

    row_id: int
    claim_token: str | None
    error: DeliveryError
    message_id: str | None
    provider_name: str | None


OUTCOME_WRITE_PAUSES = (0.25, 0.5, 1.0, 2.0, 4.0)  # then the write gives up (about 8 s: a database restart)


def _commit_recorded(session: Session, recorded: list[Outcome]) -> None:
    """Commit outcomes written through the ORM. The emails were tried already, so the outcome is known: when
    the database connection drops meanwhile (a PostgreSQL restart), the write is tried again on a fresh
    connection, rather than leaving the rows claimed for the sweep to call "may have been delivered"."""
    for pause in (*OUTCOME_WRITE_PAUSES, None):
        try:
            session.commit()
            return
        except sa.exc.OperationalError as exc:
            if pause is None:
                raise
            session.rollback()
            log.warning("Recording %d email outcome(s) failed (%s); trying again on a new connection",
                        len(recorded), type(exc.orig).__name__)
            time.sleep(pause)
            # The ORM's changes went with the rollback: applied again from what is known, to rows still held.
            for outcome in recorded:
                row = session.get(EmailLog, outcome.row_id)
                if row is not None and row.claimed_by == outcome.claim_token:
                    _record(session, row, outcome.error, outcome.message_id, DeliveryReport(),
                            provider_name=outcome.provider_name)


# One commit in DURABLE_EVERY waits for the WAL flush on PostgreSQL, the others do not (`synchronous_commit =
# off`): a worker's death loses none of them, and a database crash (not a restart, which flushes) at most
# the last few, whose outcomes the worker still holds and writes again.
DURABLE_EVERY = 20
ANSWER_SECONDS = 30.0  # a step sent ahead that the database has not answered by then: the connection is dropped


class Progress:
    """Where a worker is in its group: each step records the previous email's `sent` outcome and marks the next
    as started, in one statement and one commit (an autocommit statement on PostgreSQL), on a DBAPI connection
    of its own. Through the ORM or even SQLAlchemy Core the two writes cost 2.5 ms an email on PostgreSQL, a
    third of that here (bench/bench_delivery.py: delivery against raw smtplib)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"
        self.connection = None  # a DBAPI connection, taken on the first step
        self.unconfirmed: list[dict] = []  # sent outcomes since the last durable commit
        self.written = 0  # how many of them are written already
        self.steps = 0
        self._starting: int | None = None
        self._pending = self._sent_ahead = self._durable = False
        self._quoting = None  # a psycopg ClientCursor: the driver's quoting, for a step sent ahead
        to_db = sa.DateTime(timezone=True).dialect_impl(engine.dialect).bind_processor(engine.dialect)
        self.moment = to_db or (lambda value: value)
        self.step_sql, self.sent_sql = _progress_sql(engine.dialect.name)
        dbapi = engine.dialect.dbapi
        assert dbapi is not None
        self.connection_errors = (dbapi.OperationalError, dbapi.InterfaceError)

    def step(self, sent: dict | None, starting: int | None) -> None:
        """Record `sent` and mark `starting` as started, and wait for the commit."""
        self.begin(sent, starting)
        self.confirm()

    def begin(self, sent: dict | None, starting: int | None) -> None:
        """The step's statement, sent without waiting for its answer on PostgreSQL (a step that is not durable,
        with nothing else to write again): confirm() waits for it. The SMTP provider calls confirm() just before
        its DATA command, so the database commits while the envelope goes out, and the message is still handed
        over only once the row is marked started."""
        if sent is not None:
            self.unconfirmed.append(sent)
        self._starting, self._pending, self._sent_ahead = starting, True, False
        self._durable = self.steps % DURABLE_EVERY == 0 or starting is None
        if (self.postgresql and not self._durable and self.connection is not None
                and len(self.unconfirmed) - self.written <= 1):
            try:
                self._write(starting, False, wait=False)
                self._sent_ahead = True
            except self.connection_errors:
                self._drop()  # confirm() writes it again, on a new connection

    def confirm(self) -> None:
        """Wait for the step begun (if it was not waited for yet); on a lost connection, write it again."""
        if not self._pending:
            return
        self._pending = False
        durable = self._durable
        if self._sent_ahead:
            try:
                self._receive()
                self._advance(durable)
                return
            except self.connection_errors:
                self._drop()
        for pause in (*OUTCOME_WRITE_PAUSES, None):
            try:
                if self.connection is None:
                    self._connect()
                    self.written, durable = 0, True  # a new connection: everything unconfirmed, again
                self._write(self._starting, durable)
                break
            except self.connection_errors as exc:
                self._drop()
                if pause is None:
                    raise
                log.warning("Recording %d email outcome(s) failed (%s); trying again on a new connection",
                            len(self.unconfirmed), type(exc).__name__)
                time.sleep(pause)
        self._advance(durable)

    def confirm_before_handover(self) -> None:
        try:
            self.confirm()
        except self.connection_errors as exc:
            raise ProgressLost(exc) from exc

    def _advance(self, durable: bool) -> None:
        self.steps += 1
        if durable:
            self.unconfirmed.clear()
            self.written = 0
        else:
            self.written = len(self.unconfirmed)

    def _write(self, starting: int | None, durable: bool, *, wait: bool = True) -> None:
        """The step's statement (and the outcomes a lost connection may have lost before it). `wait=False` (on
        PostgreSQL, not durable, nothing to write again): sent, and answered in _receive()."""
        assert self.connection is not None
        unwritten: list[dict | None] = [*self.unconfirmed[self.written:]] or [None]
        *earlier, last = unwritten
        step = {**self._sent_params(last), "next_id": starting, "started": self.moment(utcnow())}
        if not wait:
            self._send_ahead(step)
            return
        cursor = self.connection.cursor()
        try:
            if earlier:  # after a reconnection: the outcomes a lost commit may have taken with it
                cursor.executemany(self.sent_sql, [self._sent_params(sent) for sent in earlier])
            if not self.postgresql:
                cursor.execute(self.step_sql, step)
                self.connection.commit()
            elif durable:
                cursor.execute("SET synchronous_commit TO ON")
                cursor.execute(self.step_sql, step)
                cursor.execute("SET synchronous_commit TO OFF")
            else:
                # In autocommit, the UPDATE is its own transaction: one round trip an email, where an
                # explicit COMMIT would cost a second (bench/bench_delivery.py).
                cursor.execute(self.step_sql, step)
        finally:
            cursor.close()

    def _send_ahead(self, step: dict) -> None:
        """The step as one simple-protocol query (the autocommit connection commits it as it runs it), values
        quoted by the driver, sent without waiting for the answer."""
        assert self.connection is not None
        driver = self.connection.driver_connection
        if self._quoting is None or self._quoting.connection is not driver:
            self._quoting = psycopg.ClientCursor(driver)
        query = self._quoting.mogrify(self.step_sql, step)
        pgconn = driver.pgconn
        pgconn.send_query(query.encode())
        while pgconn.flush():  # 1: some of it is still to go
            if not select.select([], [pgconn.socket], [], ANSWER_SECONDS)[1]:
                raise psycopg.OperationalError("the database took the email's progress too slowly")

    def _receive(self) -> None:
        assert self.connection is not None
        driver = self.connection.driver_connection
        pgconn, failure = driver.pgconn, None
        while True:
            pgconn.consume_input()  # raises OperationalError when the connection is gone
            if pgconn.is_busy():
                if not select.select([pgconn.socket], [], [], ANSWER_SECONDS)[0]:
                    raise psycopg.OperationalError("the database did not answer the email's progress")
                continue
            result = pgconn.get_result()
            if result is None:
                break
            if result.status != psycopg_pq.ExecStatus.COMMAND_OK:
                failure = (result.error_message or b"").decode(errors="replace")
        if failure is not None:
            raise psycopg.OperationalError(f"the email's progress was not written: {failure}")

    def _sent_params(self, sent: dict | None) -> dict:
        if sent is None:
            return {"sent_id": None, "sent_at": None, "message_id": None, "provider": None}
        return {"sent_id": sent["id"], "sent_at": self.moment(sent["sent_at"]), "message_id": sent["message_id"],
                "provider": sent["provider"]}

    def _connect(self) -> None:
        self.connection = self.engine.raw_connection()
        if self.postgresql:
            self.connection.commit()  # nothing is open, so autocommit can be switched on
            self._autocommit(True)
            cursor = self.connection.cursor()
            cursor.execute("SET synchronous_commit TO OFF")
            cursor.close()

    def _autocommit(self, on: bool) -> None:
        assert self.connection is not None and self.connection.driver_connection is not None
        self.connection.driver_connection.autocommit = on

    def _drop(self) -> None:
        if self.connection is not None:
            try:
                self.connection.invalidate()
            except Exception:  # the connection is gone already
                pass
            self.connection = None

    def close(self) -> None:
        if self.connection is None:
            return
        try:
            if self.postgresql:
                cursor = self.connection.cursor()
                cursor.execute("RESET synchronous_commit")
                cursor.close()
                self._autocommit(False)  # as the pool lends its connections
            self.connection.close()
        except Exception:  # returned to the pool broken: the pool checks it on the next checkout
            self._drop()
        self.connection = None


@functools.cache
def _progress_sql(dialect_name: str) -> tuple[str, str]:
    """The step statement (the previous email sent, the next one started: one UPDATE of two rows) and the sent
    statement alone, in the driver's parameter style. A sent outcome never overwrites a later state (a
    webhook's "delivered"); it does overwrite "failed": a sweep that gave up on a slow worker's claim is
    corrected by the outcome it recorded."""
    def p(name: str) -> str:
        return f"%({name})s" if dialect_name == "postgresql" else f":{name}"

    sendable = f"id = {p('sent_id')} AND status IN ('{EmailStatus.PENDING.value}', '{EmailStatus.FAILED.value}')"
    sent_columns = {
        "status": f"'{EmailStatus.SENT.value}'", "sent_at": p("sent_at"), "updated_at": p("sent_at"),
        "provider_message_id": p("message_id"), "provider": p("provider"), "error_message": "NULL",
        "next_attempt_at": "NULL", "claimed_at": "NULL", "claimed_by": "NULL",
    }
    step = ", ".join(f"{column} = CASE WHEN {sendable} THEN {value} ELSE {column} END"
                     for column, value in sent_columns.items())
    step_sql = (f"UPDATE email_logs SET {step}, send_started_at = CASE WHEN id = {p('next_id')} THEN {p('started')} "
                f"ELSE send_started_at END WHERE id IN ({p('sent_id')}, {p('next_id')})")
    sent_sql = (f"UPDATE email_logs SET {', '.join(f'{c} = {v}' for c, v in sent_columns.items())} "
                f"WHERE {sendable}")
    return step_sql, sent_sql


def outgoing_email(row: EmailLog) -> OutgoingEmail:
    body_html = row.body_html
    if body_html and current_app.config.get("EMAIL_TRACKING", True):
        # Applied when sending, so the log keeps the email as written and a resend gets fresh links.
        body_html = tracking.add_tracking(body_html, row.id)
    return OutgoingEmail(
        log_id=row.id, message_id=row.message_id_header, from_email=row.from_email, from_name=row.from_name,
        to_email=row.recipient_email, to_name=row.recipient_name, subject=row.subject, html=body_html,
        text=row.body_text, reply_to=row.reply_to, headers=_extra_headers(row),
    )


def _extra_headers(row: EmailLog) -> dict[str, str]:
    """Headers queued with the email (outbox.queue_email's `headers`): threading, Auto-Submitted."""
    if not row.extra_data or '"headers"' not in row.extra_data:
        return {}
    try:
        headers = (json.loads(row.extra_data) or {}).get("headers") or {}
    except (ValueError, AttributeError):
        return {}
    return {str(name): str(value) for name, value in headers.items()} if isinstance(headers, dict) else {}


def attempt(provider: Provider, row: EmailLog) -> tuple[DeliveryError | None, str | None]:
    """One send; returns (None, provider_message_id) or (the error, None). Never raises for a send failure."""
    try:
        return None, provider.send(outgoing_email(row))
    except DeliveryError as exc:
        return exc, None
    except ProgressLost:
        raise
    except Exception:  # a bug, not the provider: keep the email, try again later
        log.exception("Unexpected error while sending email log %s", row.id)
        return TransientError("an unexpected error occurred while sending; it will be tried again"), None


def _purpose(row: EmailLog) -> str | None:
    try:
        return (json.loads(row.extra_data) or {}).get("purpose") if row.extra_data else None
    except (ValueError, AttributeError):
        return None


def _record(session: AnySession, row: EmailLog, outcome: DeliveryError | None, message_id: str | None,
            report: DeliveryReport, provider_name: str | None = None, now: dt.datetime | None = None) -> None:
    """Write one attempt's outcome on the row (caller holds the claim)."""
    now = now or utcnow()
    row.claimed_at = None
    row.claimed_by = None
    if provider_name and not row.via_store_settings:
        row.provider = provider_name
    if outcome is None:
        row.status = EmailStatus.SENT.value
        row.sent_at = now
        row.provider_message_id = (message_id or "")[:255] or None
        row.error_message = None
        row.next_attempt_at = None
        report.sent.append(row.id)
        return
    interactive = _purpose(row) in INTERACTIVE_PURPOSES
    if not isinstance(outcome, AmbiguousDelivery):  # every attempt known to have failed counts, the last too
        row.retry_count = (row.retry_count or 0) + 1
    if isinstance(outcome, TransientError) and not interactive:
        if row.retry_count < _settings("EMAIL_MAX_ATTEMPTS"):
            row.next_attempt_at = now + backoff(row.retry_count)
            row.error_message = f"Attempt {row.retry_count} failed: {outcome.message}. Next attempt scheduled."
            report.retrying.append((row.id, row.next_attempt_at))
            return
        message = f"Gave up after {row.retry_count} attempts: {outcome.message}."
        reason: dict | str = notification_texts.phrase("gave_up", num=row.retry_count, error=outcome.message)
    elif isinstance(outcome, AmbiguousDelivery):
        row.delivery_ambiguous = True
        message = (f"Not confirmed: {outcome.message}. It was not resent automatically, so that the recipient "
                   "does not get it twice; resend it from the email log if it did not arrive.")
        reason = notification_texts.phrase("not_confirmed", error=outcome.message)
    else:
        message = reason = f"{outcome.message[:1].upper()}{outcome.message[1:]}."  # the provider's words
    mark_failed(session, row, message, notify=not interactive, now=now, reason=reason)
    report.failed.append(row.id)


def mark_failed(session: AnySession, row: EmailLog, message: str, *, notify: bool = True,
                now: dt.datetime | None = None, reason: dict | str | None = None) -> None:
    """`message` (English) goes in the email log; the admin notification says `reason` (a
    notification_texts.phrase, shown in the admin's language, or outside English), by default `message`."""
    row.status = EmailStatus.FAILED.value
    row.error_message = message
    row.next_attempt_at = None
    row.claimed_at = None
    row.claimed_by = None
    row.updated_at = now or utcnow()
    if notify:
        raise_admin_notification(
            NotificationType.STORE_ISSUE if row.store_id else NotificationType.SYSTEM_ALERT,
            text=notification_texts.text(
                "email_not_sent" if row.template_code else "email_not_sent_untemplated",
                recipient=row.recipient_email, template=row.template_code, id=row.id,
                reason=message if reason is None else reason,
            ),
            priority=NotificationPriority.HIGH if row.delivery_ambiguous else NotificationPriority.NORMAL,
            action_url=f"/admin/email-log/{row.id}",
            action_required=True,
            metadata={"email_log_id": row.id, "store_id": row.store_id, "ambiguous": row.delivery_ambiguous},
            session=session,
        )


def send_now(row: EmailLog, provider: Provider) -> DeliveryError | None:
    """Send a row that is not yet committed, in the caller's session (verification, template tests):
    the outcome is recorded on the row and returned; no retry, no admin notification."""
    with provider:
        outcome, message_id = attempt(provider, row)
    report = DeliveryReport()
    _record(db.session, row, outcome, message_id, report, provider_name=provider.name)
    return outcome


@dataclass
class SweepReport:
    redispatch: list[int]
    abandoned: list[int]
    released: list[int] = field(default_factory=list)


def sweep(now: dt.datetime | None = None, limit: int = 1000) -> SweepReport:
    """Find pending rows whose hand-off was lost (to deliver again) and claims whose worker vanished: the row
    it had started sending is marked ambiguous (it may have gone out); the rows it had not started are
    released and sent again."""
    now = now or utcnow()
    with _session() as session:
        claim_cutoff = now - dt.timedelta(seconds=_settings("EMAIL_CLAIM_TIMEOUT_SECONDS"))
        vanished = sa.and_(EmailLog.status == EmailStatus.PENDING.value, EmailLog.claimed_at < claim_cutoff)
        # Written first (UPDATEs, not a SELECT) so that SQLite takes the write lock up front.
        released = session.scalars(
            sa.update(EmailLog)
            .where(vanished, EmailLog.send_started_at.is_(None))
            .values(claimed_at=None, claimed_by=None, updated_at=now)
            .returning(EmailLog.id)
            .execution_options(synchronize_session=False)
        ).all()
        # What is still held after the release is what the worker had started.
        abandoned_ids = session.scalars(
            sa.update(EmailLog)
            .where(vanished)
            .values(delivery_ambiguous=True)
            .returning(EmailLog.id)
            .execution_options(synchronize_session=False)
        ).all()
        abandoned_rows = session.scalars(sa.select(EmailLog).where(EmailLog.id.in_(abandoned_ids))).all()
        for row in abandoned_rows:
            mark_failed(
                session, row,
                "Not confirmed: the worker sending this email stopped before recording the outcome; it may have "
                "been delivered. Resend it from the email log if it did not arrive.",
                notify=_purpose(row) not in INTERACTIVE_PURPOSES, now=now,
                reason=notification_texts.phrase("worker_stopped"),
            )
        handoff_cutoff = now - dt.timedelta(seconds=_settings("EMAIL_SWEEP_AFTER_SECONDS"))
        lost = session.scalars(
            sa.select(EmailLog.id).where(_due(now), EmailLog.updated_at < handoff_cutoff)
            .order_by(EmailLog.id).limit(limit)
        ).all()
        session.commit()
        return SweepReport(redispatch=sorted({*released, *lost}), abandoned=[row.id for row in abandoned_rows],
                           released=sorted(released))


def requeue_failed(row: EmailLog) -> None:
    """An admin's decision to send a failed (or ambiguous) email again, in the caller's transaction."""
    if row.status != EmailStatus.FAILED.value:
        raise ValidationError(_l("Only a failed email can be sent again."))
    row.status = EmailStatus.PENDING.value
    row.retry_count = 0
    row.next_attempt_at = None
    row.delivery_ambiguous = False
    row.error_message = None
    db.session.flush()
    dispatch_after_commit(db.session, [row.id])

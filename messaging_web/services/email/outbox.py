"""Compose an email from a template and queue it as a pending EmailLog row in the caller's transaction."""
from __future__ import annotations

import html
import itertools
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from ...extensions import AnySession, db
from ...models import (
    EmailLog,
    EmailStatus,
    EmailTemplate,
    NotificationPriority,
    NotificationType,
    Store,
    StoreEmailSettings,
    StoreEmailTemplate,
)
from ...models.base import utcnow
from .. import notification_texts, notifications, templates, transaction_hooks
from ..errors import NotFound, ValidationError
from . import suppression, unsubscribe
from .dispatcher import dispatch_after_commit
from .providers.message import UnsafeHeader, check_header_text, normalise_address


def queue_email(template_code: str, to_email: str, context: dict, *, store_id: int | None = None,
                language: str | None = None, recipient_name: str | None = None, user_id: int | None = None,
                related_type: str | None = None, related_id: int | None = None,
                extra_data: dict | None = None, reply_to: str | None = None,
                headers: dict[str, str] | None = None) -> EmailLog | QueuedEmail:
    """Resolve and render the template, add the store signature and write the row `pending` (add +
    flush, no commit); after the caller's commit the dispatcher hands the id to the worker. Inside batch(),
    the row is written when the block ends: the QueuedEmail returned stands for it.

    `reply_to` replaces the sender's Reply-To (a conversation's reply address); `headers` are sent with
    the email (threading, Auto-Submitted), kept in the row's extra data.

    A missing required variable, or a recipient that is not exactly one address, raises
    ValidationError and queues nothing. A template that does not render (a limit stopped it, or it fails
    with these values) is not the caller's error: the row is written `failed` with the reason, and the
    platform's admins are told once per template.
    """
    batch = db.session.info.get(_BATCH_KEY)
    draft = _draft(
        template_code, to_email, context, store_id=store_id, language=language, recipient_name=recipient_name,
        user_id=user_id, related_type=related_type, related_id=related_id, extra_data=extra_data,
        reply_to=reply_to, headers=headers,
    )
    if batch is not None:
        return batch.add(draft)
    [blocking] = suppression.find_blocking([draft.recipient])
    [rendered] = templates.render_emails([(draft.resolved, draft.context)], background=True)
    _complete(draft, rendered, blocking=blocking)
    row = _add_row(draft)
    db.session.flush()
    if row.status == EmailStatus.PENDING.value:
        dispatch_after_commit(db.session, [row.id])
    return row


def queue_template_test(resolved: templates.ResolvedTemplate, sample: dict, to_email: str, *,
                        store_id: int | None = None, user_id: int | None = None) -> EmailLog:
    """The editors' "send a test": a draft (resolved from unsaved text) rendered with its sample values,
    queued to the editor's own address through the normal pipeline (no retry, no admin alert)."""
    row = compose_email(
        resolved.code, to_email, sample, store_id=store_id, user_id=user_id, resolved=resolved,
        extra_data={"purpose": "template_test"},
    )
    dispatch_after_commit(db.session, [row.id])
    return row


@contextmanager
def batch() -> Iterator[list[QueuedEmail]]:
    """For a caller that queues many emails at once: inside, queue_email drafts each email and the sandbox
    renders them, a chunk at a time, while the caller drafts the next; when the block ends, the emails are
    checked against the suppression list with one query, and each chunk is written with one multi-row INSERT
    as soon as it is rendered (while the next chunks still render), then handed to the dispatcher after the
    caller's commit, as usual. Yields the QueuedEmails, whose ids are set when the block ends.

    The rows are written with SQLAlchemy Core, not as ORM objects: building and flushing those cost more
    than the INSERT itself (bench/bench_delivery.py).
    """
    session = db.session
    if _BATCH_KEY in session.info:
        yield session.info[_BATCH_KEY].queued
        return
    drafts = _Batch()
    session.info[_BATCH_KEY] = drafts
    try:
        yield drafts.queued
        session.info.pop(_BATCH_KEY, None)
        drafts.write(session)
        dispatch_after_commit(session, [q.id for q in drafts.queued
                                        if q.id is not None and q.status == EmailStatus.PENDING.value])
    finally:
        session.info.pop(_BATCH_KEY, None)


@dataclass
class QueuedEmail:
    """An email queued in a batch(): its row's id once the block has written it, and how it was written."""

    recipient_email: str
    id: int | None = None
    status: str = EmailStatus.PENDING.value
    error_message: str | None = None


class _Batch:
    """A batch's drafts, and their renders under way in the sandbox: one round trip per chunk, so the workers
    render a chunk while this process drafts the next, and write the first chunks while the last render."""

    CHUNK = 100

    def __init__(self) -> None:
        self.drafts: list[_Draft] = []
        self.queued: list[QueuedEmail] = []
        self._chunks: list[tuple[int, int, templates.Renders]] = []
        self._started = 0

    def add(self, draft: _Draft) -> QueuedEmail:
        self.drafts.append(draft)
        queued = QueuedEmail(draft.values["recipient_email"])
        self.queued.append(queued)
        if len(self.drafts) - self._started >= self.CHUNK:
            self._start_rendering()
        return queued

    def _start_rendering(self) -> None:
        chunk = self.drafts[self._started:]
        if chunk:
            renders = templates.start_renders([(d.resolved, d.context) for d in chunk], background=True)
            self._chunks.append((self._started, len(self.drafts), renders))
            self._started = len(self.drafts)

    def write(self, session: AnySession) -> None:
        self._start_rendering()
        blocked = suppression.find_blocking([d.recipient for d in self.drafts])  # one query for the batch
        ids = _new_ids(session, len(self.drafts))
        table = EmailLog.__table__
        for start, end, renders in self._chunks:
            values = []
            for index, rendered in enumerate(renders.results(), start):
                draft = self.drafts[index]
                _complete(draft, rendered, blocking=blocked[index])
                if ids is not None:
                    draft.values["id"] = ids[index]
                values.append(draft.values)
            written: Sequence[int]
            if ids is None:  # SQLite: the ids come back, in the rows' order
                written = session.execute(
                    sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), values
                ).scalars().all()
            else:
                session.execute(sa.insert(table), values)
                written = ids[start:end]
            for queued, draft, log_id in zip(self.queued[start:end], self.drafts[start:end], written, strict=True):
                queued.id, queued.status = log_id, draft.values["status"]
                queued.error_message = draft.values["error_message"]


def compose_email(template_code: str, to_email: str, context: dict, *, store_id: int | None = None,
                  language: str | None = None, recipient_name: str | None = None, user_id: int | None = None,
                  related_type: str | None = None, related_id: int | None = None, extra_data: dict | None = None,
                  use_store_settings: bool = False, resolved: templates.ResolvedTemplate | None = None) -> EmailLog:
    """queue_email without the hand-off, for callers that send the row themselves (verification, tests):
    a template that does not render raises its TemplateRenderError, for the person who asked to see it.

    `use_store_settings` sends through the store's settings even before they are verified;
    `resolved` renders a given template (an editor's draft) instead of resolving `template_code`.
    """
    draft = _draft(
        template_code, to_email, context, store_id=store_id, language=language, recipient_name=recipient_name,
        user_id=user_id, related_type=related_type, related_id=related_id, extra_data=extra_data,
        use_store_settings=use_store_settings, resolved=resolved,
    )
    rendered = templates.render_email(draft.resolved, draft.context)
    _complete(draft, rendered, raise_errors=True)
    row = _add_row(draft)
    db.session.flush()
    return row


@dataclass
class _Draft:
    """An email's row (its column values) with its sender and recipient decided, waiting for its rendered
    text; every draft has the same columns, so that a batch writes them with one executemany."""

    values: dict
    resolved: templates.ResolvedTemplate
    context: dict
    settings: StoreEmailSettings | None
    unsubscribe_url: str | None = None  # optional emails (marketing, conversation notifications) carry one

    @property
    def recipient(self) -> suppression.Recipient:
        values = self.values
        return suppression.recipient(values["recipient_email"], values["store_id"], values["category"],
                                     values["related_type"])


def _add_row(draft: _Draft) -> EmailLog:
    row = EmailLog(**draft.values)
    db.session.add(row)
    return row


def _draft(template_code: str, to_email: str, context: dict, *, store_id: int | None, language: str | None,
           recipient_name: str | None, user_id: int | None, related_type: str | None, related_id: int | None,
           extra_data: dict | None, use_store_settings: bool = False,
           resolved: templates.ResolvedTemplate | None = None, reply_to: str | None = None,
           headers: dict[str, str] | None = None) -> _Draft:
    """Everything but the render: the sender, the checked recipient, the template; the row is not added to
    the session yet (a query meanwhile would write it half done).
    Raises ValidationError for the caller's mistakes (a bad recipient, a missing required variable)."""
    store, settings = _sender(store_id)
    try:
        to_email = normalise_address(to_email, "recipient address")
        check_header_text(recipient_name, "recipient name")
        for name, value in (headers or {}).items():
            check_header_text(name, "header name")
            check_header_text(value, f"{name} header")
    except UnsafeHeader as exc:
        raise ValidationError(str(exc), field="to_email") from None
    if resolved is None:
        resolved = _resolve(template_code, store_id, language)
    missing = templates.missing_required(resolved, context)
    if missing:
        raise templates.TemplateRenderError(
            "Missing required variables: " + ", ".join(missing) + ".", missing_variables=missing
        )
    templates.check_plain_context(context)

    # A store whose plan no longer includes its API provider sends through the platform (its settings page
    # says so) until it switches to SMTP or upgrades.
    via_store = bool(settings and settings.is_configured and (settings.is_verified or use_store_settings)
                     and store is not None and store.tier_enum.allows_provider(settings.provider))
    config = current_app.config
    if via_store:
        assert settings is not None  # via_store is only true with settings
        from_email, from_name, provider = settings.from_email, settings.from_name, settings.provider
    else:
        from_email = config["MAIL_DEFAULT_SENDER_EMAIL"]
        from_name = store.name if store is not None else config["MAIL_DEFAULT_SENDER_NAME"]
        provider = config.get("MAIL_PROVIDER", "file")
    if reply_to is None and settings is not None:
        reply_to = settings.reply_to_email or settings.from_email
    key = suppression.preference_key(resolved.category, related_type)
    unsubscribe_url = None
    if unsubscribe.carries_link(key):
        unsubscribe_url = unsubscribe.url_for_recipient(to_email, store_id, key)
        headers = {**(headers or {}), **unsubscribe.headers(unsubscribe_url)}
    if headers:
        extra_data = {**(extra_data or {}), "headers": dict(headers)}
    now = utcnow()
    values = {
        "template_code": resolved.code,
        "template_id": resolved.template_id,
        "template_version_id": resolved.version_id,
        "recipient_email": to_email,
        "recipient_name": recipient_name,
        "subject": "",
        "body_html": None,
        "body_text": None,
        "from_email": from_email,
        "from_name": from_name,
        "reply_to": reply_to,
        "status": EmailStatus.PENDING.value,
        "error_message": None,
        "provider": provider,
        "store_id": store_id,
        "user_id": user_id,
        "related_type": related_type,
        "related_id": related_id,
        "extra_data": json.dumps(_extra(extra_data, resolved), default=str),
        "via_store_settings": via_store,
        # Given, not left to the server default: the ORM would otherwise read it back with RETURNING, which
        # turns a batch's executemany into one huge multi-VALUES statement (bench/bench_delivery.py).
        "delivery_ambiguous": False,
        "retry_count": 0,
        "category": resolved.category,
        "created_at": now,
        "updated_at": now,
    }
    return _Draft(values, resolved, context, settings, unsubscribe_url)


def _complete(draft: _Draft, rendered: templates.RenderedEmail | templates.TemplateRenderError, *,
              raise_errors: bool = False, blocking=None) -> None:
    """Fill the row with the rendered email and add it to the session; if it did not render, raise why
    (`raise_errors`) or add it marked failed with the reason. With `blocking` (the suppression that stops
    it) the row is written `suppressed`, saying why, and is never sent."""
    values = draft.values
    if isinstance(rendered, templates.TemplateRenderError):
        if raise_errors:
            raise rendered
        _fail_unrenderable(draft, rendered.english)
        return
    subject = " ".join(rendered.subject.split()) if rendered.subject else ""
    try:
        check_header_text(subject, "subject")
    except UnsafeHeader as exc:
        if raise_errors:
            raise ValidationError(str(exc), field="subject") from None
        _fail_unrenderable(draft, f"Subject: {exc}", notification_texts.phrase("subject_unsafe", error=str(exc)))
        return
    body_html, body_text = rendered.html, rendered.text
    if draft.settings is not None:
        body_html, body_text = add_signature(body_html, body_text, draft.settings)
    if draft.unsubscribe_url is not None:
        body_html, body_text = unsubscribe.add_footer(
            body_html, body_text, draft.unsubscribe_url, draft.resolved.language, draft.recipient.key
        )
    values["subject"] = subject[:500]
    values["body_html"] = body_html
    values["body_text"] = body_text
    if blocking is not None:
        values["status"] = EmailStatus.SUPPRESSED.value
        values["error_message"] = suppression.blocked_message(blocking)


def _fail_unrenderable(draft: _Draft, reason: str, shown_reason: dict | None = None) -> None:
    """`reason` is English (the email log; a render error's words); the admin notification says `shown_reason`
    when the platform wrote the reason (a notification_texts.phrase), else `reason`."""
    values, resolved = draft.values, draft.resolved
    values["status"] = EmailStatus.FAILED.value
    values["error_message"] = f"Not sent: the template could not be rendered. {reason}"[:1000]
    values["subject"] = f"({resolved.code}: not rendered)"
    store_id = values["store_id"]
    notifications.raise_admin_notification_once(
        NotificationType.STORE_ISSUE if store_id else NotificationType.SYSTEM_ALERT,
        text=notification_texts.text(
            "template_unrenderable_store" if resolved.source == "store" else "template_unrenderable_platform",
            template=resolved.code, language=resolved.language, store_id=store_id,
            reason=reason if shown_reason is None else shown_reason,
        ),
        priority=NotificationPriority.HIGH,
        action_url=f"/admin/email-log?status=failed&q={resolved.code}",
        metadata={"template_code": resolved.code, "language": resolved.language, "store_id": store_id,
                  "store_template_id": resolved.store_template_id, "kind": "template_unrenderable"},
    )


def _new_ids(session: AnySession, count: int) -> list[int] | None:
    """On PostgreSQL, the ids taken from the sequence up front: rows with ids are written with one plain
    executemany, whereas rows waiting for RETURNING become one huge multi-VALUES statement that the driver
    parses at length. None elsewhere (SQLite returns them)."""
    if session.get_bind().dialect.name != "postgresql" or not count:
        return None
    with session.no_autoflush:
        return list(session.scalars(
            sa.text("SELECT nextval(pg_get_serial_sequence('email_logs', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        ).all())


# Lookups repeated for every email of a batch are kept for the rest of the transaction; a flush that
# changes a store, its settings or a template, a commit or a rollback forgets them.
_CACHE_KEY = "outbox_lookups"
_BATCH_KEY = "messaging_web.outbox_batch"
_CACHED_TYPES = (Store, StoreEmailSettings, EmailTemplate, StoreEmailTemplate)


def _cache() -> dict:
    return transaction_hooks.per_transaction(db.session, _CACHE_KEY, factory=lambda: {"senders": {}, "templates": {}})


def _sender(store_id: int | None) -> tuple[Store | None, StoreEmailSettings | None]:
    if store_id is None:
        return None, None
    senders = _cache()["senders"]
    if store_id not in senders:
        store = db.session.get(Store, store_id)
        if store is None:
            raise NotFound("No such store.")
        settings = db.session.scalar(sa.select(StoreEmailSettings).where(StoreEmailSettings.store_id == store_id))
        senders[store_id] = (store, settings)
    return senders[store_id]


def _resolve(code: str, store_id: int | None, language: str | None) -> templates.ResolvedTemplate:
    resolved_templates = _cache()["templates"]
    key = (code, store_id, language)
    if key not in resolved_templates:
        resolved_templates[key] = templates.resolve_template(code, store_id=store_id, language=language)
    return resolved_templates[key]


@event.listens_for(Session, "before_flush")
def _forget_changed(session: Session, _context, _instances) -> None:
    if transaction_hooks.existing(session, _CACHE_KEY) is not None and any(
        isinstance(obj, _CACHED_TYPES) for obj in itertools.chain(session.new, session.dirty, session.deleted)
    ):
        transaction_hooks.forget(session, _CACHE_KEY)


def _extra(extra_data: dict | None, resolved) -> dict:
    extra = dict(extra_data or {})
    extra.setdefault("language", resolved.language)
    extra.setdefault("template_source", resolved.source)
    if resolved.store_template_id is not None:
        extra.setdefault("store_template_id", resolved.store_template_id)
    return extra


def add_signature(body_html: str | None, body_text: str | None, settings: StoreEmailSettings):
    """The store's signature under both parts: the text one after the "-- " separator, the HTML one
    before </body> when the document has one."""
    text_signature = (settings.signature_text or "").strip()
    html_signature = (settings.signature_html or "").strip()
    if not html_signature and text_signature:
        html_signature = "<p>" + html.escape(text_signature).replace("\n", "<br>") + "</p>"
    if text_signature:
        body_text = f"{(body_text or '').rstrip()}\n\n-- \n{text_signature}\n"
    if html_signature and body_html:
        block = f'<div class="store-signature">{html_signature}</div>'
        lower = body_html.lower()
        index = lower.rfind("</body>")
        body_html = body_html[:index] + block + body_html[index:] if index != -1 else body_html + block
    return body_html, body_text

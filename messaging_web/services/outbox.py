"""Compose an email from a template and queue it as a pending EmailLog row in the caller's transaction."""
from __future__ import annotations

import html
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import EmailLog, EmailStatus, EmailTemplate, Store, StoreEmailSettings, StoreEmailTemplate
from . import templates
from .dispatcher import dispatch_after_commit
from .errors import NotFound, ValidationError
from .providers.message import UnsafeHeader, check_header_text, normalise_address


def queue_email(template_code: str, to_email: str, context: dict, *, store_id: int | None = None,
                language: str | None = None, recipient_name: str | None = None, user_id: int | None = None,
                related_type: str | None = None, related_id: int | None = None,
                extra_data: dict | None = None) -> EmailLog:
    """Resolve and render the template, add the store signature and write the row `pending` (add +
    flush, no commit); after the caller's commit the dispatcher hands the id to the worker.

    A missing required variable, or a recipient that is not exactly one address, raises
    ValidationError and queues nothing.
    """
    batch = db.session.info.get(_BATCH_KEY)
    row = compose_email(
        template_code, to_email, context, store_id=store_id, language=language, recipient_name=recipient_name,
        user_id=user_id, related_type=related_type, related_id=related_id, extra_data=extra_data,
        flush=batch is None,
    )
    if batch is None:
        dispatch_after_commit(db.session, [row.id])
    else:
        batch.append(row)
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
def batch() -> Iterator[list[EmailLog]]:
    """For a caller that queues many emails at once: inside, queue_email adds each row without its own
    INSERT (rows get their ids at the flush when the block ends, one multi-row INSERT); the rows are
    handed to the dispatcher after the caller's commit, as usual."""
    session = db.session
    if _BATCH_KEY in session.info:
        yield session.info[_BATCH_KEY]
        return
    rows: list[EmailLog] = []
    session.info[_BATCH_KEY] = rows
    try:
        yield rows
        session.flush()
        dispatch_after_commit(session, [row.id for row in rows])
    finally:
        session.info.pop(_BATCH_KEY, None)


def compose_email(template_code: str, to_email: str, context: dict, *, store_id: int | None = None,
                  language: str | None = None, recipient_name: str | None = None, user_id: int | None = None,
                  related_type: str | None = None, related_id: int | None = None, extra_data: dict | None = None,
                  use_store_settings: bool = False, resolved: templates.ResolvedTemplate | None = None,
                  flush: bool = True) -> EmailLog:
    """queue_email without the hand-off: for callers that send the row themselves (verification, tests).

    `use_store_settings` sends through the store's settings even before they are verified;
    `resolved` renders a given template (an editor's draft) instead of resolving `template_code`.
    """
    store, settings = _sender(store_id)
    try:
        to_email = normalise_address(to_email, "recipient address")
        check_header_text(recipient_name, "recipient name")
    except UnsafeHeader as exc:
        raise ValidationError(str(exc), field="to_email") from None

    if resolved is None:
        resolved = _resolve(template_code, store_id, language)
    rendered = templates.render_email(resolved, context)
    subject = " ".join(rendered.subject.split()) if rendered.subject else ""
    try:
        check_header_text(subject, "subject")
    except UnsafeHeader as exc:
        raise ValidationError(str(exc), field="subject") from None

    via_store = bool(settings and settings.is_configured and (settings.is_verified or use_store_settings))
    config = current_app.config
    if via_store:
        from_email, from_name, provider = settings.from_email, settings.from_name, settings.provider
    else:
        from_email = config["MAIL_DEFAULT_SENDER_EMAIL"]
        from_name = store.name if store is not None else config["MAIL_DEFAULT_SENDER_NAME"]
        provider = config.get("MAIL_PROVIDER", "file")
    reply_to = (settings.reply_to_email or settings.from_email) if settings is not None else None

    body_html, body_text = rendered.html, rendered.text
    if settings is not None:
        body_html, body_text = add_signature(body_html, body_text, settings)

    row = EmailLog(
        template_code=resolved.code,
        template_id=resolved.template_id,
        recipient_email=to_email,
        recipient_name=recipient_name,
        subject=subject[:500],
        body_html=body_html,
        body_text=body_text,
        from_email=from_email,
        from_name=from_name,
        reply_to=reply_to,
        status=EmailStatus.PENDING.value,
        provider=provider,
        store_id=store_id,
        user_id=user_id,
        related_type=related_type,
        related_id=related_id,
        extra_data=json.dumps(_extra(extra_data, resolved), default=str),
        via_store_settings=via_store,
        retry_count=0,
    )
    db.session.add(row)
    if flush:
        db.session.flush()
    return row


# Lookups repeated for every email of a batch are kept for the rest of the transaction; a flush that
# changes a store, its settings or a template, a commit or a rollback forgets them.
_CACHE_KEY = "messaging_web.outbox_cache"
_BATCH_KEY = "messaging_web.outbox_batch"
_CACHED_TYPES = (Store, StoreEmailSettings, EmailTemplate, StoreEmailTemplate)


def _cache() -> dict:
    return db.session.info.setdefault(_CACHE_KEY, {"senders": {}, "templates": {}})


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
    if _CACHE_KEY in session.info and any(
        isinstance(obj, _CACHED_TYPES) for obj in itertools.chain(session.new, session.dirty, session.deleted)
    ):
        session.info.pop(_CACHE_KEY, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_all(session: Session) -> None:
    session.info.pop(_CACHE_KEY, None)


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

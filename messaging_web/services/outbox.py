"""Compose an email from a template and queue it as a pending EmailLog row in the caller's transaction."""
from __future__ import annotations

import html
import json

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import EmailLog, EmailStatus, Store, StoreEmailSettings
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
    row = compose_email(
        template_code, to_email, context, store_id=store_id, language=language, recipient_name=recipient_name,
        user_id=user_id, related_type=related_type, related_id=related_id, extra_data=extra_data,
    )
    dispatch_after_commit(db.session, [row.id])
    return row


def compose_email(template_code: str, to_email: str, context: dict, *, store_id: int | None = None,
                  language: str | None = None, recipient_name: str | None = None, user_id: int | None = None,
                  related_type: str | None = None, related_id: int | None = None, extra_data: dict | None = None,
                  use_store_settings: bool = False, resolved: templates.ResolvedTemplate | None = None) -> EmailLog:
    """queue_email without the hand-off: for callers that send the row themselves (verification, tests).

    `use_store_settings` sends through the store's settings even before they are verified;
    `resolved` renders a given template (an editor's draft) instead of resolving `template_code`.
    """
    store = None
    settings = None
    if store_id is not None:
        store = db.session.get(Store, store_id)
        if store is None:
            raise NotFound("No such store.")
        settings = db.session.scalar(sa.select(StoreEmailSettings).where(StoreEmailSettings.store_id == store_id))
    try:
        to_email = normalise_address(to_email, "recipient address")
        check_header_text(recipient_name, "recipient name")
    except UnsafeHeader as exc:
        raise ValidationError(str(exc), field="to_email") from None

    if resolved is None:
        resolved = templates.resolve_template(template_code, store_id=store_id, language=language)
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
    db.session.flush()
    return row


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

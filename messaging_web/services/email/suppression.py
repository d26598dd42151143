"""The suppression list: addresses that get no email (or none of a kind from one store), how they get on it
(bounces, complaints, unsubscribes) and off it (a store's or an admin's removal), with an audit of both.

What a suppression blocks:
- a hard bounce, or SOFT_BOUNCE_LIMIT soft bounces in a row (scope `address`, no store): every email to the
  address, from every store (the mailbox does not exist, and mailing it hurts every sender's reputation);
- a spam complaint (scope `all`, the store's): every email of that store but sign-in and password emails;
- an unsubscribe (scope `all`, `marketing` or `conversations`, the store's): that store's emails of the
  optional kinds it names. Transactional emails (orders, billing, service messages) and `auth` emails are
  never blocked by an unsubscribe.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ...extensions import db
from ...models import (
    EmailCategory,
    EmailLog,
    EmailProvider,
    EmailSuppression,
    SoftBounceRun,
    Store,
    SuppressionAudit,
    SuppressionReason,
    SuppressionScope,
)
from ...models.base import utcnow
from ..pagination import Page, like_pattern, paginate

# The kinds of email a recipient may turn off, by the key an email is filed under (preference_key).
OPTIONAL_KEYS = (SuppressionScope.MARKETING.value, SuppressionScope.CONVERSATIONS.value)
PROVIDER_NAMES = {EmailProvider.SENDGRID.value: "SendGrid", EmailProvider.MAILGUN.value: "Mailgun",
                  EmailProvider.SES.value: "Amazon SES", EmailProvider.SMTP.value: "SMTP"}
REASON_LABELS = {SuppressionReason.HARD_BOUNCE.value: "Hard bounce",
                 SuppressionReason.SOFT_BOUNCES.value: "Soft bounces in a row",
                 SuppressionReason.COMPLAINT.value: "Spam complaint",
                 SuppressionReason.UNSUBSCRIBE.value: "Unsubscribed"}
SCOPE_LABELS = {SuppressionScope.ADDRESS.value: "every email (all stores)",
                SuppressionScope.ALL.value: "everything this store sends",
                SuppressionScope.MARKETING.value: "marketing emails",
                SuppressionScope.CONVERSATIONS.value: "conversation emails"}
_STORE_REASONS = (SuppressionReason.COMPLAINT.value, SuppressionReason.UNSUBSCRIBE.value)


def normalise(email: str) -> str:
    return email.strip().lower()


def preference_key(category: str | None, related_type: str | None) -> str:
    """What an email is filed under for unsubscribing: conversation notifications, else its category."""
    return SuppressionScope.CONVERSATIONS.value if related_type == "conversation" else (category or "")


def provider_name(provider: str | None) -> str:
    return PROVIDER_NAMES.get(provider or "", provider or "the platform")


def blocks(suppression: EmailSuppression, *, store_id: int | None, category: str | None, key: str) -> bool:
    """Whether `suppression` stops an email of `store_id` (None: the platform's), `category` and `key`."""
    if suppression.scope == SuppressionScope.ADDRESS.value:
        return True
    if suppression.store_id != store_id or category == EmailCategory.AUTH.value:
        return False
    if suppression.reason == SuppressionReason.COMPLAINT.value:
        return True
    if suppression.scope == SuppressionScope.ALL.value:
        return key in OPTIONAL_KEYS
    return suppression.scope == key


@dataclass(frozen=True)
class Recipient:
    email: str
    store_id: int | None
    category: str | None
    key: str


def find_blocking(recipients: list[Recipient], session=None) -> list[EmailSuppression | None]:
    """For each recipient, the suppression that stops its email, or None; one indexed query for them all."""
    if not recipients:
        return []
    emails = sorted({normalise(r.email) for r in recipients})
    store_ids = sorted({r.store_id for r in recipients if r.store_id is not None})
    rows = (session or db.session).scalars(
        sa.select(EmailSuppression).where(
            EmailSuppression.email.in_(emails),
            sa.or_(EmailSuppression.store_id.is_(None), EmailSuppression.store_id.in_(store_ids)),
        ).order_by(EmailSuppression.id)
    ).all()
    by_email: dict[str, list[EmailSuppression]] = {}
    for row in rows:
        by_email.setdefault(row.email, []).append(row)
    found: list[EmailSuppression | None] = []
    for r in recipients:
        candidates = by_email.get(normalise(r.email), [])
        found.append(next((s for s in candidates
                           if blocks(s, store_id=r.store_id, category=r.category, key=r.key)), None))
    return found


def recipient_of(row: EmailLog) -> Recipient:
    return recipient(row.recipient_email, row.store_id, row.category, row.related_type)


def recipient(email: str, store_id: int | None, category: str | None, related_type: str | None) -> Recipient:
    return Recipient(email, store_id, category, preference_key(category, related_type))


def blocked_message(suppression: EmailSuppression) -> str:
    return f"Suppressed: {suppression.detail}"[:1000]


# --- on the list --------------------------------------------------------------------------------


def suppress(email: str, *, store_id: int | None, scope: str, reason: str, detail: str, actor: str,
             provider: str | None = None, source_email_log_id: int | None = None,
             actor_user_id: int | None = None) -> EmailSuppression | None:
    """Put the address on the list (flush, no commit); returns the new row, or None when an equal or
    stronger suppression already covers it (a replayed event, a second click). A complaint replaces an
    unsubscribe of the same scope (it is the stronger statement)."""
    email = normalise(email)
    existing = db.session.scalar(
        sa.select(EmailSuppression).where(
            EmailSuppression.email == email, EmailSuppression.scope == scope,
            EmailSuppression.store_id.is_(None) if store_id is None else EmailSuppression.store_id == store_id,
        ).with_for_update()
    )
    if existing is not None:
        stronger = (reason == SuppressionReason.COMPLAINT.value
                    and existing.reason == SuppressionReason.UNSUBSCRIBE.value)
        if not stronger:
            return None
        existing.reason, existing.detail = reason, detail[:500]
        existing.provider, existing.source_email_log_id = provider, source_email_log_id
        _audit(existing, "added", actor, actor_user_id)
        db.session.flush()
        return existing
    row = EmailSuppression(email=email, store_id=store_id, scope=scope, reason=reason, detail=detail[:500],
                           provider=provider, source_email_log_id=source_email_log_id)
    try:
        # A savepoint: two events about one address at once must not fail the caller's transaction.
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except sa.exc.IntegrityError:
        return None  # the other one wrote it first
    _audit(row, "added", actor, actor_user_id)
    db.session.flush()
    return row


def _audit(row: EmailSuppression, action: str, actor: str, actor_user_id: int | None) -> None:
    db.session.add(SuppressionAudit(
        email=row.email, store_id=row.store_id, scope=row.scope, reason=row.reason, action=action,
        actor=actor[:255], actor_user_id=actor_user_id,
    ))


def _day(moment: dt.datetime | None) -> str:
    return (moment or utcnow()).astimezone(dt.UTC).date().isoformat()


def record_hard_bounce(row: EmailLog, occurred_at: dt.datetime, reason: str | None) -> None:
    name = provider_name(row.provider)
    detail = f"hard bounce on {_day(occurred_at)} via {name}" + (f" ({reason[:200]})" if reason else "")
    suppress(row.recipient_email, store_id=None, scope=SuppressionScope.ADDRESS.value,
             reason=SuppressionReason.HARD_BOUNCE.value, detail=detail, actor=name, provider=row.provider,
             source_email_log_id=row.id)
    _end_soft_bounce_run(row.recipient_email)


def _end_soft_bounce_run(email: str) -> None:
    db.session.execute(sa.delete(SoftBounceRun).where(SoftBounceRun.email == normalise(email)))


def record_soft_bounce(row: EmailLog, occurred_at: dt.datetime) -> None:
    """One more soft bounce in the address's run; at SOFT_BOUNCE_LIMIT the address is suppressed."""
    email = normalise(row.recipient_email)
    run = db.session.get(SoftBounceRun, email, with_for_update=True)
    if run is None:
        run = SoftBounceRun(email=email, count=0, last_bounced_at=occurred_at)
        try:
            with db.session.begin_nested():
                db.session.add(run)
                db.session.flush()
        except sa.exc.IntegrityError:
            run = db.session.get_one(SoftBounceRun, email, with_for_update=True)
    run.count += 1
    run.last_bounced_at = occurred_at
    limit = current_app.config["SOFT_BOUNCE_LIMIT"]
    if run.count >= limit:
        name = provider_name(row.provider)
        suppress(email, store_id=None, scope=SuppressionScope.ADDRESS.value,
                 reason=SuppressionReason.SOFT_BOUNCES.value,
                 detail=f"{run.count} soft bounces in a row, the last on {_day(occurred_at)} via {name}",
                 actor=name, provider=row.provider, source_email_log_id=row.id)
    db.session.flush()


def record_delivery(row: EmailLog) -> None:
    """A delivery ends the address's run of soft bounces."""
    _end_soft_bounce_run(row.recipient_email)


def record_complaint(row: EmailLog, occurred_at: dt.datetime) -> None:
    name = provider_name(row.provider)
    suppress(row.recipient_email, store_id=row.store_id, scope=SuppressionScope.ALL.value,
             reason=SuppressionReason.COMPLAINT.value,
             detail=f"spam complaint on {_day(occurred_at)} via {name}", actor=name, provider=row.provider,
             source_email_log_id=row.id)


def record_unsubscribe(email: str, *, store_id: int | None, scope: str, how: str) -> EmailSuppression | None:
    label = SCOPE_LABELS[scope] if scope != SuppressionScope.ALL.value else "everything optional"
    return suppress(email, store_id=store_id, scope=scope, reason=SuppressionReason.UNSUBSCRIBE.value,
                    detail=f"unsubscribed from {label} on {_day(None)} ({how})", actor="The recipient")


def resubscribe(email: str, *, store_id: int | None, scope: str) -> None:
    """The recipient turned a kind back on (the preference page): the store's suppressions of it go."""
    for row in db.session.scalars(_store_rows(email, store_id).where(EmailSuppression.scope == scope)):
        _remove(row, "The recipient", None)


def _store_rows(email: str, store_id: int | None) -> sa.Select:
    return sa.select(EmailSuppression).where(
        EmailSuppression.email == normalise(email), EmailSuppression.reason.in_(_STORE_REASONS),
        EmailSuppression.store_id.is_(None) if store_id is None else EmailSuppression.store_id == store_id,
    )


def store_suppressions_of(email: str, store_id: int | None) -> list[EmailSuppression]:
    """The store's own suppressions of the address (complaints, unsubscribes), for its preference page."""
    return list(db.session.scalars(_store_rows(email, store_id)))


# --- off the list ------------------------------------------------------------------------------


def remove(row: EmailSuppression, *, actor: str, actor_user_id: int | None) -> None:
    """A store or an admin takes an address off the list (access.access_suppression decided who may)."""
    _remove(row, actor, actor_user_id)


def _remove(row: EmailSuppression, actor: str, actor_user_id: int | None) -> None:
    _audit(row, "removed", actor, actor_user_id)
    if row.scope == SuppressionScope.ADDRESS.value:
        _end_soft_bounce_run(row.email)
    db.session.delete(row)
    db.session.flush()


# --- the lists ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuppressionFilters:
    search: str | None = None
    reason: str | None = None
    store_id: int | None = None  # admins: one store's list
    store_search: str | None = None  # admins: the lists of stores whose name has this
    platform_only: bool = False  # admins: the platform-wide list (bounces)


def search_suppressions(filters: SuppressionFilters, *, page: int, per_page: int,
                        only_store_id: int | None = None) -> Page:
    """Newest first; a store sees its own rows and the platform-wide rows of addresses it has emailed
    (so it learns why its emails to them are not sent) but can remove only its own."""
    query = sa.select(EmailSuppression)
    if only_store_id is not None:
        emailed = sa.select(EmailLog.id).where(
            EmailLog.store_id == only_store_id, EmailLog.recipient_email == EmailSuppression.email
        ).exists()
        query = query.where(sa.or_(
            EmailSuppression.store_id == only_store_id,
            sa.and_(EmailSuppression.store_id.is_(None), EmailSuppression.scope == SuppressionScope.ADDRESS.value,
                    emailed),
        ))
    elif filters.platform_only:
        query = query.where(EmailSuppression.store_id.is_(None))
    elif filters.store_id is not None:
        query = query.where(EmailSuppression.store_id == filters.store_id)
    elif filters.store_search:
        pattern = like_pattern(filters.store_search)
        named = sa.select(Store.id).where(sa.func.lower(Store.name).like(pattern, escape="\\"))
        query = query.where(EmailSuppression.store_id.in_(named))
    if filters.reason in SuppressionReason.values():
        query = query.where(EmailSuppression.reason == filters.reason)
    if filters.search:
        query = query.where(EmailSuppression.email.like(like_pattern(filters.search), escape="\\"))
    return paginate(query.order_by(EmailSuppression.id.desc()), page=page, per_page=per_page)


def audit_of(email: str, *, only_store_id: int | None) -> list[SuppressionAudit]:
    query = sa.select(SuppressionAudit).where(SuppressionAudit.email == normalise(email))
    if only_store_id is not None:
        query = query.where(sa.or_(SuppressionAudit.store_id == only_store_id, SuppressionAudit.store_id.is_(None)))
    return list(db.session.scalars(query.order_by(SuppressionAudit.id.desc()).limit(50)))

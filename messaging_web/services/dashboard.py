"""What the portals' home pages sum up: a store's messages, sending set-up, recent emails and templates;
the platform's recent emails. A handful of aggregate queries, whatever the size of the data."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from .. import access
from ..actors import Actor
from ..extensions import db
from ..models import Conversation, StoreEmailSettings, StoreEmailTemplate
from ..models.base import utcnow
from .email import deliverability, email_log

RECENT = dt.timedelta(days=30)


@dataclass(frozen=True)
class SendingSetup:
    state: str  # "platform" (not set up: the platform's sender), "unverified", "verified"
    provider: str | None = None
    verified_at: dt.datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class StoreOverview:
    open_conversations: int
    sending: SendingSetup
    recent_emails: dict[str, int]  # by status, over RECENT
    customized_templates: int
    deliverability_warnings: list[deliverability.RateWarning]


def store_overview(actor: Actor, store_id: int) -> StoreOverview:
    open_conversations = db.session.scalar(
        sa.select(sa.func.count()).select_from(Conversation)
        .where(access.conversation_visibility(actor), Conversation.is_closed.is_(False))
    )
    settings = db.session.execute(
        sa.select(StoreEmailSettings.provider, StoreEmailSettings.is_configured, StoreEmailSettings.is_verified,
                  StoreEmailSettings.last_verified_at, StoreEmailSettings.verification_error)
        .where(StoreEmailSettings.store_id == store_id)
    ).first()
    if settings is None or not settings.is_configured:
        sending = SendingSetup("platform")
    elif settings.is_verified:
        sending = SendingSetup("verified", settings.provider, settings.last_verified_at)
    else:
        sending = SendingSetup("unverified", settings.provider, error=settings.verification_error)
    customized = db.session.scalar(
        sa.select(sa.func.count()).select_from(StoreEmailTemplate).where(StoreEmailTemplate.store_id == store_id)
    )
    return StoreOverview(
        open_conversations=open_conversations or 0, sending=sending,
        recent_emails=email_log.status_counts(since=utcnow() - RECENT, only_store_id=store_id),
        customized_templates=customized or 0,
        deliverability_warnings=deliverability.warnings_for(store_id),
    )


def platform_recent_emails() -> dict[str, int]:
    return email_log.status_counts(since=utcnow() - RECENT)

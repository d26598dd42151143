"""The undelivered replies list: received emails that could not be placed, and what people decide about them.

A held email waits until a person of the store (or a platform admin) accepts it into its thread, posted as the
participant its reply address named (the person vouches for it: a reply from the customer's other address,
say), or discards it. Who decided and when stays on the row; a discarded email keeps its text.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ... import access
from ...actors import Actor
from ...extensions import db
from ...i18n import _l
from ...models import ConversationParticipant, InboundEmail, InboundStatus
from ...models.base import utcnow
from ..errors import NotFound, ValidationError
from ..pagination import Page, like_pattern, paginate
from .parsing import MalformedEmail, ParsedEmail, parse_email
from .receiving import REASONS, participant_actor, post_reply

LIST_FILTERS = {
    "held": (InboundStatus.HELD,),
    "decided": (InboundStatus.ACCEPTED, InboundStatus.DISCARDED),
    "ignored": (InboundStatus.IGNORED,),
    "posted": (InboundStatus.POSTED,),
}


@dataclass(frozen=True)
class InboundFilters:
    status: str = "held"  # a key of LIST_FILTERS
    search: str = ""


def list_inbound_emails(actor: Actor, filters: InboundFilters, *, page: int, per_page: int) -> Page:
    """The received emails the actor may see, newest first, by status, searched in sender and subject."""
    statuses = [s.value for s in LIST_FILTERS.get(filters.status, LIST_FILTERS["held"])]
    stmt = access.visible_inbound_emails(actor).where(InboundEmail.status.in_(statuses))
    if filters.search.strip():
        pattern = like_pattern(filters.search)
        stmt = stmt.where(sa.or_(
            sa.func.lower(InboundEmail.from_email).like(pattern, escape="\\"),
            sa.func.lower(InboundEmail.subject).like(pattern, escape="\\"),
        ))
    stmt = stmt.order_by(InboundEmail.created_at.desc(), InboundEmail.id.desc())
    return paginate(stmt, page=page, per_page=per_page)


def held_count(actor: Actor) -> int:
    """How many received emails wait for the actor's decision (the nav badge)."""
    if not (actor.is_admin or actor.is_store_user):
        return 0
    visible = access.visible_inbound_emails(actor).where(InboundEmail.status == InboundStatus.HELD.value)
    return db.session.scalar(sa.select(sa.func.count()).select_from(visible.subquery())) or 0


def acceptance_problem(row: InboundEmail):
    """Why this held email cannot be accepted into a thread, or None when it can."""
    if row.status != InboundStatus.HELD.value:
        return _l("It is no longer waiting for a decision.")
    if row.participant_id is None:
        return _l("It names no conversation (its reply address was unknown or forged): it can only be discarded.")
    participant = db.session.get(ConversationParticipant, row.participant_id)
    if participant is None or participant_actor(participant) is None:
        return _l("The person it would be posted as no longer has an account here.")
    if row.reason == "too_large" or row.raw is None:
        return _l("It was too large to keep: ask the sender to write in the portal.")
    return None


def accept(actor: Actor, row: InboundEmail) -> None:
    """Post a held email into its thread as the participant its address named (add + flush)."""
    problem = acceptance_problem(row)
    if problem is not None:
        raise ValidationError(_l("This reply cannot be accepted: %(problem)s", problem=problem))
    assert row.participant_id is not None and row.raw is not None  # acceptance_problem checked both
    participant = db.session.get_one(ConversationParticipant, row.participant_id)
    poster = participant_actor(participant)
    assert poster is not None
    parsed = _parsed(row)
    files = parsed.files if parsed is not None else []  # unreadable: only its text can be accepted
    row.decided_by_type = actor.kind
    row.decided_by_id = actor.id
    row.decided_at = utcnow()
    try:
        post_reply(poster, row, files, text=row.reply_text or (parsed.text if parsed is not None else ""))
    except NotFound:
        raise ValidationError(_l("This reply cannot be accepted: the person it would be posted as can no longer "
                                 "see the conversation.")) from None


def full_text(row: InboundEmail) -> str | None:
    """The whole body as text, quotes and all, for "show full email"; None when it cannot be read. Read from
    the raw email kept on the row, rather than stored twice: it is read rarely, and written with every reply."""
    parsed = _parsed(row)
    return parsed.text if parsed is not None else None


def _parsed(row: InboundEmail) -> ParsedEmail | None:
    if row.raw is None:  # too large: not kept
        return None
    try:
        return parse_email(row.raw, max_parts=int(current_app.config["INBOUND_EMAIL_MAX_PARTS"]))
    except MalformedEmail:
        return None


def discard(actor: Actor, row: InboundEmail) -> None:
    """Set a held email aside for good (add + flush); its text stays for the record."""
    if row.status != InboundStatus.HELD.value:
        raise ValidationError(_l("This reply is no longer waiting for a decision."))
    row.status = InboundStatus.DISCARDED.value
    row.decided_by_type = actor.kind
    row.decided_by_id = actor.id
    row.decided_at = utcnow()
    db.session.flush()


def reason_text(row: InboundEmail) -> str:
    return row.reason_detail or REASONS.get(row.reason or "", "")

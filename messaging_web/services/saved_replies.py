"""Saved replies: a store team's (or the platform team's) named answers, per language, inserted from the
composer with the conversation's details filled in.

A reply's body is plain text with three placeholders, {customer_name}, {store_name} and {order_reference}
(the "#1042" or "A-10045" a conversation's subject names), filled in by plain replacement: no template
language, so nothing a team member writes can run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ..actors import Actor
from ..extensions import db
from ..i18n import _l
from ..models import Conversation, SavedReply
from .errors import NotFound, PermissionDenied, ValidationError, number
from .pagination import like_pattern

LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch"}
PLACEHOLDERS = ("customer_name", "store_name", "order_reference")
NAME_MAX_LENGTH = 120
_ORDER_REFERENCE = re.compile(r"(#\s?\d{3,}|\b[A-Z]{1,3}-\d{3,}\b)")


@dataclass(frozen=True)
class SavedReplyInput:
    name: str
    language: str
    body: str


def _owner_store_id(actor: Actor) -> int | None:
    """Whose replies the actor keeps: their store's, or (platform admins) the platform team's."""
    if actor.is_admin:
        return None
    if actor.is_store_user and actor.store_id is not None:
        return actor.store_id
    raise PermissionDenied(_l("Only store teams and the platform team keep saved replies."))


def _own(actor: Actor) -> sa.ColumnElement[bool]:
    store_id = _owner_store_id(actor)
    return SavedReply.store_id.is_(None) if store_id is None else SavedReply.store_id == store_id


def list_saved_replies(actor: Actor, *, search: str = "", language: str | None = None,
                       limit: int = 200) -> list[SavedReply]:
    stmt = sa.select(SavedReply).where(_own(actor))
    term = search.replace("\x00", "").strip()
    if term:
        pattern = like_pattern(term)
        stmt = stmt.where(sa.or_(
            SavedReply.name.ilike(pattern, escape="\\"), SavedReply.body.ilike(pattern, escape="\\"),
        ))
    if language:
        stmt = stmt.where(SavedReply.language == language)
    return list(db.session.scalars(stmt.order_by(SavedReply.name, SavedReply.language, SavedReply.id).limit(limit)))


def access_saved_reply(actor: Actor, reply_id: int) -> SavedReply:
    """One of the actor's own saved replies; another store's is a NotFound, like a missing one."""
    reply = db.session.scalar(sa.select(SavedReply).where(SavedReply.id == reply_id, _own(actor)))
    if reply is None:
        raise NotFound("No such saved reply.")
    return reply


def _clean(actor: Actor, data: SavedReplyInput, *, editing: SavedReply | None = None) -> SavedReplyInput:
    name = " ".join((data.name or "").replace("\x00", "").split())
    body = (data.body or "").replace("\x00", "").replace("\r\n", "\n").strip()
    if not name:
        raise ValidationError(_l("Give the reply a name."), field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            _l("The name is too long: at most %(num)d characters.", num=NAME_MAX_LENGTH), field="name"
        )
    if data.language not in LANGUAGES:
        raise ValidationError(_l("Choose one of the languages offered."), field="language")
    if not body:
        raise ValidationError(_l("Write the reply's text."), field="body")
    limit = current_app.config["MESSAGE_MAX_LENGTH"]
    if len(body) > limit:
        raise ValidationError(
            _l("The reply is too long: at most %(limit)s characters, as for a message.", limit=number(limit)),
            field="body",
        )
    same_name = db.session.scalar(sa.select(SavedReply.id).where(
        _own(actor), SavedReply.language == data.language, sa.func.lower(SavedReply.name) == name.lower(),
    ))
    if same_name is not None and (editing is None or same_name != editing.id):
        raise ValidationError(_l("A saved reply with this name exists in this language already."), field="name")
    return SavedReplyInput(name=name, language=data.language, body=body)


def create_saved_reply(actor: Actor, data: SavedReplyInput) -> SavedReply:
    clean = _clean(actor, data)
    reply = SavedReply(store_id=_owner_store_id(actor), name=clean.name, language=clean.language, body=clean.body,
                       created_by_id=actor.id)
    db.session.add(reply)
    db.session.flush()
    return reply


def update_saved_reply(actor: Actor, reply: SavedReply, data: SavedReplyInput) -> SavedReply:
    clean = _clean(actor, data, editing=reply)
    reply.name, reply.language, reply.body = clean.name, clean.language, clean.body
    db.session.flush()
    return reply


def delete_saved_reply(actor: Actor, reply: SavedReply) -> None:
    db.session.delete(reply)
    db.session.flush()


def conversation_language(conversation: Conversation) -> str:
    """The language a conversation is written in, as far as we know: the customer's, else the store's."""
    if conversation.customer is not None and conversation.customer.preferred_language in LANGUAGES:
        return conversation.customer.preferred_language
    if conversation.store is not None and conversation.store.default_language in LANGUAGES:
        return conversation.store.default_language
    return "en"


def order_reference(subject: str) -> str:
    found = _ORDER_REFERENCE.search(subject or "")
    return found.group(1).replace(" ", "") if found else ""


def fill_in(reply: SavedReply, conversation: Conversation) -> str:
    """The reply's text for this conversation, its placeholders replaced (an unknown value by nothing)."""
    values = {
        "customer_name": conversation.customer.name if conversation.customer is not None else "",
        "store_name": conversation.store.name if conversation.store is not None else "",
        "order_reference": order_reference(conversation.subject),
    }
    text = reply.body
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def replies_for_conversation(
    actor: Actor, conversation: Conversation, search: str = "",
) -> list[tuple[SavedReply, str]]:
    """The actor's replies for the composer of this conversation, each with its filled-in text: those in the
    conversation's language first, then the others."""
    language = conversation_language(conversation)
    replies = list_saved_replies(actor, search=search, limit=50)
    replies.sort(key=lambda r: (r.language != language, r.name.lower()))
    return [(reply, fill_in(reply, conversation)) for reply in replies[:20]]

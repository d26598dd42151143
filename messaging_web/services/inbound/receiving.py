"""The one path every received email takes, whichever way it arrived (our SMTP receiver, SendGrid Inbound
Parse, Mailgun routes, SES receiving): record it, then post it in its thread as the participant its reply
address names, or hold it for a person, or ignore it when a machine sent it.

An email is placed only when the reply address's signature is right, the sender is that participant's own
address, and the participant may still see the thread (the same access rule as the portals). Anything else
is held in the undelivered replies list (services/inbound/decisions.py) and its sender told once, politely;
machine-sent mail (auto-replies, reports, lists, our own) is never posted and never answered.
"""
from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import functools
import hashlib
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from ... import access
from ...actors import Actor
from ...extensions import db
from ...models import (
    Conversation,
    ConversationParticipant,
    Customer,
    InboundEmail,
    InboundSource,
    InboundStatus,
    Message,
    ParticipantType,
    User,
)
from ...models.base import utcnow
from .. import conversations
from ..attachments import Upload, UploadRefused
from ..email import outbox
from ..errors import DomainError, NotFound, ValidationError
from .addresses import ReplyAddress, read_reply_address
from .parsing import MalformedEmail, ParsedEmail, parse_email, reply_text

log = logging.getLogger(__name__)

BOUNCE_TEMPLATE = "inbound_reply_not_delivered"
BOUNCE_INTERVAL = dt.timedelta(hours=1)  # at most one answer per sender address in this time


# Why an email was held or ignored: the code stored on the row, and the sentence people read.
REASONS = {
    "too_large": "The email is larger than the limit for replies.",
    "malformed": "The email could not be read.",
    "no_reply_address": "The email was not sent to a reply address of a conversation.",
    "forged_address": "The reply address is not valid (it was changed or made up).",
    "unknown_participant": "The conversation or person this reply address belonged to no longer exists.",
    "wrong_sender": "The email came from an address other than the one the conversation's email was sent to.",
    "no_access": "The sender can no longer see this conversation.",
    "not_postable": "The email's text could not be posted as a message.",
    "automatic": "An automatic email (auto-reply, delivery report or list mail); it is never posted.",
    "own": "One of our own emails came back; it is never posted.",
}


@dataclass(frozen=True)
class InboundLimits:
    max_bytes: int
    max_parts: int

    @classmethod
    def from_config(cls, config) -> InboundLimits:
        return cls(max_bytes=int(config["INBOUND_EMAIL_MAX_BYTES"]), max_parts=int(config["INBOUND_EMAIL_MAX_PARTS"]))


def receive(raw: bytes, *, source: InboundSource | str, envelope_sender: str | None = None,
            envelope_recipients: tuple[str, ...] = ()) -> InboundEmail:
    """Record and place one received email (add + flush; the caller commits). The same email delivered
    again (a provider's retry) returns the first delivery's row and posts nothing."""
    limits = InboundLimits.from_config(current_app.config)
    source = InboundSource(source)
    if len(raw) > limits.max_bytes:
        return _record_unreadable(raw, source, envelope_sender, envelope_recipients, "too_large",
                                  f"{REASONS['too_large']} ({len(raw):,} bytes; at most {limits.max_bytes:,}).")
    try:
        parsed = parse_email(raw, max_parts=limits.max_parts, envelope_sender=envelope_sender,
                             envelope_recipients=envelope_recipients)
    except MalformedEmail as exc:
        return _record_unreadable(raw, source, envelope_sender, envelope_recipients, "malformed", str(exc))
    reply = _reply_address(parsed)
    row = _new_row(raw, source, envelope_sender, parsed, reply)
    try:
        # The row joins the session once its outcome is known, so it is written with one INSERT, before
        # anything else is written (a message, an answer to the sender). A delivery again of the same email
        # (a provider's retry: rare) is found by that INSERT, through the unique key, not by a query first.
        _place(row, parsed, reply)
        db.session.add(row)
        db.session.flush()
    except IntegrityError:
        # The same email was recorded before, or concurrently: this delivery is the duplicate. This rolls
        # back the caller's transaction, which holds nothing but this email's work.
        db.session.rollback()
        existing = _recorded(row.dedupe_key)
        if existing is None:
            raise
        return existing
    return row


def _recorded(dedupe_key: str) -> InboundEmail | None:
    return db.session.scalar(sa.select(InboundEmail).where(InboundEmail.dedupe_key == dedupe_key))


def _reply_address(parsed: ParsedEmail) -> ReplyAddress | None:
    """The first valid reply address among the recipients, else the first forged one, else None."""
    found = [address for address in map(read_reply_address, parsed.recipients) if address is not None]
    return next((a for a in found if a.participant_id is not None), found[0] if found else None)


def _dedupe_key(identity: str, reply_address: str) -> str:
    return hashlib.sha256(f"{identity}\n{reply_address}".encode("utf-8", "replace")).hexdigest()


def _new_row(raw: bytes, source: InboundSource, envelope_sender: str | None, parsed: ParsedEmail,
             reply: ReplyAddress | None) -> InboundEmail:
    identity = parsed.message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    return InboundEmail(
        source=source.value, dedupe_key=_dedupe_key(identity, reply.address if reply else ""),
        message_id_header=(parsed.message_id or "")[:998] or None,
        envelope_sender=(envelope_sender or "")[:320] or None,
        from_email=parsed.from_email, from_name=parsed.from_name,
        recipient=reply.address[:320] if reply else (parsed.recipients[0][:320] if parsed.recipients else None),
        subject=parsed.subject or None, status=InboundStatus.HELD.value, reason=None, reason_detail=None,
        raw=raw, raw_size=len(raw),
        attachment_count=len(parsed.files), bounce_sent=False,
    )


def _insert_once(row: InboundEmail) -> InboundEmail | None:
    """Add the row; if an email with the same key was recorded before (or meanwhile, by a concurrent
    delivery), return that one instead."""
    existing = _recorded(row.dedupe_key)
    if existing is not None:
        return existing
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return db.session.scalars(sa.select(InboundEmail).where(InboundEmail.dedupe_key == row.dedupe_key)).one()
    return None


def _record_unreadable(raw: bytes, source: InboundSource, envelope_sender: str | None,
                       envelope_recipients: tuple[str, ...], reason: str, detail: str) -> InboundEmail:
    """A held row for an email we cannot read in full: its headers, if they can be read, say who sent it."""
    keep = reason != "too_large"
    head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[:64 * 1024])
    message_id = " ".join(str(head.get("Message-ID") or "").split())[:998] or None
    sender = email.utils.parseaddr(" ".join(str(head.get("From") or "").split()))[1].lower() or None
    subject = " ".join(str(head.get("Subject") or "").split())[:500] or None
    identity = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    row = InboundEmail(
        source=source.value, dedupe_key=_dedupe_key(identity, ",".join(envelope_recipients)),
        message_id_header=message_id, envelope_sender=(envelope_sender or "")[:320] or None,
        from_email=sender[:320] if sender and "@" in sender else None, subject=subject,
        recipient=(envelope_recipients[0][:320] if envelope_recipients else None),
        status=InboundStatus.HELD.value, reason=reason, reason_detail=detail,
        raw=raw if keep else None, raw_size=len(raw), attachment_count=0, bounce_sent=False,
    )
    existing = _insert_once(row)
    if existing is not None:
        return existing
    automatic = _machine_sent_headers(head, envelope_sender)
    if automatic is None and row.from_email:
        _bounce(row, detail)
    db.session.flush()
    return row


def _machine_sent_headers(head, envelope_sender: str | None) -> str | None:
    from .parsing import machine_sent

    try:
        return machine_sent(head, envelope_sender, None)
    except Exception:  # headers we cannot even read: answer nobody
        return "unreadable headers"


def _hold(row: InboundEmail, reason: str, detail: str | None = None, *, answer: bool = True) -> None:
    if row.conversation_id is not None and row.store_id is None:
        # The store whose list shows it (NULL: the platform's list).
        row.store_id = db.session.scalar(sa.select(Conversation.store_id).where(Conversation.id == row.conversation_id))
    row.status = InboundStatus.HELD.value
    row.reason = reason
    row.reason_detail = detail or REASONS[reason]
    db.session.add(row)
    db.session.flush()  # the answer names the row
    if answer:
        _bounce(row, row.reason_detail)


def _place(row: InboundEmail, parsed: ParsedEmail, reply: ReplyAddress | None) -> None:
    if parsed.own or parsed.automatic:
        row.status = InboundStatus.IGNORED.value
        row.reason = "own" if parsed.own else "automatic"
        row.reason_detail = REASONS["own"] if parsed.own else f"{REASONS['automatic']} It is {parsed.automatic}."
        return
    row.reply_text = reply_text(parsed.text)
    if reply is None:
        _hold(row, "no_reply_address")
        return
    if reply.participant_id is None:
        _hold(row, "forged_address")
        return
    participant, actor = _participant_and_actor(reply.participant_id)
    if participant is None:
        _hold(row, "unknown_participant")
        return
    row.participant_id = participant.id
    row.conversation_id = participant.conversation_id
    row.store_id = participant.store_id  # a store team's or customer's reader row names the store
    if actor is None:
        _hold(row, "no_access")
        return
    if (parsed.from_email or "") != actor.email.strip().lower():
        _hold(row, "wrong_sender", f"{REASONS['wrong_sender']} ({parsed.from_email or 'no sender'})")
        return
    row.status = InboundStatus.POSTED.value
    db.session.add(row)
    db.session.flush()  # the message names the row
    try:
        post_reply(actor, row, parsed.files)
    except NotFound:
        _hold(row, "no_access")
    except ValidationError as exc:
        _hold(row, "not_postable", f"{REASONS['not_postable']} {exc.english}")


def _participant_and_actor(participant_id: int) -> tuple[ConversationParticipant | None, Actor | None]:
    """The reader row and its account as an Actor (None when the account is gone or deactivated), in one
    query: participant_actor's two lookups were a fifth of a reply's round trips."""
    found = db.session.execute(_participant_with_account(), {"participant_id": participant_id}).first()
    if found is None:
        return None, None
    participant, customer, user = found
    if participant.participant_type is ParticipantType.CUSTOMER:
        return participant, Actor.for_customer(customer) if customer is not None and customer.is_active else None
    return participant, Actor.for_user(user) if user is not None and user.is_active else None


@functools.cache
def _participant_with_account() -> sa.Select[ConversationParticipant, Customer, User]:
    P = ConversationParticipant
    return (
        sa.select(P, Customer, User)
        .outerjoin(Customer, sa.and_(P.participant_type == ParticipantType.CUSTOMER, Customer.id == P.participant_id))
        .outerjoin(User, sa.and_(P.participant_type != ParticipantType.CUSTOMER, User.id == P.participant_id))
        .where(P.id == sa.bindparam("participant_id", type_=sa.Integer))
    )


def participant_actor(participant: ConversationParticipant) -> Actor | None:
    """The participant's account as an Actor, or None when the account is gone or deactivated."""
    if participant.participant_type is ParticipantType.CUSTOMER:
        customer = db.session.get(Customer, participant.participant_id)
        return Actor.for_customer(customer) if customer is not None and customer.is_active else None
    user = db.session.get(User, participant.participant_id)
    return Actor.for_user(user) if user is not None and user.is_active else None


def post_reply(actor: Actor, row: InboundEmail, files: list, *, text: str | None = None) -> Message:
    """Post the reply in its thread as `actor`, through the portals' own post_message: the thread is loaded
    through the access rule (NotFound when the actor lost it), a closed thread reopens, the other readers
    get their unread counts and notifications. Files the attachment rules refuse are left out and named on
    the message; the rest are kept. Raises ValidationError when even the text cannot be posted."""
    assert row.conversation_id is not None
    conversation = access.access_conversation(actor, row.conversation_id)
    content = row.reply_text if text is None else text
    uploads = [Upload.from_bytes(f.filename, f.data) for f in files]
    refused: list[str] = []
    # post_message refuses files and text before it writes anything, so a refusal needs no savepoint.
    if row.id is None:
        db.session.add(row)
        db.session.flush()  # the message names the row
    try:
        message = conversations.post_message(actor, conversation, content or "", uploads, inbound_email_id=row.id)
    except UploadRefused as exc:
        refused = [r.filename or f"{len(uploads)} files" for r in exc.refusals]
        message = None
    if message is None:
        # Post again with the files that passed on their own; a refusal of the batch as a whole (too many,
        # too large together) leaves all of them out.
        named = {r for r in refused}
        kept = [u for u in uploads if u.filename not in named] if all(r in {u.filename for u in uploads}
                                                                       for r in refused) else []
        for upload in kept:
            upload.stream.seek(0)
        if not kept:
            refused = [u.filename or "attachment" for u in uploads]
        message = conversations.post_message(
            actor, conversation, content or "", kept, inbound_email_id=row.id, refused_files=refused,
        )
    row.store_id = conversation.store_id
    row.status = InboundStatus.POSTED.value if row.decided_at is None else InboundStatus.ACCEPTED.value
    if row.reason is not None or row.reason_detail is not None:  # a held email, accepted
        row.reason = None
        row.reason_detail = None
    db.session.flush()
    return message


def _bounce(row: InboundEmail, reason: str) -> None:
    """Tell the sender, once, that their email was not posted; never a machine, and not twice an hour."""
    to = row.from_email
    if not to or row.bounce_sent:
        return
    since = utcnow() - BOUNCE_INTERVAL
    answered_recently = db.session.scalar(
        sa.select(sa.func.count()).select_from(InboundEmail).where(
            InboundEmail.from_email == to, InboundEmail.bounce_sent.is_(True), InboundEmail.created_at >= since,
        )
    )
    if answered_recently:
        return
    try:
        outbox.queue_email(
            BOUNCE_TEMPLATE, to, {"original_subject": row.subject or "", "reason": reason},
            related_type="inbound_email", related_id=row.id, extra_data={"purpose": "inbound_bounce"},
            headers={"Auto-Submitted": "auto-replied"},
        )
    except DomainError as exc:  # an address we cannot send to, or the template missing: told nobody
        log.warning("No answer sent for inbound email to %s: %s", row.recipient, exc)
        return
    row.bounce_sent = True

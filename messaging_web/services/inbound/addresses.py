"""Reply addresses: `reply+<participant>-<signature>@INBOUND_EMAIL_DOMAIN`, one per reader of a thread.

The participant row names both the conversation and the person, and the signature (an HMAC of the row id
under the app's secret) makes the address unguessable: a token cannot be forged, nor edited to point at
another thread or person. Lower case only, since mail systems may change the case of a local part.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from flask import current_app

from ...models.base import LARGEST_ID

LOCAL_PREFIX = "reply+"
_SIGNATURE_CHARS = 16  # base32: 80 bits
_TOKEN = re.compile(rf"^(\d{{1,10}})-([a-z2-7]{{{_SIGNATURE_CHARS}}})$")


@dataclass(frozen=True)
class ReplyAddress:
    """What a recipient address of an inbound email says: not ours, ours but forged, or a participant."""

    address: str
    participant_id: int | None  # set only when the signature is right
    forged: bool = False  # looks like a reply address of ours, but the signature is wrong


def inbound_domain() -> str | None:
    """The domain replies arrive at; None turns reply by email off."""
    domain = (current_app.config.get("INBOUND_EMAIL_DOMAIN") or "").strip().lower()
    return domain or None


def _signature(participant_id: int) -> str:
    key = hashlib.sha256(b"messaging-web reply address:" + str(current_app.config["SECRET_KEY"]).encode()).digest()
    digest = hmac.new(key, f"reply:{participant_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:_SIGNATURE_CHARS]


def reply_address(participant_id: int) -> str | None:
    """The address a reader answers a thread at, or None when reply by email is off."""
    domain = inbound_domain()
    if domain is None:
        return None
    return f"{LOCAL_PREFIX}{participant_id}-{_signature(participant_id)}@{domain}"


def read_reply_address(address: str) -> ReplyAddress | None:
    """The reply address in `address` (any case), or None when it is not one of the inbound domain."""
    domain = inbound_domain()
    address = (address or "").strip().strip("<>").lower()
    local, at, address_domain = address.rpartition("@")
    if not at or domain is None or address_domain != domain or not local.startswith(LOCAL_PREFIX):
        return None
    match = _TOKEN.match(local[len(LOCAL_PREFIX):])
    if match is None:
        return ReplyAddress(address, None, forged=True)
    participant_id = int(match.group(1))
    if participant_id > LARGEST_ID or not hmac.compare_digest(match.group(2), _signature(participant_id)):
        return ReplyAddress(address, None, forged=True)
    return ReplyAddress(address, participant_id)


def is_inbound_recipient(address: str) -> bool:
    """Whether the SMTP receiver takes mail for `address` (any local part at the inbound domain)."""
    domain = inbound_domain()
    _, at, address_domain = (address or "").strip().strip("<>").lower().rpartition("@")
    return bool(at) and domain is not None and address_domain == domain


def thread_reference(conversation_id: int) -> str:
    """A Message-ID-shaped name of the thread, in every notification's References, so mail clients thread
    the notifications of one conversation together."""
    return f"<conversation-{conversation_id}@messaging-web>"

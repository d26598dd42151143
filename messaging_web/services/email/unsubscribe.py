"""Unsubscribing: the signed link in optional emails (List-Unsubscribe, RFC 8058 one-click, and a footer
link), and the recipient's preference page for one store (or the platform's own emails).

The token names the address, the store and the kind of email it came with; it is signed with the app's
secret under its own salt, works without signing in and does nothing but this, so the one-click POST that
mail providers send needs no session and no CSRF token. It does not expire: an unsubscribe link in an old
email must still work.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ...extensions import db
from ...models import Customer, Store, SuppressionReason, SuppressionScope
from ..errors import ValidationError
from . import suppression
from .unsubscribe_texts import texts_for

SALT = "messaging-web-unsubscribe"
KEYS = (SuppressionScope.MARKETING.value, SuppressionScope.CONVERSATIONS.value)


@dataclass(frozen=True)
class UnsubscribeLink:
    email: str
    store_id: int | None
    key: str  # marketing | conversations: what the email that carried it was


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def carries_link(key: str) -> bool:
    """Marketing emails and conversation notifications carry an unsubscribe link; the rest are transactional."""
    return key in KEYS


def url_for_recipient(email: str, store_id: int | None, key: str) -> str:
    token = _serializer().dumps({"e": suppression.normalise(email), "s": store_id, "k": key})
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/u/{token}"


def load(token: str) -> UnsubscribeLink:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise ValidationError("This unsubscribe link is not valid. Use the link in your most recent email.") from None
    if (not isinstance(data, dict) or not isinstance(data.get("e"), str) or data.get("k") not in KEYS
            or not (data.get("s") is None or isinstance(data.get("s"), int))):
        raise ValidationError("This unsubscribe link is not valid. Use the link in your most recent email.")
    return UnsubscribeLink(data["e"], data["s"], data["k"])


def headers(url: str) -> dict[str, str]:
    """RFC 2369 and RFC 8058: what Gmail and Yahoo show as their own "Unsubscribe" button."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def add_footer(body_html: str | None, body_text: str | None, url: str, language: str, key: str):
    """A visible unsubscribe line under both parts, in the email's language."""
    words = texts_for(language)
    line = words["footer_conversations"] if key == SuppressionScope.CONVERSATIONS.value else words["footer_marketing"]
    link_text = words["footer_link"]
    if body_text is not None:
        body_text = f"{body_text.rstrip()}\n\n{line} {link_text}: {url}\n"
    if body_html:
        block = (f'<p class="unsubscribe" style="font-size:12px;color:#555">{html.escape(line)} '
                 f'<a href="{html.escape(url)}" data-unsubscribe>{html.escape(link_text)}</a></p>')
        index = body_html.lower().rfind("</body>")
        body_html = body_html[:index] + block + body_html[index:] if index != -1 else body_html + block
    return body_html, body_text


# --- the one-click POST and the preference page -------------------------------------------------


def one_click(link: UnsubscribeLink) -> None:
    """What a mail provider's "Unsubscribe" button posts: the kind of email that carried the link stops."""
    suppression.record_unsubscribe(link.email, store_id=link.store_id, scope=link.key, how="one-click")


@dataclass(frozen=True)
class Preferences:
    link: UnsubscribeLink
    store_name: str
    language: str
    marketing: bool  # True: receives them
    conversations: bool
    complained: bool  # the recipient reported an email as spam: everything but sign-in emails is stopped
    everything: bool  # unsubscribed from everything optional (or complained)


def preferences(link: UnsubscribeLink) -> Preferences:
    store = db.session.get(Store, link.store_id) if link.store_id is not None else None
    if link.store_id is not None and store is None:
        raise ValidationError("This store no longer exists, so it sends you nothing.")
    rows = suppression.store_suppressions_of(link.email, link.store_id)
    scopes = {row.scope for row in rows if row.reason == SuppressionReason.UNSUBSCRIBE.value}
    complained = any(row.reason == SuppressionReason.COMPLAINT.value for row in rows)
    everything = SuppressionScope.ALL.value in scopes or complained
    return Preferences(
        link=link,
        store_name=store.name if store else current_app.config["MAIL_DEFAULT_SENDER_NAME"],
        language=_language(link, store),
        marketing=not (everything or SuppressionScope.MARKETING.value in scopes),
        conversations=not (everything or SuppressionScope.CONVERSATIONS.value in scopes),
        complained=complained,
        everything=everything,
    )


def _language(link: UnsubscribeLink, store: Store | None) -> str:
    """The customer's own language where the store knows the address, else the store's."""
    if store is not None:
        preferred = db.session.scalar(
            sa.select(Customer.preferred_language).where(
                Customer.store_id == store.id, sa.func.lower(Customer.email) == link.email
            )
        )
        return preferred or store.default_language
    return "en"


def save_preferences(link: UnsubscribeLink, *, marketing: bool, conversations: bool, everything: bool) -> None:
    """The preference page's form: each kind on or off, or everything optional off."""
    store_id = link.store_id
    if everything:
        suppression.record_unsubscribe(link.email, store_id=store_id, scope=SuppressionScope.ALL.value,
                                       how="preference page")
        return
    suppression.resubscribe(link.email, store_id=store_id, scope=SuppressionScope.ALL.value)
    for key, wanted in ((SuppressionScope.MARKETING.value, marketing),
                        (SuppressionScope.CONVERSATIONS.value, conversations)):
        if wanted:
            suppression.resubscribe(link.email, store_id=store_id, scope=key)
        else:
            suppression.record_unsubscribe(link.email, store_id=store_id, scope=key, how="preference page")

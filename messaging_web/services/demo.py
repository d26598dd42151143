"""Demo data for `make run`: an admin, three stores on different tiers, their teams and customers,
and the shipped default email templates.

Idempotent: each row is looked up by its natural key first, so a second run changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Customer, Store, StoreTier, User
from . import accounts, template_catalog

DEMO_PASSWORD = "demo-password"


@dataclass(frozen=True)
class DemoLogin:
    portal: str
    path: str
    email: str
    password: str


DEMO_STORES = [
    ("Alpine Outfitters", "alpine", StoreTier.STARTER, "en"),
    ("Boutique Lumière", "lumiere", StoreTier.PROFESSIONAL, "fr"),
    ("Café Bergmann", "bergmann", StoreTier.BUSINESS, "de"),
]


def seed_demo() -> list[DemoLogin]:
    logins: list[DemoLogin] = []
    if not db.session.scalar(sa.select(User).where(User.email == "admin@platform.example")):
        accounts.create_admin("admin@platform.example", "Ada Admin", DEMO_PASSWORD)
    logins.append(DemoLogin("admin", "/admin/login", "admin@platform.example", DEMO_PASSWORD))

    for name, slug, tier, language in DEMO_STORES:
        store = db.session.scalar(sa.select(Store).where(Store.slug == slug))
        if store is None:
            store = Store(name=name, slug=slug, tier=tier.value, default_language=language)
            db.session.add(store)
            db.session.flush()
        owner_email = f"owner@{slug}.example"
        if not db.session.scalar(sa.select(User).where(User.email == owner_email)):
            accounts.create_store_user(store, owner_email, f"{name} Owner", DEMO_PASSWORD)
        staff_email = f"staff@{slug}.example"
        if not db.session.scalar(sa.select(User).where(User.email == staff_email)):
            accounts.create_store_user(store, staff_email, f"{name} Staff", DEMO_PASSWORD)
        logins.append(DemoLogin(f"store ({tier.value})", f"/store/{slug}/login", owner_email, DEMO_PASSWORD))
        for first in ("alice", "bob"):
            email = f"{first}@customer.example"
            exists = db.session.scalar(
                sa.select(Customer.id).where(Customer.store_id == store.id, Customer.email == email)
            )
            if not exists:
                accounts.create_customer(store, email, first.capitalize(), DEMO_PASSWORD, language)
        logins.append(DemoLogin("customer", f"/inbox/{slug}/login", "alice@customer.example", DEMO_PASSWORD))
        _seed_conversations(store)
        _seed_saved_reply(store)
    template_catalog.load_default_templates()
    db.session.flush()
    _queue_demo_emails()
    _raise_demo_notifications()
    return logins


def _seed_saved_reply(store: Store) -> None:
    """One saved reply in the store's language, for the composer's picker."""
    from ..models import SavedReply

    if db.session.scalar(sa.select(SavedReply.id).where(SavedReply.store_id == store.id).limit(1)):
        return
    texts = {
        "en": ("Order status", "Hello {customer_name}, your order {order_reference} is on its way."),
        "fr": ("Suivi de commande", "Bonjour {customer_name}, votre commande {order_reference} est en route."),
        "de": ("Bestellstatus", "Hallo {customer_name}, Ihre Bestellung {order_reference} ist unterwegs."),
    }
    name, body = texts.get(store.default_language, texts["en"])
    db.session.add(SavedReply(store_id=store.id, name=name, language=store.default_language
                              if store.default_language in texts else "en", body=body))


def _seed_conversations(store: Store) -> None:
    """A thread of each type per store, with some messages left unread on each side."""
    from ..actors import Actor
    from ..models import Conversation, ConversationType
    from . import conversations

    if db.session.scalar(sa.select(Conversation.id).where(Conversation.store_id == store.id).limit(1)):
        return
    admin = Actor.for_user(db.session.scalars(sa.select(User).where(User.email == "admin@platform.example")).one())
    owner = Actor.for_user(
        db.session.scalars(sa.select(User).where(User.email == f"owner@{store.slug}.example")).one()
    )
    alice, bob = (
        Actor.for_customer(db.session.scalars(
            sa.select(Customer).where(Customer.store_id == store.id, Customer.email == f"{first}@customer.example")
        ).one())
        for first in ("alice", "bob")
    )
    order = conversations.start_conversation(
        alice, ConversationType.STORE_CUSTOMER, "Where is my order #1042?",
        "Hello! I ordered a week ago and the tracking page still says 'preparing'. Any news?",
    )
    conversations.post_message(owner, order, "Hi Alice, sorry for the wait: it left our warehouse this morning.")
    conversations.post_message(owner, order, "Tracking: https://tracking.example/parcel/1042 (updates every evening).")
    question = conversations.start_conversation(
        bob, ConversationType.STORE_CUSTOMER, "Gift wrapping?", "Can you gift-wrap an order and add a card?"
    )
    conversations.post_message(bob, question, "It is for a birthday on Saturday <3")
    onboarding = conversations.start_conversation(
        admin, ConversationType.ADMIN_STORE, f"Welcome to the platform, {store.name}",
        "Welcome aboard! Reply here whenever you need help with templates or email settings.",
        store=store,
    )
    conversations.post_message(owner, onboarding, "Thanks! How do we set up our own SMTP server?")
    conversations.start_conversation(
        admin, ConversationType.ADMIN_CUSTOMER, "About your account",
        "Hello Bob, we noticed two accounts with your email; shall we merge them?",
        customer=db.session.get(Customer, bob.id),
    )


def _raise_demo_notifications() -> None:
    """A few admin notifications of each priority, on the first run only (when there are none)."""
    from ..models import AdminNotification, NotificationPriority, NotificationType
    from .notification_texts import text
    from .notifications import raise_admin_notification

    if db.session.scalar(sa.select(AdminNotification.id).limit(1)) is not None:
        return
    raise_admin_notification(
        NotificationType.STORE_ISSUE, text=text("demo_emails_bouncing", store="Café Bergmann"),
        priority=NotificationPriority.HIGH, action_required=True, action_url="/admin/email-log?status=bounced",
    )
    raise_admin_notification(
        NotificationType.SYSTEM_ALERT, text=text("demo_worker_healthy"), priority=NotificationPriority.LOW,
    )
    raise_admin_notification(
        NotificationType.IMPORT_FAILURE, text=text("demo_import_failed", store="Alpine Outfitters", line=1204),
        priority=NotificationPriority.CRITICAL, action_required=True,
    )


def _queue_demo_emails() -> None:
    """A few emails through the real pipeline, so a newcomer finds .eml files in instance/outbox/ and rows
    in the email log. Only on the first run (when the log is empty)."""
    from ..models import EmailLog, SuppressionReason, SuppressionScope
    from ..models.base import utcnow
    from .email import outbox, suppression

    if db.session.scalar(sa.select(EmailLog.id).limit(1)) is not None:
        return
    base_url = current_app.config["PUBLIC_BASE_URL"]
    for _name, slug, _tier, language in DEMO_STORES:
        store = db.session.scalars(sa.select(Store).where(Store.slug == slug)).one()
        outbox.queue_email(
            "signup_welcome", "alice@customer.example",
            {"customer_name": "Alice", "store_name": store.name, "login_url": f"{base_url}/inbox/{slug}/login"},
            store_id=store.id, language=language, recipient_name="Alice", related_type="demo",
        )
    alpine = db.session.scalars(sa.select(Store).where(Store.slug == "alpine")).one()
    outbox.queue_email(
        "order_shipped", "bob@customer.example",
        {"customer_name": "Bob", "store_name": alpine.name, "order_number": "A-10045", "carrier": "DHL",
         "tracking_number": "JD014600003828", "tracking_url": "https://tracking.example/JD014600003828"},
        store_id=alpine.id, recipient_name="Bob", related_type="demo",
    )
    # A newsletter (it carries the one-click unsubscribe link and header), and an address that bounced
    # earlier: the suppression list has a row, and the email to it is logged as suppressed, not sent.
    outbox.queue_email(
        "store_newsletter", "alice@customer.example",
        {"customer_name": "Alice", "store_name": alpine.name, "headline": "Winter boots are back",
         "message": "Our warmest boots are back in stock, in every size, until the end of the month.",
         "offer_url": "https://shop.example/winter"},
        store_id=alpine.id, recipient_name="Alice", related_type="demo",
    )
    suppression.suppress(
        "old-address@customer.example", store_id=None, scope=SuppressionScope.ADDRESS.value,
        reason=SuppressionReason.HARD_BOUNCE.value, actor="SendGrid", provider="sendgrid",
        detail=f"hard bounce on {utcnow().date().isoformat()} via SendGrid (550 5.1.1 no such user)",
    )
    outbox.queue_email(
        "order_shipped", "old-address@customer.example",
        {"customer_name": "Carl", "store_name": alpine.name, "order_number": "A-10046"},
        store_id=alpine.id, recipient_name="Carl", related_type="demo",
    )

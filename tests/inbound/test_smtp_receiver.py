"""Our SMTP receiver: replies sent with smtplib to a real aiosmtpd server land in their thread."""
from __future__ import annotations

import smtplib
import socket

import pytest
import sqlalchemy as sa

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import ConversationType, InboundEmail, Message, ParticipantType, Store
from messaging_web.services import accounts, conversations, template_catalog
from messaging_web.services.inbound.smtp_receiver import start_receiver

from .support import reply_address_of, reply_email


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def receiver(app, inbound_domain):
    port = _free_port()
    controller = start_receiver(app, "127.0.0.1", port)
    yield port
    controller.stop()


@pytest.fixture
def thread(app, inbound_domain):
    with app.app_context():
        template_catalog.load_default_templates()
        store = Store(name="Maison Claire", slug="claire", tier="starter", default_language="fr")
        db.session.add(store)
        db.session.flush()
        accounts.create_store_user(store, "owner@claire.test", "Olivier", "password-123")
        customer = Actor.for_customer(accounts.create_customer(store, "chloe@shop.test", "Chloé", "password-123"))
        db.session.commit()
        conversation = conversations.start_conversation(
            customer, ConversationType.STORE_CUSTOMER, "Robe bleue", "La robe existe en 38 ?"
        )
        db.session.commit()
        to = reply_address_of(conversation.id, ParticipantType.CUSTOMER, customer.id)
        return {"conversation_id": conversation.id, "to": to}


def contents(app, conversation_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(
            sa.select(Message.content).where(Message.conversation_id == conversation_id).order_by(Message.id)
        ))


def test_a_reply_sent_by_smtp_is_posted_before_the_server_says_250(app, receiver, thread):
    with smtplib.SMTP("127.0.0.1", receiver) as smtp:
        refused = smtp.sendmail("chloe@shop.test", [thread["to"]], reply_email(
            thread["to"], "chloe@shop.test", "Je la prends.\n\nSent from my iPhone"))
    assert refused == {}
    assert contents(app, thread["conversation_id"])[-1] == "Je la prends."


def test_recipients_outside_the_inbound_domain_are_refused(receiver, thread):
    with smtplib.SMTP("127.0.0.1", receiver) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("chloe@shop.test", ["someone@elsewhere.test"], b"Subject: hi\r\n\r\nhi")


def test_an_email_over_the_limit_is_recorded_without_its_body_and_one_far_over_it_refused(app, receiver, thread):
    app.config["INBOUND_EMAIL_MAX_BYTES"] = 4000  # the running server's DATA limit stays at its start value
    with smtplib.SMTP("127.0.0.1", receiver) as smtp:
        smtp.sendmail("chloe@shop.test", [thread["to"]], reply_email(thread["to"], "chloe@shop.test", ("y" * 70 + "\n") * 90))
    with app.app_context():
        row = db.session.scalars(sa.select(InboundEmail)).one()
        assert (row.status, row.reason, row.raw) == ("held", "too_large", None)
    app.config["INBOUND_EMAIL_MAX_BYTES"] = 20 * 1024 * 1024


def test_a_database_failure_is_a_temporary_refusal(app, receiver, thread, monkeypatch):
    from messaging_web.services.inbound import smtp_receiver

    def broken(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(smtp_receiver, "receive", broken)
    with smtplib.SMTP("127.0.0.1", receiver) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail("chloe@shop.test", [thread["to"]], reply_email(thread["to"], "chloe@shop.test", "Hi"))
    assert refused.value.smtp_code == 451


def test_receivers_sharing_a_port_all_start(app, inbound_domain):
    # aiosmtpd checks that a server is up by connecting to its port; with the port shared (SO_REUSEPORT,
    # `inbound-smtp --processes N`) the kernel may hand that connection to another receiver, and the
    # check then failed with "SMTP server started, but not responding".
    for _ in range(6):
        port = _free_port()
        receivers = [start_receiver(app, "127.0.0.1", port, shared_port=True) for _ in range(3)]
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                assert smtp.noop()[0] == 250
        finally:
            for receiver in receivers:
                receiver.stop()

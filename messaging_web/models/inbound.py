"""Emails received in answer to conversation notifications (reply by email), whatever became of them."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, TimestampMixin, in_list_check
from .enums import InboundSource, InboundStatus


class InboundEmail(TimestampMixin, Model):
    """One received email. The row is written before anything is posted, so nothing received is lost; the
    raw message is kept (up to the size limit) so that a held reply can still be accepted with its files."""

    __tablename__ = "inbound_emails"
    __table_args__ = (
        in_list_check("status", InboundStatus.values(), "inbound_status_valid"),
        in_list_check("source", InboundSource.values(), "inbound_source_valid"),
        # The undelivered replies lists: a store's, and the platform's (store_id NULL).
        sa.Index("ix_inbound_emails_store_id_status_created_at", "store_id", "status", "created_at"),
        sa.Index("ix_inbound_emails_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    # sha256 of (Message-ID or the raw bytes, reply address): a provider's retry finds the first delivery.
    dedupe_key: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    message_id_header: Mapped[str | None] = mapped_column(sa.String(998), nullable=True)
    envelope_sender: Mapped[str | None] = mapped_column(sa.String(320), nullable=True)
    from_email: Mapped[str | None] = mapped_column(sa.String(320), nullable=True)
    from_name: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    recipient: Mapped[str | None] = mapped_column(sa.String(320), nullable=True)  # the reply address used
    subject: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)  # why held or ignored: a code
    reason_detail: Mapped[str | None] = mapped_column(sa.Text, nullable=True)  # the same for a person
    conversation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    participant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("conversation_participants.id", ondelete="SET NULL"), nullable=True
    )
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=True)
    reply_text: Mapped[str | None] = mapped_column(sa.Text, nullable=True)  # what is (or would be) posted
    raw: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)
    raw_size: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    attachment_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    bounce_sent: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    decided_by_type: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

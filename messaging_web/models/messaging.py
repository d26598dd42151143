"""Conversation aggregate: threads, their participants, messages and attachments."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, enum_column_type
from .enums import ConversationType, ParticipantType


class Conversation(TimestampMixin, Model):
    __tablename__ = "conversations"
    __table_args__ = (
        sa.Index("ix_conversations_conversation_type_store_id", "conversation_type", "store_id"),
        # Inbox pages walk these in last-activity order (keyset pagination), per store and per customer.
        sa.Index("ix_conversations_store_id_last_message_at_id", "store_id", "last_message_at", "id"),
        sa.Index("ix_conversations_customer_id_last_message_at_id", "customer_id", "last_message_at", "id"),
        sa.Index("ix_conversations_last_message_at_id", "last_message_at", "id"),
        # Inbox search (subject ILIKE '%term%') through pg_trgm; SQLite has no such index and scans.
        sa.Index(
            "ix_conversations_subject_trgm", "subject",
            postgresql_using="gin", postgresql_ops={"subject": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_type: Mapped[ConversationType] = mapped_column(
        enum_column_type(ConversationType, "conversation_type"), nullable=False, index=True
    )
    subject: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id"), nullable=True, index=True)
    # The customer of a store_customer or admin_customer thread (null for admin_store).
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id"), nullable=True)
    is_closed: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    closed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    closed_by_type: Mapped[ParticipantType | None] = mapped_column(
        enum_column_type(ParticipantType, "closed_by_type"), nullable=True
    )
    closed_by_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    last_message_at: Mapped[dt.datetime | None] = mapped_column(
        sa.DateTime(timezone=True), nullable=True, index=True
    )
    message_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    participants = relationship(
        "ConversationParticipant", back_populates="conversation", lazy="raise_on_sql",
        cascade="all, delete-orphan",
    )
    store = relationship("Store", lazy="raise_on_sql")
    customer = relationship("Customer", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Conversation {self.id} {self.conversation_type}>"


class ConversationParticipant(TimestampMixin, Model):
    __tablename__ = "conversation_participants"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "participant_type", "participant_id"),
        sa.Index("ix_conversation_participants_participant_type_participant_id", "participant_type", "participant_id"),
        # The nav's unread total sums only the rows that have something unread, from the index alone.
        sa.Index(
            "ix_conversation_participants_unread", "participant_type", "participant_id", "unread_count", "muted",
            postgresql_where=sa.text("unread_count > 0"), sqlite_where=sa.text("unread_count > 0"),
        ),
        # The notification flush looks for rows whose batch window has passed.
        sa.Index("ix_conversation_participants_notify_pending_since", "notify_pending_since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    participant_type: Mapped[ParticipantType] = mapped_column(
        enum_column_type(ParticipantType, "participant_type"), nullable=False
    )
    participant_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id"), nullable=True)
    unread_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_read_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    email_notifications: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    muted: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # Notification batching: the first message not yet emailed arrived at notify_pending_since;
    # messages up to last_notified_message_id were listed in an email already.
    notify_pending_since: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_notified_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_notified_message_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)

    conversation = relationship("Conversation", back_populates="participants")


class Message(TimestampMixin, Model):
    __tablename__ = "messages"
    __table_args__ = (
        sa.Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
        # Threads page by id (newest first, older on demand, newer by polling).
        sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # An open thread's poll asks for its messages deleted since the previous poll.
        sa.Index("ix_messages_conversation_id_deleted_at", "conversation_id", "deleted_at"),
        # Inbox search (content ILIKE '%term%') through pg_trgm; SQLite has no such index and scans.
        sa.Index(
            "ix_messages_content_trgm", "content",
            postgresql_using="gin", postgresql_ops={"content": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sender_type: Mapped[ParticipantType] = mapped_column(
        enum_column_type(ParticipantType, "sender_type"), nullable=False
    )
    sender_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    content: Mapped[str] = mapped_column(sa.Text, nullable=False)
    is_system_message: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # A system line as data ({"key": "closed", "name": ..., "side": ...}): each viewer reads it in their own
    # language (web/message_text.py); `content` keeps the English words.
    system_text: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)
    is_deleted: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    deleted_by_type: Mapped[ParticipantType | None] = mapped_column(
        enum_column_type(ParticipantType, "deleted_by_type"), nullable=True
    )
    deleted_by_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    # Reply by email: the email this message came from (its full text is kept there, for admins), and the
    # files of it that the attachment rules refused ("1 file not accepted: invoice.exe").
    inbound_email_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("inbound_emails.id", ondelete="SET NULL"), nullable=True
    )
    attachment_note: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    # The names behind that note, so each reader reads it in their own language (the note stays English).
    refused_files: Mapped[list | None] = mapped_column(sa.JSON, nullable=True)

    attachments = relationship(
        "MessageAttachment", back_populates="message", lazy="raise_on_sql", cascade="all, delete-orphan"
    )


class MessageAttachment(TimestampMixin, Model):
    __tablename__ = "message_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, index=True
    )
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    original_filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    file_path: Mapped[str] = mapped_column(sa.String(1000), nullable=False)
    file_size: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    mime_type: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    is_image: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    image_width: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    image_height: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    thumbnail_path: Mapped[str | None] = mapped_column(sa.String(1000), nullable=True)

    message = relationship("Message", back_populates="attachments")

"""Deliverability: the addresses we must not email (suppressions), what changed them (the audit), and the
runs of soft bounces that become a suppression."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, TimestampMixin, in_list_check, utcnow
from .enums import SuppressionReason, SuppressionScope


class EmailSuppression(TimestampMixin, Model):
    """An address that gets no email of a scope: platform-wide (store_id null, scope `address`: it bounced)
    or from one store (a complaint, an unsubscribe; scope `all`, `marketing` or `conversations`).
    Emails to the platform's own threads are the store-less case of the latter (store_id null)."""

    __tablename__ = "email_suppressions"
    __table_args__ = (
        # One row per address, scope and store; the platform's (null store) counted as store 0.
        sa.Index(
            "uq_email_suppressions_email_scope_store", "email", "scope",
            sa.text("coalesce(store_id, 0)"), unique=True,
        ),
        # The store's list, newest first.
        sa.Index("ix_email_suppressions_store_id_created_at", "store_id", "created_at"),
        in_list_check("reason", SuppressionReason.values(), "reason_valid"),
        in_list_check("scope", SuppressionScope.values(), "scope_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), nullable=False)  # lower case
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=True)
    scope: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    reason: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    # What the log of a blocked email says after "suppressed: ", e.g. "hard bounce on 2026-11-30 via SendGrid".
    detail: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    provider: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    source_email_log_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("email_logs.id", ondelete="SET NULL"), nullable=True
    )

    def __repr__(self) -> str:
        return f"<EmailSuppression {self.email} {self.scope} store={self.store_id} {self.reason}>"


class SuppressionAudit(Model):
    """Every suppression added or removed, by whom: the store's list shows it under the address."""

    __tablename__ = "email_suppression_audit"
    __table_args__ = (sa.Index("ix_email_suppression_audit_store_id_created_at", "store_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), nullable=False, index=True)
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=True)
    scope: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    reason: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    action: Mapped[str] = mapped_column(sa.String(10), nullable=False)  # added | removed
    # Who: "SendGrid", "the recipient", or a person's name (kept: the account may be gone later).
    actor: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


class SoftBounceRun(Model):
    """Soft bounces of an address in a row (a delivery ends the run); at SOFT_BOUNCE_LIMIT it is suppressed."""

    __tablename__ = "email_soft_bounce_runs"

    email: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_bounced_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)

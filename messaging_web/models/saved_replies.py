"""Saved replies: the answers a store team (or the platform team) gives again and again, kept by name."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, TimestampMixin


class SavedReply(TimestampMixin, Model):
    """A named reply in one language, of one store's team (store_id) or of the platform team (NULL). Its body
    may hold {customer_name}, {store_name} and {order_reference}, filled in from the conversation."""

    __tablename__ = "saved_replies"
    __table_args__ = (
        sa.UniqueConstraint("store_id", "language", "name", name="uq_saved_replies_store_id_language_name"),
        sa.Index("ix_saved_replies_store_id_language", "store_id", "language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    language: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

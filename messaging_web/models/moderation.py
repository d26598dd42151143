"""The platform's review of store-customer conversations: every time an admin opened one, for the audit."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, utcnow


class ModerationView(Model):
    """A platform admin opened a store-customer thread (read-only) from the admin console."""

    __tablename__ = "moderation_views"
    __table_args__ = (sa.Index("ix_moderation_views_viewed_at", "viewed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=True)
    # The admin's name is kept with the entry: the audit must still say who when the account is gone.
    admin_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    admin_name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    viewed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)

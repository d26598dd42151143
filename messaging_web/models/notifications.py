"""Admin notifications: system alerts for platform admins, with priority and read state."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, TimestampMixin, in_list_check
from .enums import NotificationPriority, NotificationType


class AdminNotification(TimestampMixin, Model):
    __tablename__ = "admin_notifications"
    __table_args__ = (
        in_list_check("type", NotificationType.values(), "type_valid"),
        in_list_check("priority", NotificationPriority.values(), "priority_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(50), nullable=False, index=True)
    priority: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, default=NotificationPriority.NORMAL.value, index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    message: Mapped[str] = mapped_column(sa.Text, nullable=False)
    is_read: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False, index=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    read_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), nullable=True)
    action_required: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False, index=True)
    action_url: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    notification_metadata: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)

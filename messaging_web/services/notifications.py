"""Raise admin notifications (system alerts, store issues) for the platform console."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..extensions import db
from ..models import AdminNotification, NotificationPriority, NotificationType


def raise_admin_notification(type_: NotificationType | str, title: str, message: str, *,
                             priority: NotificationPriority | str = NotificationPriority.NORMAL,
                             action_url: str | None = None, action_required: bool = False,
                             metadata: dict | None = None, session: Session | None = None) -> AdminNotification:
    """Add a notification in the caller's transaction (add + flush)."""
    session = session or db.session
    notification = AdminNotification(
        type=NotificationType(type_).value,
        priority=NotificationPriority(priority).value,
        title=title[:200],
        message=message,
        action_url=action_url,
        action_required=action_required,
        notification_metadata=metadata,
    )
    session.add(notification)
    session.flush()
    return notification

"""Admin notifications: raise them (system alerts, store issues), list them, mark them read."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from ..extensions import AnySession, db
from ..models import AdminNotification, NotificationPriority, NotificationType
from ..models.base import utcnow
from . import notification_texts
from .pagination import Page, like_pattern, paginate


def _words(title: str | None, message: str | None, text: dict | None) -> tuple[str, str]:
    """The English title and message stored in the columns: given, or written from `text`."""
    if text is not None:
        english_title, english_message = notification_texts.english(text)
        title = english_title if title is None else title
        message = english_message if message is None else message
    if title is None or message is None:
        raise TypeError("A notification needs a title and a message, or a text")
    return title, message


def raise_admin_notification(type_: NotificationType | str, title: str | None = None, message: str | None = None,
                             *, text: dict | None = None,
                             priority: NotificationPriority | str = NotificationPriority.NORMAL,
                             action_url: str | None = None, action_required: bool = False,
                             metadata: dict | None = None, session: AnySession | None = None) -> AdminNotification:
    """Add a notification in the caller's transaction (add + flush).

    Platform code passes `text` (notification_texts.text(key, **values)): the words as data, kept in
    metadata["text"] and shown in each admin's language; the title and message columns get their English."""
    session = session or db.session
    title, message = _words(title, message, text)
    if text is not None:
        metadata = {**(metadata or {}), "text": text}
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


def raise_admin_notification_once(type_: NotificationType | str, title: str | None = None,
                                  message: str | None = None, **options) -> AdminNotification | None:
    """raise_admin_notification, unless one with the same title is still unread: a problem that repeats (a
    template every email of which fails, a store whose recipients keep complaining) is told once, and
    again only after an admin has read it (the English title is compared, whatever language it is read in)."""
    title, message = _words(title, message, options.get("text"))
    unread = sa.select(AdminNotification.id).where(
        AdminNotification.title == title[:200], AdminNotification.is_read.is_(False)
    )
    session = options.get("session") or db.session
    if session.scalar(unread.limit(1)) is not None:
        return None
    return raise_admin_notification(type_, title, message, **options)


_PRIORITY_RANK = sa.case(
    {NotificationPriority.CRITICAL.value: 4, NotificationPriority.HIGH.value: 3,
     NotificationPriority.NORMAL.value: 2, NotificationPriority.LOW.value: 1},
    value=AdminNotification.priority,
    else_=0,
)


@dataclass(frozen=True)
class NotificationFilters:
    state: str = "unread"  # unread, read, all
    priority: str | None = None
    type: str | None = None
    action_required: bool = False
    search: str | None = None


def search_notifications(filters: NotificationFilters, *, page: int = 1, per_page: int = 25) -> Page:
    """Unread before read, most urgent first, newest first within a priority; two queries."""
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.state == "unread":
        conditions.append(AdminNotification.is_read.is_(False))
    elif filters.state == "read":
        conditions.append(AdminNotification.is_read.is_(True))
    if filters.priority in NotificationPriority.values():
        conditions.append(AdminNotification.priority == filters.priority)
    if filters.type in NotificationType.values():
        conditions.append(AdminNotification.type == filters.type)
    if filters.action_required:
        conditions.append(AdminNotification.action_required.is_(True))
    if filters.search and filters.search.strip():
        term = like_pattern(filters.search)
        conditions.append(sa.or_(
            sa.func.lower(AdminNotification.title).like(term, escape="\\"),
            sa.func.lower(AdminNotification.message).like(term, escape="\\"),
        ))
    query = (
        sa.select(AdminNotification)
        .where(*conditions)
        .order_by(AdminNotification.is_read, _PRIORITY_RANK.desc(), AdminNotification.id.desc())
    )
    return paginate(query, page=page, per_page=per_page)


def unread_notification_count() -> int:
    return db.session.scalar(
        sa.select(sa.func.count(AdminNotification.id)).where(AdminNotification.is_read.is_(False))
    ) or 0


def mark_notification_read(notification: AdminNotification, user_id: int) -> None:
    if not notification.is_read:
        notification.is_read = True
        notification.read_at = utcnow()
        notification.read_by_user_id = user_id


def mark_notification_unread(notification: AdminNotification) -> None:
    notification.is_read = False
    notification.read_at = None
    notification.read_by_user_id = None


def mark_all_notifications_read(user_id: int) -> int:
    """One UPDATE for every unread notification; returns how many were marked."""
    result = cast(sa.CursorResult[Any], db.session.execute(  # an UPDATE's result is a CursorResult
        sa.update(AdminNotification)
        .where(AdminNotification.is_read.is_(False))
        .values(is_read=True, read_at=utcnow(), read_by_user_id=user_id, updated_at=utcnow())
    ))
    return result.rowcount or 0

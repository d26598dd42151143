"""Conversations: start, post, read and unread, per-reader settings, close and reopen, soft delete (actions);
the inbox as pages (inbox); an open thread and its updates (thread). Import from here.

Counters (message_count, last_message_at, each reader's unread_count) change in the poster's
transaction through SQL increments, never read-modify-write in Python, so they stay exact when many
people post at once. Callers commit.
"""
from __future__ import annotations

from .actions import (  # noqa: F401
    SUBJECT_MAX_LENGTH,
    ReaderSettings,
    clean_content,
    close_conversation,
    colleague_replies_since,
    delete_message,
    join_conversations_of_new_member,
    mark_read,
    mark_thread_read,
    mark_unread,
    participant_row,
    post_message,
    reopen_conversation,
    start_conversation,
    update_reader_settings,
)
from .inbox import (  # noqa: F401
    PREVIEW_LENGTH,
    InboxFilters,
    InboxPage,
    InboxRow,
    counterpart_name,
    inbox_page,
    inbox_statement,
    parse_cursor,
    unread_total,
)
from .thread import (  # noqa: F401
    DELETION_GRACE,
    THREAD_PAGE_SIZE,
    ThreadMessage,
    ThreadSlice,
    ThreadUpdates,
    deleted_since_cursor,
    parse_deleted_since,
    thread_message,
    thread_messages,
    thread_updates,
)

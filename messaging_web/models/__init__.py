"""All models, importable from one place: `from messaging_web.models import Store, EmailLog, ...`."""
from .email import EmailLog, EmailTemplate, StoreEmailSettings, StoreEmailTemplate
from .enums import (
    ConversationType,
    EmailCategory,
    EmailProvider,
    EmailStatus,
    NotificationPriority,
    NotificationType,
    ParticipantType,
    StoreTier,
)
from .messaging import Conversation, ConversationParticipant, Message, MessageAttachment
from .notifications import AdminNotification
from .platform import Customer, Store, User

__all__ = [
    "AdminNotification",
    "Conversation",
    "ConversationParticipant",
    "ConversationType",
    "Customer",
    "EmailCategory",
    "EmailLog",
    "EmailProvider",
    "EmailStatus",
    "EmailTemplate",
    "Message",
    "MessageAttachment",
    "NotificationPriority",
    "NotificationType",
    "ParticipantType",
    "Store",
    "StoreEmailSettings",
    "StoreEmailTemplate",
    "StoreTier",
    "User",
]

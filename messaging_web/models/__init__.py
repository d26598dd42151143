"""All models, importable from one place: `from messaging_web.models import Store, EmailLog, ...`."""
from .deliverability import EmailSuppression, SoftBounceRun, SuppressionAudit
from .email import EmailLog, EmailTemplate, StoreEmailSettings, StoreEmailTemplate
from .email_stats import (
    EmailDailyStats,
    EmailDailyStatsAllStores,
    EmailDailyStatsPerStore,
    EmailStatDelta,
    EmailWeeklyStatsPerStore,
)
from .enums import (
    CONVERSATION_TYPES_SEEN,
    CONVERSATION_TYPES_STARTED,
    ConversationType,
    EmailCategory,
    EmailProvider,
    EmailStatus,
    InboundSource,
    InboundStatus,
    NotificationPriority,
    NotificationType,
    ParticipantType,
    StoreTier,
    SuppressionReason,
    SuppressionScope,
    participants_of,
)
from .inbound import InboundEmail
from .messaging import Conversation, ConversationParticipant, Message, MessageAttachment
from .moderation import ModerationView
from .notifications import AdminNotification
from .platform import Customer, Store, User
from .saved_replies import SavedReply
from .template_versions import TemplateVersion

__all__ = [
    "CONVERSATION_TYPES_SEEN",
    "CONVERSATION_TYPES_STARTED",
    "participants_of",
    "AdminNotification",
    "Conversation",
    "ConversationParticipant",
    "ConversationType",
    "Customer",
    "EmailCategory",
    "EmailDailyStats",
    "EmailDailyStatsAllStores",
    "EmailDailyStatsPerStore",
    "EmailLog",
    "EmailStatDelta",
    "EmailWeeklyStatsPerStore",
    "EmailProvider",
    "EmailStatus",
    "EmailSuppression",
    "SoftBounceRun",
    "SuppressionAudit",
    "SuppressionReason",
    "SuppressionScope",
    "EmailTemplate",
    "InboundEmail",
    "ModerationView",
    "SavedReply",
    "TemplateVersion",
    "InboundSource",
    "InboundStatus",
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

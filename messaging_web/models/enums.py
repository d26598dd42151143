"""The spec's enumerations and the host models' (store tier), as str-valued Python enums."""
from __future__ import annotations

import enum


class StrEnum(enum.StrEnum):
    @classmethod
    def values(cls) -> list[str]:
        return [member.value for member in cls]


class EmailCategory(StrEnum):
    AUTH = "auth"
    ORDERS = "orders"
    BILLING = "billing"
    SYSTEM = "system"
    MARKETING = "marketing"


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    # Not in the spec: never sent, the address is on a suppression list (the row's error_message says why).
    SUPPRESSED = "suppressed"


class SuppressionReason(StrEnum):
    HARD_BOUNCE = "hard_bounce"  # the address does not exist: platform-wide
    SOFT_BOUNCES = "soft_bounces"  # too many temporary failures in a row: platform-wide
    COMPLAINT = "complaint"  # the recipient reported the store's email as spam
    UNSUBSCRIBE = "unsubscribe"  # the recipient asked (one-click, or the preference page)


class SuppressionScope(StrEnum):
    ADDRESS = "address"  # every email to the address (bounces)
    ALL = "all"  # every email of the store that the reason covers
    MARKETING = "marketing"  # the store's marketing emails
    CONVERSATIONS = "conversations"  # the store's emails about new conversation messages


class EmailProvider(StrEnum):
    SMTP = "smtp"
    SENDGRID = "sendgrid"
    MAILGUN = "mailgun"
    SES = "ses"


class ConversationType(StrEnum):
    ADMIN_STORE = "admin_store"
    STORE_CUSTOMER = "store_customer"
    ADMIN_CUSTOMER = "admin_customer"


class ParticipantType(StrEnum):
    ADMIN = "admin"
    STORE = "store"
    CUSTOMER = "customer"


# Who takes part in which conversations, and which each may start: the one table that visibility (access.py),
# the reader rows of a thread, the members who join later and the portals' inbox filters are derived from.
CONVERSATION_TYPES_SEEN: dict[ParticipantType, tuple[ConversationType, ...]] = {
    ParticipantType.ADMIN: (ConversationType.ADMIN_STORE, ConversationType.ADMIN_CUSTOMER),
    ParticipantType.STORE: (ConversationType.STORE_CUSTOMER, ConversationType.ADMIN_STORE),
    ParticipantType.CUSTOMER: (ConversationType.STORE_CUSTOMER, ConversationType.ADMIN_CUSTOMER),
}
CONVERSATION_TYPES_STARTED: dict[ParticipantType, tuple[ConversationType, ...]] = {
    ParticipantType.ADMIN: (ConversationType.ADMIN_STORE, ConversationType.ADMIN_CUSTOMER),
    ParticipantType.STORE: (ConversationType.STORE_CUSTOMER, ConversationType.ADMIN_STORE),
    ParticipantType.CUSTOMER: (ConversationType.STORE_CUSTOMER,),
}


def participants_of(kind: ConversationType) -> frozenset[ParticipantType]:
    """The kinds of people who see conversations of `kind`."""
    return frozenset(person for person, seen in CONVERSATION_TYPES_SEEN.items() if kind in seen)


class StoreTier(StrEnum):
    STARTER = "starter"
    PROFESSIONAL = "professional"
    BUSINESS = "business"
    ENTERPRISE = "enterprise"

    @property
    def allows_api_providers(self) -> bool:
        """SendGrid, Mailgun and SES are for Business tier and above."""
        return self in (StoreTier.BUSINESS, StoreTier.ENTERPRISE)

    def allows_provider(self, provider: str | None) -> bool:
        return provider == "smtp" or self.allows_api_providers


class NotificationType(StrEnum):
    SYSTEM_ALERT = "system_alert"
    STORE_ISSUE = "store_issue"
    IMPORT_FAILURE = "import_failure"


class NotificationPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class InboundStatus(StrEnum):
    POSTED = "posted"  # placed in its thread as a message
    HELD = "held"  # could not be placed: waits in the undelivered replies list
    ACCEPTED = "accepted"  # held, then accepted into its thread by a person
    DISCARDED = "discarded"  # held, then discarded by a person
    IGNORED = "ignored"  # an auto-reply, a delivery report, list traffic or our own mail: never posted


class InboundSource(StrEnum):
    SMTP = "smtp"
    SENDGRID = "sendgrid"
    MAILGUN = "mailgun"
    SES = "ses"

"""Email aggregate: platform templates, store overrides, per-store sender settings, the email log."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, in_list_check
from .enums import EmailCategory, EmailProvider, EmailStatus


class EmailTemplate(TimestampMixin, Model):
    __tablename__ = "email_templates"
    __table_args__ = (
        sa.UniqueConstraint("code", "language"),
        in_list_check("category", EmailCategory.values(), "category_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(100), nullable=False, index=True)
    language: Mapped[str] = mapped_column(sa.String(5), nullable=False, default="en")
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    category: Mapped[str] = mapped_column(
        sa.String(50), nullable=False, default=EmailCategory.SYSTEM.value, index=True
    )
    subject: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    body_html: Mapped[str] = mapped_column(sa.Text, nullable=False)
    body_text: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    variables: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    required_variables: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    is_platform_only: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # The saved state in use (services/templates/versions.py); emails in the log name it.
    current_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("template_versions.id", ondelete="SET NULL", use_alter=True), nullable=True
    )

    def __repr__(self) -> str:
        return f"<EmailTemplate {self.code}/{self.language}>"


class StoreEmailTemplate(TimestampMixin, Model):
    __tablename__ = "store_email_templates"
    __table_args__ = (sa.UniqueConstraint("store_id", "template_code", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("stores.id"), nullable=False, index=True)
    template_code: Mapped[str] = mapped_column(sa.String(100), nullable=False, index=True)
    language: Mapped[str] = mapped_column(sa.String(5), nullable=False, default="en")
    name: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    subject: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    body_html: Mapped[str] = mapped_column(sa.Text, nullable=False)
    body_text: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    current_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("template_versions.id", ondelete="SET NULL", use_alter=True), nullable=True
    )

    store = relationship("Store")

    def __repr__(self) -> str:
        return f"<StoreEmailTemplate store={self.store_id} {self.template_code}/{self.language}>"


class EmailLog(TimestampMixin, Model):
    """One email, from queueing to its last known state; also the outbox's queue (status pending)."""

    __tablename__ = "email_logs"
    __table_args__ = (
        in_list_check("status", EmailStatus.values(), "status_valid"),
        # The workers' claim query: due pending rows, oldest first.
        sa.Index("ix_email_logs_status_next_attempt_at", "status", "next_attempt_at"),
        # The same claim walked in id order over the unclaimed pending rows alone: each claim then reads its 50
        # rows, where the index above handed a bitmap of every pending row version not vacuumed yet (thousands
        # during a run) to be sorted, at every claim and every idle worker's poll (bench/bench_delivery.py).
        sa.Index(
            "ix_email_logs_unclaimed", "id",
            postgresql_where=sa.text("status = 'pending' AND claimed_at IS NULL"),
            sqlite_where=sa.text("status = 'pending' AND claimed_at IS NULL"),
        ),
        # Recent emails counted by status: the platform's and per store (analytics, home pages),
        # answered from the index alone.
        sa.Index("ix_email_logs_created_at_store_id_status", "created_at", "store_id", "status"),
        sa.Index("ix_email_logs_store_id_created_at_status", "store_id", "created_at", "status"),
        # A store's log, newest first.
        sa.Index("ix_email_logs_store_id_id", "store_id", "id"),
        # The log's search (recipient or subject ILIKE '%term%') through pg_trgm; SQLite scans.
        sa.Index(
            "ix_email_logs_recipient_email_trgm", "recipient_email",
            postgresql_using="gin", postgresql_ops={"recipient_email": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        sa.Index(
            "ix_email_logs_subject_trgm", "subject",
            postgresql_using="gin", postgresql_ops={"subject": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_code: Mapped[str | None] = mapped_column(sa.String(100), nullable=True, index=True)
    template_id: Mapped[int | None] = mapped_column(sa.ForeignKey("email_templates.id"), nullable=True)
    # The template version the email was rendered from (its history page shows it).
    template_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("template_versions.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    template_version = relationship("TemplateVersion", foreign_keys=[template_version_id])
    recipient_email: Mapped[str] = mapped_column(sa.String(255), nullable=False, index=True)
    recipient_name: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    subject: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    body_html: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    body_text: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    from_email: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    from_name: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    reply_to: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    status: Mapped[str] = mapped_column(
        sa.String(20), nullable=False, default=EmailStatus.PENDING.value, index=True
    )
    sent_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    opened_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    clicked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    error_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    retry_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    provider: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(255), nullable=True, index=True)
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id"), nullable=True, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), nullable=True, index=True)
    related_type: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    related_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    extra_data: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    # Delivery bookkeeping (not in the spec): when the next attempt is due, which worker holds the
    # row, whether the store's own settings send it, and whether a send may have gone out unrecorded.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    # Set (and committed) just before this claim's send begins: when a worker dies, only the row it was
    # sending may have gone out; the other rows of its claim were never started and are simply sent again.
    send_started_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    via_store_settings: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    # Not in the spec: the template's category when queued (suppression and analytics read it), and when
    # the recipient reported the email as spam (the status stays where delivery got).
    category: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    complained_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    delivery_ambiguous: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )

    @property
    def message_id_header(self) -> str:
        """The Message-ID, derived from the log id so that a resend after a crash can be recognised."""
        return f"<email-log-{self.id}@messaging-web>"

    def __repr__(self) -> str:
        return f"<EmailLog {self.id} {self.status} to {self.recipient_email}>"


# The log's search for an address ("ana@", "customer12@example.c") on PostgreSQL: in an address with one '@', what
# a term has before its '@' ends the local part and what it has after it starts the domain, so the term is two
# prefix searches here: the local part reversed, then the domain (services/email/email_log.py). Literal constants,
# so that the search's query, which reuses these expressions, matches the indexes.
sa.Index(
    "ix_email_logs_recipient_address_parts",
    sa.func.reverse(sa.func.split_part(
        sa.func.lower(EmailLog.recipient_email), sa.literal("@", literal_execute=True),
        sa.literal(1, literal_execute=True),
    )).label("recipient_local_reversed"),
    sa.func.split_part(
        sa.func.lower(EmailLog.recipient_email), sa.literal("@", literal_execute=True),
        sa.literal(2, literal_execute=True),
    ).label("recipient_domain"),
    postgresql_ops={"recipient_local_reversed": "text_pattern_ops", "recipient_domain": "text_pattern_ops"},
).ddl_if(dialect="postgresql")
# The few addresses with several '@' ('"a@b"@example.com'), where the term's '@' may be any of them: searched by
# trigrams as before, in an index of them alone.
sa.Index(
    "ix_email_logs_recipient_several_at_trgm", EmailLog.recipient_email,
    postgresql_using="gin", postgresql_ops={"recipient_email": "gin_trgm_ops"},
    postgresql_where=EmailLog.recipient_email.like(sa.literal("%@%@%", literal_execute=True)),
).ddl_if(dialect="postgresql")


class StoreEmailSettings(TimestampMixin, Model):
    __tablename__ = "store_email_settings"
    __table_args__ = (
        sa.Index("ix_store_email_settings_store_id_is_configured", "store_id", "is_configured"),
        in_list_check("provider", EmailProvider.values(), "provider_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("stores.id"), nullable=False, unique=True)
    from_email: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    from_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    reply_to_email: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    signature_text: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    signature_html: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    provider: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=EmailProvider.SMTP.value)
    smtp_host: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    smtp_port: Mapped[int | None] = mapped_column(sa.Integer, nullable=True, default=587)
    smtp_username: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    smtp_password: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    smtp_use_tls: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    smtp_use_ssl: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    sendgrid_api_key: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    mailgun_api_key: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    mailgun_domain: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    # Not in the spec: Mailgun serves US and EU accounts from different API hosts.
    mailgun_region: Mapped[str] = mapped_column(sa.String(2), nullable=False, default="us", server_default="us")
    ses_access_key_id: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    ses_secret_access_key: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    ses_region: Mapped[str | None] = mapped_column(sa.String(50), nullable=True, default="eu-west-1")
    # Not in the spec: what verifies the provider's event webhook (delivered, bounced, opened, clicked).
    # SendGrid signs with a key pair (this is its public half, not a secret); Mailgun with a shared
    # signing key, encrypted like the other secrets; SES events come through an SNS topic of the
    # store's AWS account, whose ARN is what tells its notifications from anyone else's.
    sendgrid_webhook_public_key: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    mailgun_webhook_signing_key: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    ses_sns_topic_arn: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    is_configured: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    is_verified: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    last_verified_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    verification_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)

    store = relationship("Store")

    def __repr__(self) -> str:
        return f"<StoreEmailSettings store={self.store_id} {self.provider}>"

"""Template history: every saved state of a platform template or of a store's version of one."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, in_list_check, utcnow

VERSION_ACTIONS = ("created", "saved", "restored", "reverted")


class TemplateVersion(Model):
    """One saved state, numbered per (store, code, language): store_id NULL is the platform template. The
    newest is what is in use (or, with action 'reverted', the store's version was removed: the platform
    default applies). Restoring a version saves its text again, as a new version."""

    __tablename__ = "template_versions"
    __table_args__ = (
        sa.UniqueConstraint("store_id", "template_code", "language", "number",
                            name="uq_template_versions_store_id_template_code_language_number"),
        sa.Index("ix_template_versions_template_code_language", "template_code", "language"),
        in_list_check("action", list(VERSION_ACTIONS), "template_version_action_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=True)
    template_code: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    language: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    action: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    body_html: Mapped[str] = mapped_column(sa.Text, nullable=False)
    body_text: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    variables: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    required_variables: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    note: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    author_name: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)  # None: the system (seeding)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)

"""Host models that stand in for the platform around this module: Store, User, Customer."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, in_list_check
from .enums import StoreTier


class Store(TimestampMixin, Model):
    __tablename__ = "stores"
    __table_args__ = (in_list_check("tier", StoreTier.values(), "tier_valid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    slug: Mapped[str] = mapped_column(sa.String(100), nullable=False, unique=True)
    tier: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=StoreTier.STARTER.value)
    default_language: Mapped[str] = mapped_column(sa.String(5), nullable=False, default="en")
    # Conversations: whether a customer sees which team member is typing ("Ana is typing") or only
    # "The store team is typing" (the default). Set on the store's conversation settings page.
    show_staff_names_to_customers: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )

    team = relationship("User", back_populates="store", lazy="raise_on_sql")

    @property
    def tier_enum(self) -> StoreTier:
        return StoreTier(self.tier)

    def __repr__(self) -> str:
        return f"<Store {self.slug}>"


class User(TimestampMixin, Model):
    """A platform admin (store_id is null) or a member of one store's team."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    is_platform_admin: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    store_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stores.id"), nullable=True, index=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # Bumped at logout and password change: every session cookie issued before stops working.
    session_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    preferred_language: Mapped[str] = mapped_column(sa.String(5), nullable=False, default="en")
    timezone: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="UTC")
    # When the person chose them (profile page, language switcher); null: the portal picks for them
    # (messaging_web/i18n.py) and offers the browser's zone.
    language_saved_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    timezone_saved_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    store = relationship("Store", back_populates="team")

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class Customer(TimestampMixin, Model):
    """A shopper of one store; the same email may be a customer of several stores."""

    __tablename__ = "customers"
    __table_args__ = (sa.UniqueConstraint("store_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("stores.id"), nullable=False, index=True)
    email: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    session_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    preferred_language: Mapped[str] = mapped_column(sa.String(5), nullable=False, default="en")
    timezone: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="UTC")
    # When the person chose them (profile page, language switcher); null: the portal picks for them
    # (messaging_web/i18n.py) and offers the browser's zone.
    language_saved_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    timezone_saved_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    store = relationship("Store")

    def __repr__(self) -> str:
        return f"<Customer {self.email} of store {self.store_id}>"

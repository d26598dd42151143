"""People who sign in: password hashing, authentication, session invalidation, account creation."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..i18n import _l
from ..models import Customer, Store, User
from . import conversations, live
from .errors import ValidationError

MIN_PASSWORD_LENGTH = 8
# Checked against when the email is unknown, so that both failures cost the same time.
_DUMMY_HASH: dict[str, str] = {}


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def _dummy_hash() -> str:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _DUMMY_HASH:
        _DUMMY_HASH[method] = generate_password_hash("not-a-real-password", method=method)
    return _DUMMY_HASH[method]


def _check(account, password: str):
    if account is None or not account.is_active:
        check_password_hash(_dummy_hash(), password)
        return None
    return account if check_password_hash(account.password_hash, password) else None


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def authenticate_admin(email: str, password: str) -> User | None:
    user = db.session.scalar(
        sa.select(User).where(User.email == normalise_email(email), User.is_platform_admin.is_(True))
    )
    return _check(user, password)


def authenticate_store_user(store: Store, email: str, password: str) -> User | None:
    user = db.session.scalar(
        sa.select(User).where(User.email == normalise_email(email), User.store_id == store.id)
    )
    return _check(user, password)


def authenticate_customer(store: Store, email: str, password: str) -> Customer | None:
    customer = db.session.scalar(
        sa.select(Customer).where(Customer.email == normalise_email(email), Customer.store_id == store.id)
    )
    return _check(customer, password)


def end_all_sessions(account: User | Customer) -> None:
    """Every session cookie issued before this call stops working (the loader compares versions)."""
    account.session_version = (account.session_version or 0) + 1
    kind = "customer" if isinstance(account, Customer) else ("admin" if account.is_platform_admin else "store")
    live.sessions_ended(kind, account.id)


def change_password(account: User | Customer, current_password: str, new_password: str) -> None:
    if not check_password_hash(account.password_hash, current_password):
        raise ValidationError(_l("The current password is not correct."), field="current_password")
    _check_new_password(new_password)
    account.password_hash = hash_password(new_password)
    end_all_sessions(account)


def _check_new_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _l("The password must be at least %(num)d characters long.", num=MIN_PASSWORD_LENGTH), field="password"
        )


def create_admin(email: str, name: str, password: str) -> User:
    email = normalise_email(email)
    _check_new_password(password)
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise ValidationError(_l("A user with the email %(email)s already exists.", email=email), field="email")
    user = User(email=email, name=name, password_hash=hash_password(password), is_platform_admin=True)
    db.session.add(user)
    db.session.flush()
    conversations.join_conversations_of_new_member(user)
    return user


def create_store_user(store: Store, email: str, name: str, password: str) -> User:
    email = normalise_email(email)
    _check_new_password(password)
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise ValidationError(_l("A user with the email %(email)s already exists.", email=email), field="email")
    user = User(email=email, name=name, password_hash=hash_password(password), store_id=store.id)
    db.session.add(user)
    db.session.flush()
    conversations.join_conversations_of_new_member(user)
    return user


def create_customer(store: Store, email: str, name: str, password: str, language: str = "en") -> Customer:
    email = normalise_email(email)
    _check_new_password(password)
    exists = db.session.scalar(
        sa.select(Customer.id).where(Customer.email == email, Customer.store_id == store.id)
    )
    if exists:
        raise ValidationError(
            _l("%(email)s is already a customer of %(store)s.", email=email, store=store.name), field="email"
        )
    customer = Customer(
        store_id=store.id, email=email, name=name, password_hash=hash_password(password),
        preferred_language=language,
    )
    db.session.add(customer)
    db.session.flush()
    return customer

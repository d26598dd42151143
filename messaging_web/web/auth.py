"""Sign-in, sign-out and password change for the three portals."""
from __future__ import annotations

from typing import TypeGuard
from urllib.parse import unquote, urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user, logout_user

from .. import access
from ..actors import ADMIN, CUSTOMER, STORE, Actor, current_actor
from ..extensions import db, limiter
from ..i18n import SESSION_LANGUAGE_KEY, _, _l, current_language
from ..models import Customer, Store
from ..services import accounts
from .forms import ChangePasswordForm, LoginForm, save_form

bp = Blueprint("auth", __name__)

WRONG_CREDENTIALS = _l("The email or password is not correct.")


def safe_next(target: str | None, default: str) -> str:
    """A `next` inside the portal just signed into (`default` is its home): a path of ours under the same
    portal prefix (/admin/, /store/<slug>/, /inbox/<slug>/), never another host, portal or a /t/ redirect."""
    if not is_local_path(target) or not urlsplit(target).path.startswith(_portal_prefix(default)):
        return default
    return target


def is_local_path(target: str | None) -> TypeGuard[str]:
    """A path of this site to redirect to: never another host, and taken at its word by the browser."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return False
    # A browser resolves "." and ".." segments, percent-encoded ones too (/admin/%2e%2e/t/...), before it
    # follows the redirect: a path with any is not taken at its word.
    return not any(segment in (".", "..") for segment in unquote(parts.path).split("/"))


def _portal_prefix(home: str) -> str:
    """/admin/, /store/<slug>/ or /inbox/<slug>/ of a portal's home page."""
    segments = urlsplit(home).path.strip("/").split("/")
    return "/" + "/".join(segments[:1 if segments[0] == "admin" else 2]) + "/"


def _login_rate_key() -> str:
    email = accounts.normalise_email(request.form.get("email", ""))
    return f"login:{request.remote_addr}:{request.path}:{email}"


def _login_address_key() -> str:
    # Across emails and portals: one address trying a password on many accounts (password spraying).
    return f"login-address:{request.remote_addr}"


def _failed_sign_in(response) -> bool:
    return response.status_code == 401


login_throttle = limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    key_func=_login_rate_key,
    methods=["POST"],
    deduct_when=_failed_sign_in,
)
# Shared: one count for the three portals' sign-in pages (a limit() of its own would count per page).
login_address_throttle = limiter.shared_limit(
    lambda: current_app.config["LOGIN_ADDRESS_RATE_LIMIT"],
    scope="login-address",
    key_func=_login_address_key,
    methods=["POST"],
    deduct_when=_failed_sign_in,
)


def _portal_url(actor: Actor, admin_endpoint: str, store_endpoint: str, customer_endpoint: str) -> str:
    if actor.kind == ADMIN:
        return url_for(admin_endpoint)
    slug = db.session.get_one(Store, actor.store_id).slug
    return url_for(store_endpoint if actor.kind == STORE else customer_endpoint, slug=slug)


def portal_home(actor: Actor) -> str:
    return _portal_url(actor, "admin.home", "store.home", "customer.home")


def _sign_in(form: LoginForm, authenticate, to_actor, home: str, **page):
    if form.validate_on_submit():
        account = authenticate(form.email.data, form.password.data or "")
        if account is not None:
            session.clear()  # a fresh session: nothing from before sign-in carries over
            login_user(to_actor(account))
            return redirect(safe_next(request.args.get("next"), home))
        form.form_errors.append(str(WRONG_CREDENTIALS))
        return render_template("auth/login.html", form=form, **page), 401
    return render_template("auth/login.html", form=form, **page)


@bp.route("/admin/login", methods=["GET", "POST"])
@login_throttle
@login_address_throttle
def admin_login():
    return _sign_in(
        LoginForm(), accounts.authenticate_admin, Actor.for_user, url_for("admin.home"),
        portal=ADMIN, title=_("Platform admin sign-in"),
    )


@bp.route("/store/<slug>/login", methods=["GET", "POST"])
@login_throttle
@login_address_throttle
def store_login(slug: str):
    store = access.store_by_slug(slug)
    return _sign_in(
        LoginForm(), lambda email, pw: accounts.authenticate_store_user(store, email, pw), Actor.for_user,
        url_for("store.home", slug=store.slug), portal=STORE, store=store,
        title=_("%(store)s: team sign-in", store=store.name),
    )


@bp.route("/inbox/<slug>/login", methods=["GET", "POST"])
@login_throttle
@login_address_throttle
def customer_login(slug: str):
    store = access.store_by_slug(slug)
    return _sign_in(
        LoginForm(), lambda email, pw: accounts.authenticate_customer(store, email, pw), Actor.for_customer,
        url_for("customer.home", slug=store.slug), portal=CUSTOMER, store=store,
        title=_("%(store)s: sign in", store=store.name),
    )


def _login_page_for(actor: Actor) -> str:
    return _portal_url(actor, "auth.admin_login", "auth.store_login", "auth.customer_login")


@bp.post("/logout")
def logout():
    actor = current_actor()
    if not actor.is_authenticated:
        return redirect(url_for("public.index"))
    target = _login_page_for(actor)
    language = current_language()
    accounts.end_all_sessions(actor.account)
    db.session.commit()
    logout_user()
    session.clear()
    # The sign-in page after stays in the language the person was reading.
    session[SESSION_LANGUAGE_KEY] = language
    flash(_("You are signed out."), "info")
    return redirect(target)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    actor = current_actor()
    form = ChangePasswordForm()
    submission = save_form(
        form,
        lambda: accounts.change_password(actor.account, form.current_password.data or "", form.password.data or ""),
    )
    if submission.saved:
        # This browser stays signed in with the new version; every other copy is out.
        session.clear()
        account, store = actor.account, actor.store
        signed_in = (
            Actor.for_customer(account, store) if isinstance(account, Customer) else Actor.for_user(account, store)
        )
        login_user(signed_in)
        flash(_("Your password is changed. Other sessions have been signed out."), "success")
        return redirect(portal_home(signed_in))
    return render_template("auth/change_password.html", form=form, portal=actor.kind), submission.status

"""The store owner portal (/store/<slug>): the team's own store only."""
from __future__ import annotations

from flask import Blueprint, g, render_template

from ..actors import STORE, current_actor
from ..services import dashboard
from ..services.email.email_settings import PROVIDER_LABELS
from .portal import guard_store_portal

bp = Blueprint("store", __name__, url_prefix="/store/<slug>")
guard_store_portal(bp, STORE, "auth.store_login")


@bp.get("/")
def home():
    overview = dashboard.store_overview(current_actor(), g.store.id)
    return render_template("store/home.html", overview=overview, provider_labels=PROVIDER_LABELS)

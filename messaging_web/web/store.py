"""The store owner portal (/store/<slug>): the team's own store only."""
from __future__ import annotations

from flask import Blueprint, render_template

from ..auth import STORE
from .portal import guard_store_portal

bp = Blueprint("store", __name__, url_prefix="/store/<slug>")
guard_store_portal(bp, STORE, "auth.store_login")


@bp.get("/")
def home():
    return render_template("store/home.html")

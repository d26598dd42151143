"""The platform admin console (/admin)."""
from __future__ import annotations

from flask import Blueprint, render_template

from ..actors import ADMIN
from ..services import dashboard
from .portal import guard_portal

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_portal(bp, ADMIN, "auth.admin_login")


@bp.get("/")
def home():
    return render_template("admin/home.html", recent=dashboard.platform_recent_emails())

"""The customer inbox (/inbox/<slug>): a customer of that store only."""
from __future__ import annotations

from flask import Blueprint, render_template

from ..auth import CUSTOMER
from .portal import guard_store_portal

bp = Blueprint("customer", __name__, url_prefix="/inbox/<slug>")
guard_store_portal(bp, CUSTOMER, "auth.customer_login")


@bp.get("/")
def home():
    return render_template("customer/home.html")

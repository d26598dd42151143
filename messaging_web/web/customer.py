"""The customer inbox (/inbox/<slug>): a customer of that store only."""
from __future__ import annotations

from flask import Blueprint

from ..actors import CUSTOMER
from .portal import guard_store_portal

bp = Blueprint("customer", __name__, url_prefix="/inbox/<slug>")
guard_store_portal(bp, CUSTOMER, "auth.customer_login")

# The portal's home is the customer's inbox (web/customer_conversations.py).

"""Blueprints for the three portals, sign-in, and the public pages; registered by create_app."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import (  # noqa: F401  (routes)
        admin,
        admin_conversations,
        attachment_views,
        auth,
        customer,
        customer_conversations,
        errors,
        public,
        store,
        store_conversations,
    )

    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(store.bp)
    app.register_blueprint(customer.bp)
    errors.register(app)

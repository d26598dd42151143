"""Blueprints for the three portals, sign-in, and the public pages; registered by create_app."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    # Feature modules (admin_email_log, store_email_*) add routes to the admin and store blueprints,
    # so they are imported before the blueprints are registered.
    from . import (  # noqa: F401
        admin,
        admin_email_log,
        admin_notifications,
        auth,
        customer,
        errors,
        public,
        store,
        store_email_log,
        store_email_settings,
    )

    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(store.bp)
    app.register_blueprint(customer.bp)
    errors.register(app)

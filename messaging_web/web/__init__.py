"""Blueprints for the three portals, sign-in, and the public pages; registered by create_app."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    # Feature modules add routes to the admin, store and customer blueprints,
    # so they are imported before the blueprints are registered.
    from . import (  # noqa: F401
        admin,
        admin_conversations,
        admin_email_log,
        admin_moderation,
        admin_notifications,
        admin_templates,
        assets,
        attachment_views,
        auth,
        customer,
        customer_conversations,
        errors,
        forms,
        inbound_replies,
        inbound_webhooks,
        live_views,
        nav,
        profile,
        public,
        read_only,
        saved_replies,
        script_texts,
        store,
        store_conversation_settings,
        store_conversations,
        store_email_log,
        store_email_settings,
        store_templates,
        suppressions,
        template_history,
        template_send_test,
        tracking,
        unsubscribe,
        webhooks,
    )

    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(profile.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(store.bp)
    app.register_blueprint(customer.bp)
    app.register_blueprint(tracking.bp)
    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(inbound_webhooks.bp)
    errors.register(app)
    forms.register(app)
    read_only.register(app)
    nav.register(app)
    assets.register(app)
    script_texts.register(app)
    live_views.register(app)

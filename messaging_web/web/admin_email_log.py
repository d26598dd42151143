"""The admin console's email log: every email, filtered and searched; a row's detail; resend of a failed one;
and its analytics (per store, how far the emails got)."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from .. import access
from ..actors import current_actor
from ..extensions import db
from ..i18n import _
from ..services.email import delivery, email_analytics, email_log
from .admin import bp
from .analytics_views import analytics_context
from .email_log_forms import AnalyticsFilterForm, EmailLogFilterForm
from .htmx import render_page


@bp.get("/email-log")
def email_log_index():
    form = EmailLogFilterForm(request.args)
    form.set_choices(email_log.provider_choices())
    page = email_log.search_email_logs(form.filters(), page=form.page_number(),
                                       per_page=current_app.config["PAGE_SIZE"])
    context = dict(form=form, page=page, detail_endpoint="admin.email_log_detail", show_store=True)
    return render_page("admin/email_log/index.html", "email_log/_results.html", **context)


@bp.get("/email-log/analytics")
def email_log_analytics():
    form = AnalyticsFilterForm(request.args)
    days, search = form.period()
    report = email_analytics.platform_report(days=days, store_key=form.store_key(), search=search,
                                             page=form.page_number(), per_page=current_app.config["PAGE_SIZE"])
    context = dict(form=form, **analytics_context(report))
    return render_page("admin/email_log/analytics.html", "admin/email_log/_analytics_results.html", **context)


@bp.get("/email-log/<int:log_id>")
def email_log_detail(log_id: int):
    row = access.access_email_log(current_actor(), log_id)
    return render_template("admin/email_log/detail.html", row=row, extra=email_log.extra_data(row))


@bp.post("/email-log/<int:log_id>/resend")
def email_log_resend(log_id: int):
    row = access.access_email_log(current_actor(), log_id)
    delivery.requeue_failed(row)
    db.session.commit()
    flash(_("The email is queued to be sent again."), "success")
    return redirect(url_for("admin.email_log_detail", log_id=log_id))

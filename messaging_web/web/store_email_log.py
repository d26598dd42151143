"""The store portal's email log: the emails of this store only, and a row's detail."""
from __future__ import annotations

from flask import current_app, g, render_template, request

from .. import access
from ..actors import current_actor
from ..services.email import email_analytics, email_log
from .analytics_views import analytics_context
from .email_log_forms import AnalyticsFilterForm, EmailLogFilterForm
from .htmx import render_page
from .store import bp


@bp.get("/email-log")
def email_log_index():
    form = EmailLogFilterForm(request.args)
    form.set_choices(email_log.provider_choices())
    page = email_log.search_email_logs(form.filters(), page=form.page_number(),
                                       per_page=current_app.config["PAGE_SIZE"], only_store_id=g.store.id)
    context = dict(form=form, page=page, detail_endpoint="store.email_log_detail", show_store=False)
    return render_page("store/email_log/index.html", "email_log/_results.html", **context)


@bp.get("/email-log/analytics")
def email_log_analytics():
    form = AnalyticsFilterForm(request.args)
    days, _ = form.period()
    report = email_analytics.report(days=days, store_key=g.store.id, label=g.store.name)
    context = dict(form=form, **analytics_context(report))
    return render_page("analytics/store.html", "analytics/_store_results.html", **context)


@bp.get("/email-log/<int:log_id>")
def email_log_detail(log_id: int):
    row = access.access_email_log(current_actor(), log_id)
    return render_template("store/email_log/detail.html", row=row)

"""The suppression list in the store portal (the store's own, and the platform-wide rows of addresses it
emailed) and the admin console (every row, the platform list): search, filter, and removal after a
confirmation page; the same views on both blueprints."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField
from wtforms.validators import Length, Optional

from .. import access
from ..actors import current_actor
from ..extensions import db
from ..i18n import _, _l
from ..models import SuppressionReason
from ..services.email import suppression
from . import admin, store
from .email_log_forms import PagedFilterForm, store_filter
from .forms import options
from .htmx import render_page

PLATFORM = "platform"
# What the pages call the stored values (suppression.REASON_LABELS and SCOPE_LABELS are their English words,
# which the service also writes into rows' details).
REASON_LABELS = {"hard_bounce": _l("Hard bounce"), "soft_bounces": _l("Soft bounces in a row"),
                 "complaint": _l("Spam complaint"), "unsubscribe": _l("Unsubscribed")}
SCOPE_LABELS = {"address": _l("every email (all stores)"), "all": _l("everything this store sends"),
                "marketing": _l("marketing emails"), "conversations": _l("conversation emails")}
ACTION_LABELS = {"added": _l("added"), "removed": _l("removed")}


class SuppressionFilterForm(PagedFilterForm):
    q = SearchField(_l("Search address"), validators=[Optional(), Length(max=200)])
    reason = SelectField(
        _l("Reason"), validators=[Optional()],
        choices=options([("", _l("Any reason"))] + [(r, REASON_LABELS.get(r, r)) for r in SuppressionReason.values()]),
    )
    # Admins: every list, the platform-wide one, or one store's (its name, or its id from links): no picker of
    # every store, which at a thousand stores costs more than the page.
    list = SelectField(_l("List"), validators=[Optional()],
                       choices=options([("", _l("Every list")), (PLATFORM, _l("Platform-wide (bounces)"))]))
    store = SearchField(_l("Store"), validators=[Optional(), Length(max=200)])

    def filters(self) -> suppression.SuppressionFilters:
        valid = self.validate()
        errors = self.errors if not valid else {}
        store_id, store_search = store_filter(self.store.data if "store" not in errors else None)
        return suppression.SuppressionFilters(
            search=(self.q.data or "").strip() or None if "q" not in errors else None,
            reason=self.reason.data if "reason" not in errors and self.reason.data else None,
            store_id=store_id, store_search=store_search,
            platform_only="list" not in errors and self.list.data == PLATFORM,
        )


def _register(bp: Blueprint, portal: str) -> None:
    layout = f"{portal}/layout.html"

    @bp.get("/suppressions", endpoint="suppressions_index")
    def suppressions_index():
        form = SuppressionFilterForm(request.args)
        only_store_id = access.suppression_lists_of(current_actor())
        page = suppression.search_suppressions(form.filters(), page=form.page_number(),
                                               per_page=current_app.config["PAGE_SIZE"], only_store_id=only_store_id)
        return render_page("suppressions/index.html", "suppressions/_results.html", layout=layout, form=form,
                           page=page, reasons=REASON_LABELS, scopes=SCOPE_LABELS,
                           only_store_id=only_store_id)

    @bp.route("/suppressions/<int:suppression_id>/remove", methods=["GET", "POST"], endpoint="suppressions_remove")
    def suppressions_remove(suppression_id: int):
        actor = current_actor()
        row = access.access_suppression(actor, suppression_id, for_update=request.method == "POST")
        index_url = url_for(f"{portal}.suppressions_index")
        if request.method == "POST":
            if not FlaskForm().validate_on_submit():
                flash(_("The form expired: reload the page and try again."), "error")
                return redirect(index_url)
            suppression.remove(row, actor=actor.name, actor_user_id=actor.id)
            db.session.commit()
            flash(_("%(address)s is off the list: it will receive these emails again.", address=row.email), "success")
            return redirect(index_url)
        return render_template("suppressions/remove.html", layout=layout, row=row,
                               reasons=REASON_LABELS, scopes=SCOPE_LABELS, actions=ACTION_LABELS,
                               history=suppression.audit_of(row.email,
                                                            only_store_id=access.suppression_lists_of(actor)))


_register(store.bp, "store")
_register(admin.bp, "admin")

"""The undelivered replies list (reply by email) in the store portal and the admin console: the same views on
both blueprints, each showing what its reader may see (access.visible_inbound_emails)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField
from wtforms.validators import Length, Optional

from .. import access
from ..actors import current_actor
from ..extensions import db
from ..i18n import _, _l
from ..services.errors import ValidationError
from ..services.inbound import decisions
from ..services.inbound.parsing import as_message
from . import admin, store
from .email_log_forms import PagedFilterForm
from .forms import options
from .htmx import is_htmx, render_page

STATUS_LABELS = {"held": _l("Waiting for a decision"), "decided": _l("Accepted or discarded"),
                 "ignored": _l("Automatic (never posted)"), "posted": _l("Posted")}
# One email's status (InboundStatus values) as the list's tag and the detail page show it.
ROW_STATUS_LABELS = {"posted": _l("posted"), "held": _l("held"), "accepted": _l("accepted"),
                     "discarded": _l("discarded"), "ignored": _l("ignored")}


class InboundFilterForm(PagedFilterForm):
    q = SearchField(_l("Search sender or subject"), validators=[Optional(), Length(max=200)])
    status = SelectField(_l("Show"), choices=options(list(STATUS_LABELS.items())), default="held",
                         validators=[Optional()])

    def filters(self) -> decisions.InboundFilters:
        status = self.status.data if self.status.data in decisions.LIST_FILTERS else "held"
        return decisions.InboundFilters(status=status, search=(self.q.data or "").strip()[:200])


def _register(bp: Blueprint, portal: str) -> None:
    layout = f"{portal}/layout.html"

    def _context(**context):
        return dict(layout=layout, inbound_portal=portal, reason_text=decisions.reason_text,
                    acceptance_problem=decisions.acceptance_problem,
                    inbound_status_labels=ROW_STATUS_LABELS, **context)

    @bp.get("/undelivered-replies", endpoint="inbound_index")
    def inbound_index():
        form = InboundFilterForm(request.args)
        page = decisions.list_inbound_emails(current_actor(), form.filters(), page=form.page_number(),
                                             per_page=current_app.config["PAGE_SIZE"])
        return render_page("inbound/index.html", "inbound/_results.html", **_context(form=form, page=page))

    @bp.get("/undelivered-replies/<int:inbound_id>", endpoint="inbound_detail")
    def inbound_detail(inbound_id: int):
        row = access.access_inbound_email(current_actor(), inbound_id)
        headers = None
        if portal == "admin" and row.raw is not None:
            try:
                headers = list(as_message(row.raw).items())[:60]
            except Exception:  # an unreadable email: its text is all there is
                headers = None
        return render_template(
            "inbound/detail.html", **_context(row=row, headers=headers, full_text=decisions.full_text(row))
        )

    def _decide(inbound_id: int, action, done: str):
        actor = current_actor()
        row = access.access_inbound_email(actor, inbound_id)
        error = None
        if FlaskForm().validate_on_submit():
            try:
                action(actor, row)
                db.session.commit()
            except ValidationError as exc:
                db.session.rollback()
                error = exc.message
                row = access.access_inbound_email(actor, inbound_id)
        else:
            error = _("The form expired: reload the page and try again.")
        if is_htmx():
            return render_template("inbound/_row.html", **_context(row=row, error=error, done=None if error else done))
        flash(error or done, "error" if error else "success")
        return redirect(url_for(f"{portal}.inbound_index"))

    @bp.post("/undelivered-replies/<int:inbound_id>/accept", endpoint="inbound_accept")
    def inbound_accept(inbound_id: int):
        return _decide(inbound_id, decisions.accept, _("Accepted: the reply is now in the conversation."))

    @bp.post("/undelivered-replies/<int:inbound_id>/discard", endpoint="inbound_discard")
    def inbound_discard(inbound_id: int):
        return _decide(inbound_id, decisions.discard, _("Discarded."))


_register(store.bp, "store")
_register(admin.bp, "admin")

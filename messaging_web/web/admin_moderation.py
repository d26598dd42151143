"""The admin console's review of store-customer conversations: search, a read-only thread, the audit."""
from __future__ import annotations

from flask import current_app, render_template, request
from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField
from wtforms.validators import NumberRange, Optional

from .. import access
from ..actors import current_actor
from ..extensions import db
from ..i18n import _, _l
from ..services import conversations, moderation
from ..services.errors import NotFound
from .admin import bp
from .conversation_views import SIDE_LABELS, TYPE_LABELS
from .forms import PageNumberField, options
from .htmx import render_page
from .message_text import message_html
from .portal import int_arg


class ReviewFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = SearchField(_l("Search"))
    store = SelectField(_l("Store"), coerce=int, validators=[Optional()])
    page = PageNumberField(validators=[Optional(), NumberRange(min=1)])

    def filters(self) -> moderation.ReviewFilters:
        self.validate()  # a bad value in one filter drops that filter only
        return moderation.ReviewFilters(
            search=(self.q.data or "")[:200], store_id=(self.store.data or None) if not self.store.errors else None,
        )

    def page_number(self) -> int:
        return self.page.data if self.page.data and not self.page.errors else 1


def _review_context() -> dict:
    viewer = current_actor()
    return {"viewer_kind": viewer.kind, "viewer_id": viewer.id, "message_html": message_html,
            "conv_type_labels": TYPE_LABELS, "conv_side_labels": SIDE_LABELS, "read_only": True}


@bp.get("/reviews")
def reviews_index():
    actor = current_actor()
    if not moderation.enabled():
        return render_template("admin/reviews/off.html"), 404
    form = ReviewFilterForm(request.args)
    form.store.choices = options([(0, _("All stores")), *access.admin_store_choices(actor)])
    page = moderation.search_store_conversations(
        actor, form.filters(), page=form.page_number(), per_page=current_app.config["PAGE_SIZE"]
    )
    return render_page("admin/reviews/index.html", "admin/reviews/_results.html", form=form, page=page)


@bp.get("/reviews/<int:conversation_id>")
def review_conversation(conversation_id: int):
    if not moderation.enabled():
        raise NotFound("No such conversation.")
    conversation = moderation.open_for_review(current_actor(), conversation_id)
    before = int_arg(request.args, "before")
    slice_ = conversations.thread_messages(conversation, before_id=before)
    # Rendered before the commit (which expires the loaded rows) records the view.
    page = render_template("admin/reviews/thread.html", conversation=conversation, slice=slice_,
                           **_review_context())
    db.session.commit()
    return page


@bp.get("/reviews/audit")
def reviews_audit():
    page = moderation.review_audit(
        current_actor(), page=int_arg(request.args, "page", 1), per_page=current_app.config["PAGE_SIZE"],
        conversation_id=int_arg(request.args, "conversation"),
    )
    return render_page("admin/reviews/audit.html", "admin/reviews/_audit_results.html", page=page)

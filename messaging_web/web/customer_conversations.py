"""The customer's inbox (the customer portal's home), their threads, and writing to the store."""
from __future__ import annotations

from flask import redirect, url_for

from ..actors import current_actor
from ..models import ConversationType
from ..services import conversations
from .conversation_views import Portal, StartForm, register_conversation_views, render_start_form
from .customer import bp
from .forms import save_form
from .rate_limits import message_post_limit

PORTAL = Portal(name="customer", inbox_endpoint="customer.home", can_close=False)
register_conversation_views(bp, PORTAL, prefix="/conversations", inbox_rule="/")


@bp.route("/conversations/new", methods=["GET", "POST"])
@message_post_limit
def new_conversation():
    form = StartForm()
    submission = save_form(form, lambda: conversations.start_conversation(
        current_actor(), ConversationType.STORE_CUSTOMER, form.subject.data or "", form.content.data or ""
    ))
    if submission.saved:
        return redirect(url_for("customer.conversation", conversation_id=submission.result.id))
    return render_start_form(PORTAL, form, submission)

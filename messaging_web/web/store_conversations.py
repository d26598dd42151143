"""The store team's inbox: threads with the store's customers and with the platform."""
from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from wtforms import RadioField, StringField
from wtforms.validators import Optional

from .. import access
from ..actors import current_actor
from ..i18n import _, _l
from ..models import ConversationType
from ..services import conversations
from ..services.errors import NotFound, ValidationError
from .conversation_views import Portal, StartForm, register_conversation_views, render_start_form
from .forms import options, save_form
from .rate_limits import message_post_limit
from .store import bp

PORTAL = Portal(name="store", inbox_endpoint="store.conversations", can_close=True)
register_conversation_views(bp, PORTAL, prefix="/conversations")


class StoreStartForm(StartForm):
    recipient = RadioField(
        _l("To"), default="customer",
        choices=options([("customer", _l("A customer of this store")), ("platform", _l("The platform team"))]),
    )
    customer_email = StringField(_l("Customer's email"), validators=[Optional()])


@bp.route("/conversations/new", methods=["GET", "POST"])
@message_post_limit
def new_conversation():
    form = StoreStartForm(customer_email=request.args.get("customer", ""))
    submission = save_form(form, lambda: _start(current_actor(), form))
    if submission.saved:
        return redirect(url_for("store.conversation", conversation_id=submission.result.id))
    return render_start_form(PORTAL, form, submission)


@bp.get("/conversations/customers")
def customer_options():
    """The customer picker's suggestions as the team types (the store's own customers only)."""
    found = access.search_partner_customers(current_actor(), None, request.args.get("customer_email", ""))
    return render_template("conversations/_customer_options.html", customers=found)


def _start(actor, form: StoreStartForm):
    if form.recipient.data == "platform":
        return conversations.start_conversation(
            actor, ConversationType.ADMIN_STORE, form.subject.data or "", form.content.data or ""
        )
    try:
        customer = access.access_conversation_partner_customer(actor, None, form.customer_email.data or "")
    except NotFound:
        # A customer the store does not have is a mistake in the form, not a missing page.
        raise ValidationError(
            _("%(store)s has no customer with this email.", store=g.store.name), field="customer_email"
        ) from None
    return conversations.start_conversation(
        actor, ConversationType.STORE_CUSTOMER, form.subject.data or "", form.content.data or "", customer=customer
    )

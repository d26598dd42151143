"""The platform admins' inbox: threads with stores and with customers."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for
from wtforms import RadioField, SelectField, StringField
from wtforms.validators import Optional

from .. import access
from ..actors import current_actor
from ..i18n import _, _l
from ..models import ConversationType
from ..services import conversations
from ..services.errors import NotFound, ValidationError
from .admin import bp
from .conversation_views import Portal, StartForm, register_conversation_views, render_start_form
from .forms import options, save_form
from .portal import int_arg
from .rate_limits import message_post_limit

PORTAL = Portal(name="admin", inbox_endpoint="admin.conversations", can_close=True)
register_conversation_views(bp, PORTAL, prefix="/conversations")


class AdminStartForm(StartForm):
    recipient = RadioField(
        _l("To"), default="store",
        choices=options([("store", _l("A store's team")), ("customer", _l("A customer of a store"))]),
    )
    store_id = SelectField(_l("Store"), coerce=int, validators=[Optional()])
    customer_email = StringField(_l("Customer's email (when writing to a customer)"), validators=[Optional()])


@bp.route("/conversations/new", methods=["GET", "POST"])
@message_post_limit
def new_conversation():
    actor = current_actor()
    # "Message this customer" links arrive with the store and the customer filled in.
    form = AdminStartForm(
        store_id=int_arg(request.args, "store_id"), customer_email=request.args.get("customer", ""),
        recipient="customer" if request.args.get("customer") else "store",
    )
    form.store_id.choices = options(access.admin_store_choices(actor))
    submission = save_form(form, lambda: _start(actor, form))
    if submission.saved:
        return redirect(url_for("admin.conversation", conversation_id=submission.result.id))
    return render_start_form(PORTAL, form, submission)


@bp.get("/conversations/customers")
def customer_options():
    """The customer picker's suggestions as the admin types, among the customers of the chosen store."""
    found = access.search_partner_customers(
        current_actor(), int_arg(request.args, "store_id"), request.args.get("customer_email", "")
    )
    return render_template("conversations/_customer_options.html", customers=found)


def _start(actor, form: AdminStartForm):
    try:
        store = access.access_conversation_partner_store(actor, form.store_id.data or 0)
        customer = None
        if form.recipient.data == "customer":
            customer = access.access_conversation_partner_customer(actor, store.id, form.customer_email.data or "")
    except NotFound:
        # A customer the store does not have is a mistake in the form, not a missing page.
        raise ValidationError(_("That store has no customer with this email."), field="customer_email") from None
    if customer is not None:
        return conversations.start_conversation(
            actor, ConversationType.ADMIN_CUSTOMER, form.subject.data or "", form.content.data or "", customer=customer
        )
    return conversations.start_conversation(
        actor, ConversationType.ADMIN_STORE, form.subject.data or "", form.content.data or "", store=store
    )

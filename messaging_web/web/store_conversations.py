"""The store team's inbox: threads with the store's customers and with the platform."""
from __future__ import annotations

from flask import g, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from .. import access
from ..extensions import db
from ..models import ConversationType
from ..services import conversations
from ..services.errors import NotFound, ValidationError
from .conversation_views import Portal, register_conversation_views, render_start_form
from .rate_limits import message_post_limit
from .store import bp

PORTAL = Portal(
    name="store", inbox_endpoint="store.conversations",
    types=(ConversationType.STORE_CUSTOMER, ConversationType.ADMIN_STORE), can_close=True,
)
register_conversation_views(bp, PORTAL, prefix="/conversations")


class StoreStartForm(FlaskForm):
    recipient = RadioField(
        "To", default="customer",
        choices=[SelectChoice("customer", "A customer of this store"), SelectChoice("platform", "The platform team")],
    )
    customer_email = StringField("Customer's email", validators=[Optional()])
    subject = StringField("Subject", validators=[Optional()])
    content = TextAreaField("Message", validators=[Optional()])


@bp.route("/conversations/new", methods=["GET", "POST"])
@message_post_limit
def new_conversation():
    form = StoreStartForm(customer_email=request.args.get("customer", ""))
    if form.validate_on_submit():
        try:
            if form.recipient.data == "platform":
                conversation = conversations.start_conversation(
                    g.actor, ConversationType.ADMIN_STORE, form.subject.data, form.content.data
                )
            else:
                customer = access.access_conversation_partner_customer(g.actor, None, form.customer_email.data)
                conversation = conversations.start_conversation(
                    g.actor, ConversationType.STORE_CUSTOMER, form.subject.data, form.content.data, customer=customer
                )
        except NotFound:
            form.customer_email.errors = [f"{g.store.name} has no customer with this email."]
            db.session.rollback()
        except ValidationError as exc:
            form.form_errors.append(exc.message)
            db.session.rollback()
        else:
            db.session.commit()
            return redirect(url_for("store.conversation", conversation_id=conversation.id))
    return render_start_form(PORTAL, form)

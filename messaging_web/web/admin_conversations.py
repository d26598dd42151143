"""The platform admins' inbox: threads with stores and with customers."""
from __future__ import annotations

from flask import g, redirect, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from .. import access
from ..extensions import db
from ..models import ConversationType
from ..services import conversations
from ..services.errors import NotFound, ValidationError
from .admin import bp
from .conversation_views import Portal, register_conversation_views, render_start_form
from .rate_limits import message_post_limit

PORTAL = Portal(
    name="admin", inbox_endpoint="admin.conversations",
    types=(ConversationType.ADMIN_STORE, ConversationType.ADMIN_CUSTOMER), can_close=True,
)
register_conversation_views(bp, PORTAL, prefix="/conversations")


class AdminStartForm(FlaskForm):
    recipient = RadioField(
        "To", default="store",
        choices=[SelectChoice("store", "A store's team"), SelectChoice("customer", "A customer of a store")],
    )
    store_id = SelectField("Store", coerce=int, validators=[Optional()])
    customer_email = StringField("Customer's email (when writing to a customer)", validators=[Optional()])
    subject = StringField("Subject", validators=[Optional()])
    content = TextAreaField("Message", validators=[Optional()])


@bp.route("/conversations/new", methods=["GET", "POST"])
@message_post_limit
def new_conversation():
    form = AdminStartForm()
    form.store_id.choices = [SelectChoice(store_id, name) for store_id, name in access.admin_store_choices(g.actor)]
    if form.validate_on_submit():
        try:
            store = access.access_conversation_partner_store(g.actor, form.store_id.data or 0)
            if form.recipient.data == "customer":
                customer = access.access_conversation_partner_customer(g.actor, store.id, form.customer_email.data)
                conversation = conversations.start_conversation(
                    g.actor, ConversationType.ADMIN_CUSTOMER, form.subject.data, form.content.data,
                    customer=customer,
                )
            else:
                conversation = conversations.start_conversation(
                    g.actor, ConversationType.ADMIN_STORE, form.subject.data, form.content.data, store=store
                )
        except NotFound:
            form.customer_email.errors = ["That store has no customer with this email."]
            db.session.rollback()
        except ValidationError as exc:
            form.form_errors.append(exc.message)
            db.session.rollback()
        else:
            db.session.commit()
            return redirect(url_for("admin.conversation", conversation_id=conversation.id))
    return render_start_form(PORTAL, form)

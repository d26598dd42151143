"""The customer's inbox (the customer portal's home), their threads, and writing to the store."""
from __future__ import annotations

from flask import g, redirect, url_for
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Optional

from ..extensions import db
from ..models import ConversationType
from ..services import conversations
from ..services.errors import ValidationError
from .conversation_views import Portal, register_conversation_views, render_start_form
from .customer import bp
from .rate_limits import message_post_limit

PORTAL = Portal(
    name="customer", inbox_endpoint="customer.home",
    types=(ConversationType.STORE_CUSTOMER, ConversationType.ADMIN_CUSTOMER), can_close=False,
)
register_conversation_views(bp, PORTAL, prefix="/conversations", inbox_rule="/")


class CustomerStartForm(FlaskForm):
    subject = StringField("Subject", validators=[Optional()])
    content = TextAreaField("Message", validators=[Optional()])


@bp.route("/conversations/new", methods=["GET", "POST"])
@message_post_limit
def new_conversation():
    form = CustomerStartForm()
    if form.validate_on_submit():
        try:
            conversation = conversations.start_conversation(
                g.actor, ConversationType.STORE_CUSTOMER, form.subject.data, form.content.data
            )
        except ValidationError as exc:
            form.form_errors.append(exc.message)
            db.session.rollback()
        else:
            db.session.commit()
            return redirect(url_for("customer.conversation", conversation_id=conversation.id))
    return render_start_form(PORTAL, form)

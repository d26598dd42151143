"""The store's conversation settings (/store/<slug>/settings/conversations): what its customers see of the team."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField

from ..actors import current_actor
from ..i18n import _, _l
from ..services import store_settings
from .forms import save_form
from .htmx import render_page
from .store import bp


class ConversationSettingsForm(FlaskForm):
    show_staff_names = BooleanField(_l("Show customers which team member is typing"))


@bp.route("/settings/conversations", methods=["GET", "POST"])
def conversation_settings_page():
    actor = current_actor()
    form = ConversationSettingsForm()
    if not form.is_submitted():
        form.show_staff_names.data = store_settings.shows_staff_names(actor.store_id)
    submission = save_form(form, lambda: store_settings.update_conversation_settings(
        actor, show_staff_names=form.show_staff_names.data))
    if submission.saved:
        flash(_("Conversation settings saved."), "success")
        return redirect(url_for("store.conversation_settings_page"))
    return render_page("store/settings/conversations.html", "store/settings/conversations.html", form=form)

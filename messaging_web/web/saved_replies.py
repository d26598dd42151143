"""Saved replies in the store portal and the admin console: the list, the editor, and deleting; the same views
on both blueprints, each keeping its own team's replies (services/saved_replies.py)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from ..actors import current_actor
from ..extensions import db
from ..i18n import _, _l
from ..services import saved_replies
from . import admin, store
from .forms import options, save_form
from .htmx import render_page


class SavedReplyForm(FlaskForm):
    # Lengths and emptiness are the service's rules.
    name = StringField(_l("Name"), validators=[Optional()])
    language = SelectField(_l("Language"), choices=options(list(saved_replies.LANGUAGES.items())))
    body = TextAreaField(_l("Text"), validators=[Optional()])

    def to_input(self) -> saved_replies.SavedReplyInput:
        return saved_replies.SavedReplyInput(
            name=self.name.data or "", language=self.language.data or "", body=self.body.data or "",
        )


def _register(bp: Blueprint, portal: str) -> None:
    layout = f"{portal}/layout.html"

    def _index_url():
        return url_for(f"{portal}.saved_replies_index")

    @bp.get("/saved-replies", endpoint="saved_replies_index")
    def saved_replies_index():
        search = (request.args.get("q") or "").strip()[:200]
        language = request.args.get("language") if request.args.get("language") in saved_replies.LANGUAGES else None
        replies = saved_replies.list_saved_replies(current_actor(), search=search, language=language)
        return render_page("saved_replies/index.html", "saved_replies/_results.html", layout=layout,
                           replies=replies, search=search, language=language, languages=saved_replies.LANGUAGES,
                           placeholders=saved_replies.PLACEHOLDERS)

    @bp.route("/saved-replies/new", methods=["GET", "POST"], endpoint="saved_replies_new")
    def saved_replies_new():
        actor = current_actor()
        default_language = getattr(g, "store", None) and g.store.default_language
        form = SavedReplyForm(language=request.args.get("language") or default_language or "en")
        submission = save_form(form, lambda: saved_replies.create_saved_reply(actor, form.to_input()))
        if submission.saved:
            flash(_("Saved reply “%(name)s” created.", name=submission.result.name), "success")
            return redirect(_index_url())
        return render_template("saved_replies/edit.html", layout=layout, form=form, reply=None,
                               placeholders=saved_replies.PLACEHOLDERS), submission.status

    @bp.route("/saved-replies/<int:reply_id>/edit", methods=["GET", "POST"], endpoint="saved_replies_edit")
    def saved_replies_edit(reply_id: int):
        actor = current_actor()
        reply = saved_replies.access_saved_reply(actor, reply_id)
        form = SavedReplyForm(obj=reply) if request.method == "GET" else SavedReplyForm()
        submission = save_form(form, lambda: saved_replies.update_saved_reply(actor, reply, form.to_input()))
        if submission.saved:
            flash(_("Saved reply “%(name)s” saved.", name=submission.result.name), "success")
            return redirect(_index_url())
        return render_template("saved_replies/edit.html", layout=layout, form=form, reply=reply,
                               placeholders=saved_replies.PLACEHOLDERS), submission.status

    @bp.post("/saved-replies/<int:reply_id>/delete", endpoint="saved_replies_delete")
    def saved_replies_delete(reply_id: int):
        actor = current_actor()
        reply = saved_replies.access_saved_reply(actor, reply_id)
        if FlaskForm().validate_on_submit():
            name = reply.name
            saved_replies.delete_saved_reply(actor, reply)
            db.session.commit()
            flash(_("Saved reply “%(name)s” deleted.", name=name), "success")
        else:
            flash(_("The form expired: reload the page and try again."), "error")
        return redirect(_index_url())


_register(store.bp, "store")
_register(admin.bp, "admin")

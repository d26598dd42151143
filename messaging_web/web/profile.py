"""The profile page (language and time zone), the header's language switcher and the time-zone offer."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session
from flask_babel import force_locale
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # newer than types-WTForms 3.2

from ..actors import current_actor
from ..i18n import LANGUAGES, SESSION_LANGUAGE_KEY, _, _l
from ..services import profiles
from .auth import is_local_path
from .forms import save_form

bp = Blueprint("profile", __name__)


class ProfileForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()])
    timezone = SelectField(_l("Time zone"), validate_choice=False)


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()])


class TimeZoneForm(FlaskForm):
    timezone = SelectField(_l("Time zone"), validate_choice=False)


def _back(default: str = "/") -> str:
    """Where the switcher was used: a path of ours given by the page (never another host)."""
    target = request.form.get("next")
    return target if is_local_path(target) else default


@bp.route("/account/profile", methods=["GET", "POST"])
@login_required
def edit_profile():
    actor = current_actor()
    form = ProfileForm(language=actor.language, timezone=actor.timezone)
    form.timezone.choices = [SelectChoice(zone, zone) for zone in profiles.time_zones()]
    submission = save_form(
        form, lambda: profiles.save_profile(actor.account, form.language.data or "", form.timezone.data or "")
    )
    if submission.saved:
        with force_locale(form.language.data):  # said in the language just chosen
            flash(_("Your profile is saved."), "success")
        return redirect(request.path)
    return render_template("account/profile.html", form=form, portal=actor.kind), submission.status


@bp.post("/account/language")
def switch_language():
    """The header's switcher: saved on the account when signed in, in the session cookie before."""
    actor = current_actor()
    form = LanguageForm()
    if not form.validate_on_submit():
        flash(_("Choose English, French or German."), "error")
        return redirect(_back())
    if actor.is_authenticated:
        save_form(form, lambda: profiles.save_language(actor.account, form.language.data or ""))
    else:
        session[SESSION_LANGUAGE_KEY] = form.language.data
    return redirect(_back())


@bp.post("/account/timezone")
@login_required
def save_time_zone():
    """The first sign-in's offer of the browser's zone, accepted (or the current one kept)."""
    actor = current_actor()
    form = TimeZoneForm()
    submission = save_form(form, lambda: profiles.save_time_zone(actor.account, form.timezone.data or ""))
    if submission.saved:
        flash(_("Times are now shown in %(zone)s.", zone=form.timezone.data), "success")
    else:
        flash(_("Choose a time zone from the list."), "error")
    return redirect(_back())

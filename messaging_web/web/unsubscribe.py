"""The unsubscribe link of optional emails (/u/<token>): the one-click POST that mail providers send
(RFC 8058), and the preference page a person reaches from the footer link. No session and no CSRF token:
the signed token is the authority, and it can do nothing but this."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ..extensions import csrf, db
from ..services.email import unsubscribe
from ..services.email.unsubscribe_texts import texts_for
from ..services.errors import ValidationError

bp = Blueprint("unsubscribe", __name__, url_prefix="/u")
csrf.exempt(bp)


def _invalid():
    words = texts_for(request.accept_languages.best_match(["en", "fr", "de"]) or "en")
    return render_template("public/unsubscribe_invalid.html", words=words), 400


@bp.get("/<token>")
def preferences(token: str):
    try:
        link = unsubscribe.load(token)
        prefs = unsubscribe.preferences(link)
    except ValidationError:
        return _invalid()
    return _page(prefs, saved=request.args.get("saved") == "1")


@bp.post("/<token>")
def one_click(token: str):
    """What Gmail's and Yahoo's "Unsubscribe" button posts (body List-Unsubscribe=One-Click); answered with
    the preference page, in case a person's browser posted it."""
    try:
        link = unsubscribe.load(token)
    except ValidationError:
        return _invalid()
    unsubscribe.one_click(link)
    db.session.commit()
    return _page(unsubscribe.preferences(link), unsubscribed=link.key)


@bp.post("/<token>/preferences")
def save(token: str):
    try:
        link = unsubscribe.load(token)
    except ValidationError:
        return _invalid()
    everything = request.form.get("everything") == "1"
    unsubscribe.save_preferences(
        link, marketing=request.form.get("marketing") == "1", conversations=request.form.get("conversations") == "1",
        everything=everything,
    )
    db.session.commit()
    return redirect(url_for("unsubscribe.preferences", token=token, saved="1"), code=303)


def _page(prefs: unsubscribe.Preferences, *, saved: bool = False, unsubscribed: str | None = None):
    words = texts_for(prefs.language)
    return render_template("public/unsubscribe.html", prefs=prefs, words=words, saved=saved,
                           unsubscribed=unsubscribed, token=(request.view_args or {})["token"])

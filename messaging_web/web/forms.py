"""WTForms shared by the portals, and save_form, the one write path of a view with a form (feature forms live
beside their views as they grow)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from flask import Flask, g
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from wtforms import EmailField, IntegerField, PasswordField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # newer than types-WTForms 3.2
from wtforms.validators import DataRequired, EqualTo, Length

from ..extensions import db
from ..i18n import _, _l
from ..services.errors import PermissionDenied, ValidationError

T = TypeVar("T")


@dataclass(frozen=True)
class Submission(Generic[T]):
    """What save_form did with the request's form: saved (with what the service returned), or not."""

    submitted: bool
    saved: bool = False
    # What the service returned; None unless saved (views read it only when saved).
    result: T = field(default=None)  # type: ignore[assignment]
    refusal: ValidationError | PermissionDenied | None = None  # the service's, already shown on the form

    @property
    def status(self) -> int:
        """The status of a response that shows the form again: 200 before any submit, 403 when the service
        refused the actor, 422 when the input needs fixing."""
        if not self.submitted:
            return 200
        return 403 if isinstance(self.refusal, PermissionDenied) else 422


def save_form(form: FlaskForm, action: Callable[[], T]) -> Submission[T]:
    """Validate the submitted form, call `action` (the view's one service call), commit.

    When the service refuses (ValidationError, PermissionDenied) the session is rolled back and the message
    shown on the form, on the field the error names or else above the form; nothing is committed then. For
    views that show the form again; a refusal on any other view is the error handler's (errors.register).
    """
    if not form.validate_on_submit():
        return Submission(submitted=form.is_submitted())
    try:
        result = action()
    except (ValidationError, PermissionDenied) as exc:
        db.session.rollback()
        _show_refusal(form, exc)
        return Submission(submitted=True, refusal=exc)
    db.session.commit()
    return Submission(submitted=True, saved=True, result=result)


def _show_refusal(form: FlaskForm, exc: ValidationError | PermissionDenied) -> None:
    """The service's message on the field it names, or above the form (PermissionDenied names none); plain
    text in the request's language (a service's message may be lazy)."""
    message = exc.message if isinstance(exc, ValidationError) else str(exc)
    field = getattr(exc, "field", None)
    if field and field in form:
        form[field].errors = [*form[field].errors, message]
    else:
        form.form_errors.append(message)


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as a select's choices (WTForms 3.4 drops plain tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


class PageNumberField(IntegerField):
    """A page number: more than six digits is not a page anyone has (and NumberRange raises OverflowError on
    an int too large for a float); such a value is a field error, and the form shows the first page."""

    def process_formdata(self, valuelist):
        if valuelist and len(valuelist[0].strip().lstrip("+-")) > 6:
            self.data = None
            raise ValueError(_("Not a page number."))
        super().process_formdata(valuelist)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=1024)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", _l("The passwords differ."))],
    )


def page_csrf_token() -> str:
    """The templates' csrf_token(): Flask-WTF's generate_csrf, asked once per request. A thread page has a
    dozen forms, and each call of generate_csrf reads its settings again through the app and `g` proxies
    before it returns the token it keeps in `g`; this is that same token."""
    token = g.get("_page_csrf_token")
    if token is None:
        token = g._page_csrf_token = generate_csrf()
    return token


def register(app: Flask) -> None:
    # In place of Flask-WTF's generate_csrf, which it puts in the globals and in a context processor: this
    # one runs after it, so its value is the one templates see.
    app.jinja_env.globals["csrf_token"] = page_csrf_token
    app.context_processor(lambda: {"csrf_token": page_csrf_token})

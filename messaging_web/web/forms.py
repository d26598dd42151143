"""WTForms shared by the portals (feature forms live beside their views as they grow)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as a select's choices (WTForms 3.4 drops plain tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


class PageNumberField(IntegerField):
    """A page number: more than six digits is not a page anyone has (and NumberRange raises OverflowError on
    an int too large for a float); such a value is a field error, and the form shows the first page."""

    def process_formdata(self, valuelist):
        if valuelist and len(valuelist[0].strip().lstrip("+-")) > 6:
            self.data = None
            raise ValueError("Not a page number.")
        super().process_formdata(valuelist)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), Length(min=8, max=1024)])
    confirm = PasswordField(
        "Repeat the new password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")]
    )

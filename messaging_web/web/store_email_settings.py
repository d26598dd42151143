"""The store's email settings wizard (/store/<slug>/settings/email/<step>): five steps, each saved, with HTMX."""
from __future__ import annotations

from flask import g, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .. import access
from ..actors import current_actor
from ..i18n import _, _l
from ..services.email import email_settings as wizard
from ..services.email import provider_events
from .forms import options, save_form
from .htmx import is_htmx, render_page
from .rate_limits import email_settings_verify_limit
from .store import bp

STEPS = [("sender", _l("Sender")), ("provider", _l("Provider")), ("credentials", _l("Credentials")),
         ("signature", _l("Signature")), ("verify", _l("Verification"))]
STEP_NAMES = [name for name, _label in STEPS]


class SenderForm(FlaskForm):
    from_email = EmailField(_l("From address"), validators=[DataRequired(), Length(max=255)])
    from_name = StringField(_l("From name"), validators=[DataRequired(), Length(max=100)])
    reply_to_email = EmailField(_l("Reply-to address (optional)"), validators=[Optional(), Length(max=255)])


class ProviderForm(FlaskForm):
    provider = RadioField(_l("Provider"), choices=options(wizard.PROVIDER_LABELS.items()),
                          validators=[DataRequired(message=_l("Choose a provider."))])


class CredentialsForm(FlaskForm):
    smtp_host = StringField(_l("SMTP server"), validators=[Optional(), Length(max=255)])
    smtp_port = IntegerField(_l("Port"), validators=[Optional()])
    smtp_username = StringField(_l("Username"), validators=[Optional(), Length(max=255)])
    smtp_password = PasswordField(_l("Password"), validators=[Optional(), Length(max=300)])
    smtp_security = SelectField(
        _l("Security"), validate_choice=False, default="tls",
        choices=options(
            [("tls", _l("STARTTLS (port 587)")), ("ssl", _l("SSL/TLS (port 465)")),
             ("none", _l("None (not recommended)"))]
        ),
    )
    sendgrid_api_key = PasswordField(_l("SendGrid API key"), validators=[Optional(), Length(max=300)])
    sendgrid_webhook_public_key = StringField(
        _l("Event webhook verification key (optional)"), validators=[Optional(), Length(max=500)]
    )
    mailgun_api_key = PasswordField(_l("Mailgun API key"), validators=[Optional(), Length(max=300)])
    mailgun_domain = StringField(_l("Sending domain"), validators=[Optional(), Length(max=255)])
    mailgun_webhook_signing_key = PasswordField(
        _l("HTTP webhook signing key (optional)"), validators=[Optional(), Length(max=300)]
    )
    mailgun_region = SelectField(
        _l("Region"), validate_choice=False, default="us",
        choices=options([("us", "US (api.mailgun.net)"), ("eu", "EU (api.eu.mailgun.net)")]),
    )
    ses_access_key_id = StringField(_l("Access key id"), validators=[Optional(), Length(max=100)])
    ses_secret_access_key = PasswordField(_l("Secret access key"), validators=[Optional(), Length(max=300)])
    ses_region = StringField(_l("Region"), validators=[Optional(), Length(max=50)])
    ses_sns_topic_arn = StringField(_l("SNS topic ARN for events (optional)"), validators=[Optional(), Length(max=300)])

    def to_credentials(self) -> wizard.Credentials:
        values = {name: self[name].data for name in wizard.Credentials.__annotations__}
        values["smtp_security"] = values["smtp_security"] or "tls"
        values["mailgun_region"] = values["mailgun_region"] or "us"
        return wizard.Credentials(**values)


class SignatureForm(FlaskForm):
    signature_text = TextAreaField(_l("Text signature"), validators=[Optional(), Length(max=5000)])
    signature_html = TextAreaField(_l("HTML signature"), validators=[Optional(), Length(max=20000)])


class VerifyForm(FlaskForm):
    to_email = EmailField(_l("Send the test email to"), validators=[DataRequired(), Length(max=255)])


def _store():
    """The store entity the wizard reads and saves (the portal's g.store is plain data)."""
    return access.own_store(current_actor())


def _render(step: str, form, status: int = 200, push: bool = False, **context):
    settings = context.pop("settings", None) or wizard.settings_for(_store())
    context.update(
        step=step, steps=STEPS, form=form, settings=settings,
        allowed=wizard.allowed_providers(_store()), labels=wizard.PROVIDER_LABELS,
        # wizard.UPGRADE_EXPLANATION in the viewer's language.
        upgrade_explanation=_("SendGrid, Mailgun and Amazon SES are part of the Business plan and above. "
                              "Upgrade your plan to send through them; SMTP works on every plan."),
        hints=wizard.secret_hints(settings),
        webhook_urls={p: provider_events.webhook_url(p, g.store.slug) for p in provider_events.PROVIDERS},
    )
    response = render_page("store/settings/email.html", "store/settings/_wizard.html", **context)
    response.status_code = status
    if push and is_htmx():
        response.headers["HX-Push-Url"] = url_for("store.email_settings_step", step=step)
    return response


def _next(step: str, direction: str) -> str:
    index = STEP_NAMES.index(step) + (-1 if direction == "back" else 1)
    return STEP_NAMES[max(0, min(index, len(STEP_NAMES) - 1))]


def _saved(step: str):
    """After a save: the next (or previous) step, as a fragment for HTMX or a redirect otherwise."""
    target = _next(step, request.form.get("go", "next"))
    if is_htmx():
        return _render(target, _form_for(target), push=True)
    return redirect(url_for("store.email_settings_step", step=target))


def _form_for(step: str):
    settings = wizard.settings_for(_store())
    if step == "sender":
        return SenderForm(obj=settings)
    if step == "provider":
        return ProviderForm(provider=settings.provider if settings else "smtp")
    if step == "credentials":
        form = CredentialsForm(obj=settings)
        if settings is not None:
            form.smtp_security.data = "ssl" if settings.smtp_use_ssl else ("tls" if settings.smtp_use_tls else "none")
        return form
    if step == "signature":
        return SignatureForm(obj=settings)
    return VerifyForm(to_email=current_actor().email)


@bp.get("/settings/email")
def email_settings():
    settings = wizard.settings_for(_store())
    step = "verify" if settings is not None and settings.is_configured else "sender"
    return redirect(url_for("store.email_settings_step", step=step))


@bp.route("/settings/email/<step>", methods=["GET", "POST"])
@email_settings_verify_limit
def email_settings_step(step: str):
    if step not in STEP_NAMES:
        return redirect(url_for("store.email_settings_step", step="sender"))
    settings = wizard.settings_for(_store())
    if step != "sender" and settings is None:
        if is_htmx():
            return _render("sender", SenderForm(), push=True)
        return redirect(url_for("store.email_settings_step", step="sender"))
    if request.method == "GET":
        return _render(step, _form_for(step))
    return STEP_HANDLERS[step](settings)


def _post_sender(settings):
    form = SenderForm()
    submission = save_form(
        form,
        lambda: wizard.save_sender(
            _store(), form.from_email.data or "", form.from_name.data or "", form.reply_to_email.data
        ),
    )
    return _saved("sender") if submission.saved else _render("sender", form, submission.status)


def _post_provider(settings):
    form = ProviderForm()
    submission = save_form(form, lambda: wizard.save_provider(_store(), settings, form.provider.data))
    return _saved("provider") if submission.saved else _render("provider", form, submission.status)


def _post_credentials(settings):
    form = CredentialsForm()
    submission = save_form(form, lambda: wizard.save_credentials(_store(), settings, form.to_credentials()))
    return _saved("credentials") if submission.saved else _render("credentials", form, submission.status)


def _post_signature(settings):
    form = SignatureForm()
    if request.form.get("go") == "preview":
        return _render("signature", form, preview=True)
    submission = save_form(
        form, lambda: wizard.save_signature(settings, form.signature_text.data, form.signature_html.data)
    )
    return _saved("signature") if submission.saved else _render("signature", form, submission.status)


def _post_verify(settings):
    form = VerifyForm()
    if request.form.get("go") == "back":
        return _saved("verify")
    submission = save_form(
        form, lambda: wizard.verify_settings(_store(), settings, form.to_email.data or "", user_id=current_actor().id)
    )
    if not submission.saved:
        return _render("verify", form, submission.status)
    # verify_settings answers None when the test email went out, else what went wrong.
    return _render("verify", form, just_verified=submission.result is None, attempted=True)


STEP_HANDLERS = {
    "sender": _post_sender, "provider": _post_provider, "credentials": _post_credentials,
    "signature": _post_signature, "verify": _post_verify,
}

"""What the admin console's and the store portal's template editors share: the draft's fields, its starting
sample values, the live preview, and the lists' paging and language filter."""
from __future__ import annotations

import json

from flask import render_template, request
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..i18n import _l
from ..services import template_catalog, templates
from ..services.errors import NotFound, ValidationError
from .portal import int_arg

LIST_PAGE_SIZES = (10, 25, 50, 100)


class PreviewFields(FlaskForm):
    """The editor's text and sample values; what the live preview and a test send render."""

    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=500)])
    body_html = TextAreaField(_l("HTML body"), validators=[DataRequired()])
    body_text = TextAreaField(_l("Text body (leave empty to derive it from the HTML)"), validators=[Optional()])
    sample = TextAreaField(_l("Sample values for the preview (JSON)"), validators=[Optional()])
    note = StringField(_l("Note for the history (optional)"), validators=[Optional(), Length(max=500)])

    def sample_values(self) -> dict | None:
        """The sample values for the trial render on save; None (the shipped ones) when they do not parse."""
        try:
            return templates.parse_sample_values(self.sample.data) or None
        except ValidationError:
            return None

    def draft(self, variables: str | None, required: str | None) -> templates.TemplateSource:
        """The unsaved text as the renderer takes it; the preview and the test send both render this."""
        return templates.TemplateSource(
            subject=self.subject.data or "", body_html=self.body_html.data or "", body_text=self.body_text.data or None,
            variables=templates.parse_variable_list(variables),
            required_variables=templates.parse_variable_list(required),
        )


def sample_json(code: str, variables: list[str], known: dict | None = None) -> str:
    """The editor's starting sample values: `known` ones, then the shipped set's, then placeholders."""
    sample = templates.sample_values_for(variables, {**template_catalog.shipped_sample(code), **(known or {})})
    return json.dumps(sample, indent=2, ensure_ascii=False, default=str)


def render_preview(source: templates.TemplateSource, raw_sample: str | None):
    """The preview fragment for unsaved text: rendered email and every problem, never an error page."""
    try:
        sample = templates.parse_sample_values(raw_sample)
    except ValidationError as exc:
        return render_template("_template_preview.html", preview=None, problems=[exc.message])
    preview = templates.preview_template(source, sample)
    return render_template("_template_preview.html", preview=preview, problems=preview.problems)


def template_language(raw: str) -> str:
    """A template's language from its URL; one that is not a language code is a template that does not exist."""
    try:
        return templates.normalize_language(raw)
    except ValidationError as exc:
        raise NotFound("No such template.") from exc


def language_filter(raw: str | None) -> str:
    """The lists' language filter; one that is not a language code filters nothing."""
    try:
        return templates.normalize_language(raw) if raw else ""
    except ValidationError:
        return ""


def list_page_size() -> int:
    per_page = int_arg(request.args, "per_page", 25)
    return per_page if per_page in LIST_PAGE_SIZES else 25

"""Platform email templates in the admin console: list (grouped by code), create, translate, edit,
deactivate, live preview."""
from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..extensions import db
from ..models import EmailCategory
from ..services import template_catalog, templates
from ..services.errors import ValidationError
from .admin import bp
from .forms import options
from .portal import int_arg, is_htmx
from .rate_limits import template_preview_limit

CATEGORY_CHOICES = [(c.value, c.value.capitalize()) for c in EmailCategory]
ACTIVE_CHOICES = [("", "Active and inactive"), ("yes", "Active only"), ("no", "Inactive only")]


class TemplateListFilter(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search code or name", validators=[Optional(), Length(max=100)])
    category = SelectField(
        "Category", choices=options([("", "All categories"), *CATEGORY_CHOICES]), validators=[Optional()]
    )
    language = StringField("Language", validators=[Optional(), Length(max=5)])
    active = SelectField("State", choices=options(ACTIVE_CHOICES), validators=[Optional()])


class PreviewFields(FlaskForm):
    """The editor's text and sample values; what the live preview renders."""

    subject = StringField("Subject", validators=[DataRequired(), Length(max=500)])
    body_html = TextAreaField("HTML body", validators=[DataRequired()])
    body_text = TextAreaField("Text body (leave empty to derive it from the HTML)", validators=[Optional()])
    sample = TextAreaField("Sample values for the preview (JSON)", validators=[Optional()])

    def sample_values(self) -> dict | None:
        """The sample values for the trial render on save; None (the shipped ones) when they do not parse."""
        try:
            return templates.parse_sample_values(self.sample.data) or None
        except ValidationError:
            return None


class PlatformTemplateForm(PreviewFields):
    code = StringField("Code", validators=[DataRequired(), Length(max=100)])
    language = StringField("Language", validators=[DataRequired(), Length(max=5)], default="en")
    name = StringField("Name", validators=[DataRequired(), Length(max=255)])
    description = TextAreaField("Description", validators=[Optional()])
    category = SelectField("Category", choices=options(CATEGORY_CHOICES), default=EmailCategory.SYSTEM.value)
    variables = TextAreaField("Variables (one per line)", validators=[Optional()])
    required_variables = TextAreaField("Required variables (one per line)", validators=[Optional()])
    is_active = BooleanField("Active", default=True)
    is_platform_only = BooleanField("Platform-only (stores cannot customize it)")

    def to_input(self) -> templates.PlatformTemplateInput:
        return templates.PlatformTemplateInput(
            code=self.code.data or "", language=self.language.data or "", name=self.name.data or "",
            description=self.description.data, category=self.category.data, subject=self.subject.data or "",
            body_html=self.body_html.data or "", body_text=self.body_text.data,
            variables=templates.parse_variable_list(self.variables.data),
            required_variables=templates.parse_variable_list(self.required_variables.data),
            is_active=self.is_active.data, is_platform_only=self.is_platform_only.data,
            sample=self.sample_values(),
        )

    def fill_from(self, template, *, as_translation: bool = False) -> None:
        for name in ("code", "language", "name", "description", "category", "subject", "body_html", "body_text",
                     "is_active", "is_platform_only"):
            getattr(self, name).data = getattr(template, name)
        self.variables.data = "\n".join(templates.parse_variable_list(template.variables))
        self.required_variables.data = "\n".join(templates.parse_variable_list(template.required_variables))
        if as_translation:
            self.language.data = ""


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


def page_size() -> int:
    per_page = int_arg(request.args, "per_page", 25)
    return per_page if per_page in (10, 25, 50, 100) else 25


@bp.get("/templates/")
def templates_index():
    filters = TemplateListFilter(request.args)
    filters.validate()
    try:
        language = templates.normalize_language(filters.language.data) if filters.language.data else ""
    except ValidationError:
        language = ""
    page = templates.list_platform_templates(
        search=filters.q.data or "", category=filters.category.data or "", language=language,
        active=filters.active.data or "", page=int_arg(request.args, "page", 1), per_page=page_size(),
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    template = "admin/templates/_list.html" if is_htmx() else "admin/templates/index.html"
    return render_template(template, page=page, filters=filters, args=args)


def _save_form(form: PlatformTemplateForm, template=None):
    """Validate and save; on a domain error the form shows it on its field. Returns the template or None."""
    if not form.validate_on_submit():
        return None
    try:
        if template is None:
            saved = templates.create_platform_template(form.to_input())
        else:
            saved = templates.update_platform_template(template, form.to_input())
    except ValidationError as exc:
        db.session.rollback()
        target = getattr(form, exc.field, None) if exc.field else None
        if target is not None:
            target.errors = [*target.errors, exc.message]
        else:
            form.form_errors.append(exc.message)
        return None
    db.session.commit()
    return saved


@bp.route("/templates/new", methods=["GET", "POST"])
def templates_new():
    form = PlatformTemplateForm()
    source_id = int_arg(request.args, "translate")
    if request.method == "GET":
        if source_id:
            form.fill_from(templates.platform_template(source_id), as_translation=True)
        form.sample.data = sample_json(form.code.data or "", templates.parse_variable_list(form.variables.data))
    saved = _save_form(form)
    if saved is not None:
        flash(f"Template {saved.code} ({saved.language}) created.", "success")
        return redirect(url_for("admin.templates_edit", template_id=saved.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/templates/edit.html", form=form, template=None), status


@bp.route("/templates/<int:template_id>/edit", methods=["GET", "POST"])
def templates_edit(template_id: int):
    template = templates.platform_template(template_id)
    form = PlatformTemplateForm()
    if request.method == "POST":
        # Code and language identify the template for senders and store overrides: fixed once created.
        form.code.data, form.language.data = template.code, template.language
    if request.method == "GET":
        form.fill_from(template)
        form.sample.data = sample_json(template.code, templates.parse_variable_list(template.variables))
    saved = _save_form(form, template)
    if saved is not None:
        flash(f"Template {saved.code} ({saved.language}) saved.", "success")
        return redirect(url_for("admin.templates_edit", template_id=saved.id))
    status = 422 if request.method == "POST" else 200
    translations = templates.list_platform_templates(search=template.code, per_page=100).items
    siblings = next((g.rows for g in translations if g.code == template.code), [])
    return render_template("admin/templates/edit.html", form=form, template=template, siblings=siblings), status


@bp.post("/templates/<int:template_id>/active")
def templates_set_active(template_id: int):
    template = templates.platform_template(template_id)
    active = request.form.get("active") == "yes"
    templates.set_platform_template_active(template, active)
    db.session.commit()
    flash(f"Template {template.code} ({template.language}) {'activated' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.templates_edit", template_id=template.id))


@bp.post("/templates/preview")
@template_preview_limit
def templates_preview():
    form = PlatformTemplateForm()
    source = templates.TemplateSource(
        subject=form.subject.data or "", body_html=form.body_html.data or "", body_text=form.body_text.data or None,
        variables=templates.parse_variable_list(form.variables.data),
        required_variables=templates.parse_variable_list(form.required_variables.data),
    )
    return render_preview(source, form.sample.data)

"""Platform email templates in the admin console: list (grouped by code), create, translate, edit,
deactivate, live preview."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..actors import current_actor
from ..extensions import db
from ..i18n import _, _l
from ..models import EmailCategory
from ..services import templates
from .admin import bp
from .forms import options, save_form
from .htmx import render_page
from .portal import int_arg
from .rate_limits import template_preview_limit
from .template_editor import PreviewFields, language_filter, list_page_size, render_preview, sample_json

# The categories' display labels (the values are stored): the list's tags and the selects.
CATEGORY_LABELS = {
    EmailCategory.AUTH.value: _l("Auth"), EmailCategory.ORDERS.value: _l("Orders"),
    EmailCategory.BILLING.value: _l("Billing"), EmailCategory.SYSTEM.value: _l("System"),
    EmailCategory.MARKETING.value: _l("Marketing"),
}
CATEGORY_CHOICES = [(c.value, CATEGORY_LABELS.get(c.value, c.value.capitalize())) for c in EmailCategory]
ACTIVE_CHOICES = [("", _l("Active and inactive")), ("yes", _l("Active only")), ("no", _l("Inactive only"))]


class TemplateListFilter(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search code or name"), validators=[Optional(), Length(max=100)])
    category = SelectField(
        _l("Category"), choices=options([("", _l("All categories")), *CATEGORY_CHOICES]), validators=[Optional()]
    )
    language = StringField(_l("Language"), validators=[Optional(), Length(max=5)])
    active = SelectField(_l("State"), choices=options(ACTIVE_CHOICES), validators=[Optional()])


class PlatformTemplateForm(PreviewFields):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=100)])
    language = StringField(_l("Language"), validators=[DataRequired(), Length(max=5)], default="en")
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=255)])
    description = TextAreaField(_l("Description"), validators=[Optional()])
    category = SelectField(_l("Category"), choices=options(CATEGORY_CHOICES), default=EmailCategory.SYSTEM.value)
    variables = TextAreaField(_l("Variables (one per line)"), validators=[Optional()])
    required_variables = TextAreaField(_l("Required variables (one per line)"), validators=[Optional()])
    is_active = BooleanField(_l("Active"), default=True)
    is_platform_only = BooleanField(_l("Platform-only (stores cannot customize it)"))

    def to_input(self) -> templates.PlatformTemplateInput:
        return templates.PlatformTemplateInput(
            code=self.code.data or "", language=self.language.data or "", name=self.name.data or "",
            description=self.description.data, category=self.category.data, subject=self.subject.data or "",
            body_html=self.body_html.data or "", body_text=self.body_text.data,
            variables=templates.parse_variable_list(self.variables.data),
            required_variables=templates.parse_variable_list(self.required_variables.data),
            is_active=self.is_active.data, is_platform_only=self.is_platform_only.data,
            sample=self.sample_values(), note=self.note.data, author_name=current_actor().name,
        )

    def fill_from(self, template, *, as_translation: bool = False) -> None:
        for name in ("code", "language", "name", "description", "category", "subject", "body_html", "body_text",
                     "is_active", "is_platform_only"):
            getattr(self, name).data = getattr(template, name)
        self.variables.data = "\n".join(templates.parse_variable_list(template.variables))
        self.required_variables.data = "\n".join(templates.parse_variable_list(template.required_variables))
        if as_translation:
            self.language.data = ""


@bp.get("/templates/")
def templates_index():
    filters = TemplateListFilter(request.args)
    filters.validate()
    page = templates.list_platform_templates(
        search=filters.q.data or "", category=filters.category.data or "",
        language=language_filter(filters.language.data), active=filters.active.data or "",
        page=int_arg(request.args, "page", 1), per_page=list_page_size(),
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_page(
        "admin/templates/index.html", "admin/templates/_list.html", page=page, filters=filters, args=args,
        category_labels=CATEGORY_LABELS,
    )


@bp.route("/templates/new", methods=["GET", "POST"])
def templates_new():
    form = PlatformTemplateForm()
    source_id = int_arg(request.args, "translate")
    if request.method == "GET":
        if source_id:
            form.fill_from(templates.platform_template(source_id), as_translation=True)
        form.sample.data = sample_json(form.code.data or "", templates.parse_variable_list(form.variables.data))
    submission = save_form(form, lambda: templates.create_platform_template(form.to_input()))
    if submission.saved:
        created = submission.result
        flash(_("Template %(code)s (%(language)s) created.", code=created.code, language=created.language), "success")
        return redirect(url_for("admin.templates_edit", template_id=created.id))
    return render_template("admin/templates/edit.html", form=form, template=None), submission.status


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
    submission = save_form(form, lambda: templates.update_platform_template(template, form.to_input()))
    if submission.saved:
        saved = submission.result
        flash(_("Template %(code)s (%(language)s) saved.", code=saved.code, language=saved.language), "success")
        return redirect(url_for("admin.templates_edit", template_id=saved.id))
    translations = templates.list_platform_templates(search=template.code, per_page=100).items
    siblings: list = next((g.rows for g in translations if g.code == template.code), [])
    return render_template(
        "admin/templates/edit.html", form=form, template=template, siblings=siblings
    ), submission.status


@bp.post("/templates/<int:template_id>/active")
def templates_set_active(template_id: int):
    template = templates.platform_template(template_id)
    active = request.form.get("active") == "yes"
    templates.set_platform_template_active(template, active)
    db.session.commit()
    names = {"code": template.code, "language": template.language}
    if active:
        flash(_("Template %(code)s (%(language)s) activated.", **names), "success")
    else:
        flash(_("Template %(code)s (%(language)s) deactivated.", **names), "success")
    return redirect(url_for("admin.templates_edit", template_id=template.id))


@bp.post("/templates/preview")
@template_preview_limit
def templates_preview():
    form = PlatformTemplateForm()
    return render_preview(form.draft(form.variables.data, form.required_variables.data), form.sample.data)

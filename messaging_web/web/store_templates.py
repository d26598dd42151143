"""Store overrides of platform email templates in the store portal: list, customize, preview, save,
deactivate, revert to the platform default."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional

from ..actors import current_actor
from ..extensions import db
from ..i18n import _, _l
from ..services import templates
from ..services.errors import NotFound
from .forms import options, save_form
from .htmx import render_page
from .portal import int_arg
from .rate_limits import template_preview_limit
from .store import bp
from .template_editor import (
    PreviewFields,
    language_filter,
    list_page_size,
    render_preview,
    sample_json,
    template_language,
)

STATUS_CHOICES = [("", _l("All")), ("customized", _l("Customized")), ("default", _l("Platform default"))]


class StoreTemplateListFilter(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search code or name"), validators=[Optional(), Length(max=100)])
    language = StringField(_l("Language"), validators=[Optional(), Length(max=5)])
    status = SelectField(_l("Status"), choices=options(STATUS_CHOICES), validators=[Optional()])


class OverrideForm(PreviewFields):
    name = StringField(_l("Name (optional, for your team)"), validators=[Optional(), Length(max=255)])
    is_active = BooleanField(_l("Active (send this version instead of the platform default)"), default=True)

    def to_input(self) -> templates.OverrideInput:
        return templates.OverrideInput(
            subject=self.subject.data or "", body_html=self.body_html.data or "", body_text=self.body_text.data,
            name=self.name.data, is_active=self.is_active.data, sample=self.sample_values(),
            note=self.note.data, author_name=current_actor().name,
        )


@bp.get("/templates/")
def templates_index():
    filters = StoreTemplateListFilter(request.args)
    filters.validate()
    page = templates.list_store_templates(
        g.store.id, search=filters.q.data or "", language=language_filter(filters.language.data),
        status=filters.status.data or "", page=int_arg(request.args, "page", 1), per_page=list_page_size(),
        name_language=g.store.default_language,
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_page(
        "store/templates/index.html", "store/templates/_list.html", page=page, filters=filters, args=args
    )


@bp.route("/templates/<code>/<language>", methods=["GET", "POST"])
def templates_edit(code: str, language: str):
    base = templates.customizable_platform_template(code, template_language(language))
    override = templates.store_override(g.store.id, base.code, base.language)
    form = OverrideForm()
    if request.method == "GET":
        source = override or base
        form.subject.data, form.body_html.data, form.body_text.data = source.subject, source.body_html, source.body_text
        form.name.data = override.name if override else None
        form.is_active.data = override.is_active if override else True
        form.sample.data = sample_json(
            base.code, templates.parse_variable_list(base.variables), {"store_name": g.store.name}
        )
    submission = save_form(form, lambda: templates.save_store_override(g.store.id, base, form.to_input()))
    if submission.saved:
        flash(_("Your version of “%(name)s” (%(language)s) is saved.", name=base.name, language=base.language),
              "success")
        return redirect(url_for("store.templates_edit", code=base.code, language=base.language))
    return render_template(
        "store/templates/edit.html", form=form, base=base, override=override,
        variables=templates.parse_variable_list(base.variables),
        required=templates.parse_variable_list(base.required_variables),
    ), submission.status


@bp.post("/templates/<code>/<language>/revert")
def templates_revert(code: str, language: str):
    base = templates.customizable_platform_template(code, template_language(language))
    override = templates.store_override(g.store.id, base.code, base.language)
    if override is None:
        raise NotFound(_("No such template."))
    templates.revert_template_override(override, author_name=current_actor().name)
    db.session.commit()
    flash(_("“%(name)s” (%(language)s) is back to the platform default.", name=base.name, language=base.language),
          "success")
    return redirect(url_for("store.templates_edit", code=base.code, language=base.language))


@bp.post("/templates/<code>/<language>/preview")
@template_preview_limit
def templates_preview(code: str, language: str):
    base = templates.customizable_platform_template(code, template_language(language))
    form = OverrideForm()
    return render_preview(form.draft(base.variables, base.required_variables), form.sample.data)

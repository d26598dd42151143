"""Template history in both portals: the versions of a platform template (admin) or of a store's version of
one (store), any two compared as a diff with a rendered preview of each, any one restored."""
from __future__ import annotations

from dataclasses import dataclass

from flask import flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from ..actors import current_actor
from ..extensions import db
from ..i18n import _
from ..models import EmailTemplate
from ..services import templates
from ..services.errors import ValidationError
from . import admin, store
from .portal import int_arg
from .template_editor import sample_json, template_language


@dataclass(frozen=True)
class HistoryScope:
    """Whose history of which template, and where its pages are."""

    store_id: int | None
    base: EmailTemplate  # the platform template
    endpoint_prefix: str  # "admin.templates" or "store.templates"
    url_args: dict

    def url(self, page: str, **extra) -> str:
        return url_for(f"{self.endpoint_prefix}_{page}", **self.url_args, **extra)


def _admin_scope(template_id: int) -> HistoryScope:
    template = templates.platform_template(template_id)
    return HistoryScope(None, template, "admin.templates", {"template_id": template.id})


def _store_scope(code: str, language: str) -> HistoryScope:
    base = templates.customizable_platform_template(code, template_language(language))
    return HistoryScope(g.store.id, base, "store.templates", {"code": base.code, "language": base.language})


def _history(scope: HistoryScope):
    versions = templates.template_history(scope.store_id, scope.base.code, scope.base.language)
    return render_template("template_history/index.html", scope=scope, versions=versions, base=scope.base,
                           layout=f"{scope.endpoint_prefix.split('.')[0]}/layout.html")


def _preview(scope: HistoryScope, version):
    variables = templates.parse_variable_list(version.variables or scope.base.variables)
    required = templates.parse_variable_list(version.required_variables or scope.base.required_variables)
    source = templates.TemplateSource(version.subject, version.body_html, version.body_text, variables, required)
    known = {"store_name": g.store.name} if scope.store_id is not None else {}
    sample = templates.parse_sample_values(sample_json(scope.base.code, variables, known))
    return templates.preview_template(source, sample)


def _compare(scope: HistoryScope):
    def chosen(name: str):
        version_id = int_arg(request.args, name)
        # Another store's version (or none) is a NotFound, like a missing one.
        return templates.version_of(scope.store_id, scope.base.code, scope.base.language, version_id) \
            if version_id else None

    older, newer = chosen("a"), chosen("b")
    versions = templates.template_history(scope.store_id, scope.base.code, scope.base.language, limit=2)
    if not versions:
        return _history(scope)
    newer = newer or versions[0]
    older = older or (versions[1] if len(versions) > 1 else versions[0])
    if older.number > newer.number:
        older, newer = newer, older
    return render_template(
        "template_history/compare.html", scope=scope, base=scope.base, older=older, newer=newer,
        parts=templates.compare_versions(older, newer),
        layout=f"{scope.endpoint_prefix.split('.')[0]}/layout.html",
    )


def _version_preview(scope: HistoryScope, version_id: int):
    # Each version's rendering is a fragment of its own, loaded after the diff: rendering a large template in
    # the sandbox takes longer than the diff (bench/bench_template_history.py), and the diff should not wait.
    version = templates.version_of(scope.store_id, scope.base.code, scope.base.language, version_id)
    preview = _preview(scope, version)
    return render_template("_template_preview.html", preview=preview, problems=preview.problems)


def _restore(scope: HistoryScope, version_id: int):
    if not FlaskForm().validate_on_submit():
        flash(_("The form expired: reload the page and try again."), "error")
        return redirect(scope.url("history"))
    actor = current_actor()
    try:
        if scope.store_id is None:
            templates.restore_platform_version(scope.base, version_id, author_name=actor.name)
        else:
            templates.restore_store_version(scope.store_id, scope.base, version_id, author_name=actor.name)
    except ValidationError as exc:
        db.session.rollback()
        flash(_("This version cannot be restored: %(reason)s", reason=exc.message), "error")
        return redirect(scope.url("history"))
    db.session.commit()
    flash(_("The version is restored: it is the current one now (the previous one stays in the history)."), "success")
    return redirect(scope.url("history"))


@admin.bp.get("/templates/<int:template_id>/history")
def templates_history(template_id: int):
    return _history(_admin_scope(template_id))


@admin.bp.get("/templates/<int:template_id>/history/compare")
def templates_compare(template_id: int):
    return _compare(_admin_scope(template_id))


@admin.bp.get("/templates/<int:template_id>/history/<int:version_id>/preview")
def templates_version_preview(template_id: int, version_id: int):
    return _version_preview(_admin_scope(template_id), version_id)


@admin.bp.post("/templates/<int:template_id>/history/<int:version_id>/restore")
def templates_restore(template_id: int, version_id: int):
    return _restore(_admin_scope(template_id), version_id)


@store.bp.get("/templates/<code>/<language>/history", endpoint="templates_history")
def templates_history_store(code: str, language: str):
    return _history(_store_scope(code, language))


@store.bp.get("/templates/<code>/<language>/history/compare", endpoint="templates_compare")
def templates_compare_store(code: str, language: str):
    return _compare(_store_scope(code, language))


@store.bp.get("/templates/<code>/<language>/history/<int:version_id>/preview", endpoint="templates_version_preview")
def templates_version_preview_store(code: str, language: str, version_id: int):
    return _version_preview(_store_scope(code, language), version_id)


@store.bp.post("/templates/<code>/<language>/history/<int:version_id>/restore", endpoint="templates_restore")
def templates_restore_store(code: str, language: str, version_id: int):
    return _restore(_store_scope(code, language), version_id)

"""The template editors' "send a test" (admin console and store portal): the unsaved draft, rendered with its
sample values, queued to the signed-in user's own address."""
from __future__ import annotations

from flask import g, render_template, url_for

from ..actors import current_actor
from ..extensions import db
from ..services import templates
from ..services.errors import ValidationError
from ..services.template_tests import DraftRefused, send_template_test
from . import admin, store
from .admin_templates import PlatformTemplateForm
from .rate_limits import template_test_limit
from .store_templates import OverrideForm
from .template_editor import template_language


def _send(source: templates.TemplateSource, raw_sample: str | None, *, code: str, language: str,
          store_id: int | None, log_endpoint: str):
    """Queue the test (to the actor's own address, never one from the form), commit, answer with the fragment."""
    actor = current_actor()
    try:
        row = send_template_test(source, raw_sample, actor.email, code=code, language=language,
                                 store_id=store_id, user_id=actor.id)
    except ValidationError as exc:
        db.session.rollback()
        problems = exc.problems if isinstance(exc, DraftRefused) else [exc.message]
        return render_template("_template_send_test.html", problems=problems), 422
    db.session.commit()
    return render_template("_template_send_test.html", problems=[], to_email=actor.email,
                           log_url=url_for(log_endpoint, log_id=row.id))


@admin.bp.post("/templates/<int:template_id>/send-test")
@template_test_limit
def templates_send_test(template_id: int):
    template = templates.platform_template(template_id)
    form = PlatformTemplateForm()
    return _send(form.draft(form.variables.data, form.required_variables.data), form.sample.data,
                 code=template.code, language=template.language, store_id=None, log_endpoint="admin.email_log_detail")


@store.bp.post("/templates/<code>/<language>/send-test", endpoint="templates_send_test")
@template_test_limit
def store_templates_send_test(code: str, language: str):
    base = templates.customizable_platform_template(code, template_language(language))
    form = OverrideForm()
    return _send(form.draft(base.variables, base.required_variables), form.sample.data,
                 code=base.code, language=base.language, store_id=g.store.id, log_endpoint="store.email_log_detail")

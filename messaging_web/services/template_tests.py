"""The template editors' "send a test": a draft checked exactly as the live preview checks it, then queued to
the editor's own address through the normal pipeline."""
from __future__ import annotations

from ..models import EmailLog
from . import templates
from .email import outbox
from .errors import ValidationError


class DraftRefused(ValidationError):
    """The draft does not render with its sample values; `problems` are the preview's own messages."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


def send_template_test(source: templates.TemplateSource, raw_sample: str | None, to_email: str, *, code: str,
                       language: str, store_id: int | None = None, user_id: int | None = None) -> EmailLog:
    """Queue the draft rendered with the editor's sample values to `to_email`; nothing is queued when the
    preview would show a problem. The caller commits (the email is dispatched after the commit)."""
    try:
        sample = templates.parse_sample_values(raw_sample)
    except ValidationError as exc:
        raise DraftRefused([exc.message]) from None
    # The same function renders the preview pane, so what the editor sees is what can be sent.
    preview = templates.preview_template(source, sample)
    if preview.problems:
        raise DraftRefused(preview.problems)
    return outbox.queue_template_test(
        source.as_resolved(code=code, language=language), sample, to_email, store_id=store_id, user_id=user_id,
    )

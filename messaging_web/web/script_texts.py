"""The words the page's scripts show (static/locale.js: messagingText), in the reader's language.

Written into every page as data attributes of #page-texts; built once per language, not once per page."""
from __future__ import annotations

from flask import Flask
from markupsafe import Markup, escape

from ..i18n import _l, current_language

# data-<name> -> the text; %(name)s placeholders are filled in by the script.
SCRIPT_TEXTS = {
    "request-failed": _l("The request failed (%(status)s). Please try again."),
    "unreachable": _l("The server could not be reached. Check your connection and try again."),
    "remove": _l("Remove"),
    "uploading": _l("Uploading… %(percent)s%%"),
    "refused-kind": _l("this kind of file is not accepted."),
    "refused-empty": _l("the file is empty."),
    "refused-size": _l("the file is %(size)s; the limit is %(limit)s per file."),
    "refused-count": _l("you can attach at most %(count)s files to a message."),
    "refused-total": _l("together the files would pass the limit of %(limit)s per message."),
    "colleague-replied": _l("%(name)s replied while you were typing:"),
    "a-colleague": _l("A colleague"),
}
_WRITTEN: dict[str, Markup] = {}


def page_texts() -> Markup:
    language = current_language()
    html = _WRITTEN.get(language)
    if html is None:
        # The texts keep their %(name)s for the script; "%%" is a literal "%" as gettext's callers write it.
        attributes = " ".join(
            f'data-{name}="{escape(str(text).replace("%%", "%"))}"' for name, text in SCRIPT_TEXTS.items()
        )
        html = _WRITTEN[language] = Markup(f'<div id="page-texts" hidden {attributes}></div>')
    return html


def register(app: Flask) -> None:
    app.jinja_env.globals["page_texts"] = page_texts

"""The portals' languages: which one a request is shown in, and the gettext functions the code marks its texts with.

Every text a person reads is marked: `_()` where it is used during a request, `_l()` (lazy) where it is
defined at import time (form labels, module-level constants, services' refusals), `ngettext` for counts.
Templates call `_()` and `ngettext()` the same way (Jinja's i18n extension, new style: `%(name)s`
placeholders, autoescaped). Emails keep their own language resolution (services/templates/).
"""
from __future__ import annotations

from flask import Flask, has_request_context, request, session
from flask_babel import Babel, get_locale, gettext, lazy_gettext, lazy_ngettext, ngettext
from flask_login import current_user

__all__ = [
    "LANGUAGES", "SUPPORTED_LANGUAGES", "_", "_l", "current_language", "gettext", "lazy_ngettext", "ngettext",
    "register", "select_language",
]

_ = gettext
_l = lazy_gettext

# The languages the portals are written in, each named in itself (the switcher shows them so).
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "de": "Deutsch"}
SUPPORTED_LANGUAGES = tuple(LANGUAGES)
DEFAULT_LANGUAGE = "en"
# An anonymous visitor's choice from the switcher (sign-in pages): kept in the session cookie.
SESSION_LANGUAGE_KEY = "language"

babel = Babel()


def select_language() -> str:
    """The account's saved choice, else this browser's choice, else (customers) their store's language, else the
    browser's, else English.

    Outside a request (a worker, a CLI command) texts are English: emails choose their language themselves."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    actor = current_user
    signed_in = getattr(actor, "is_authenticated", False)
    if signed_in and actor.language_saved and actor.language in LANGUAGES:
        return actor.language
    # Picked in this browser before signing in (the sign-in page's switcher), or read before signing out.
    chosen = session.get(SESSION_LANGUAGE_KEY)
    if chosen in LANGUAGES:
        return chosen
    if signed_in and actor.is_customer and actor.store is not None and actor.store.default_language in LANGUAGES:
        return actor.store.default_language
    return request.accept_languages.best_match(SUPPORTED_LANGUAGES) or DEFAULT_LANGUAGE


def _select_timezone() -> str:
    if not has_request_context():
        return "UTC"
    return getattr(current_user, "timezone", None) or "UTC"


def current_language() -> str:
    """The request's language code (en, fr, de)."""
    return get_locale().language if get_locale() is not None else DEFAULT_LANGUAGE


def register(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_language, timezone_selector=_select_timezone,
                   default_translation_directories="translations")
    app.context_processor(lambda: {"page_language": current_language(), "languages": LANGUAGES})

"""The portals' languages: which one a request is shown in, and the gettext functions the code marks its texts with.

Every text a person reads is marked: `_()` where it is used during a request, `_l()` (lazy) where it is
defined at import time (form labels, module-level constants, services' refusals), `ngettext` for counts.
Templates call `_()` and `ngettext()` the same way (Jinja's i18n extension, new style: `%(name)s`
placeholders, autoescaped). Emails keep their own language resolution (services/templates/).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel import Locale
from babel.support import NullTranslations
from babel.support import Translations as BabelTranslations
from flask import Flask, has_request_context, request, session
from flask.globals import _cv_app
from flask.templating import Environment as FlaskEnvironment
from flask_babel import Babel, get_locale, get_translations
from flask_babel.speaklater import LazyString
from flask_login import current_user
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from markupsafe import Markup, escape

__all__ = [
    "LANGUAGES", "SUPPORTED_LANGUAGES", "_", "_l", "current_language", "gettext", "labels_in_language",
    "lazy_ngettext", "ngettext", "register", "select_language",
]

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


# --- gettext, fast ------------------------------------------------------------------------------------------
# Flask-Babel finds the catalog anew on every call, through a dozen proxy lookups (its context lives on `g`):
# a page calls gettext a few hundred times, and that cost twice the page's own rendering
# (bench/bench_inbox.py). Here the catalog is found from the locale Flask-Babel chose for the context
# (force_locale changes it, and so the catalog), and kept per locale for the process.
_NO_TRANSLATIONS = NullTranslations()
_CATALOGS: dict[Locale, Any] = {}


def _current_locale() -> Locale | None:
    app_context = _cv_app.get(None)
    if app_context is None:
        return None
    babel_context = app_context.g.__dict__.get("_flask_babel")
    return getattr(babel_context, "babel_locale", None) or get_locale()


def translations():
    """The catalog of the current context's language (none outside an app context: English)."""
    locale = _current_locale()
    if locale is None:
        return _NO_TRANSLATIONS
    g_data = _cv_app.get().g.__dict__
    last = g_data.get("_messaging_catalog")
    if last is not None and last[0] is locale:  # the same Locale object: the context's language is unchanged
        return last[1]
    catalog = _CATALOGS.get(locale)
    if catalog is None:
        catalog = _CATALOGS[locale] = get_translations()
    g_data["_messaging_catalog"] = (locale, catalog)
    return catalog


_LABEL_TABLES: dict[tuple[int, Locale | None], dict] = {}


def labels_in_language(labels: Mapping[Any, Any]) -> dict[Any, str]:
    """A module's table of lazy labels (`_l`) as plain text in the current language, made once per table and
    language: a list page shows a label per row, and each lazy string is a gettext call when shown."""
    key = (id(labels), _current_locale())
    table = _LABEL_TABLES.get(key)
    if table is None:
        table = _LABEL_TABLES[key] = {name: str(label) for name, label in labels.items()}
    return table


def gettext(string: str, /, **variables) -> str:
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, count: int, /, **variables) -> str:
    """The form for `count` ("%(num)d messages"): `num` is the count unless given (a formatted number)."""
    variables.setdefault("num", count)
    return translations().ungettext(singular, plural, count) % variables


def lazy_gettext(string: str, /, **variables) -> LazyString:
    return LazyString(gettext, string, **variables)


def lazy_ngettext(singular: str, plural: str, count: int, /, **variables) -> LazyString:
    return LazyString(ngettext, singular, plural, count, **variables)


_ = gettext
_l = lazy_gettext


def _escaped(variables: dict) -> dict:
    # Markup % values escapes each through a helper object; escaping them first costs a third (the numbers stay
    # numbers for %(num)d).
    return {name: value if isinstance(value, int | float) else escape(value) for name, value in variables.items()}


def _template_gettext(string: str, /, **variables) -> Markup:
    """Templates' `_()`: Jinja's new-style gettext (the translation is markup, the values are escaped)."""
    text = translations().ugettext(string)
    if variables:
        return Markup(text % _escaped(variables))
    return Markup(text.replace("%%", "%") if "%" in text else text)


def _template_ngettext(singular: str, plural: str, count: int, /, **variables) -> Markup:
    variables.setdefault("num", count)
    return Markup(translations().ungettext(singular, plural, count) % _escaped(variables))


class _TemplateTexts:
    """`_texts["Save"]`: a text of the current language as markup, made once per catalog and text: how a
    template compiled for no language in particular (Environment.from_string) reads `_("Save")`."""

    def __init__(self) -> None:
        self._by_catalog: dict[int, dict[str, Markup]] = {}

    def __getitem__(self, string: str) -> Markup:
        texts = self._by_catalog.setdefault(id(translations()), {})
        text = texts.get(string)
        if text is None:
            text = texts[string] = _template_gettext(string)
        return text


TRANSLATIONS_DIR = Path(__file__).parent / "translations"


@functools.cache
def _catalog_of(language: str):
    return BabelTranslations.load(str(TRANSLATIONS_DIR), [language])


class PortalTemplates(FlaskEnvironment):
    """The pages' templates, compiled once per language, with each `_("literal")` written in at compile time.

    A page's fixed texts then cost what its HTML costs: at run time each `_()` was a call (Jinja's
    Context.call, then markup and formatting) and broke the page's static text into one more piece to yield
    through every enclosing template, a quarter of an inbox page's time (bench/bench_inbox.py). A call with
    values (`_("Page %(n)s", n=...)`) or `ngettext` stays a call at run time. The catalogs are extracted from
    the sources, so they see `_("literal")` as written."""

    language: str | None = None  # set on each language's overlay; None on the app's own environment

    def _load_template(self, name, globals):  # the one path of get_template and select_template
        if self.language is None and has_request_context():
            return self._in_language(current_language())._load_template(name, globals)
        return super()._load_template(name, globals)

    def _in_language(self, language: str) -> PortalTemplates:
        overlays = self.__dict__.setdefault("_language_overlays", {})
        environment = overlays.get(language)
        if environment is None:
            # An overlay shares the loader, globals, filters and tests (the same dicts), with a cache of its own.
            environment = self.overlay()
            environment.language = language
            overlays[language] = environment
        return environment


class _TextLookups(Extension):
    """`_("literal")` with no values: the translation itself in a language's templates (PortalTemplates), a
    lookup in `_texts` in templates compiled for no language."""

    def filter_stream(self, stream: TokenStream):
        language = getattr(self.environment, "language", None)
        pending: list[Token] = []
        previous = None  # `obj._("x")` is a method call, not gettext
        for token in stream:
            pending.append(token)
            if len(pending) == 1:
                is_gettext = token.type == "name" and token.value == "_" and previous != "dot"
                previous = token.type
                if not is_gettext:
                    yield pending.pop()
                continue
            previous = token.type
            if len(pending) == 2 and token.type != "lparen" or len(pending) == 3 and token.type != "string":
                yield from pending
                pending = []
                continue
            if len(pending) == 4:
                if token.type == "rparen":
                    yield from self._text(language, *pending)
                else:
                    yield from pending
                pending = []
        yield from pending

    @staticmethod
    def _text(language: str | None, name: Token, lparen: Token, literal: Token, rparen: Token):
        if language is None:
            yield from (Token(name.lineno, "name", "_texts"), Token(lparen.lineno, "lbracket", "["), literal,
                        Token(rparen.lineno, "rbracket", "]"))
            return
        # The text is markup, as new-style gettext makes it ("|safe" is folded into a constant at compile time).
        text = _catalog_of(language).ugettext(literal.value).replace("%%", "%")
        yield from (Token(literal.lineno, "string", text), Token(literal.lineno, "pipe", "|"),
                    Token(literal.lineno, "name", "safe"))


def current_language() -> str:
    """The request's language code (en, fr, de)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def register(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_language, timezone_selector=_select_timezone,
                   default_translation_directories="translations")
    # In place of the callables Flask-Babel installs (the same new-style behaviour, without its lookups).
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext,
                                 _texts=_TemplateTexts())
    app.jinja_env.add_extension(_TextLookups)
    app.context_processor(lambda: {"page_language": current_language(), "languages": LANGUAGES})

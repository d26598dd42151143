"""Domain errors that services raise and one error handler maps to 404 / 403 / a form error."""
from __future__ import annotations

from babel import numbers
from flask import has_request_context
from flask_babel import force_locale, get_locale
from flask_babel.speaklater import LazyString


class DomainError(Exception):
    """Base of every error a service raises on purpose; its message may be lazy (`_l`), str() gives text."""

    def __str__(self) -> str:
        return text(self.args[0]) if len(self.args) == 1 else super().__str__()


class NotFound(DomainError):
    """The row does not exist, or belongs to someone the actor may not see (the same answer)."""


class PermissionDenied(DomainError):
    """The actor is known but may not do this."""


class ValidationError(DomainError):
    """Input the user can fix; the message is written for them.

    Services pass a lazy string (`_l(...)`, i18n.py) or plain text; `message` is always plain text, in the
    language of the request reading it (English outside requests), so views may put it in a flash, a form's
    errors or a JSON answer as it is.
    """

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self._message = message
        self.field = field

    @property
    def message(self) -> str:
        return text(self._message)

    @message.setter
    def message(self, value) -> None:
        self._message = value

    @property
    def english(self) -> str:
        """The message in English, for what stays English: logs, the email log, database columns."""
        return english(self._message)


def english(message) -> str:
    """A message (lazy or plain) in English."""
    if isinstance(message, LazyString):
        with force_locale("en"):
            return str(message)
    return str(message)


def text(message) -> str:
    """A message (lazy or plain) as plain text: in the request's language, English outside requests (a CLI
    command, a worker, a test's app context: no request to choose a language from)."""
    if isinstance(message, LazyString) and not has_request_context():
        return english(message)
    return str(message)


def number(value: int | float) -> LazyString:
    """A number for a message (`_l("at most %(limit)s characters", limit=number(n))`), written as the
    reader's language writes it (10,000 / 10 000 / 10.000) when the message is shown; English outside requests."""
    return LazyString(format_number, value)


def format_number(value: int | float) -> str:
    """`value` as the current language writes numbers (English outside requests)."""
    locale = get_locale()
    return numbers.format_decimal(value, locale=locale if locale is not None else "en")

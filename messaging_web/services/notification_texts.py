"""The words of the notifications the platform raises, kept as data and written in each reader's language.

A notification raised by platform code stores its text as a key and its values in
`notification_metadata["text"]` ({"key": "spam_complaint", "values": {"store": "Boutique Lumière", ...}});
the page writes the title and message from the key when it shows them, in the viewer's language. The
`title` and `message` columns keep the English (emails, exports, search, the once-while-unread check), made
from the same table. A row without a key, or with a key this table no longer has, shows its stored English.

A value is shown as it is, except:
- a value named in _FORMATS (a ratio shown as a percentage, a number with grouping) is formatted in the
  reader's language when shown;
- a value that is itself {"key": ..., "values": ...} is a phrase of PHRASES, written in the reader's language;
- a list is its items (phrases or words) joined with "; ".
Text from outside the platform (a provider's error message, a template's render error) is a plain value:
it stays in the language it came in.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from babel import Locale
from flask_babel import force_locale, get_locale
from flask_babel.speaklater import LazyString

from ..i18n import _l, ngettext

# key -> (title, message), each with %(name)s placeholders filled from the stored values.
TEXTS: dict[str, tuple[Any, Any]] = {
    "deliverability_critical": (
        _l("%(store)s: deliverability critical"),
        _l("%(store)s's %(rates)s. Providers suspend senders above these rates; the store's home page shows it "
           "what to do."),
    ),
    "deliverability_warning": (
        _l("%(store)s: deliverability warning"),
        _l("%(store)s's %(rates)s. Providers suspend senders above these rates; the store's home page shows it "
           "what to do."),
    ),
    "spam_complaint": (
        _l("%(store)s: a recipient reported an email as spam"),
        _l("%(recipient)s reported “%(subject)s” (#%(id)s) as spam. Later reports are marked in the email log, "
           "with no further notice while this one is unread."),
    ),
    "email_not_sent": (
        _l("Email to %(recipient)s could not be sent"),
        _l("%(template)s #%(id)s: %(reason)s"),
    ),
    "email_not_sent_untemplated": (
        _l("Email to %(recipient)s could not be sent"),
        _l("Email #%(id)s: %(reason)s"),
    ),
    "template_unrenderable_store": (
        _l("Emails of “%(template)s” (%(language)s) cannot be rendered for store #%(store_id)s"),
        _l("A store's version of “%(template)s” (%(language)s) did not render, so its emails are marked failed in "
           "the email log. %(reason)s Later failures of the same template are in the log, with no further notice "
           "while this one is unread."),
    ),
    "template_unrenderable_platform": (
        _l("Emails of “%(template)s” (%(language)s) cannot be rendered"),
        _l("The platform template of “%(template)s” (%(language)s) did not render, so its emails are marked failed "
           "in the email log. %(reason)s Later failures of the same template are in the log, with no further "
           "notice while this one is unread."),
    ),
    # The demo data's notifications (services/demo.py).
    "demo_emails_bouncing": (
        _l("%(store)s: emails bouncing"),
        _l("Three emails to customers of %(store)s bounced in the last hour. Check the store's sender settings."),
    ),
    "demo_worker_healthy": (
        _l("Worker queue is healthy again"),
        _l("The email worker caught up with the queue after a short outage."),
    ),
    "demo_import_failed": (
        _l("Product import failed for %(store)s"),
        _l("The CSV import stopped at line %(line)s: the price column is empty."),
    ),
}

# Parts of a text that are chosen by the platform (a reason, a rate), as values of the texts above.
PHRASES: dict[str, Any] = {
    "complaint_rate": _l("complaint rate"),
    "bounce_rate": _l("hard bounce rate"),
    "rate_over_threshold": _l("%(what)s %(rate)s over %(days)s days (threshold %(threshold)s)"),
    "gave_up": lambda values: ngettext("Gave up after %(num)d attempt: %(error)s.",
                                       "Gave up after %(num)d attempts: %(error)s.", values["num"],
                                       error=values["error"]),
    "not_confirmed": _l("Not confirmed: %(error)s. It was not resent automatically, so that the recipient does "
                        "not get it twice; resend it from the email log if it did not arrive."),
    "worker_stopped": _l("Not confirmed: the worker sending this email stopped before recording the outcome; it "
                         "may have been delivered. Resend it from the email log if it did not arrive."),
    "subject_unsafe": _l("Subject: %(error)s"),
}


def _percent(digits: tuple[int, int]) -> Callable[[Any], str]:
    def shown(ratio: Any) -> str:
        """A ratio (0.004) the way the reader's language writes a percentage: 0.40% / 0,40 % (locale spacing)."""
        locale = get_locale() or Locale.parse("en")
        pattern = copy.copy(locale.percent_formats[None])
        pattern.frac_prec = digits
        return pattern.apply(ratio, locale)
    return shown


def _decimal(number: Any) -> str:
    locale = get_locale() or Locale.parse("en")
    pattern = locale.decimal_formats[None]
    return pattern.apply(number, locale)


# Values formatted for the reader by their name (numbers stored as numbers; ids are not grouped).
_FORMATS: dict[str, Callable[[Any], str]] = {
    "rate": _percent((2, 2)),  # 0.40%
    "threshold": _percent((0, 3)),  # 0.3%, 5%
    "line": _decimal,  # 1,204
}


def text(key: str, **values: Any) -> dict:
    """A notification's text as data, for raise_admin_notification(text=...). `values` are JSON: words,
    numbers, phrase(...) and lists of them."""
    if key not in TEXTS:
        raise KeyError(f"No notification text {key!r}")
    return {"key": key, "values": values}


def phrase(key: str, **values: Any) -> dict:
    """A platform-chosen part of a text (a reason, a rate), written in the reader's language too."""
    if key not in PHRASES:
        raise KeyError(f"No notification phrase {key!r}")
    return {"key": key, "values": values}


def _shown(name: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        return _phrase(value)
    if isinstance(value, list):
        return "; ".join(str(_shown(name, item)) for item in value)
    if name in _FORMATS and isinstance(value, int | float) and not isinstance(value, bool):
        return _FORMATS[name](value)
    return "" if value is None else value


def _values(values: Any) -> dict:
    if not isinstance(values, Mapping):
        return {}
    return {name: _shown(name, value) for name, value in values.items()}


def _phrase(stored: Mapping) -> str:
    found = PHRASES.get(stored.get("key"))  # type: ignore[arg-type]
    if found is None:
        raise KeyError(stored.get("key"))
    raw = stored.get("values") if isinstance(stored.get("values"), Mapping) else {}
    if not isinstance(found, LazyString):  # a plural phrase: ngettext on the values
        return found(_values(raw))
    return str(found) % _values(raw) if raw else str(found)


def render(stored: Any) -> tuple[str, str] | None:
    """(title, message) of a stored text in the current language; None when it cannot be written from the
    table (no key, an unknown key or phrase, values that do not fit): the caller shows the stored English."""
    if not isinstance(stored, Mapping) or stored.get("key") not in TEXTS:
        return None
    title, message = TEXTS[stored["key"]]
    try:
        values = _values(stored.get("values"))
        return str(title) % values, str(message) % values
    except (KeyError, ValueError, TypeError):
        return None


def english(stored: Mapping) -> tuple[str, str]:
    """The English title and message of a text: what the title and message columns store."""
    with force_locale("en"):
        written = render(stored)
    if written is None:
        raise ValueError(f"The notification text {stored!r} does not fit its table entry")
    return written


def title_of(notification) -> str:
    """The notification's title in the viewer's language (its stored English when it has no known text)."""
    written = render((notification.notification_metadata or {}).get("text"))
    return written[0] if written else notification.title


def message_of(notification) -> str:
    written = render((notification.notification_metadata or {}).get("text"))
    return written[1] if written else notification.message

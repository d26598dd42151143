"""The email log's filter form, shared by the admin console and the store portal."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SearchField, SelectField
from wtforms.validators import Length, NumberRange, Optional, Regexp

from ..i18n import _l
from ..services.email import email_analytics
from ..services.email.email_log import STATUS_FILTERS, EmailLogFilters
from .forms import PageNumberField, options


class PagedFilterForm(FlaskForm):
    """A GET filter form with a page number; a number that does not validate means the first page."""

    class Meta:
        csrf = False  # a GET search form

    page = PageNumberField("Page", default=1, validators=[Optional(), NumberRange(min=1, max=100000)])

    def page_number(self) -> int:
        return self.page.data if self.page.data and "page" not in self.errors else 1


def store_filter(value: str | None) -> tuple[int | None, str | None]:
    """A store filter as typed (part of a name) or linked (an id) -> (store id, name search), either or neither."""
    value = (value or "").strip()
    if value.isdigit():
        return (int(value) if len(value) < 10 else None), None
    return None, value or None


# The status filter's choices as people read them (the values are the stored statuses, plus "ambiguous").
STATUS_FILTER_LABELS = {
    "pending": _l("Pending"), "sent": _l("Sent"), "failed": _l("Failed"), "bounced": _l("Bounced"),
    "delivered": _l("Delivered"), "opened": _l("Opened"), "clicked": _l("Clicked"), "suppressed": _l("Suppressed"),
    "ambiguous": _l("Ambiguous"),
}


class EmailLogFilterForm(PagedFilterForm):
    q = SearchField(_l("Search recipient or subject"), validators=[Optional(), Length(max=200)])
    status = SelectField(
        _l("Status"),
        choices=options(
            [("", _l("Any status"))] + [(s, STATUS_FILTER_LABELS.get(s, s.capitalize())) for s in STATUS_FILTERS]
        ),
        validators=[Optional()],
    )
    # A store's name (part of it), or its id in links from other pages: a picker of every store would cost the
    # page more than its rows at a thousand stores (bench/bench_email_log.py).
    store = SearchField(_l("Store"), validators=[Optional(), Length(max=200)])
    provider = SelectField(_l("Provider"), choices=[], validators=[Optional()])

    def set_choices(self, providers: list[str]) -> None:
        self.provider.choices = options([("", _l("Any provider"))] + [(p, p) for p in providers])

    def filters(self) -> EmailLogFilters:
        valid = self.validate()
        errors = self.errors if not valid else {}
        store_id, store_search = store_filter(self.store.data if "store" not in errors else None)
        return EmailLogFilters(
            status=self.status.data if "status" not in errors and self.status.data else None,
            store_id=store_id, store_search=store_search,
            provider=self.provider.data if "provider" not in errors and self.provider.data else None,
            search=(self.q.data or "").strip() or None if "q" not in errors else None,
        )


class AnalyticsFilterForm(PagedFilterForm):
    days = SelectField(
        _l("Period"), default="30", validators=[Optional()],
        choices=options((str(d), _l("Last %(days)s days", days=d)) for d in email_analytics.PERIODS),
    )
    q = SearchField(_l("Store"), validators=[Optional(), Length(max=200)])
    # One store's figures (its id; 0 for the platform's own emails), reached from the table of stores: no
    # picker of every store, which at a thousand stores costs the page more than its figures do.
    store = HiddenField(_l("Store"), validators=[Optional(), Regexp(r"^\d{1,9}$")])

    def store_key(self) -> int | None:
        """The chosen store's id (0: the platform's own emails), or None for all."""
        chosen = self.store.data if "store" not in self.errors else ""
        return int(chosen) if chosen else None

    def period(self) -> tuple[int, str]:
        """The period in days and the store search; a value that does not validate falls back."""
        self.validate()
        days = int(self.days.data) if "days" not in self.errors and self.days.data else 30
        search = (self.q.data or "").strip() if "q" not in self.errors else ""
        return days, search

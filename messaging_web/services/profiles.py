"""What a person chooses for themselves: the language of their portal and emails, and their time zone."""
from __future__ import annotations

import functools
import zoneinfo

from ..extensions import db
from ..i18n import LANGUAGES, _l
from ..models import Customer, User
from ..models.base import utcnow
from .errors import ValidationError


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The zones a person may pick: the IANA names (Europe/Paris), without the legacy aliases (US/Pacific)."""
    legacy = ("Etc/", "SystemV/", "US/")
    names = {name for name in zoneinfo.available_timezones() if "/" in name and not name.startswith(legacy)}
    return tuple(sorted(names | {"UTC"}))


def save_language(account: User | Customer, language: str) -> None:
    if language not in LANGUAGES:
        raise ValidationError(_l("Choose English, French or German."), field="language")
    account.preferred_language = language
    account.language_saved_at = utcnow()
    db.session.flush()


def save_time_zone(account: User | Customer, zone: str) -> None:
    if zone not in time_zones():
        raise ValidationError(_l("Choose a time zone from the list."), field="timezone")
    account.timezone = zone
    account.timezone_saved_at = utcnow()
    db.session.flush()


def save_profile(account: User | Customer, language: str, zone: str) -> None:
    save_language(account, language)
    save_time_zone(account, zone)

"""Requests whose query and form values never hold a NUL character.

PostgreSQL text cannot store or compare a NUL (psycopg refuses the query), SQLite would store it, and no
one types one: it only comes from a tampered request or a paste of binary junk. Removing it where the
values are parsed keeps every view, form and search on both databases free of it, rather than each of
them refusing it (or failing on it) on its own.
"""
from __future__ import annotations

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict


def _without_nul(value):
    return value.replace("\x00", "") if isinstance(value, str) else value


class NulFreeMultiDict(ImmutableMultiDict):
    def __init__(self, mapping=None):
        parsed = MultiDict(mapping)
        super().__init__([(_without_nul(key), _without_nul(value)) for key, value in parsed.items(multi=True)])


class NulFreeRequest(Request):
    parameter_storage_class = NulFreeMultiDict

"""Wiring shared by the portal blueprints: the sign-in guard and, for store-scoped portals, the store."""
from __future__ import annotations

from typing import overload

from flask import Blueprint, g
from werkzeug.routing import IntegerConverter

from .. import access
from ..actors import current_actor, require_portal
from ..models.base import LARGEST_ID


def guard_portal(bp: Blueprint, kind: str, login_endpoint: str) -> None:
    """Only signed-in `kind` actors reach the blueprint's views."""

    @bp.before_request
    def _guard():
        return require_portal(kind, login_endpoint)


def guard_store_portal(bp: Blueprint, kind: str, login_endpoint: str) -> None:
    """As guard_portal, for blueprints under /<portal>/<slug>: g.store is the actor's own store or 404."""

    @bp.url_value_preprocessor
    def _pull_slug(_endpoint, values):
        g.store_slug = values.pop("slug", None) if values else None

    @bp.url_defaults
    def _push_slug(endpoint, values):
        if "slug" not in values and getattr(g, "store_slug", None):
            values["slug"] = g.store_slug

    @bp.before_request
    def _guard():
        response = require_portal(kind, login_endpoint, slug=g.store_slug)
        if response is not None:
            return response
        g.store = access.portal_store(current_actor(), g.store_slug)
        return None


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every route: at most ten digits and within the INTEGER range, else the URL matches
    nothing (404), instead of an OverflowError from the database or a ValueError from int() of 5,000 digits."""

    regex = r"\d{1,10}"

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(url_map, *args, **kwargs)


@overload
def int_arg(values, name: str, default: int) -> int: ...
@overload
def int_arg(values, name: str, default: None = None) -> int | None: ...
def int_arg(values, name: str, default: int | None = None) -> int | None:
    """An integer argument (an id cursor, a page number) from request.args or request.form, brought into
    the range the database can compare with; `default` when absent or not a number."""
    number = values.get(name, type=int)
    if number is None:
        return default
    return max(-LARGEST_ID, min(number, LARGEST_ID))

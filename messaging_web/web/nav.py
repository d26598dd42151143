"""The navigation: its badges (read once per request, at most) and its links (built once per store)."""
from __future__ import annotations

import functools

from flask import Flask, g, request, url_for

from ..actors import current_actor
from ..services.nav_badges import NavBadges, read_nav_badges


def nav_badges() -> NavBadges:
    """The signed-in reader's badges; the page's own query may already have read them (see remember)."""
    badges = g.get("nav_badges")
    if badges is None:
        badges = g.nav_badges = read_nav_badges(current_actor())
    return badges


def remember_nav_badges(badges: NavBadges | None) -> None:
    """Badges a view read along with its page (None: it did not, they are read when shown)."""
    if badges is not None:
        g.nav_badges = badges


def nav_url(endpoint: str) -> str:
    """url_for(endpoint) for a route without parameters of its own (the layout's and the nav's links).

    Every page links a dozen of them, and url_for costs a sixth of a list page's rendering; the URL
    only depends on the mount point and, in the store-scoped portals, the store's slug.
    """
    return _nav_url(request.script_root, g.get("store_slug"), endpoint)


@functools.lru_cache(maxsize=4096)
def _nav_url(_script_root: str, _store_slug: str | None, endpoint: str) -> str:
    return url_for(endpoint)


# Stand-ins for the ids while an id_url pattern is built: ten digits, unlikely anywhere else in a URL (a
# pattern in which one is not found exactly once is not used).
_ID_STAND_INS = (1987654321, 1876543219, 1765432198)


def id_url(endpoint: str, **ids: int) -> str:
    """url_for(endpoint, **ids) for a route whose own parameters are the integer ids given (a thread, a
    message): the inbox links 25 threads, a thread page a delete form per own message. The URL is built
    once per mount point, store and endpoint, as a pattern the ids are put into."""
    pattern = _id_url_pattern(request.script_root, g.get("store_slug"), endpoint, tuple(ids))
    if pattern is None:
        return url_for(endpoint, **ids)  # type: ignore[arg-type]  # ids are route values, not url_for's options
    if len(pattern) == 2:  # one id (a thread's links, its inbox row): no loop
        for value in ids.values():
            return f"{pattern[0]}{int(value)}{pattern[1]}"
    parts = [pattern[0]]
    for name, text in zip(ids, pattern[1:], strict=True):
        parts.append(str(int(ids[name])))
        parts.append(text)
    return "".join(parts)


@functools.lru_cache(maxsize=4096)
def _id_url_pattern(
    _script_root: str, _store_slug: str | None, endpoint: str, names: tuple[str, ...]
) -> tuple[str, ...] | None:
    """The URL's text around each id, in the order of `names`; None when the ids cannot be told apart."""
    if len(names) > len(_ID_STAND_INS):
        return None
    stand_ins: dict = dict(zip(names, _ID_STAND_INS, strict=False))
    url = url_for(endpoint, **stand_ins)
    texts = [str(stand_in) for stand_in in stand_ins.values()]
    if any(url.count(text) != 1 for text in texts):
        return None
    pieces = []
    for text in texts:
        before, found, url = url.partition(text)
        if not found:  # the route puts the ids in another order than `names`
            return None
        pieces.append(before)
    pieces.append(url)
    return tuple(pieces)


def held_replies() -> int | None:
    """How many emailed replies wait in the reader's "undelivered replies" list; None when reply by email
    is off (the link is not shown). One COUNT, read once per request."""
    from flask import current_app

    from ..services.inbound import decisions

    if not current_app.config.get("INBOUND_EMAIL_DOMAIN"):
        return None
    if "held_replies" not in g:
        g.held_replies = decisions.held_count(current_actor())
    return g.held_replies


def register(app: Flask) -> None:
    app.jinja_env.globals["nav_badges"] = nav_badges
    app.jinja_env.globals["held_replies"] = held_replies
    app.jinja_env.globals["nav_url"] = nav_url
    app.jinja_env.globals["id_url"] = id_url

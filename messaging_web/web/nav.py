"""The navigation's badges for the page being rendered: read once per request, at most."""
from __future__ import annotations

from flask import Flask, g

from ..services.nav_badges import NavBadges, read_nav_badges


def nav_badges() -> NavBadges:
    """The signed-in reader's badges; the page's own query may already have read them (see remember)."""
    badges = g.get("nav_badges")
    if badges is None:
        badges = g.nav_badges = read_nav_badges(g.get("actor"))
    return badges


def remember_nav_badges(badges: NavBadges | None) -> None:
    """Badges a view read along with its page (None: it did not, they are read when shown)."""
    if badges is not None:
        g.nav_badges = badges


def register(app: Flask) -> None:
    app.jinja_env.globals["nav_badges"] = nav_badges

"""HTMX requests: which ones get a fragment (is_htmx), and render_page, which answers them or with the page."""
from __future__ import annotations

from flask import Response, make_response, render_template, request

# The headers that decide between a page and its fragment; every HTML response names them in Vary, so that
# no cache hands a fragment to a browser that asked for the page (create_app's after_request adds them).
VARY_HEADERS = ("HX-Request", "HX-History-Restore-Request")


def is_htmx() -> bool:
    """An HTMX request that swaps the answer into the page it came from.

    Not a history restore: on "Back", when its history cache misses, htmx asks for the URL with HX-Request
    and HX-History-Restore-Request and swaps the answer in for the whole body, so it needs the full page.
    """
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def render_page(page_template: str, fragment_template: str, **context) -> Response:
    """The fragment for an HTMX request, the full page otherwise (a history restore is a full-page request).

    The page includes the fragment (one template per fragment), so both show the same thing.
    """
    return make_response(render_template(fragment_template if is_htmx() else page_template, **context))

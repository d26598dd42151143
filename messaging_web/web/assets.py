"""URLs of the files in static/: built once per file, not on every page (each page links a handful)."""
from __future__ import annotations

import functools

from flask import Flask, request, url_for


def static_url(filename: str) -> str:
    return _static_url(request.script_root, filename)


@functools.lru_cache(maxsize=256)
def _static_url(_script_root: str, filename: str) -> str:
    # Keyed by the script root too: the same file has another URL under another mount point.
    return url_for("static", filename=filename)


def register(app: Flask) -> None:
    app.jinja_env.globals["static_url"] = static_url

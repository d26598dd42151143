"""Public tracking endpoints that recipients' mail clients reach: the open pixel and tracked links (/t/...)."""
from __future__ import annotations

from flask import Blueprint, abort, make_response, redirect

from ..extensions import db
from ..services.email import tracking
from ..services.errors import ValidationError

bp = Blueprint("tracking", __name__, url_prefix="/t")


@bp.get("/o/<token>.gif")
def open_pixel(token: str):
    try:
        tracking.record_open(token)
    except ValidationError:
        abort(400)
    db.session.commit()
    response = make_response(tracking.PIXEL_GIF)
    response.headers["Content-Type"] = "image/gif"
    response.headers["Cache-Control"] = "no-store, max-age=0"
    return response


@bp.get("/c/<token>")
def click(token: str):
    try:
        target = tracking.record_click(token)
    except ValidationError:
        abort(400)  # a tampered token: no redirect anywhere
    db.session.commit()
    return redirect(target, code=302)

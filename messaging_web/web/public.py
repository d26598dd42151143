"""Public pages: the landing page that points to the three portals."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, url_for

from ..extensions import db
from ..models import Store

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    stores = db.session.scalars(sa.select(Store).order_by(Store.name).limit(50)).all()
    return render_template("public/index.html", stores=stores)


@bp.get("/healthz")
def healthz():
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico on their own (error pages, downloads); pages name the SVG.
    return redirect(url_for("static", filename="favicon.svg"), code=301)

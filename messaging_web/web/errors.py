"""One mapping from errors to responses: domain errors, HTTP errors, CSRF; pages or HTMX fragments."""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..services.errors import NotFound, PermissionDenied, ValidationError
from .portal import is_htmx

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have access to this page.",
    404: "This page does not exist, or you do not have access to it.",
    405: "This action is not allowed here.",
    413: "What you sent is too large.",
    429: "Too many attempts. Please wait a few minutes and try again.",
    500: "Something went wrong on our side. The team has been told; please try again later.",
}


def render_error(status: int, message: str | None = None):
    message = message or MESSAGES.get(status, "Something went wrong.")
    template = "errors/_message.html" if is_htmx() else "errors/error.html"
    response = render_template(template, status=status, message=message)
    return response, status


def register(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def _not_found(exc):
        return render_error(404)

    @app.errorhandler(PermissionDenied)
    def _denied(exc):
        return render_error(403, str(exc) or None)

    @app.errorhandler(ValidationError)
    def _invalid(exc):
        return render_error(422, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_error(400, "This form has expired or did not come from this site. Reload the page and try again.")

    @app.errorhandler(429)
    def _too_many(exc):
        if request.endpoint and request.endpoint.endswith("_login"):
            return render_error(429, "Too many failed sign-in attempts. Please try again in a few minutes.")
        if request.endpoint and request.endpoint.endswith("_send_test"):
            return render_error(429, "You have sent many tests just now. Please wait a minute and try again.")
        return render_error(429)

    @app.errorhandler(HTTPException)
    def _http(exc):
        return render_error(exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return render_error(500)

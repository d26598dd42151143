"""One mapping from errors to responses: domain errors, HTTP errors, CSRF; pages or HTMX fragments."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, make_response, request, session
from flask_babel import force_locale
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..i18n import DEFAULT_LANGUAGE, SESSION_LANGUAGE_KEY, SUPPORTED_LANGUAGES, _, _l
from ..services.errors import NotFound, PermissionDenied, ValidationError
from .htmx import is_htmx, render_page

MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have access to this page."),
    404: _l("This page does not exist, or you do not have access to it."),
    405: _l("This action is not allowed here."),
    413: _l("What you sent is too large."),
    429: _l("Too many attempts. Please wait a few minutes and try again."),
    503: _l("The server is very busy right now. Please try again in a few seconds."),
    500: _l("Something went wrong on our side. The team has been told; please try again later."),
}


BUSY_PAGE = (
    '<!doctype html><html lang="{language}"><head><meta charset="utf-8"><title>{title}</title></head>'
    '<body><main><h1>{heading}</h1><p role="alert">{message}</p></main></body></html>'
)


def busy_page() -> str:
    """BUSY_PAGE in the language the visitor chose (the session) or their browser's: not the account's,
    whose choice is read from the database that is out of reach."""
    language = session.get(SESSION_LANGUAGE_KEY)
    if language not in SUPPORTED_LANGUAGES:
        language = request.accept_languages.best_match(SUPPORTED_LANGUAGES) or DEFAULT_LANGUAGE
    with force_locale(language):
        return BUSY_PAGE.format(language=language, title=_("Busy"), heading=_("Please try again"),
                                message=MESSAGES[503])


@dataclass(frozen=True)
class SlowDown:
    """What a 429 from one view says, and the element an HTMX request shows it in (its content replaced)."""

    message: str  # a lazy string (_l): shown in the viewer's language
    htmx_target: str = "#flashes"


SIGN_IN_THROTTLED = SlowDown(_l("Too many failed sign-in attempts. Please try again in a few minutes."))

# By view name (the endpoint without its blueprint: the portals share their views' names). The targets
# leave what the user typed in place: the editor's draft, the composer's message and files.
TOO_MANY_REQUESTS = {
    "admin_login": SIGN_IN_THROTTLED,
    "store_login": SIGN_IN_THROTTLED,
    "customer_login": SIGN_IN_THROTTLED,
    "templates_preview": SlowDown(_l("You are previewing very fast; wait a few seconds."), "#template-preview"),
    "templates_send_test": SlowDown(_l("You have sent many tests just now. Please wait a minute and try again."),
                                    "#send-test-result"),
    "email_settings_step": SlowDown(_l("You have sent several test emails just now. Please wait a few minutes "
                                       "before sending the next one."), "#verify-status"),
    "post_conversation_message": SlowDown(_l("You are sending messages very fast, so this one was not sent yet. "
                                             "Wait a minute, then send it again."), "#composer-status"),
    "new_conversation": SlowDown(_l("You are sending messages very fast, so this one was not sent. Wait a minute, "
                                    "then go back to your message and send it again.")),
}


def render_error(status: int, message=None):
    """The error page (or its fragment); `message` plain or lazy text, else the status's own."""
    message = str(message or MESSAGES.get(status) or _("Something went wrong."))
    return render_page("errors/error.html", "errors/_message.html", status=status, message=message), status


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
        return render_error(
            400, _("This form has expired or did not come from this site. Reload the page and try again.")
        )

    @app.errorhandler(429)
    def _too_many(exc):
        view = (request.endpoint or "").rpartition(".")[2]
        slow_down = TOO_MANY_REQUESTS.get(view, SlowDown(MESSAGES[429]))
        response = make_response(render_error(429, slow_down.message))
        if is_htmx():
            # base.html's htmx-config swaps a 429 like a form error, into this target only.
            response.headers["HX-Retarget"] = slow_down.htmx_target
            response.headers["HX-Reswap"] = "innerHTML"
        return response

    @app.errorhandler(sa.exc.TimeoutError)
    def _pool_busy(exc):
        # Every database connection of this process stayed taken for DATABASE_POOL_TIMEOUT: a burst (a
        # restart's reconnecting streams). Nothing was written; the browser may simply retry.
        app.logger.warning("Database pool busy on %s %s", request.method, request.path)
        db.session.rollback()
        # A plain page: the usual one reads the database too (the nav), which is what is out of reach.
        response = make_response(busy_page(), 503)
        response.headers["Retry-After"] = "3"
        return response

    @app.errorhandler(HTTPException)
    def _http(exc):
        return render_error(exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return render_error(500)

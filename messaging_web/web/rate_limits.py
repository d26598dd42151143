"""Per-account rate limits on the views that cost the platform most: previews, test sends, posts, uploads."""
from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request

from ..actors import current_actor
from ..extensions import limiter


def actor_key() -> str:
    """The signed-in account (kind and id): one account's pace never spends another's allowance."""
    actor = current_actor()
    if actor.is_authenticated:
        return f"{actor.kind}:{actor.id}"
    # The portal guards run first and send anonymous visitors to sign in; this is only a fallback.
    return f"address:{request.remote_addr}"


def per_account(setting: str, scope: str, *, exempt_when: Callable[[], bool] | None = None):
    """A decorator limiting POSTs to `config[setting]` (e.g. "30 per minute") per signed-in account.

    Every view decorated with the limit of one `scope` counts against the same allowance.
    """
    return limiter.shared_limit(
        lambda: current_app.config[setting], scope, key_func=actor_key, methods=["POST"], exempt_when=exempt_when,
    )


def _carries_no_files() -> bool:
    # A composer with no file chosen still sends an empty part under the field's name.
    return not any(upload.filename for upload in request.files.getlist("attachments"))


def _sends_no_test_email() -> bool:
    # The wizard's steps share one view; only its verification step connects to the store's provider.
    return (request.view_args or {}).get("step") != "verify" or request.form.get("go") == "back"


template_preview_limit = per_account("TEMPLATE_PREVIEW_RATE_LIMIT", "template-preview")
template_test_limit = per_account("TEMPLATE_TEST_RATE_LIMIT", "template-test")
email_settings_verify_limit = per_account(
    "EMAIL_SETTINGS_VERIFY_RATE_LIMIT", "email-settings-verify", exempt_when=_sends_no_test_email,
)
# Starting a conversation and answering in one count together; a post with files also counts as an upload.
message_post_limit = per_account("MESSAGE_POST_RATE_LIMIT", "message-post")
upload_limit = per_account("UPLOAD_RATE_LIMIT", "upload", exempt_when=_carries_no_files)

"""Attachment downloads and thumbnails in each portal, authorised through the conversation and served safely."""
from __future__ import annotations

from flask import Blueprint, redirect, send_file

from .. import access
from ..actors import current_actor
from ..services import attachments

# Belt and braces for files opened in a tab: nothing in them may run, whatever a browser makes of them.
DOWNLOAD_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"


def _serve(attachment_id: int, *, thumbnail: bool):
    attachment = access.access_attachment(current_actor(), attachment_id)
    download = attachments.open_download(attachment, thumbnail=thumbnail)
    if download.url:
        response = redirect(download.url, code=302)
    else:
        assert download.stream is not None, "open_download gives a url or a stream"
        response = send_file(download.stream, mimetype=download.content_type, max_age=300)
        response.headers["Content-Disposition"] = download.disposition
        if download.size is not None:
            response.content_length = download.size
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    # Visibility can change (a message is deleted): no shared caches, and a short private one.
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def download_attachment(attachment_id: int):
    return _serve(attachment_id, thumbnail=False)


def attachment_thumbnail(attachment_id: int):
    return _serve(attachment_id, thumbnail=True)


def _template_helpers():
    return {
        "attachment_type_label": attachments.type_label,
        "attachment_size": attachments.format_size,
        "thumbnail_box": attachments.thumbnail_box,
        # The composer flags other kinds before uploading (the server still decides by the content).
        "attachment_extensions": ",".join(sorted(attachments.TYPES_BY_EXTENSION)),
    }


def register_attachment_views(bp: Blueprint) -> None:
    """/<portal>/attachments/<id> and its thumbnail, on a portal blueprint (its guard signs the actor in)."""
    bp.add_url_rule("/attachments/<int:attachment_id>", "attachment", download_attachment)
    bp.add_url_rule("/attachments/<int:attachment_id>/thumbnail", "attachment_thumbnail", attachment_thumbnail)
    bp.context_processor(_template_helpers)


def _register_on_portals() -> None:
    from . import admin, customer, store

    for bp in (admin.bp, store.bp, customer.bp):
        register_attachment_views(bp)


# Imported by register_blueprints before the portal blueprints are registered on the app.
_register_on_portals()

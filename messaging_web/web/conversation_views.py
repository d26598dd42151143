"""Conversation views shared by the three portals: inbox, thread, composer, polling, settings, close, delete.

Each portal module (admin_conversations, store_conversations, customer_conversations) registers these
on its blueprint with its own URLs and start form. Who posts, where, and to which store always comes
from the session and the URL, never from form fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Optional

from .. import access
from ..actors import current_actor
from ..extensions import db
from ..i18n import _, _l, labels_in_language
from ..models import CONVERSATION_TYPES_SEEN, ConversationType, ParticipantType
from ..services import conversations, saved_replies
from ..services.attachments import Refusal, Upload, UploadRefused
from ..services.errors import PermissionDenied, ValidationError
from .forms import save_form
from .htmx import is_htmx, render_page
from .live_views import register_live_views
from .message_text import message_html, system_line
from .nav import nav_url, remember_nav_badges
from .portal import int_arg
from .rate_limits import message_post_limit, upload_limit
from .read_only import read_only, writes_one_statement_at_a_time


class MessageForm(FlaskForm):
    # Lengths and emptiness are the service's rules (one message for the user, whatever the entry point).
    content = TextAreaField(_l("Message"), validators=[Optional()])


class StartForm(FlaskForm):
    """A new conversation's subject and first message; each portal's form adds whom it goes to."""

    # Lengths and emptiness are the service's rules, as for a message.
    subject = StringField(_l("Subject"), validators=[Optional()])
    content = TextAreaField(_l("Message"), validators=[Optional()])


class ReaderSettingsForm(FlaskForm):
    # Checkboxes: absent from the form data means off.
    muted = BooleanField(_l("Mute this conversation"))
    email_notifications = BooleanField(_l("Email me about new messages"))


TYPE_LABELS = {
    ConversationType.ADMIN_STORE: _l("Platform ↔ store"),
    ConversationType.STORE_CUSTOMER: _l("Store ↔ customer"),
    ConversationType.ADMIN_CUSTOMER: _l("Platform ↔ customer"),
}
SIDE_LABELS = {"admin": _l("Platform team"), "store": _l("Store team"), "customer": _l("Customer")}


@dataclass(frozen=True)
class Portal:
    """What differs between the portals: blueprint, templates folder, the inbox endpoint, who may close."""

    name: str  # blueprint name and template folder, and the kind of person it serves: admin | store | customer
    inbox_endpoint: str
    can_close: bool

    @property
    def types(self) -> tuple[ConversationType, ...]:
        """The conversation types its inbox shows (and filters by): those its people take part in."""
        return CONVERSATION_TYPES_SEEN[ParticipantType(self.name)]

    def endpoint(self, view: str) -> str:
        return f"{self.name}.{view}"

    def template(self, page: str) -> str:
        return f"{self.name}/conversations/{page}"


def register_conversation_views(bp: Blueprint, portal: Portal, *, prefix: str, inbox_rule: str | None = None):
    """Add the inbox, thread and their actions to `bp` under `prefix` (e.g. '/conversations')."""
    register_live_views(bp, portal, prefix=prefix)

    @bp.context_processor
    def _conversation_context():
        viewer = current_actor()
        return {
            "conv_portal": portal,
            # Read once per render: each message asks "is this mine?" and "may I see deleted text?".
            "viewer_kind": getattr(viewer, "kind", None),
            "viewer_id": getattr(viewer, "id", None),
            "message_html": message_html,
            "system_line": system_line,
            "conv_type_labels": labels_in_language(TYPE_LABELS),
            "conv_side_labels": labels_in_language(SIDE_LABELS),
            # Every page of the portal follows the account's badges live; the inbox its rows too.
            # (url_for's URL, from the cached one: url_for cost as much as rendering a few rows.)
            "live_stream_url": nav_url(portal.endpoint("live_stream"))
            + ("?inbox=1" if request.endpoint == portal.inbox_endpoint else "")
            if viewer is not None and viewer.is_authenticated else None,
        }

    @read_only
    def inbox():
        filters = _filters(portal)
        cursor = request.args.get("cursor") or None
        page = conversations.inbox_page(current_actor(), filters, cursor, current_app.config["PAGE_SIZE"])
        remember_nav_badges(page.badges)
        context = {"page": page, "filters": filters, "cursor": cursor, "links": _inbox_links(portal, cursor, page)}
        return render_page(portal.template("inbox.html"), "conversations/_inbox_poll.html", **context)

    bp.add_url_rule(inbox_rule or f"{prefix}/", view_func=inbox, endpoint=portal.inbox_endpoint.split(".")[1])

    @bp.get(f"{prefix}/unread-badge")
    @read_only
    def unread_badge():
        return render_template("conversations/_unread_badge.html")

    @bp.get(f"{prefix}/<int:conversation_id>")
    @writes_one_statement_at_a_time
    def conversation(conversation_id: int):
        actor = current_actor()
        # The thread with the reader's row, as plain columns in one query: the page changes neither.
        thread = access.access_thread_head(actor, conversation_id)
        reader = conversations.mark_thread_read(actor, thread)
        messages = conversations.thread_messages(thread, badges_for=actor)
        remember_nav_badges(messages.badges)
        counterpart = conversations.counterpart_name(
            actor, thread.conversation_type, thread.store_name, thread.customer_name,
        )
        last_shown = messages.messages[-1].id if messages.messages else 0
        deleted_since = conversations.deleted_since_cursor()
        # Rendered before the commit, which expires the loaded rows; the page shows what was read.
        page = render_template(
            portal.template("thread.html"), conversation=thread, reader=reader, slice=messages,
            counterpart=counterpart, form=MessageForm(),
            poll_seconds=current_app.config["CONVERSATION_POLL_SECONDS"],
            max_length=current_app.config["MESSAGE_MAX_LENGTH"],
            deleted_since=deleted_since, composer_seen=last_shown,
            live_stream_url=url_for(portal.endpoint("live_stream"), conversation=thread.id, after=last_shown,
                                    deleted_since=deleted_since),
        )
        db.session.commit()
        return page

    @bp.get(f"{prefix}/<int:conversation_id>/messages")
    def conversation_messages(conversation_id: int):
        """Older messages (?before=id) for 'load older'; or, for polling, newer ones (?after=id) and the
        shown ones deleted since the previous poll (?deleted_since=, the value the previous poll returned)."""
        actor = current_actor()
        thread = access.access_conversation(actor, conversation_id)
        before = int_arg(request.args, "before")
        if before is not None:
            return render_template(
                "conversations/_older_messages.html", conversation=thread,
                slice=conversations.thread_messages(thread, before_id=before),
            )
        after = int_arg(request.args, "after") or 0
        deleted_since = conversations.parse_deleted_since(request.args.get("deleted_since"))
        updates = conversations.thread_updates(
            thread, after_id=after, deleted_since=deleted_since, oldest_shown_id=int_arg(request.args, "oldest")
        )
        conversations.mark_read(actor, thread)
        fragment = render_template(
            "conversations/_new_messages.html", conversation=thread, slice=updates.new, after=after,
            deleted=updates.deleted, deleted_since=updates.deleted_since,
        )
        db.session.commit()
        return fragment

    @bp.post(f"{prefix}/<int:conversation_id>/messages")
    @message_post_limit
    @upload_limit
    def post_conversation_message(conversation_id: int):
        actor = current_actor()
        thread = access.access_conversation(actor, conversation_id)
        form = MessageForm()
        after = int_arg(request.form, "after") or 0
        # "Send without invoice.exe": the files the author chose to leave out after a refusal.
        left_out = set(filter(None, request.form.get("without", "").split("\n")))
        files = [Upload.from_file_storage(f) for f in request.files.getlist("attachments")
                 if not (f.filename and f.filename in left_out)]
        collision = _collision_warning(actor, thread, form)
        if collision is not None:
            return collision
        submission = save_form(form, lambda: conversations.post_message(actor, thread, form.content.data or "", files))
        if submission.saved:
            if not is_htmx():
                # The URL's id, not thread.id: after the commit that would be a SELECT to reload the thread.
                return redirect(url_for(portal.endpoint("conversation"), conversation_id=conversation_id))
            new = conversations.thread_messages(thread, after_id=after)
            return render_template(
                "conversations/_new_messages.html", conversation=thread, slice=new, after=after,
                fresh_composer=MessageForm(formdata=None),
                max_length=current_app.config["MESSAGE_MAX_LENGTH"],
            )
        refused_files = _attachment_refusals(submission.refusal)
        if is_htmx() and refused_files and all(r.filename for r in refused_files):
            # Files refused one by one: the composer stays as it is (the text and every file picked), and asks
            # whether to send without the refused ones.
            refused_names = {r.filename for r in refused_files}
            sendable = [f for f in files if f.filename not in refused_names]
            response = make_response(render_template(
                "conversations/_composer_refusals.html", refusals=refused_files,
                left_out="\n".join(sorted(refused_names | left_out)),
                can_send_without=bool(sendable or (form.content.data or "").strip()),
            ), submission.status)
            response.headers["HX-Retarget"] = "#composer-status"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        response = make_response(
            render_template(
                "conversations/_composer.html", conversation=thread, form=form,
                max_length=current_app.config["MESSAGE_MAX_LENGTH"],
                attach_refusals=refused_files,
            ),
            submission.status,
        )
        if is_htmx():
            response.headers["HX-Retarget"] = "#composer"
            response.headers["HX-Reswap"] = "outerHTML"
        return response

    if portal.name != "customer":

        @bp.get(f"{prefix}/<int:conversation_id>/saved-replies")
        @read_only
        def conversation_saved_replies(conversation_id: int):
            """The composer's saved-reply picker: the team's replies, filled in for this thread, as one types."""
            actor = current_actor()
            thread = access.access_conversation(actor, conversation_id)
            found = saved_replies.replies_for_conversation(actor, thread, (request.args.get("q") or "")[:200])
            return render_template("conversations/_saved_reply_results.html", replies=found)

    @bp.post(f"{prefix}/<int:conversation_id>/unread")
    def mark_conversation_unread(conversation_id: int):
        actor = current_actor()
        thread = access.access_conversation(actor, conversation_id)
        conversations.mark_unread(actor, thread)
        db.session.commit()
        flash(_("“%(subject)s” is marked as unread.", subject=thread.subject), "success")
        return redirect(url_for(portal.inbox_endpoint))

    @bp.post(f"{prefix}/<int:conversation_id>/settings")
    def conversation_settings(conversation_id: int):
        actor = current_actor()
        thread = access.access_conversation(actor, conversation_id)
        form = ReaderSettingsForm()
        if form.validate_on_submit():
            conversations.update_reader_settings(
                actor, thread, muted=form.muted.data, email_notifications=form.email_notifications.data
            )
            db.session.commit()
            flash(_("Your settings for this conversation are saved."), "success")
        return redirect(url_for(portal.endpoint("conversation"), conversation_id=thread.id))

    @bp.post(f"{prefix}/<int:conversation_id>/close")
    def close_conversation(conversation_id: int):
        actor = current_actor()
        thread = access.access_conversation(actor, conversation_id)
        if FlaskForm().validate_on_submit():
            conversations.close_conversation(actor, thread)
            db.session.commit()
        return redirect(url_for(portal.endpoint("conversation"), conversation_id=thread.id))

    @bp.post(f"{prefix}/<int:conversation_id>/reopen")
    def reopen_conversation(conversation_id: int):
        actor = current_actor()
        thread = access.access_conversation(actor, conversation_id)
        if FlaskForm().validate_on_submit():
            conversations.reopen_conversation(actor, thread)
            db.session.commit()
        return redirect(url_for(portal.endpoint("conversation"), conversation_id=thread.id))

    @bp.post(f"{prefix}/<int:conversation_id>/messages/<int:message_id>/delete")
    def delete_conversation_message(conversation_id: int, message_id: int):
        actor = current_actor()
        thread = access.access_conversation(actor, conversation_id)
        message = access.access_message(actor, thread, message_id)
        if FlaskForm().validate_on_submit():
            conversations.delete_message(actor, message)
            db.session.commit()
        if is_htmx():
            shown = conversations.thread_message(thread, message.id)
            return render_template("conversations/_message.html", conversation=thread, m=shown)
        return redirect(url_for(portal.endpoint("conversation"), conversation_id=thread.id))


def _collision_warning(actor, thread, form: MessageForm):
    """A colleague answered after the last message the writer had seen (field `seen`): the composer says
    so, with their reply, and keeps the draft and files; sending again (with `confirmed`) goes through."""
    seen = int_arg(request.form, "seen")
    if seen is None or request.form.get("confirmed"):
        return None
    replies = conversations.colleague_replies_since(actor, thread, seen)
    if not replies:
        return None
    if is_htmx():
        response = make_response(render_template("conversations/_composer_collision.html", replies=replies))
        response.headers["HX-Retarget"] = "#composer-status"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render_template(
        "conversations/_composer.html", conversation=thread, form=form, colleague_replies=replies,
        composer_seen=seen, max_length=current_app.config["MESSAGE_MAX_LENGTH"],
    )


def _attachment_refusals(refusal: ValidationError | PermissionDenied | None) -> list[Refusal]:
    """The composer lists what was wrong with the files beside its file picker, one reason per file."""
    if isinstance(refusal, UploadRefused):
        return refusal.refusals
    if isinstance(refusal, ValidationError) and refusal.field == "attachments":
        return [Refusal("", refusal.message)]
    return []


@dataclass(frozen=True)
class InboxLinks:
    """The inbox page's pagination links, which keep the reader's filters."""

    newest: str | None  # the first page with the same filters, when on a later page
    older: str | None  # the next page, when there is one


def _inbox_links(portal: Portal, cursor: str | None, page: conversations.InboxPage) -> InboxLinks:
    inbox = nav_url(portal.inbox_endpoint)
    # The filters stay as the reader set them; only the cursor changes.
    kept = [(key, value) for key, value in request.args.items() if key != "cursor"]
    newest = f"{inbox}?{urlencode(kept)}".rstrip("?") if cursor else None
    older = f"{inbox}?{urlencode([*kept, ('cursor', page.next_cursor)])}" if page.next_cursor else None
    return InboxLinks(newest=newest, older=older)


def _filters(portal: Portal) -> conversations.InboxFilters:
    """The inbox's GET filters; anything unknown falls back to 'all' rather than an error page."""
    args = request.args
    status = args.get("status", "all")
    kind = None
    if args.get("type"):
        try:
            kind = ConversationType(args["type"])
        except ValueError:
            kind = None
        if kind not in portal.types:
            kind = None
    return conversations.InboxFilters(
        status=status if status in ("all", "open", "closed") else "all",
        unread_only=args.get("unread") in ("1", "on", "true"),
        muted=muted if (muted := args.get("muted", "any")) in ("only", "hidden") else "any",
        conversation_type=kind,
        search=(args.get("q") or "").strip()[:200],
    )


def render_start_form(portal: Portal, form, submission, **context):
    return render_template(portal.template("new.html"), form=form, **context), submission.status

"""The admin console's notifications: system alerts with priority, read state and action-required flags."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SearchField, SelectField
from wtforms.validators import NumberRange, Optional

from .. import access
from ..actors import current_actor
from ..extensions import db
from ..i18n import _l, ngettext
from ..models import NotificationPriority, NotificationType
from ..services import notification_texts, notifications
from .admin import bp
from .forms import PageNumberField, options
from .htmx import is_htmx, render_page

# The display labels of the stored values (the filter's choices).
PRIORITY_LABELS = {
    NotificationPriority.LOW.value: _l("Low"), NotificationPriority.NORMAL.value: _l("Normal"),
    NotificationPriority.HIGH.value: _l("High"), NotificationPriority.CRITICAL.value: _l("Critical"),
}
TYPE_LABELS = {
    NotificationType.SYSTEM_ALERT.value: _l("System alert"), NotificationType.STORE_ISSUE.value: _l("Store issue"),
    NotificationType.IMPORT_FAILURE.value: _l("Import failure"),
}


@bp.context_processor
def _notification_words():
    """A notification's title and message in the viewer's language (its stored English when it has no text)."""
    return {"notification_title": notification_texts.title_of, "notification_message": notification_texts.message_of}


class NotificationFilterForm(FlaskForm):
    class Meta:
        csrf = False

    state = SelectField(
        _l("Show"), choices=options([("unread", _l("Unread")), ("read", _l("Read")), ("all", _l("All"))]),
        default="unread",
    )
    priority = SelectField(
        _l("Priority"), default="",
        choices=options([("", _l("Any"))]
                        + [(p, PRIORITY_LABELS.get(p, p.capitalize())) for p in NotificationPriority.values()]),
    )
    type = SelectField(
        _l("Type"), default="",
        choices=options([("", _l("Any"))]
                        + [(t, TYPE_LABELS.get(t, t)) for t in NotificationType.values()]),
    )
    action_required = BooleanField(_l("Action required only"))
    q = SearchField(_l("Search"))
    page = PageNumberField(validators=[Optional(), NumberRange(min=1)])

    def filters(self) -> notifications.NotificationFilters:
        # A bad value in one filter drops that filter only; the page still shows.
        self.validate()
        return notifications.NotificationFilters(
            state=self.state.data if not self.state.errors else "unread",
            priority=(self.priority.data or None) if not self.priority.errors else None,
            type=(self.type.data or None) if not self.type.errors else None,
            action_required=bool(self.action_required.data),
            search=(self.q.data or "")[:200],
        )

    def page_number(self) -> int:
        return self.page.data if self.page.data and not self.page.errors else 1


@bp.get("/notifications")
def notifications_index():
    form = NotificationFilterForm(request.args)
    page = notifications.search_notifications(form.filters(), page=form.page_number(),
                                              per_page=current_app.config["PAGE_SIZE"])
    return render_page("admin/notifications/index.html", "admin/notifications/_results.html", form=form, page=page)


def _after_change(notification):
    if is_htmx():
        return render_template("admin/notifications/_row_update.html", notification=notification,
                               unread_notifications=notifications.unread_notification_count())
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url)
                    else url_for("admin.notifications_index"))


@bp.post("/notifications/<int:notification_id>/read")
def notification_mark_read(notification_id: int):
    actor = current_actor()
    notification = access.access_admin_notification(actor, notification_id)
    notifications.mark_notification_read(notification, actor.id)
    db.session.commit()
    return _after_change(notification)


@bp.post("/notifications/<int:notification_id>/unread")
def notification_mark_unread(notification_id: int):
    notification = access.access_admin_notification(current_actor(), notification_id)
    notifications.mark_notification_unread(notification)
    db.session.commit()
    return _after_change(notification)


@bp.post("/notifications/read-all")
def notifications_mark_all_read():
    count = notifications.mark_all_notifications_read(current_actor().id)
    db.session.commit()
    flash(ngettext("%(num)d notification marked as read.", "%(num)d notifications marked as read.", count), "success")
    return redirect(url_for("admin.notifications_index"))

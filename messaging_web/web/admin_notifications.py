"""The admin console's notifications: system alerts with priority, read state and action-required flags."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SearchField, SelectField
from wtforms.validators import NumberRange, Optional

from .. import access
from ..actors import current_actor
from ..extensions import db
from ..models import NotificationPriority, NotificationType
from ..services import notifications
from .admin import bp
from .forms import PageNumberField, options
from .htmx import is_htmx, render_page


class NotificationFilterForm(FlaskForm):
    class Meta:
        csrf = False

    state = SelectField("Show", choices=options([("unread", "Unread"), ("read", "Read"), ("all", "All")]),
                        default="unread")
    priority = SelectField(
        "Priority", default="",
        choices=options([("", "Any")] + [(p, p.capitalize()) for p in NotificationPriority.values()]),
    )
    type = SelectField(
        "Type", default="",
        choices=options([("", "Any")] + [(t, t.replace("_", " ").capitalize()) for t in NotificationType.values()]),
    )
    action_required = BooleanField("Action required only")
    q = SearchField("Search")
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
    flash(f"{count} notification{'' if count == 1 else 's'} marked as read.", "success")
    return redirect(url_for("admin.notifications_index"))

"""A store's own settings for its conversations, changed by its team (the email settings have their wizard)."""
from __future__ import annotations

import sqlalchemy as sa

from ..access import own_store
from ..actors import Actor
from ..extensions import db
from ..i18n import _l
from ..models import Store
from .errors import PermissionDenied


def shows_staff_names(store_id: int | None) -> bool:
    """Whether the store's customers see which team member is typing, not only "The store team"."""
    if store_id is None:
        return False
    return bool(db.session.scalar(sa.select(Store.show_staff_names_to_customers).where(Store.id == store_id)))


def update_conversation_settings(actor: Actor, *, show_staff_names: bool) -> Store:
    if not actor.is_store_user:
        raise PermissionDenied(_l("Only the store's team changes its settings."))
    store = own_store(actor)  # the actor's own store only, else NotFound
    store.show_staff_names_to_customers = bool(show_staff_names)
    return store

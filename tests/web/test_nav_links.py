"""The links built once per store and endpoint (web/nav.py) are the URLs url_for builds."""
from __future__ import annotations

from flask import g, url_for

from messaging_web.web.nav import id_url


def test_a_thread_link_is_the_url_for_of_that_thread_in_each_store_and_under_a_mount_point(app):
    for script_root in ("", "/shop"):
        for slug in ("north", "south"):
            with app.test_request_context(f"/store/{slug}/conversations/", base_url=f"http://localhost{script_root}"):
                g.store_slug = slug
                for conversation_id in (1, 42, 2147483647):
                    assert id_url("store.conversation", conversation_id=conversation_id) == url_for(
                        "store.conversation", conversation_id=conversation_id
                    )
                assert id_url("store.delete_conversation_message", conversation_id=7, message_id=1987654321) == \
                    url_for("store.delete_conversation_message", conversation_id=7, message_id=1987654321)
    with app.test_request_context("/admin/conversations/"):
        assert id_url("admin.attachment", attachment_id=5) == url_for("admin.attachment", attachment_id=5) \
            == "/admin/attachments/5"


def test_a_link_whose_ids_cannot_be_told_apart_in_the_url_falls_back_to_url_for(app):
    # The stand-in of the first id written into the store's slug: the pattern would be ambiguous.
    with app.test_request_context("/store/s1987654321/conversations/"):
        g.store_slug = "s1987654321"
        assert id_url("store.conversation", conversation_id=3) == "/store/s1987654321/conversations/3"

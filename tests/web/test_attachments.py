"""Attachments through the portals: the composer posts files, the thread shows them, downloads are authorised."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from PIL import Image

from messaging_web.actors import Actor
from messaging_web.extensions import db
from messaging_web.models import ConversationType, Customer, Message, MessageAttachment
from messaging_web.services import conversations
from messaging_web.services.attachment_storage import StorageError
from tests import sample_files
from tests.conftest import CSRF_META
from tests.support.query_counter import count_queries


class World:
    """Two shops, each with a team member and a customer, a platform admin, and a thread in shop one."""

    def __init__(self, app, factory):
        self.app = app
        self.shop = factory.store(slug="north")
        self.other_shop = factory.store(slug="south")
        self.team = factory.store_user(self.shop)
        self.customer = factory.customer(self.shop)
        self.other_team = factory.store_user(self.other_shop)
        self.other_customer = factory.customer(self.other_shop)
        self.admin = factory.admin()
        self.thread_id = self.start(self.customer, ConversationType.STORE_CUSTOMER)

    @staticmethod
    def actor(account):
        return Actor.for_customer(account) if isinstance(account, Customer) else Actor.for_user(account)

    def start(self, account, kind, **kwargs) -> int:
        with self.app.app_context():
            loaded = {k: db.session.get(type(v), v.id) for k, v in kwargs.items()}
            conversation = conversations.start_conversation(self.actor(account), kind, "Order 1042", "Hello", **loaded)
            db.session.commit()
            return conversation.id

    def thread_url(self, account, thread_id: int | None = None) -> str:
        thread_id = thread_id or self.thread_id
        if isinstance(account, Customer):
            return f"/inbox/{self.slug(account)}/conversations/{thread_id}"
        if account.is_platform_admin:
            return f"/admin/conversations/{thread_id}"
        return f"/store/{self.slug(account)}/conversations/{thread_id}"

    def download_url(self, account, attachment_id: int, thumbnail: bool = False) -> str:
        if isinstance(account, Customer):
            base = f"/inbox/{self.slug(account)}"
        elif account.is_platform_admin:
            base = "/admin"
        else:
            base = f"/store/{self.slug(account)}"
        return f"{base}/attachments/{attachment_id}" + ("/thumbnail" if thumbnail else "")

    def slug(self, account) -> str:
        return self.shop.slug if account.store_id == self.shop.id else self.other_shop.slug


@pytest.fixture
def world(app, factory):
    return World(app, factory)


def post_files(client, url: str, files, content: str = "Here are the files", htmx: bool = True):
    page = client.get(url).get_data(as_text=True)
    token = CSRF_META.search(page).group(1)
    data = {"content": content, "csrf_token": token, "attachments": [(io.BytesIO(b), name) for name, b in files]}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url + "/messages", data=data, content_type="multipart/form-data", headers=headers)


def attachment_rows(app) -> list[MessageAttachment]:
    with app.app_context():
        rows = db.session.scalars(sa.select(MessageAttachment).order_by(MessageAttachment.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def fetch(client, url: str):
    """GET a download; an S3 redirect is followed to the presigned URL like a browser would."""
    response = client.get(url)
    if response.status_code == 302:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        s3 = requests.get(response.headers["Location"], timeout=10)
        return s3.status_code, s3.headers, s3.content
    return response.status_code, response.headers, response.get_data()


def test_customer_sends_an_image_and_a_pdf_and_the_thread_shows_thumbnail_and_link(app, signed_in, world,
                                                                                    attachment_storage):
    client = signed_in(world.customer)
    photo = sample_files.image("JPEG", size=(1200, 900))
    response = post_files(client, world.thread_url(world.customer), [("beach.jpg", photo), ("Invoice 1042.pdf",
                                                                                              sample_files.pdf())])
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    image_row, pdf_row = attachment_rows(app)
    assert f'/inbox/north/attachments/{image_row.id}/thumbnail' in html
    assert 'width="320" height="240"' in html
    assert "1200 × 900 px" in html
    assert f'href="/inbox/north/attachments/{pdf_row.id}"' in html
    assert "Invoice 1042.pdf" in html and "PDF document" in html

    # The store team sees the same thread with the files.
    team = signed_in(world.team)
    page = team.get(world.thread_url(world.team)).get_data(as_text=True)
    assert f"/store/north/attachments/{image_row.id}/thumbnail" in page
    assert "Invoice 1042.pdf" in page


def test_downloads_carry_nosniff_and_only_raster_images_are_inline(app, signed_in, world, attachment_storage):
    client = signed_in(world.customer)
    photo = sample_files.image("PNG")
    post_files(client, world.thread_url(world.customer), [("p.png", photo), ("sheet.csv", b"a,b\n1,2\n")])
    image_row, csv_row = attachment_rows(app)

    status, headers, body = fetch(client, world.download_url(world.customer, image_row.id))
    assert status == 200 and body == photo
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"].startswith("inline;")

    status, headers, body = fetch(client, world.download_url(world.customer, csv_row.id))
    assert status == 200 and body == b"a,b\n1,2\n"
    assert headers["Content-Disposition"] == "attachment; filename=\"sheet.csv\"; filename*=UTF-8''sheet.csv"

    status, headers, body = fetch(client, world.download_url(world.customer, image_row.id, thumbnail=True))
    assert status == 200 and headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(body)).size == (320, 240)

    direct = client.get(world.download_url(world.customer, csv_row.id))
    assert direct.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in direct.headers["Cache-Control"]


def test_someone_who_cannot_see_the_conversation_gets_404_for_its_files(app, signed_in, world, factory,
                                                                         attachment_storage):
    customer = signed_in(world.customer)
    post_files(customer, world.thread_url(world.customer), [("p.png", sample_files.image("PNG"))])
    [row] = attachment_rows(app)
    same_shop_customer = factory.customer(world.shop)

    # Another shop's team and customer, another customer of the same shop, and the platform admin when
    # reviews are off (store-customer threads are not theirs): the same 404 as for a file that does not exist.
    app.config["PLATFORM_MODERATION"] = False
    try:
        for outsider in (world.other_team, world.other_customer, same_shop_customer, world.admin):
            outsider_client = app.test_client()
            signed_in_client = _sign_in_other(outsider_client, outsider)
            for thumbnail in (False, True):
                response = signed_in_client.get(world.download_url(outsider, row.id, thumbnail))
                assert response.status_code == 404, (outsider.email, thumbnail)
                assert response.headers.get("Location") is None
    finally:
        app.config["PLATFORM_MODERATION"] = True
    # With reviews on, the admin reviewing the thread sees its files.
    admin = _sign_in_other(app.test_client(), world.admin)
    assert admin.get(world.download_url(world.admin, row.id, False)).status_code in (200, 302)
    # Another shop's team user trying the id under the first shop's URL: not their store, 404.
    other = _sign_in_other(app.test_client(), world.other_team)
    assert other.get(f"/store/{world.shop.slug}/attachments/{row.id}").status_code == 404
    assert other.get("/store/south/attachments/999999").status_code == 404


def _sign_in_other(client, account):
    from tests.conftest import sign_in

    assert sign_in(client, account).status_code == 302
    return client


def test_an_admin_downloads_files_of_a_thread_with_a_customer(app, signed_in, world, attachment_storage):
    thread_id = world.start(world.admin, ConversationType.ADMIN_CUSTOMER, customer=world.customer)
    admin = signed_in(world.admin)
    response = post_files(admin, world.thread_url(world.admin, thread_id), [("terms.pdf", sample_files.pdf())])
    assert response.status_code == 200
    [row] = attachment_rows(app)
    status, headers, body = fetch(admin, world.download_url(world.admin, row.id))
    assert status == 200 and body == sample_files.pdf()
    assert headers["Content-Disposition"].startswith("attachment;")


def test_a_refused_file_sends_nothing_until_the_author_sends_without_it(app, signed_in, world, attachment_storage):
    client = signed_in(world.customer)
    before = _message_count(app, world.thread_id)
    files = [
        ("fine.pdf", sample_files.pdf()),
        ("photo.png", sample_files.EXECUTABLE),
        ("drawing.svg", sample_files.SVG_WITH_SCRIPT),
        ("empty.txt", b""),
    ]
    response = post_files(client, world.thread_url(world.customer), files)
    assert response.status_code == 422
    # The composer keeps its text and every file picked: only its status line says what is wrong.
    assert response.headers["HX-Retarget"] == "#composer-status"
    html = response.get_data(as_text=True)
    assert "photo.png: this kind of file is not accepted" in html
    assert "drawing.svg: HTML, SVG and XML files are not accepted" in html
    assert "empty.txt: the file is empty." in html
    assert "fine.pdf:" not in html
    assert 'name="without"' in html and "Send without photo.png, drawing.svg, empty.txt" in html
    assert _message_count(app, world.thread_id) == before
    assert attachment_rows(app) == []
    # "Send without ...": the same form again, with the button's value; the good file goes out.
    without = re.search(r'name="without" value="([^"]*)"', html).group(1).replace("&#10;", "\n")
    page = client.get(world.thread_url(world.customer)).get_data(as_text=True)
    data = {"content": "Here are the files", "csrf_token": CSRF_META.search(page).group(1), "without": without,
            "attachments": [(io.BytesIO(b), name) for name, b in files]}
    sent = client.post(world.thread_url(world.customer) + "/messages", data=data,
                       content_type="multipart/form-data", headers={"HX-Request": "true"})
    assert sent.status_code == 200
    assert [row.original_filename for row in attachment_rows(app)] == ["fine.pdf"]
    assert _message_count(app, world.thread_id) == before + 1


def test_without_htmx_a_refused_file_shows_the_composer_again_with_the_text(app, signed_in, world,
                                                                            attachment_storage):
    client = signed_in(world.customer)
    response = post_files(client, world.thread_url(world.customer), [("photo.png", sample_files.EXECUTABLE)],
                          htmx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "photo.png: this kind of file is not accepted" in html and "Here are the files" in html


def test_too_many_files_and_a_30000_pixel_png_are_refused(app, signed_in, world, attachment_storage):
    client = signed_in(world.customer)
    many = [(f"n{i}.txt", b"hello") for i in range(11)]
    html = post_files(client, world.thread_url(world.customer), many).get_data(as_text=True)
    assert "You can attach at most 10 files to a message; you chose 11." in html
    bomb = sample_files.png_header_bomb(30_000, 30_000)
    html = post_files(client, world.thread_url(world.customer), [("huge.png", bomb)]).get_data(as_text=True)
    assert "huge.png: the image has too many pixels" in html
    assert attachment_rows(app) == []


def test_an_oversized_file_is_refused(app, signed_in, world, attachment_storage):
    app.config["ATTACHMENT_MAX_FILE_SIZE"] = 1000
    try:
        client = signed_in(world.customer)
        html = post_files(client, world.thread_url(world.customer), [("big.txt", b"x" * 1001)]).get_data(as_text=True)
    finally:
        app.config["ATTACHMENT_MAX_FILE_SIZE"] = 10 * 1024 * 1024
    assert "big.txt: the file is 1001 bytes; the limit is 1000 bytes per file." in html
    assert attachment_rows(app) == []


class BrokenStorage:
    name = "broken"

    def __init__(self, inner):
        self.inner, self.saved = inner, []

    def save(self, key, data, content_type):
        if self.saved:
            raise StorageError("bucket unreachable")
        self.inner.save(key, data, content_type)
        self.saved.append(key)

    def delete(self, key):
        self.inner.delete(key)

    def open(self, key):
        return self.inner.open(key)

    def download_url(self, key, **kwargs):
        return None


def test_a_storage_outage_leaves_no_message_and_tells_the_user(app, signed_in, world, attachment_storage):
    broken = BrokenStorage(attachment_storage)
    app.extensions["attachment_storage"] = broken
    client = signed_in(world.customer)
    before = _message_count(app, world.thread_id)
    response = post_files(client, world.thread_url(world.customer), [("a.pdf", sample_files.pdf()),
                                                                      ("b.pdf", sample_files.pdf())])
    assert response.status_code == 422
    assert "could not be stored just now, so the message was not sent" in response.get_data(as_text=True)
    assert _message_count(app, world.thread_id) == before
    assert attachment_rows(app) == []
    assert broken.saved and not any(attachment_storage.exists(k) for k in broken.saved)


def test_a_message_with_files_only_is_accepted(app, signed_in, world, attachment_storage):
    client = signed_in(world.customer)
    response = post_files(client, world.thread_url(world.customer), [("scan.pdf", sample_files.pdf())], content="")
    assert response.status_code == 200
    assert len(attachment_rows(app)) == 1
    # Without files, an empty message is still refused.
    response = post_files(client, world.thread_url(world.customer), [], content="  ")
    assert response.status_code == 422


def test_the_inbox_previews_a_message_of_files_only_as_a_file(app, signed_in, world, attachment_storage):
    client = signed_in(world.customer)
    post_files(client, world.thread_url(world.customer), [("scan.pdf", sample_files.pdf())], content="")
    inbox = signed_in(world.team).get(f"/store/{world.shop.slug}/conversations/").get_data(as_text=True)
    assert "Customer: (sent a file)" in inbox


def test_without_htmx_the_post_redirects_to_the_thread(app, signed_in, world, attachment_storage):
    client = signed_in(world.customer)
    response = post_files(client, world.thread_url(world.customer), [("a.gif", sample_files.image("GIF"))], htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(world.thread_url(world.customer))
    assert attachment_rows(app)[0].mime_type == "image/gif"


def test_a_deleted_message_hides_its_files_from_everyone_but_admins(app, signed_in, world, attachment_storage):
    thread_id = world.start(world.admin, ConversationType.ADMIN_CUSTOMER, customer=world.customer)
    customer = signed_in(world.customer)
    post_files(customer, world.thread_url(world.customer, thread_id), [("id-card.png", sample_files.image("PNG"))])
    [row] = attachment_rows(app)
    with app.app_context():
        message = db.session.get(Message, row.message_id)
        conversations.delete_message(World.actor(world.customer), message)
        db.session.commit()

    page = customer.get(world.thread_url(world.customer, thread_id)).get_data(as_text=True)
    assert "Message deleted" in page and "id-card.png" not in page
    assert customer.get(world.download_url(world.customer, row.id)).status_code == 404
    assert customer.get(world.download_url(world.customer, row.id, thumbnail=True)).status_code == 404

    admin = _sign_in_other(app.test_client(), world.admin)
    page = admin.get(world.thread_url(world.admin, thread_id)).get_data(as_text=True)
    assert "id-card.png" in page
    status, _headers, _body = fetch(admin, world.download_url(world.admin, row.id))
    assert status == 200


def test_thread_page_queries_do_not_grow_with_attachments(app, signed_in, world, attachment_storage):
    client = signed_in(world.customer)
    url = world.thread_url(world.customer)

    def queries():
        with count_queries(app) as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    client.get(url)
    without_files = queries()
    post_files(client, url, [("a.png", sample_files.image("PNG"))])
    few = queries()
    # The files of the shown messages come in one query, asked only when one of them has files.
    assert few == without_files + 1
    for i in range(6):
        post_files(client, url, [(f"p{i}.png", sample_files.image("PNG")), (f"d{i}.pdf", sample_files.pdf())])
    assert queries() == few


def test_s3_downloads_redirect_to_a_short_lived_presigned_url(app, signed_in, world, s3_endpoint):
    from messaging_web.services.attachment_storage import S3Storage

    storage = S3Storage("attachments-test", endpoint_url=s3_endpoint, region="us-east-1", presign_seconds=30)
    app.extensions["attachment_storage"] = storage
    try:
        client = signed_in(world.customer)
        post_files(client, world.thread_url(world.customer), [("r.pdf", sample_files.pdf())])
        [row] = attachment_rows(app)
        response = client.get(world.download_url(world.customer, row.id))
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith(s3_endpoint)
        assert "X-Amz-Expires=30" in location or "Expires=" in location
        assert "response-content-disposition=attachment" in location
    finally:
        app.extensions.pop("attachment_storage", None)


def test_s3_can_stream_through_the_app_instead_of_redirecting(app, signed_in, world, s3_endpoint):
    from messaging_web.services.attachment_storage import S3Storage

    app.extensions["attachment_storage"] = S3Storage(
        "attachments-test", endpoint_url=s3_endpoint, region="us-east-1", redirect_downloads=False
    )
    try:
        client = signed_in(world.customer)
        post_files(client, world.thread_url(world.customer), [("r.pdf", sample_files.pdf())])
        [row] = attachment_rows(app)
        response = client.get(world.download_url(world.customer, row.id))
        assert response.status_code == 200 and response.get_data() == sample_files.pdf()
        assert response.headers["Content-Disposition"].startswith("attachment;")
    finally:
        app.extensions.pop("attachment_storage", None)


def test_local_files_land_under_the_upload_dir_with_generated_names(app, signed_in, world):
    app.extensions.pop("attachment_storage", None)
    client = signed_in(world.customer)
    post_files(client, world.thread_url(world.customer), [("../../evil.png", sample_files.image("PNG"))])
    [row] = attachment_rows(app)
    upload_dir = Path(app.config["UPLOAD_DIR"]).resolve()
    stored = (upload_dir / row.file_path).resolve()
    assert stored.is_file() and upload_dir in stored.parents
    assert row.original_filename == "evil.png"
    assert re.fullmatch(r"[0-9a-f]{32}\.png", row.filename)


def _message_count(app, thread_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Message.id)).where(Message.conversation_id == thread_id))


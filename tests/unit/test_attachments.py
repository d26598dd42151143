"""Attachments: accepted by content, refused with a reason, thumbnailed, stored all-or-nothing on both backends."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from messaging_web.extensions import db
from messaging_web.models import Conversation, ConversationType, Message, MessageAttachment, ParticipantType, Store
from messaging_web.services import attachments
from messaging_web.services.attachment_storage import StorageError
from messaging_web.services.attachments import Upload, UploadLimits, UploadRefused
from messaging_web.services.errors import ValidationError
from tests import sample_files

ACCEPTED = [
    ("photo.png", lambda: sample_files.image("PNG"), "image/png"),
    ("photo.jpg", lambda: sample_files.image("JPEG"), "image/jpeg"),
    ("anim.gif", lambda: sample_files.image("GIF"), "image/gif"),
    ("modern.webp", lambda: sample_files.image("WEBP"), "image/webp"),
    ("invoice.pdf", sample_files.pdf, "application/pdf"),
    ("notes.txt", lambda: "Grüße, tracking 12345\n".encode(), "text/plain"),
    ("orders.csv", lambda: b"order,total\n1001,19.90\n", "text/csv"),
    ("excel-export.csv", lambda: "name;city\nJos\xe9;M\xe1laga\n".encode("cp1252"), "text/csv"),
    ("letter.docx", lambda: sample_files.ooxml("docx"),
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("sheet.xlsx", lambda: sample_files.ooxml("xlsx"),
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("slides.pptx", lambda: sample_files.ooxml("pptx"),
     "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("old.doc", lambda: sample_files.ole2("WordDocument"), "application/msword"),
    ("old.xls", lambda: sample_files.ole2("Workbook"), "application/vnd.ms-excel"),
    ("old.ppt", lambda: sample_files.ole2("PowerPoint Document"), "application/vnd.ms-powerpoint"),
    ("text.odt", sample_files.odf, "application/vnd.oasis.opendocument.text"),
]


def _message(text: str = "Here are the files") -> Message:
    store = Store(name="Shop", slug=f"shop-{db.session.scalar(sa.select(sa.func.count(Store.id)))}", tier="starter",
                  default_language="en")
    db.session.add(store)
    db.session.flush()
    conversation = Conversation(conversation_type=ConversationType.STORE_CUSTOMER, subject="Order", store_id=store.id)
    db.session.add(conversation)
    db.session.flush()
    message = Message(conversation_id=conversation.id, sender_type=ParticipantType.CUSTOMER, sender_id=1,
                      content=text)
    db.session.add(message)
    db.session.flush()
    return message


def _stored(storage, key: str) -> bytes:
    with storage.open(key) as stream:
        return stream.read()


def _refusal(uploads, limits=None) -> UploadRefused:
    with pytest.raises(UploadRefused) as refused:
        attachments.check_uploads(uploads, limits or UploadLimits())
    return refused.value


@pytest.mark.parametrize("name,make,mime", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_every_accepted_type_is_stored_with_its_type_from_the_content(ctx, attachment_storage, name, make, mime):
    data = make()
    message = _message()
    [row] = attachments.store_attachments(message, [Upload.from_bytes(name, data)])
    db.session.commit()

    row = db.session.get(MessageAttachment, row.id)
    assert row.mime_type == mime
    assert row.original_filename == name
    assert row.file_size == len(data)
    assert row.filename != name and row.filename.endswith("." + name.rpartition(".")[2].replace("jpg", "jpg"))
    assert row.file_path.endswith(row.filename)
    assert _stored(attachment_storage, row.file_path) == data
    assert row.is_image == mime.startswith("image/")
    if row.is_image:
        assert (row.image_width, row.image_height) == (640, 480)
        thumbnail = Image.open(io.BytesIO(_stored(attachment_storage, row.thumbnail_path)))
        assert thumbnail.format == "WEBP" and max(thumbnail.size) == 320
    else:
        assert row.thumbnail_path is None and row.image_width is None


def test_thumbnail_applies_exif_orientation_and_drops_metadata(ctx, attachment_storage):
    # Stored landscape 640x480, EXIF says "rotate 90": the photo is portrait as shown.
    data = sample_files.image("JPEG", exif_orientation=6, gps=True)
    [row] = attachments.store_attachments(_message(), [Upload.from_bytes("phone.jpg", data)])

    assert (row.image_width, row.image_height) == (480, 640)
    thumbnail = Image.open(io.BytesIO(_stored(attachment_storage, row.thumbnail_path)))
    assert thumbnail.size == (240, 320)
    assert not thumbnail.getexif()
    assert "exif" not in thumbnail.info and "xmp" not in thumbnail.info and "icc_profile" not in thumbnail.info


def test_a_large_photo_gets_a_320_pixel_thumbnail(ctx, attachment_storage):
    data = sample_files.image("JPEG", size=(4000, 3000))
    [row] = attachments.store_attachments(_message(), [Upload.from_bytes("big.jpg", data)])
    assert (row.image_width, row.image_height) == (4000, 3000)
    thumbnail = Image.open(io.BytesIO(_stored(attachment_storage, row.thumbnail_path)))
    assert thumbnail.size == (320, 240)


REFUSED = [
    ("photo.png", lambda: sample_files.EXECUTABLE, "not accepted"),
    ("empty.pdf", lambda: b"", "empty"),
    ("drawing.svg", lambda: sample_files.SVG_WITH_SCRIPT, "SVG"),
    ("page.txt", lambda: b"<!doctype html><script>alert(1)</script>", "HTML"),
    ("photo.png", sample_files.pdf, "its name says PNG image, but the content is a PDF document"),
    ("archive.zip", sample_files.plain_zip, "ZIP archives are not accepted"),
    ("macro.docx", lambda: sample_files.ooxml("docx", macros=True), "macros"),
    ("setup.msi", lambda: sample_files.ole2("SummaryInformation"), "not accepted"),
    ("broken.png", lambda: sample_files.image("PNG")[:200], "damaged"),
    ("elf", lambda: b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "not accepted"),
]


@pytest.mark.parametrize("name,make,reason", REFUSED, ids=[f"{r[0]}-{i}" for i, r in enumerate(REFUSED)])
def test_content_that_is_not_an_accepted_type_is_refused_with_a_reason(ctx, attachment_storage, name, make, reason):
    message = _message()
    with pytest.raises(UploadRefused) as refused:
        attachments.store_attachments(message, [Upload.from_bytes(name, make())])
    [refusal] = refused.value.refusals
    assert refusal.filename == name
    assert reason in refusal.reason
    assert db.session.scalar(sa.select(sa.func.count(MessageAttachment.id))) == 0


def test_a_30000_by_30000_png_is_refused_without_decoding_it(ctx, attachment_storage):
    bomb = sample_files.png_header_bomb(30_000, 30_000)
    assert len(bomb) < 200_000  # small on disk, 900 million pixels once decoded
    refusal = _refusal([Upload.from_bytes("bomb.png", bomb)])
    assert "too many pixels" in refusal.refusals[0].reason


def test_a_10000_by_10000_png_of_100_kb_is_refused(ctx):
    bomb = sample_files.png_header_bomb(10_000, 10_000)
    assert len(bomb) < 100_000
    assert "too many pixels" in _refusal([Upload.from_bytes("bomb.png", bomb)]).refusals[0].reason


def test_pillows_bomb_warning_zone_is_refused_as_well(ctx):
    # 150 x 100 = 15,000 pixels: above a 10,000 limit, below twice it, where Pillow only warns.
    limits = UploadLimits(max_image_pixels=10_000)
    data = sample_files.image("PNG", size=(150, 100))
    assert "too many pixels" in _refusal([Upload.from_bytes("a.png", data)], limits).refusals[0].reason


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(ctx):
    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("an oversized file must not be read")

    refusal = _refusal([Upload("huge.pdf", 11 * 1024 * 1024, Unreadable())])
    assert refusal.refusals[0].reason == "the file is 11 MB; the limit is 10 MB per file."


def test_limits_come_from_the_app_config(app, ctx, attachment_storage):
    app.config["ATTACHMENT_MAX_FILE_SIZE"] = 100
    try:
        with pytest.raises(UploadRefused) as refused:
            attachments.store_attachments(_message(), [Upload.from_bytes("notes.txt", b"x" * 101)])
        assert "the limit is 100 bytes per file" in refused.value.message
    finally:
        app.config["ATTACHMENT_MAX_FILE_SIZE"] = 10 * 1024 * 1024


def test_too_many_files_are_refused_and_nothing_is_stored(ctx, attachment_storage):
    uploads = [Upload.from_bytes(f"n{i}.txt", b"hello") for i in range(11)]
    with pytest.raises(UploadRefused) as refused:
        attachments.store_attachments(_message(), uploads)
    assert refused.value.message == "You can attach at most 10 files to a message; you chose 11."
    assert db.session.scalar(sa.select(sa.func.count(MessageAttachment.id))) == 0


def test_files_over_the_total_per_message_are_refused(ctx):
    limits = UploadLimits(max_total_size=1000)
    uploads = [Upload.from_bytes(f"n{i}.txt", b"x" * 400) for i in range(3)]
    assert "add up to 1.2 KB; the limit is 1000 bytes per message" in _refusal(uploads, limits).message


def test_one_bad_file_refuses_the_whole_batch_and_names_each_bad_file(ctx, attachment_storage):
    uploads = [
        Upload.from_bytes("good.pdf", sample_files.pdf()),
        Upload.from_bytes("virus.png", sample_files.EXECUTABLE),
        Upload.from_bytes("empty.txt", b""),
    ]
    with pytest.raises(UploadRefused) as refused:
        attachments.store_attachments(_message(), uploads)
    assert [r.filename for r in refused.value.refusals] == ["virus.png", "empty.txt"]
    assert refused.value.refusals[1].reason == "the file is empty."
    assert db.session.scalar(sa.select(sa.func.count(MessageAttachment.id))) == 0


@pytest.mark.parametrize("sent,kept", [
    ("../../../etc/passwd.pdf", "passwd.pdf"),
    ("C:\\Users\\cora\\Desktop\\invoice.pdf", "invoice.pdf"),
    ("\u202egnp.pdf", "gnp.pdf"),
    ("in\x00voice\x1b[31m.pdf", "invoice[31m.pdf"),
    ("  ..  ", "attachment.pdf"),
    ("\u200b\u200f", "attachment.pdf"),
    (None, "attachment.pdf"),
    ("report", "report.pdf"),
    ("setup.exe", "setup.exe.pdf"),
    ("Ünïcödé Rechnung.PDF", "Ünïcödé Rechnung.PDF"),
])
def test_original_filenames_are_sanitized_for_display(ctx, attachment_storage, sent, kept):
    [row] = attachments.store_attachments(_message(), [Upload.from_bytes(sent, sample_files.pdf())])
    assert row.original_filename == kept
    assert "/" not in row.file_path.rpartition("/")[2] and ".." not in row.file_path


def test_an_overlong_name_is_shortened_keeping_its_extension(ctx):
    [checked] = attachments.check_uploads([Upload.from_bytes("a" * 400 + ".pdf", sample_files.pdf())], UploadLimits())
    assert len(checked.original_filename) <= 200 and checked.original_filename.endswith(".pdf")


class FailingStorage:
    """A backend that accepts `fail_after` objects and then fails (a full disk, an S3 outage)."""

    name = "failing"

    def __init__(self, inner, fail_after: int):
        self.inner, self.fail_after, self.saved, self.deleted = inner, fail_after, [], []

    def save(self, key, data, content_type):
        if len(self.saved) >= self.fail_after:
            raise StorageError("disk full")
        self.inner.save(key, data, content_type)
        self.saved.append(key)

    def delete(self, key):
        self.inner.delete(key)
        self.deleted.append(key)

    def open(self, key):
        return self.inner.open(key)

    def download_url(self, key, **kwargs):
        return None


def test_a_storage_failure_removes_what_was_written_and_leaves_no_rows(ctx, attachment_storage):
    storage = FailingStorage(attachment_storage, fail_after=3)
    uploads = [Upload.from_bytes(f"p{i}.png", sample_files.image("PNG")) for i in range(3)]
    with pytest.raises(ValidationError) as failed:
        attachments.store_attachments(_message(), uploads, storage=storage)
    assert "could not be stored" in failed.value.message
    assert len(storage.saved) == 3 and sorted(storage.deleted) == sorted(storage.saved)
    assert not any(attachment_storage.exists(key) for key in storage.saved)
    assert db.session.scalar(sa.select(sa.func.count(MessageAttachment.id))) == 0


def test_a_transaction_that_rolls_back_after_storing_removes_the_files(ctx, attachment_storage):
    rows = attachments.store_attachments(_message(), [Upload.from_bytes("a.png", sample_files.image("PNG"))])
    keys = [rows[0].file_path, rows[0].thumbnail_path]
    assert all(attachment_storage.exists(k) for k in keys)
    db.session.rollback()
    assert not any(attachment_storage.exists(k) for k in keys)


def test_committed_files_stay_when_a_later_transaction_rolls_back(ctx, attachment_storage):
    rows = attachments.store_attachments(_message(), [Upload.from_bytes("a.pdf", sample_files.pdf())])
    key = rows[0].file_path
    db.session.commit()
    _message("another")
    db.session.rollback()
    assert attachment_storage.exists(key)


def test_only_raster_images_are_served_inline(ctx, attachment_storage):
    message = _message()
    image_row, pdf_row, text_row = attachments.store_attachments(message, [
        Upload.from_bytes("p.png", sample_files.image("PNG")),
        Upload.from_bytes("Résumé \"final\".pdf", sample_files.pdf()),
        Upload.from_bytes("n.txt", b"hi"),
    ])
    assert attachments.content_disposition(image_row).startswith("inline;")
    assert attachments.content_disposition(pdf_row) == (
        "attachment; filename=\"Resume _final_.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.pdf"
    )
    assert attachments.content_disposition(text_row).startswith("attachment;")
    # A row claiming an SVG image (say, imported from elsewhere) is still a download.
    image_row.mime_type = "image/svg+xml"
    assert attachments.content_disposition(image_row).startswith("attachment;")


def test_a_request_that_ends_without_commit_removes_the_files(ctx, attachment_storage):
    # Flask-SQLAlchemy closes the session at the end of a request; an uncommitted message leaves no files.
    rows = attachments.store_attachments(_message(), [Upload.from_bytes("a.pdf", sample_files.pdf())])
    key = rows[0].file_path
    db.session.remove()
    assert not attachment_storage.exists(key)


def test_a_misconfigured_s3_backend_refuses_the_upload_instead_of_crashing(app, ctx):
    previous = app.extensions.pop("attachment_storage", None)
    app.config["ATTACHMENT_STORAGE"] = "s3"
    app.config["ATTACHMENT_S3_BUCKET"] = ""
    try:
        with pytest.raises(ValidationError, match="could not be stored just now"):
            attachments.store_attachments(_message(), [Upload.from_bytes("a.pdf", sample_files.pdf())])
    finally:
        app.config["ATTACHMENT_STORAGE"] = "local"
        app.extensions.pop("attachment_storage", None)
        if previous is not None:
            app.extensions["attachment_storage"] = previous

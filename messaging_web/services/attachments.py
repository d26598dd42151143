"""Attachments of messages: check uploads by their content, make thumbnails, store them with the message."""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import logging
import re
import secrets
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote

import sqlalchemy as sa
from babel.numbers import format_decimal
from flask import current_app

from ..extensions import db
from ..i18n import _, _l, current_language, ngettext
from ..models import Message, MessageAttachment
from . import sandbox, transaction_hooks
from .attachment_storage import AttachmentStorage, StorageError, storage_for_app
from .errors import NotFound, ValidationError

log = logging.getLogger(__name__)

DEFAULT_NAME = "attachment"
MAX_FILENAME_LENGTH = 200


@dataclass(frozen=True)
class FileType:
    """An accepted kind of file: what it is called, its MIME type and the extensions that name it."""

    label: str
    mime_type: str
    extensions: tuple[str, ...]
    pillow_format: str | None = None

    @property
    def extension(self) -> str:
        return self.extensions[0]

    @property
    def is_image(self) -> bool:
        return self.pillow_format is not None


PNG = FileType("PNG image", "image/png", ("png",), "PNG")
JPEG = FileType("JPEG image", "image/jpeg", ("jpg", "jpeg", "jpe", "jfif"), "JPEG")
GIF = FileType("GIF image", "image/gif", ("gif",), "GIF")
WEBP = FileType("WebP image", "image/webp", ("webp",), "WEBP")
PDF = FileType("PDF document", "application/pdf", ("pdf",))
TEXT = FileType("text file", "text/plain", ("txt", "text", "log", "md"))
CSV = FileType("CSV file", "text/csv", ("csv", "tsv"))
DOCX = FileType("Word document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ("docx",))
XLSX = FileType("Excel spreadsheet", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ("xlsx",))
PPTX = FileType(
    "PowerPoint presentation", "application/vnd.openxmlformats-officedocument.presentationml.presentation", ("pptx",)
)
DOC = FileType("Word document", "application/msword", ("doc",))
XLS = FileType("Excel spreadsheet", "application/vnd.ms-excel", ("xls",))
PPT = FileType("PowerPoint presentation", "application/vnd.ms-powerpoint", ("ppt",))
ODT = FileType("OpenDocument text", "application/vnd.oasis.opendocument.text", ("odt",))
ODS = FileType("OpenDocument spreadsheet", "application/vnd.oasis.opendocument.spreadsheet", ("ods",))
ODP = FileType("OpenDocument presentation", "application/vnd.oasis.opendocument.presentation", ("odp",))

ACCEPTED_TYPES = (PNG, JPEG, GIF, WEBP, PDF, TEXT, CSV, DOCX, XLSX, PPTX, DOC, XLS, PPT, ODT, ODS, ODP)
TYPES_BY_EXTENSION = {ext: file_type for file_type in ACCEPTED_TYPES for ext in file_type.extensions}
TYPES_BY_MIME = {file_type.mime_type: file_type.label for file_type in ACCEPTED_TYPES}
# Served inline (and shown as <img>); everything else, SVG included, is a download.
RASTER_IMAGE_TYPES = frozenset(t.mime_type for t in ACCEPTED_TYPES if t.is_image)
ACCEPTED_SUMMARY = _l("images (PNG, JPEG, GIF, WebP), PDF, text, CSV and office documents")
# What the pages call each type, in the viewer's language (FileType.label stays English: the sandbox, logs).
SHOWN_LABELS = {
    "PNG image": _l("PNG image"), "JPEG image": _l("JPEG image"), "GIF image": _l("GIF image"),
    "WebP image": _l("WebP image"), "PDF document": _l("PDF document"), "text file": _l("text file"),
    "CSV file": _l("CSV file"), "Word document": _l("Word document"), "Excel spreadsheet": _l("Excel spreadsheet"),
    "PowerPoint presentation": _l("PowerPoint presentation"), "OpenDocument text": _l("OpenDocument text"),
    "OpenDocument spreadsheet": _l("OpenDocument spreadsheet"),
    "OpenDocument presentation": _l("OpenDocument presentation"),
}

# [Content_Types].xml names the main part of an OOXML package; macro-enabled variants are not listed.
OOXML_MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
}
ODF_MIMETYPES = {t.mime_type: t for t in (ODT, ODS, ODP)}
OLE_STREAMS = {"WordDocument": DOC, "Workbook": XLS, "Book": XLS, "PowerPoint Document": PPT}
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MARKUP_START = re.compile(r"<\s*[!?a-zA-Z]")
# Text may hold tabs, newlines, form feeds; any other control character means binary content.
BINARY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class FileRefused(Exception):
    """One file is not accepted; the reason is written for the user."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Refusal:
    filename: str
    reason: str


class UploadRefused(ValidationError):
    """Some files of a batch were refused (nothing of the batch was stored); one reason per file."""

    def __init__(self, refusals: Sequence[Refusal], message: str | None = None):
        self.refusals = list(refusals)
        text = message or " ".join(
            f"{r.filename}: {r.reason}" if r.filename else str(r.reason) for r in self.refusals
        )
        super().__init__(text, field="attachments")


@dataclass(frozen=True)
class UploadLimits:
    max_file_size: int = 10 * 1024 * 1024
    max_files: int = 10
    max_total_size: int = 25 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_message_pixels: int = 50_000_000  # pixels decoded for all the images of one message
    thumbnail_size: int = 320

    @classmethod
    def from_config(cls, config) -> UploadLimits:
        return cls(
            max_file_size=int(config.get("ATTACHMENT_MAX_FILE_SIZE", cls.max_file_size)),
            max_files=int(config.get("ATTACHMENT_MAX_FILES", cls.max_files)),
            max_total_size=int(config.get("ATTACHMENT_MAX_TOTAL_SIZE", cls.max_total_size)),
            max_image_pixels=int(config.get("ATTACHMENT_MAX_IMAGE_PIXELS", cls.max_image_pixels)),
            max_message_pixels=int(config.get("ATTACHMENT_MAX_MESSAGE_PIXELS", cls.max_message_pixels)),
            thumbnail_size=int(config.get("ATTACHMENT_THUMBNAIL_SIZE", cls.thumbnail_size)),
        )


@dataclass(frozen=True)
class Upload:
    """A file as received: the name the browser sent, its size, and a readable stream positioned anywhere."""

    filename: str | None
    size: int
    stream: BinaryIO

    @classmethod
    def from_bytes(cls, filename: str | None, data: bytes) -> Upload:
        return cls(filename, len(data), io.BytesIO(data))

    @classmethod
    def from_file_storage(cls, file_storage) -> Upload:
        """From a werkzeug FileStorage (request.files); the size is measured, not taken from headers."""
        stream = file_storage.stream
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        return cls(file_storage.filename, size, stream)


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed every check, ready to be stored."""

    original_filename: str
    file_type: FileType
    data: bytes
    image_width: int | None = None
    image_height: int | None = None
    thumbnail: bytes | None = None


def _decimal(value: float) -> str:
    """A number as the viewer's language writes it ("2.5", "2,5"; "10", not "10.0")."""
    return format_decimal(value, format="0.###", locale=current_language())


def format_size(size: int) -> str:
    """A file size in the viewer's language ("1.2 KB", "1,2 Ko")."""
    if size < 1024:
        return ngettext("%(num)d byte", "%(num)d bytes", size)
    if size < 1024 * 1024:
        kb = size / 1024
        # Rounded here as the English text always was (one decimal under 10 KB), then written per language.
        return _("%(size)s KB", size=_decimal(float(f"{kb:.1f}") if kb < 10 else float(f"{kb:.0f}")))
    return _("%(size)s MB", size=_decimal(float(f"{size / (1024 * 1024):.1f}")))


def type_label(mime_type: str) -> str:
    """What the thread calls a file of this type ("PDF document"), in the viewer's language."""
    label = TYPES_BY_MIME.get(mime_type)
    return _shown_label(label) if label is not None else mime_type


def _shown_label(label: str) -> str:
    return str(SHOWN_LABELS.get(label, label))


def thumbnail_box(attachment: MessageAttachment, size: int | None = None) -> tuple[int, int]:
    """The thumbnail's width and height, for <img width height> (no layout shift while it loads)."""
    size = size or UploadLimits.thumbnail_size
    width, height = attachment.image_width or size, attachment.image_height or size
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def sanitize_filename(name: str | None) -> str:
    """The last path segment, without control, format (bidi override, zero-width) or surrogate characters.

    Returns "" when nothing is left; the caller picks a default name then.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME_LENGTH - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME_LENGTH].rstrip(" .")
    return name


def display_filename(name: str | None, file_type: FileType) -> str:
    """The sanitized name, with the extension of what the file really is.

    A name whose extension belongs to another accepted type is refused (a PDF called photo.png); a name
    with no or an unknown extension gets the right one appended, so a download opens with the right program.
    """
    clean = sanitize_filename(name)
    if not clean:
        return f"{DEFAULT_NAME}.{file_type.extension}"
    _stem, dot, ext = clean.rpartition(".")
    ext = ext.lower() if dot else ""
    if ext in file_type.extensions or (file_type in (TEXT, CSV) and ext in TEXT.extensions + CSV.extensions):
        return clean
    claimed = TYPES_BY_EXTENSION.get(ext)
    if claimed is not None:
        raise FileRefused(_l("its name says %(claimed)s, but the content is a %(actual)s.",
                             claimed=_shown_label(claimed.label), actual=_shown_label(file_type.label)))
    return f"{clean}.{file_type.extension}"


def detect_type(data: bytes, filename: str = "") -> FileType:
    """The accepted type of `data`, decided from its bytes; raises FileRefused for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        return _zip_document_type(data)
    if data.startswith(OLE_SIGNATURE):
        return _ole_document_type(data)
    return _text_type(data, filename)


def _zip_document_type(data: bytes) -> FileType:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                raise FileRefused(_l("documents with macros are not accepted."))
            if "mimetype" in names:
                mimetype = _read_small_member(archive, "mimetype").decode("ascii", "replace").strip()
                if mimetype in ODF_MIMETYPES:
                    return ODF_MIMETYPES[mimetype]
            if "[Content_Types].xml" in names:
                content_types = _read_small_member(archive, "[Content_Types].xml").decode("utf-8", "replace")
                for main_part, file_type in OOXML_MAIN_PARTS.items():
                    if f'ContentType="{main_part}"' in content_types:
                        return file_type
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise FileRefused(_l("it looks like a damaged archive or document.")) from exc
    raise FileRefused(_l("ZIP archives are not accepted; we accept %(types)s.", types=ACCEPTED_SUMMARY))


def _read_small_member(archive: zipfile.ZipFile, name: str, limit: int = 1024 * 1024) -> bytes:
    # Read at most `limit` bytes, whatever the archive claims: a zip bomb stays unexpanded.
    with archive.open(name) as member:
        return member.read(limit)


def _ole_document_type(data: bytes) -> FileType:
    names = _ole_directory_names(data)
    if "EncryptedPackage" in names:
        raise FileRefused(_l("password-protected documents are not accepted."))
    if names & {"Macros", "_VBA_PROJECT_CUR", "_VBA_PROJECT"}:
        raise FileRefused(_l("documents with macros are not accepted."))
    for stream, file_type in OLE_STREAMS.items():
        if stream in names:
            return file_type
    # Installers (.msi) and other compound files share the signature with old office documents.
    raise FileRefused(_l("this kind of file is not accepted; we accept %(types)s.", types=ACCEPTED_SUMMARY))


def _ole_directory_names(data: bytes) -> set[str]:
    """Names in the directory of an OLE2 compound file (old .doc / .xls / .ppt), following the FAT chain."""
    end_of_chain = 0xFFFFFFFA
    if len(data) < 512:
        return set()
    sector_shift = int.from_bytes(data[30:32], "little")
    if sector_shift not in (9, 12):
        return set()
    sector_size = 1 << sector_shift

    def sector(number: int) -> bytes:
        start = (number + 1) * sector_size
        return data[start:start + sector_size]

    fat: list[int] = []
    for i in range(109):
        fat_sector = int.from_bytes(data[76 + 4 * i:80 + 4 * i], "little")
        if fat_sector >= end_of_chain:
            break
        chunk = sector(fat_sector)
        fat.extend(int.from_bytes(chunk[j:j + 4], "little") for j in range(0, len(chunk) - 3, 4))

    names: set[str] = set()
    seen: set[int] = set()
    current = int.from_bytes(data[48:52], "little")
    while current < end_of_chain and current not in seen and len(seen) < 4096:
        seen.add(current)
        chunk = sector(current)
        for offset in range(0, len(chunk) - 127, 128):
            entry = chunk[offset:offset + 128]
            length = int.from_bytes(entry[64:66], "little")
            if 2 <= length <= 64 and entry[66] in (1, 2):  # 1 = storage, 2 = stream
                names.add(entry[:length - 2].decode("utf-16-le", "replace"))
        current = fat[current] if current < len(fat) else end_of_chain
    return names


def _text_type(data: bytes, filename: str) -> FileType:
    text = None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            text = None
    if text is None:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Spreadsheet programs on Windows still export CSV in cp1252.
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = None
    if text is None or BINARY_CONTROL.search(text):
        raise FileRefused(_l("this kind of file is not accepted; we accept %(types)s.", types=ACCEPTED_SUMMARY))
    if MARKUP_START.match(text.lstrip("\ufeff \t\r\n")):
        raise FileRefused(_l("HTML, SVG and XML files are not accepted; send them as a PDF or an image."))
    extension = sanitize_filename(filename).rpartition(".")[2].lower()
    return CSV if extension in CSV.extensions else TEXT


def inspect_images(files: Sequence[tuple[bytes, FileType]],
                   limits: UploadLimits) -> list[tuple[int, int, bytes] | FileRefused]:
    """Width, height (as displayed) and a WebP thumbnail of each image of one message, decoded in a sandbox
    worker (a decoder crash or a bomb ends that process, not ours), or a FileRefused in the place of each image
    that was refused (too many pixels, alone or with the message's others; damaged); raises UploadRefused when
    the images could not be processed at all."""
    if not files:
        return []
    payload = {
        "images": [{"data": data, "format": file_type.pillow_format, "label": file_type.label}
                   for data, file_type in files],
        "max_image_pixels": limits.max_image_pixels,
        "max_message_pixels": limits.max_message_pixels,
        "thumbnail_size": limits.thumbnail_size,
    }
    try:
        answer = sandbox.inspect_images(payload)
    except sandbox.PoolBusy:
        raise UploadRefused([Refusal("", _l("Many images are being processed just now, so the message was not "
                                            "sent. Please try again in a moment."))]) from None
    if isinstance(answer, sandbox.JobFailed):
        if answer.reason == "timeout":
            failed = _l("The message was not sent: these images take too long to process. "
                        "Send fewer or smaller images.")
        elif answer.reason == "memory":
            failed = _l("The message was not sent: these images need too much memory to process. "
                        "Send fewer or smaller images.")
        else:
            failed = _l("The message was not sent: these images could not be processed. "
                        "Send fewer or smaller images.")
        raise UploadRefused([Refusal("", failed)])
    return [
        FileRefused(_sandbox_reason(result["refused"], file_type)) if "refused" in result
        else (result["width"], result["height"], base64.b64decode(result["thumbnail"]))
        for result, (_data, file_type) in zip(answer["images"], files, strict=True)
    ]


# The sandbox worker (sandbox/images.py) words its refusals in English; the user reads them in their language.
_TOO_MANY_PIXELS = re.compile(r"the image has too many pixels; the limit is (?P<limit>[\d.]+) million\.")
_OVER_BUDGET = re.compile(r"together with the other images of this message it has too many pixels to process "
                          r"\(at most (?P<limit>[\d.]+) million per message\); send it in another message\.")
_DAMAGED = re.compile(r"the .+ is damaged and cannot be shown\.")


def _sandbox_reason(reason: str, file_type: FileType):
    if match := _TOO_MANY_PIXELS.fullmatch(reason):
        return _l("the image has too many pixels; the limit is %(limit)s million.",
                  limit=_decimal(float(match["limit"])))
    if match := _OVER_BUDGET.fullmatch(reason):
        return _l("together with the other images of this message it has too many pixels to process "
                  "(at most %(limit)s million per message); send it in another message.",
                  limit=_decimal(float(match["limit"])))
    if _DAMAGED.fullmatch(reason):
        return _l("the %(type)s is damaged and cannot be shown.", type=_shown_label(file_type.label))
    return reason


def check_file(upload: Upload, limits: UploadLimits) -> CheckedFile:
    """One upload checked from its bytes (size, type, name); an image's pixels are inspect_images' to check."""
    if upload.size <= 0:
        raise FileRefused(_l("the file is empty."))
    if upload.size > limits.max_file_size:
        raise FileRefused(_l("the file is %(size)s; the limit is %(limit)s per file.",
                             size=format_size(upload.size), limit=format_size(limits.max_file_size)))
    upload.stream.seek(0)
    data = upload.stream.read(limits.max_file_size + 1)
    if not data:
        raise FileRefused(_l("the file is empty."))
    if len(data) > limits.max_file_size:
        raise FileRefused(_l("the file is larger than %(limit)s, the limit per file.",
                             limit=format_size(limits.max_file_size)))
    file_type = detect_type(data, upload.filename or "")
    return CheckedFile(display_filename(upload.filename, file_type), file_type, data)


def check_uploads(uploads: Sequence[Upload], limits: UploadLimits) -> list[CheckedFile]:
    """Every upload checked before anything is stored; raises UploadRefused listing each refused file."""
    uploads = [u for u in uploads if u.filename or u.size]  # an empty file input sends one nameless part
    if len(uploads) > limits.max_files:
        raise UploadRefused(
            [Refusal("", ngettext("You can attach at most %(num)d file to a message; you chose %(chosen)d.",
                                  "You can attach at most %(num)d files to a message; you chose %(chosen)d.",
                                  limits.max_files, chosen=len(uploads)))]
        )
    total = sum(u.size for u in uploads)
    if total > limits.max_total_size:
        raise UploadRefused([Refusal("", _l(
            "The files add up to %(total)s; the limit is %(limit)s per message.",
            total=format_size(total), limit=format_size(limits.max_total_size),
        ))])
    checked: list[CheckedFile] = []
    refusals: list[Refusal] = []
    for upload in uploads:
        shown_name = sanitize_filename(upload.filename) or DEFAULT_NAME
        try:
            checked.append(check_file(upload, limits))
        except FileRefused as refused:
            refusals.append(Refusal(shown_name, refused.reason))
    if refusals:
        raise UploadRefused(refusals)
    images = [item for item in checked if item.file_type.is_image]
    inspected = inspect_images([(item.data, item.file_type) for item in images], limits)
    for item, result in zip(images, inspected, strict=True):
        if isinstance(result, FileRefused):
            refusals.append(Refusal(item.original_filename, result.reason))
        else:
            width, height, thumbnail = result
            checked[checked.index(item)] = dataclasses.replace(
                item, image_width=width, image_height=height, thumbnail=thumbnail
            )
    if refusals:
        raise UploadRefused(refusals)
    return checked




@dataclass(frozen=True)
class StagedAttachment:
    """A checked file already written to storage, waiting for its message's row."""

    filename: str
    original_filename: str
    file_path: str
    file_size: int
    mime_type: str
    is_image: bool
    image_width: int | None
    image_height: int | None
    thumbnail_path: str | None


def stage_uploads(uploads: Sequence[Upload], *, storage: AttachmentStorage | None = None,
                  limits: UploadLimits | None = None) -> list[StagedAttachment]:
    """Check every upload, then write them all to storage; nothing is written if one is refused.

    Runs before the message is written, so a slow upload to S3 holds no database lock. On a storage
    failure whatever was written is removed and ValidationError raised. The written keys belong to the
    current transaction: if it ends without a commit, they are removed.
    """
    limits = limits or UploadLimits.from_config(current_app.config)
    _end_read_only_sqlite_transaction(db.session())
    checked = check_uploads(uploads, limits)
    if not checked:
        return []
    session = db.session()
    session.connection()  # the transaction whose end decides whether the files stay
    folder = f"{dt.datetime.now(dt.UTC):%Y/%m}"
    written: list[str] = []
    staged: list[StagedAttachment] = []
    try:
        storage = storage or storage_for_app()  # a misconfigured backend fails here, as an outage would
        for item in checked:
            token = secrets.token_hex(16)
            filename = f"{token}.{item.file_type.extension}"
            key = f"{folder}/{filename}"
            storage.save(key, item.data, item.file_type.mime_type)
            written.append(key)
            thumbnail_key = None
            if item.thumbnail is not None:
                thumbnail_key = f"{folder}/{token}.thumb.webp"
                storage.save(thumbnail_key, item.thumbnail, "image/webp")
                written.append(thumbnail_key)
            staged.append(StagedAttachment(
                filename=filename, original_filename=item.original_filename, file_path=key,
                file_size=len(item.data), mime_type=item.file_type.mime_type, is_image=item.file_type.is_image,
                image_width=item.image_width, image_height=item.image_height, thumbnail_path=thumbnail_key,
            ))
    except StorageError:
        log.exception("Storing attachments failed; removing the %d objects written", len(written))
        if written and storage is not None:  # something was written, so the storage was built
            _delete_quietly(storage, written)
        raise ValidationError(
            _l("Your files could not be stored just now, so the message was not sent. Please try again."),
            field="attachments",
        ) from None
    # Written for this transaction: removed again if it ends without a commit.
    transaction_hooks.per_transaction(session, "attachments_written", on_rollback=_delete_written).extend(
        (storage, key) for key in written
    )
    return staged


def attach_staged(message: Message, staged: Sequence[StagedAttachment]) -> list[MessageAttachment]:
    """The MessageAttachment rows of staged files, added to `message` (flushed, so it has an id)."""
    rows = [MessageAttachment(message_id=message.id, **vars(item)) for item in staged]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def store_attachments(message: Message, uploads: Sequence[Upload], *, storage: AttachmentStorage | None = None,
                      limits: UploadLimits | None = None) -> list[MessageAttachment]:
    """Check, store and record the files of a flushed message: stage_uploads, then attach_staged."""
    return attach_staged(message, stage_uploads(uploads, storage=storage, limits=limits))


def _delete_quietly(storage: AttachmentStorage, keys: Sequence[str]) -> None:
    for key in keys:
        try:
            storage.delete(key)
        except StorageError:
            log.exception("Could not remove stored attachment %s; it is orphaned", key)


def _end_read_only_sqlite_transaction(session) -> None:
    """On SQLite, end the transaction before the slow checks if it has only read so far.

    In WAL mode a transaction that read, then writes after another connection committed, fails at once
    with "database is locked" (its snapshot is stale; no busy timeout helps). Checking images takes long
    enough for that to be likely when several people post at once, so the write starts a fresh
    transaction instead. Loaded objects are expired and read again when next used.
    """
    if session.get_bind().dialect.name != "sqlite" or not session.in_transaction():
        return
    if transaction_hooks.has_written(session) or session.new or session.dirty or session.deleted:
        return
    session.rollback()


def _delete_written(written: list[tuple[AttachmentStorage, str]]) -> None:
    for storage, key in written:
        _delete_quietly(storage, [key])


def attachments_by_message(message_ids: Sequence[int]) -> dict[int, list[MessageAttachment]]:
    """The attachments of many messages in one query, in upload order."""
    found: dict[int, list[MessageAttachment]] = {}
    if not message_ids:
        return found
    rows = db.session.scalars(
        sa.select(MessageAttachment)
        .where(MessageAttachment.message_id.in_(list(message_ids)))
        .order_by(MessageAttachment.message_id, MessageAttachment.id)
    )
    for row in rows:
        found.setdefault(row.message_id, []).append(row)
    return found


def served_inline(attachment: MessageAttachment) -> bool:
    return attachment.is_image and attachment.mime_type in RASTER_IMAGE_TYPES


def content_disposition(attachment: MessageAttachment, *, thumbnail: bool = False) -> str:
    """`inline` for raster images, `attachment` for everything else, with the name in ASCII and UTF-8."""
    kind = "inline" if thumbnail or served_inline(attachment) else "attachment"
    name = attachment.original_filename
    if thumbnail:
        name = name.rpartition(".")[0] or name
        name = f"{name}-thumbnail.webp"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r'["\\%;]', "_", ascii_name).strip() or DEFAULT_NAME
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


@dataclass(frozen=True)
class Download:
    """How to answer a download: redirect to `url`, or stream `stream` with these headers."""

    content_type: str
    disposition: str
    url: str | None = None
    stream: BinaryIO | None = None
    size: int | None = None


def open_download(attachment: MessageAttachment, *, thumbnail: bool = False,
                  storage: AttachmentStorage | None = None) -> Download:
    """The bytes (or a short-lived URL) of an attachment the caller has already authorised."""
    storage = storage or storage_for_app()
    if thumbnail:
        if not attachment.thumbnail_path:
            raise NotFound("This attachment has no thumbnail.")
        key, content_type, size = attachment.thumbnail_path, "image/webp", None
    else:
        key, content_type, size = attachment.file_path, attachment.mime_type, attachment.file_size
    disposition = content_disposition(attachment, thumbnail=thumbnail)
    url = storage.download_url(key, content_type=content_type, disposition=disposition)
    if url:
        return Download(content_type, disposition, url=url)
    try:
        return Download(content_type, disposition, stream=storage.open(key), size=size)
    except StorageError as exc:
        log.exception("Attachment %s could not be read", attachment.id)
        raise NotFound("This file is not available.") from exc

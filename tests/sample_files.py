"""Small real files of every type the attachment tests upload, built in memory."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image


def image(fmt: str, size=(640, 480), color=(200, 30, 30), exif_orientation: int | None = None,
          gps: bool = False) -> bytes:
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    img = Image.new(mode, size, color)
    # A second colour in the top-left corner shows whether orientation was applied.
    img.paste((10, 200, 10), (0, 0, size[0] // 4, size[1] // 4))
    if fmt == "GIF":
        img = img.convert("P")
    out = io.BytesIO()
    kwargs = {}
    if exif_orientation is not None or gps:
        exif = Image.Exif()
        if exif_orientation is not None:
            exif[0x0112] = exif_orientation
        exif[0x010F] = "PhoneMaker"  # camera make: metadata the thumbnail must drop
        if gps:
            exif.get_ifd(0x8825)[2] = (48.0, 8.0, 0.0)
        kwargs["exif"] = exif.tobytes()
    img.save(out, format=fmt, **kwargs)
    return out.getvalue()


def png_header_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height, all black: ~100 KB on disk, gigabytes once decoded."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    parts = []
    rows_per_block = max(1, (1 << 20) // len(row))
    block = row * rows_per_block
    remaining = height
    while remaining:
        take = min(rows_per_block, remaining)
        parts.append(compressor.compress(block if take == rows_per_block else row * take))
        remaining -= take
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


OOXML_MAIN = {
    "docx": ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
}


def ooxml(kind: str, macros: bool = False) -> bytes:
    part, content_type = OOXML_MAIN[kind]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>'
        ))
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(part, "<document/>")
        if macros:
            archive.writestr("word/vbaProject.bin", b"\x00" * 64)
    return out.getvalue()


def odf(mimetype: str = "application/vnd.oasis.opendocument.text") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype)
        archive.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return out.getvalue()


def ole2(stream_name: str = "WordDocument") -> bytes:
    """A minimal OLE2 compound file (the container of .doc / .xls / .ppt) holding one named stream."""
    free, end, fat_sector = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # one FAT sector
    struct.pack_into("<I", header, 48, 1)  # directory starts at sector 1
    struct.pack_into("<I", header, 56, 4096)
    struct.pack_into("<III", header, 60, end, 0, end)
    struct.pack_into("<I", header, 72, 0)
    for i in range(109):
        struct.pack_into("<I", header, 76 + 4 * i, 0 if i == 0 else free)
    fat = bytearray(b"\xff" * 512)
    struct.pack_into("<II", fat, 0, fat_sector, end)

    def entry(name: str, kind: int) -> bytes:
        raw = bytearray(128)
        encoded = (name + "\x00").encode("utf-16-le")
        raw[0:len(encoded)] = encoded
        struct.pack_into("<HB", raw, 64, len(encoded), kind)
        struct.pack_into("<III", raw, 68, free, free, free)
        return bytes(raw)

    directory = entry("Root Entry", 5) + entry(stream_name, 2) + bytes(128 * 2)
    return bytes(header) + bytes(fat) + directory


EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run"

SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(document.cookie)</script><rect width="10" height="10"/></svg>'
)

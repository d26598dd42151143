"""Header safety and MIME building with the standard library's email package.

Our own code refuses CR, LF and NUL in names, subjects and addresses, decoded RFC 2047 forms
included: on Python 3.11.7 the email package still lets `=?UTF-8?Q?=0A?=` inject a header
(CVE-2024-6923), so we do not rely on it.
"""
from __future__ import annotations

import binascii
import datetime as dt
import email.errors
import email.header
import email.utils
import re
import uuid
from email.header import Header
from email.headerregistry import Address
from email.utils import formataddr

from email_validator import EmailNotValidError, validate_email

from .base import OutgoingEmail

FORBIDDEN = ("\r", "\n", "\0")
# Plain ASCII addresses (nearly all of them) are checked here; anything else goes to email_validator.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
SIMPLE_ADDRESS = re.compile(rf"^{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$")


class UnsafeHeader(ValueError):
    """A header value that would break out of its header, or an address that is not exactly one address.

    The message is plain English (logs, the email log); `kind` says which check failed ("encoding",
    "charset", "line_break", "missing", "not_one", "invalid"; `detail` the validator's words for "invalid"), so that
    the forms can say it in the reader's language."""

    def __init__(self, message: str, kind: str = "", detail: str = ""):
        super().__init__(message)
        self.kind = kind
        self.detail = detail


def _decoded_forms(value: str) -> list[str]:
    forms = [value]
    if "=?" in value:
        try:
            parts = email.header.decode_header(value)
        except (email.errors.HeaderParseError, ValueError, LookupError):
            raise UnsafeHeader("contains a malformed encoded word", "encoding") from None
        decoded = []
        for chunk, charset in parts:
            if isinstance(chunk, bytes):
                try:
                    decoded.append(chunk.decode(charset or "ascii", errors="replace"))
                except LookupError:
                    raise UnsafeHeader("names an unknown character set", "charset") from None
            else:
                decoded.append(chunk)
        forms.append("".join(decoded))
    return forms


def check_header_text(value: str | None, what: str) -> None:
    """Raise UnsafeHeader when `value` holds a line break or NUL, plainly or in an encoded word."""
    if value is None:
        return
    for form in _decoded_forms(value):
        if any(char in form for char in FORBIDDEN):
            raise UnsafeHeader(f"The {what} must not contain line breaks or NUL characters.", "line_break")


def normalise_address(value: str | None, what: str) -> str:
    """Exactly one plain address (no display name, no list), validated; returns its normalised form."""
    value = (value or "").strip()
    check_header_text(value, what)
    if not value:
        raise UnsafeHeader(f"The {what} is missing.", "missing")
    if any(char in value for char in ",;<>\"()") or "=?" in value:
        raise UnsafeHeader(f"The {what} must be exactly one email address.", "not_one")
    if value.isascii() and len(value) <= 254 and SIMPLE_ADDRESS.match(value):
        local, _, domain = value.rpartition("@")
        if len(local) <= 64 and len(domain) <= 253:
            return f"{local}@{domain.lower()}"
    try:
        # No SMTPUTF8: every provider must accept the address, and our headers are ASCII.
        result = validate_email(value, check_deliverability=False, test_environment=True, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise UnsafeHeader(f"The {what} is not a valid email address: {exc}", "invalid", str(exc)) from None
    return result.ascii_email or result.normalized


def check_email(email_: OutgoingEmail) -> None:
    normalise_address(email_.to_email, "recipient address")
    normalise_address(email_.from_email, "sender address")
    if email_.reply_to:
        normalise_address(email_.reply_to, "reply-to address")
    check_header_text(email_.to_name, "recipient name")
    check_header_text(email_.from_name, "sender name")
    check_header_text(email_.subject, "subject")
    for name, value in email_.headers.items():
        check_header_text(name, "header name")
        check_header_text(value, f"{name} header")


def _address(name: str | None, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=name or "", username=local, domain=domain)


def _header(name: str, value: str) -> bytes:
    """One header line (folded, RFC 2047-encoded when not ASCII); the value was checked beforehand."""
    if value.isascii() and (len(name) + len(value) < 76 or (" " not in value and len(name) + len(value) < 990)):
        # Short, or one long token (an unsubscribe URL) that no fold could split: left on its line (RFC 5322
        # allows 998 characters), where folding would put it alone on a continuation line.
        encoded = value
    elif value.isascii():
        encoded = Header(value, header_name=name, maxlinelen=78).encode(linesep="\r\n")
    else:
        encoded = Header(value, "utf-8", header_name=name, maxlinelen=78).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


def _mailbox(name: str | None, addr: str) -> str:
    return formataddr((name or "", addr), charset="utf-8") if name else addr


def _quoted_printable(text: str) -> bytes:
    # binascii's C encoder; the email package's pure-Python one costs milliseconds per message
    # (bench/bench_delivery.py).
    lines = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(lines, istext=True).replace(b"\n", b"\r\n")


def build_message(email_: OutgoingEmail, *, now: dt.datetime | None = None) -> bytes:
    """The RFC 5322 message for `email_` (text and HTML alternatives), CRLF line ends; refuses unsafe headers."""
    check_email(email_)
    head = [
        _header("Message-ID", email_.message_id),
        _header("Date", email.utils.format_datetime(now or dt.datetime.now(dt.UTC))),
        f"From: {_mailbox(email_.from_name, email_.from_email)}\r\n".encode("ascii"),
        f"To: {_mailbox(email_.to_name, email_.to_email)}\r\n".encode("ascii"),
    ]
    if email_.reply_to:
        head.append(_header("Reply-To", email_.reply_to))
    head.append(_header("Subject", email_.subject))
    for name, value in email_.headers.items():
        head.append(_header(name, value))
    head.append(b"MIME-Version: 1.0\r\n")
    text_part = (b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
                 + _quoted_printable(email_.text or ""))
    if not email_.html:
        return b"".join(head) + text_part + b"\r\n"
    # "=" never survives quoted-printable encoding, so a boundary starting with "=_" cannot occur in a part.
    boundary = f"=_{uuid.uuid4().hex}".encode("ascii")
    html_part = (b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
                 + _quoted_printable(email_.html))
    head.append(b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n')
    return b"".join([
        *head, b"\r\n--", boundary, b"\r\n", text_part, b"\r\n--", boundary, b"\r\n", html_part,
        b"\r\n--", boundary, b"--\r\n",
    ])


def format_address(name: str | None, addr: str) -> str:
    """'Name <addr>' with the name encoded as the email package does it (for HTTP APIs' from fields)."""
    return str(_address(name, addr))

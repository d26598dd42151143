"""Header safety and MIME building with the standard library's email package.

Our own code refuses CR, LF and NUL in names, subjects and addresses, decoded RFC 2047 forms
included: on Python 3.11.7 the email package still lets `=?UTF-8?Q?=0A?=` inject a header
(CVE-2024-6923), so we do not rely on it.
"""
from __future__ import annotations

import datetime as dt
import email.errors
import email.header
import email.utils
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

from email_validator import EmailNotValidError, validate_email

from .base import OutgoingEmail

FORBIDDEN = ("\r", "\n", "\0")


class UnsafeHeader(ValueError):
    """A header value that would break out of its header, or an address that is not exactly one address."""


def _decoded_forms(value: str) -> list[str]:
    forms = [value]
    if "=?" in value:
        try:
            parts = email.header.decode_header(value)
        except (email.errors.HeaderParseError, ValueError, LookupError):
            raise UnsafeHeader("contains a malformed encoded word") from None
        decoded = []
        for chunk, charset in parts:
            if isinstance(chunk, bytes):
                try:
                    decoded.append(chunk.decode(charset or "ascii", errors="replace"))
                except LookupError:
                    raise UnsafeHeader("names an unknown character set") from None
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
            raise UnsafeHeader(f"The {what} must not contain line breaks or NUL characters.")


def normalise_address(value: str | None, what: str) -> str:
    """Exactly one plain address (no display name, no list), validated; returns its normalised form."""
    value = (value or "").strip()
    check_header_text(value, what)
    if not value:
        raise UnsafeHeader(f"The {what} is missing.")
    if any(char in value for char in ",;<>\"()") or "=?" in value:
        raise UnsafeHeader(f"The {what} must be exactly one email address.")
    try:
        result = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise UnsafeHeader(f"The {what} is not a valid email address: {exc}") from None
    return result.normalized


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


def build_mime(email_: OutgoingEmail, *, now: dt.datetime | None = None) -> EmailMessage:
    """The RFC 5322 message for `email_` (text and HTML alternatives); refuses unsafe headers."""
    check_email(email_)
    message = EmailMessage(policy=SMTP)
    message["Message-ID"] = email_.message_id
    message["Date"] = email.utils.format_datetime(now or dt.datetime.now(dt.UTC))
    message["From"] = _address(email_.from_name, email_.from_email)
    message["To"] = _address(email_.to_name, email_.to_email)
    if email_.reply_to:
        message["Reply-To"] = email_.reply_to
    message["Subject"] = email_.subject
    for name, value in email_.headers.items():
        message[name] = value
    message.set_content(email_.text or "", cte="quoted-printable")
    if email_.html:
        message.add_alternative(email_.html, subtype="html", cte="quoted-printable")
    return message


def format_address(name: str | None, addr: str) -> str:
    """'Name <addr>' with the name encoded as the email package does it (for HTTP APIs' from fields)."""
    return str(_address(name, addr))

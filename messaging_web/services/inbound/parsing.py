"""Reading a received email: headers, the text (plain, or HTML turned to text), the files, whether it was
sent by a machine, and the reply itself without the quoted thread, the attribution line and the signature.

Everything here treats the message as hostile: a malformed message raises MalformedEmail (never anything
else), the number of parts is capped, and the reply parser (mail-parser-reply, whose regexes are not
linear on every input) only ever sees a bounded amount of text.
"""
from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import email.utils
import logging
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

import html2text
import mailparser_reply.parser
from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

log = logging.getLogger(__name__)

# The languages whose mail clients' attribution lines and "Sent from my" lines are recognised. English is
# always included by the library.
REPLY_LANGUAGES = ("en", "fr", "de")
# The reply parser sees at most this many characters of the body: a reply is near the top, and the parser's
# regexes cost more than linear time on some inputs (bench/bench_inbound.py times the worst we know).
PARSER_TEXT_LIMIT = 64 * 1024
OWN_MESSAGE_ID_SUFFIX = "@messaging-web>"
OWN_HEADER = "X-Messaging-Web"
_MACHINE_SENDERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply")


class MalformedEmail(ValueError):
    """The bytes are not an email we can read; the message says why, for a person."""


@dataclass(frozen=True)
class InboundFile:
    filename: str
    data: bytes


@dataclass
class ParsedEmail:
    message_id: str | None
    from_email: str | None
    from_name: str | None
    subject: str
    recipients: list[str]  # To, Cc, Delivered-To, X-Original-To and the envelope's, lower case, in that order
    text: str  # the whole body as text, quotes and all
    files: list[InboundFile] = field(default_factory=list)
    automatic: str | None = None  # why it was sent by a machine (then it is never posted nor answered)
    own: bool = False  # one of our own emails, come back


def parse_email(raw: bytes, *, max_parts: int, envelope_sender: str | None = None,
                envelope_recipients: tuple[str, ...] = ()) -> ParsedEmail:
    try:
        # The structure read with compat32, the few headers we show decoded as the default policy decodes
        # them (_header): the default policy parses a header anew on every read, half the parsing time.
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        parts = _parts(message, max_parts)
        parsed = ParsedEmail(
            message_id=_header(message, "Message-ID"),
            from_email=None, from_name=None,
            subject=" ".join((_header(message, "Subject") or "").split())[:500],
            recipients=_recipients(message, envelope_recipients),
            text=_body_text(parts),
            files=_files(parts),
        )
        parsed.from_name, parsed.from_email = _sender(message)
        parsed.automatic = machine_sent(message, envelope_sender, parsed.from_email)
        parsed.own = bool(
            (parsed.message_id or "").lower().endswith(OWN_MESSAGE_ID_SUFFIX) or message.get(OWN_HEADER) is not None
        )
    except MalformedEmail:
        raise
    except (RecursionError, MemoryError):
        raise MalformedEmail("The email is nested too deeply to be read.") from None
    except Exception as exc:  # the email package raises many kinds on hostile input; all mean "unreadable"
        log.info("Unreadable inbound email: %r", exc)
        raise MalformedEmail("The email could not be read (it is not well-formed MIME).") from None
    return parsed


def _header(message: Message, name: str) -> str | None:
    """The first `name` header, decoded (encoded words, 8-bit UTF-8), on one line; None when absent."""
    return next(_header_values(message, name), None)


def _header_values(message: Message, name: str):
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() != wanted:
            continue
        decoded = value if isinstance(value, str) and value.isascii() and "=?" not in value else (
            email.policy.default.header_fetch_parse(key, value) if isinstance(value, str) else value
        )
        text = str(decoded).replace("\r", " ").replace("\n", " ").replace("\0", " ").strip()
        if text:
            yield text


def _parts(message: Message, max_parts: int) -> list[Message]:
    parts: list[Message] = []
    for part in message.walk():
        parts.append(part)
        if len(parts) > max_parts:
            raise MalformedEmail(f"The email has more than {max_parts} parts.")
    return parts


def _sender(message: Message) -> tuple[str | None, str | None]:
    value = _header(message, "From")
    if not value:
        return None, None
    name, address = email.utils.parseaddr(value)
    address = address.strip().lower()
    return (name.strip()[:255] or None), (address[:320] if "@" in address else None)


def _recipients(message: Message, envelope_recipients: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        for value in _header_values(message, name):
            for _, address in email.utils.getaddresses([value]):
                found.append(address.strip().lower())
    found.extend(address.strip().strip("<>").lower() for address in envelope_recipients)
    return [address for address in dict.fromkeys(found) if address]


def machine_sent(message: Message, envelope_sender: str | None, from_email: str | None) -> str | None:
    """Why this email was sent by a machine (RFC 3834 and what mail systems do in practice), or None."""
    auto_submitted = (_header(message, "Auto-Submitted") or "").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"an automatic email (Auto-Submitted: {auto_submitted[:40]})"
    precedence = (_header(message, "Precedence") or "").lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return f"bulk or list mail (Precedence: {precedence})"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response", "X-Autoresponder"):
        if message.get(name) is not None:
            return f"an auto-reply ({name})"
    if message.get("List-Id") is not None or message.get("List-Unsubscribe") is not None:
        return "mailing-list traffic"
    if message.get_content_type() == "multipart/report":
        return "a delivery report"
    return_path = _header(message, "Return-Path")
    if envelope_sender is not None and envelope_sender.strip().strip("<>") == "":
        return "an email with an empty return path (a bounce)"
    if return_path is not None and return_path.strip().strip("<>") == "":
        return "an email with an empty return path (a bounce)"
    local = (from_email or "").partition("@")[0]
    if local in _MACHINE_SENDERS:
        return f"an email from {local}"
    return None


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    disposition = (part.get_content_disposition() or "").lower()
    return disposition == "attachment" or (part.get_filename() is not None and part.get_content_maintype() != "text")


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        text = payload.decode("latin-1", errors="replace")
    return text.replace("\0", "")  # no text a person wrote holds NUL, and PostgreSQL's text cannot


def _body_text(parts: list[Message]) -> str:
    plain = [p for p in parts if p.get_content_type() == "text/plain" and not _is_attachment(p)]
    if plain:
        return _text_of(plain[0]).replace("\r\n", "\n").strip()
    html_parts = [p for p in parts if p.get_content_type() == "text/html" and not _is_attachment(p)]
    if html_parts:
        return html_to_text(_text_of(html_parts[0]))
    return ""


def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text(bodywidth=0)
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_links = True
    converter.ignore_tables = True
    text = converter.handle(html).replace("\r\n", "\n")
    # A horizontal rule (html2text's "* * *") is how Outlook separates the quoted message in HTML: made the
    # line of underscores Outlook writes in its text part, which the reply parser knows.
    return re.sub(r"(?m)^\* \* \*$", "_" * 32, text).strip()


def _filename(part: Message) -> str:
    """The part's file name: RFC 2231 decoded by the email package, and the encoded words (RFC 2047) that
    many clients write there anyway."""
    name = part.get_filename() or ""
    if "=?" in name:
        try:
            name = str(email.header.make_header(email.header.decode_header(name)))
        except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
            pass
    return name


def _files(parts: list[Message]) -> list[InboundFile]:
    files = []
    for part in parts:
        if not _is_attachment(part):
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        filename = _filename(part).replace("\0", "").strip() or "attachment"
        files.append(InboundFile(filename=filename[:255], data=data))
    return files


def _complete_the_parsers_language_data() -> None:
    """What mail-parser-reply 1.36 lacks for the clients our corpus holds (tests/data/replies/): the iPhone's
    French and German "sent from" lines, Proton Mail's, and the separator lines of forwarded and original
    messages in French and German clients. Its own tables, completed; the parsing stays its own."""
    additions = {"en": "Sent with", "fr": "Envoyé de mon", "de": "Von meinem"}
    for language, phrase in additions.items():
        table = MAIL_LANGUAGES[language]
        if phrase not in table["sent_from"]:
            table["sent_from"] = f"{table['sent_from']}|{phrase}"
    # The parser reads it from its module's globals.
    mailparser_reply.parser.GENERIC_MAIL_SEPARATOR = (
        r"^-{5,} ?(?:Original Message|Forwarded message|Message d'origine|Message transféré"
        r"|Ursprüngliche Nachricht|Weitergeleitete Nachricht) ?-{5,}$"
    )


_complete_the_parsers_language_data()
_parser = EmailReplyParser(languages=list(REPLY_LANGUAGES))
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


def reply_text(text: str) -> str:
    """The newest reply of a body: without the quoted earlier messages, the "On ... wrote:" line, "Sent
    from my iPhone" and the signature. A reply written between the quoted lines (inline) is its unquoted
    lines."""
    text = text[:PARSER_TEXT_LIMIT].replace("\r\n", "\n")
    if not text.strip():
        return ""
    lines = text.split("\n")
    first_quote = next((i for i, line in enumerate(lines) if line.lstrip().startswith(">")), None)
    # Nothing after the first quoted line can be the top reply: the parser reads only what comes before
    # it, and at first only its first FIRST_LOOK characters (bench/bench_inbound.py: the parser costs about
    # 12 ms on a 20 KB body and well under 1 ms on the top of it).
    head = "\n".join(lines[:first_quote]) if first_quote is not None else text
    newest = _newest(head)
    if not newest and first_quote is not None:
        unquoted = "\n".join(line for line in lines if not line.lstrip().startswith(">"))
        newest = _newest(_drop_attribution(unquoted))
    return newest


FIRST_LOOK = 4096


def _read(text: str):
    # As EmailReplyParser.read, but a list of "- " lines is the reply's, not a signature.
    return mailparser_reply.parser.EmailMessage(
        text=text, languages=list(_parser.languages), keep_hyphen_lists=True,
    ).read()


def _newest(text: str) -> str:
    message = _read(text[:FIRST_LOOK])
    if len(message.replies) <= 1 and len(text) > FIRST_LOOK:
        # No earlier message begins within the first look: read the whole (bounded) text.
        message = _read(text)
    newest = message.replies[0].body if message.replies else text
    return _EXTRA_BLANK_LINES.sub("\n\n", newest).strip()


def _drop_attribution(text: str) -> str:
    """The text without the attribution lines ("On ... wrote:") the parser finds in it."""
    message = _read(text)
    return "\n\n".join(reply.body for reply in message.replies if reply.body)


def as_message(raw: bytes) -> EmailMessage:
    """The raw email as an EmailMessage (for showing its headers to admins)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message

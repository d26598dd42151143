"""SMTP through smtplib: per-store host and credentials, timeouts, one connection reused for a batch."""
from __future__ import annotations

import ipaddress
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable

from .base import AmbiguousDelivery, OutgoingEmail, PermanentError, Provider, TransientError
from .message import UnsafeHeader, build_message

DEFAULT_TIMEOUT = 10.0

logger = logging.getLogger(__name__)


class _TrackingSMTP(smtplib.SMTP):
    """smtplib.SMTP that remembers whether the whole message (up to the final dot) went out,
    which is what separates "not delivered, retry" from "may have been delivered"."""

    payload_sent = False
    before_data: Callable[[], None] | None = None  # the provider's before_handover
    _host: str  # smtplib's (not in typeshed): the name TLS checks the certificate against

    # Addresses reaching here were validated as one plain address each (providers/message.py), so
    # smtplib's quoteaddr (a full RFC 2822 parse per command) is not needed.
    def mail(self, sender, options=()):
        self.putcmd("mail", f"FROM:<{sender}>{' ' + ' '.join(options) if options else ''}")
        return self.getreply()

    def rcpt(self, recip, options=()):
        self.putcmd("rcpt", f"TO:<{recip}>{' ' + ' '.join(options) if options else ''}")
        return self.getreply()

    def data(self, msg):
        if self.before_data is not None:
            self.before_data()
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        if isinstance(msg, str):
            msg = msg.encode("ascii")
        payload = re.sub(rb"(?m)^\.", b"..", msg)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        self.send(payload + b".\r\n")
        self.payload_sent = True
        return self.getreply()


class _TrackingSMTPSSL(_TrackingSMTP, smtplib.SMTP_SSL):
    pass


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _is_internal(address: str) -> bool:
    """Not reachable from the internet (`is_global`: private, loopback, link-local, carrier-grade NAT
    100.64.0.0/10 with some clouds' metadata address, reserved, ...) or multicast. An IPv6 address that
    carries an IPv4 one (mapped, 6to4, NAT64) is judged by that IPv4 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
        )
        if embedded is not None:
            return _is_internal(str(embedded))
    return not ip.is_global or ip.is_multicast


class SmtpProvider(Provider):
    name = "smtp"
    calls_before_handover = True

    def __init__(self, host: str | None, port: int = 587, username: str | None = None, password: str | None = None,
                 use_tls: bool = True, use_ssl: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 allow_internal_hosts: bool = False):
        self.host = (host or "").strip()
        self.port = int(port or (465 if use_ssl else 587))
        self.username = username or None
        self.password = password or None
        self.use_tls = use_tls and not use_ssl
        self.use_ssl = use_ssl
        self.timeout = timeout
        self.allow_internal_hosts = allow_internal_hosts
        self._conn: _TrackingSMTP | None = None

    @classmethod
    def from_app_config(cls, config) -> SmtpProvider:
        return cls(
            config["MAIL_SERVER"], config["MAIL_PORT"], config.get("MAIL_USERNAME"), config.get("MAIL_PASSWORD"),
            use_tls=config.get("MAIL_USE_TLS", False), use_ssl=config.get("MAIL_USE_SSL", False),
            timeout=config.get("SMTP_TIMEOUT", DEFAULT_TIMEOUT),
            # The platform's own relay is set by the operator, often on localhost: always allowed.
            allow_internal_hosts=True,
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _seconds(self) -> str:
        return f"{self.timeout:g} s"

    def _resolve(self) -> str:
        """The address to connect to; a host pointing into a private network is refused for stores."""
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise TransientError(f"the SMTP server name {self.host} could not be found") from None
        addresses = [str(info[4][0]) for info in infos]  # already a str for the IPv4 and IPv6 families
        if not self.allow_internal_hosts and any(_is_internal(a) for a in addresses):
            raise PermanentError(
                f"the SMTP server {self.host} points to a private or local network address, which is not allowed"
            )
        return addresses[0]

    def open(self) -> None:
        if self._conn is not None:
            return
        if not self.host:
            raise PermanentError("no SMTP server is configured")
        address = self._resolve()
        conn = (_TrackingSMTPSSL(timeout=self.timeout, context=ssl.create_default_context()) if self.use_ssl
                else _TrackingSMTP(timeout=self.timeout))
        try:
            # Connect to the address we checked (no second lookup), but speak TLS to the host name.
            conn._host = self.host
            if self.use_ssl:
                # SMTP_SSL's own way to open its TLS socket; typeshed does not declare it.
                conn.sock = conn._get_socket(address, self.port, self.timeout)  # type: ignore[attr-defined]
                conn.file = None
                code, reply = conn.getreply()
                if code != 220:
                    raise smtplib.SMTPConnectError(code, reply)
            else:
                code, reply = conn.connect(address, self.port)
                if code != 220:
                    raise smtplib.SMTPConnectError(code, reply)
            conn._host = self.host
            conn.ehlo()
            if self.use_tls:
                if not conn.has_extn("starttls"):
                    raise PermanentError(
                        f"the SMTP server {self.where} does not offer STARTTLS; turn TLS off or use SSL"
                    )
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if self.username:
                if not conn.has_extn("auth"):
                    raise PermanentError(f"the SMTP server {self.where} does not accept a username and password")
                _login_once(conn, self.username, self.password or "")
        except DeliveryFailure:
            _quietly_close(conn)
            raise
        except BaseException as exc:
            _quietly_close(conn)
            raise self._explain_connect(exc) from None
        self._conn = conn

    def _explain_connect(self, exc: BaseException) -> Exception:
        """One plain message for every way of not getting a session, the reason only in our log.

        A store chooses the host and port and reads the message (settings wizard, email log): telling a
        closed port from a filtered one, a timeout from a TLS error, or repeating what the far end
        said, would make us a port scanner for them. Retry or not still follows the reason.
        """
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return PermanentError("the SMTP server rejected the username or password")
        if not isinstance(exc, smtplib.SMTPException | OSError):
            return exc if isinstance(exc, Exception) else TransientError(self._could_not_connect())
        logger.warning("SMTP connection to %s failed: %r", self.where, exc)
        return (PermanentError if _fails_again(exc) else TransientError)(self._could_not_connect())

    def _could_not_connect(self) -> str:
        return (f"could not connect to {self.host} on port {self.port}; "
                "check the host, the port and the security setting")

    def send(self, email: OutgoingEmail) -> str:
        try:
            data = build_message(email)
        except UnsafeHeader as exc:
            raise PermanentError(str(exc)) from exc
        self.open()
        conn = self._conn
        assert conn is not None  # open() connected or raised
        conn.payload_sent = False
        conn.before_data = self.before_handover
        try:
            conn.sendmail(email.from_email, [email.to_email], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            self._reset_after_refusal()
            raise self._by_code(code, f"the SMTP server refused the recipient {email.to_email} ({code})") from None
        except smtplib.SMTPSenderRefused as exc:
            self._reset_after_refusal()
            raise self._by_code(exc.smtp_code, f"the SMTP server refused the sender {email.from_email} "
                                                f"({exc.smtp_code})") from None
        except smtplib.SMTPDataError as exc:
            # The server answered, so it did not take the message.
            self._reset_after_refusal()
            raise self._by_code(exc.smtp_code, f"the SMTP server refused the message ({exc.smtp_code})") from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            payload_sent = conn.payload_sent
            self.close()
            if payload_sent:
                raise AmbiguousDelivery(
                    f"the connection to {self.where} was lost after the message was sent, before the server "
                    "confirmed it: it may have been delivered"
                ) from None
            if _timed_out(exc):
                raise TransientError(f"the SMTP server {self.where} did not answer within {self._seconds()}") from None
            raise TransientError(f"the connection to {self.where} was lost before the message was sent") from None
        except smtplib.SMTPResponseException as exc:
            self._reset_after_refusal()
            raise self._by_code(exc.smtp_code, f"the SMTP server answered {exc.smtp_code}") from None
        return email.message_id

    @staticmethod
    def _by_code(code: int, message: str) -> Exception:
        return TransientError(message) if 400 <= code < 500 else PermanentError(message)

    def _reset_after_refusal(self) -> None:
        # A refused envelope leaves the session mid-transaction; RSET it, or start afresh next time.
        assert self._conn is not None  # called from send(), connected
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn, polite=True)
            self._conn = None


DeliveryFailure = (PermanentError, TransientError)


def _login_once(conn: smtplib.SMTP, username: str, password: str) -> None:
    """One AUTH attempt with the best offered mechanism (smtplib.login tries each in turn, which
    doubles the failed sign-ins a server counts against the account)."""
    offered = conn.esmtp_features.get("auth", "").upper().split()
    for mechanism in ("PLAIN", "LOGIN", "CRAM-MD5"):
        if mechanism in offered:
            break
    else:
        raise PermanentError("the SMTP server offers no sign-in method we support")
    conn.user, conn.password = username, password
    method = getattr(conn, "auth_" + mechanism.lower().replace("-", "_"))
    conn.auth(mechanism, method, initial_response_ok=mechanism != "LOGIN")


def _fails_again(exc: smtplib.SMTPException | OSError) -> bool:
    """Whether connecting again later would fail the same way: TLS errors, 5xx answers, unusable servers."""
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return not 400 <= exc.smtp_code < 500
    return isinstance(exc, ssl.SSLError | ssl.CertificateError | smtplib.SMTPException)


def _timed_out(exc: BaseException) -> bool:
    # smtplib turns a socket timeout into SMTPServerDisconnected; the timeout is its context.
    return isinstance(exc, TimeoutError | socket.timeout) or isinstance(exc.__context__, TimeoutError | socket.timeout)


def _quietly_close(conn: smtplib.SMTP, polite: bool = False) -> None:
    try:
        if polite:
            conn.quit()
    except (smtplib.SMTPException, OSError):
        pass
    try:
        conn.close()
    except OSError:
        pass

"""Real mail servers for tests: aiosmtpd on localhost with AUTH and fault variants, a server that
never answers, a local HTTP server for SendGrid/Mailgun (pytest-httpserver), moto for SES."""
from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "shop-mailer"
SMTP_PASSWORD = "s3cret-smtp-password-9876"
# What the far end says must never reach the store: a banner that would tell someone scanning ports.
SSH_BANNER = b"SSH-2.0-OpenSSH_9.6 bastion-7.internal\r\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """Accepts mail (optionally only after AUTH) and keeps it; `fault` makes it misbehave:
    'refuse-auth', '421-mail', '451-rcpt', '550-rcpt', '451-data', 'drop-rcpt', 'drop-after-data'."""

    def __init__(self, require_auth: bool = True):
        self.messages: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.fault: str | None = None
        self.logins: list[tuple[str, str]] = []
        self.require_auth = require_auth
        self.on_data = None  # called (in the server's thread) as each message arrives, before it is answered
        self.host = "127.0.0.1"
        self.port = free_port()
        self._lock = threading.Lock()
        self.controller = Controller(
            self, hostname=self.host, port=self.port, auth_require_tls=False, auth_required=require_auth,
            authenticator=self._authenticate if require_auth else None, ready_timeout=10,
        )

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.logins.clear()
            self.fault = None
            self.on_data = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        ok = self.fault != "refuse-auth" and login == SMTP_USER and password == SMTP_PASSWORD
        return AuthResult(success=ok, handled=False)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.fault == "421-mail":
            return "421 4.3.2 Service not available, closing channel"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.fault == "451-rcpt":
            return "451 4.3.0 Mailbox temporarily unavailable"
        if self.fault == "550-rcpt":
            return "550 5.1.1 No such user here"
        if self.fault == "drop-rcpt":
            server.transport.close()
            return "250 OK"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.on_data is not None:
            self.on_data()
        if self.fault == "451-data":
            return "451 4.3.0 Try again later"
        if self.fault == "drop-after-data":
            server.transport.abort()
            return "250 never seen"
        with self._lock:
            self.messages.append(envelope.original_content or envelope.content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return f"250 OK queued as {len(self.messages)}"

    def parsed(self):
        return [message_from_bytes(m, policy=policy.default) for m in self.messages]


class SilentServer:
    """Accepts TCP connections and never says a word: an SMTP server hanging past the timeout."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.host, self.port = self.sock.getsockname()
        self.clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(client)

    def stop(self):
        self.sock.close()
        for client in self.clients:
            client.close()


class BannerServer(SilentServer):
    """Greets every connection with `banner` and hangs up: a port where something other than a mail
    server listens (or one that turns us away), for errors that must not repeat what it said."""

    def __init__(self, banner: bytes):
        self.banner = banner
        super().__init__()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with client:
                client.sendall(self.banner)


def run_coroutine(coro):
    return asyncio.new_event_loop().run_until_complete(coro)

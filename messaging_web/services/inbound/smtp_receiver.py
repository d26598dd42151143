"""Our own SMTP receiver for replies (aiosmtpd): `flask messaging inbound-smtp --host --port`.

It takes mail only for the inbound domain (550 for any other recipient), and answers 250 only once the email
is recorded and committed, so a sending server that got 250 can forget the email: nothing accepted is lost.
A database failure is a 451 and the sending server tries again later (the same email then posts once:
receiving.receive is idempotent). Emails up to twice INBOUND_EMAIL_MAX_BYTES are recorded (the oversized ones
held, without their body, and their sender told); larger ones are refused during DATA with a 552.
The database work runs in a thread pool, each thread in an application context of its own, so one slow
email does not hold up the others' SMTP conversations.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.controller import Controller
from flask import Flask

from ...extensions import db
from ...models import InboundSource
from .addresses import is_inbound_recipient
from .receiving import receive

log = logging.getLogger(__name__)


class SharedPortController(Controller):
    """aiosmtpd's Controller, listening with SO_REUSEPORT so that several processes share one port."""

    def _create_server(self):
        return self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context, reuse_port=True,
        )

    def _trigger_server(self):
        # aiosmtpd checks that its server is up by connecting to the port and waiting for its own factory to
        # run; on a shared port the kernel may give that connection to another process's server, and this
        # one then stopped with "SMTP server started, but not responding". The factory (what the check is
        # for: its errors surface only on a connection) runs here directly instead.
        self._factory_invoker()


class InboundHandler:
    def __init__(self, app: Flask, executor: ThreadPoolExecutor):
        self.app = app
        self.executor = executor

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        with self.app.app_context():
            ours = is_inbound_recipient(address)
        if not ours:
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self.executor, self._record, raw, envelope.mail_from, tuple(envelope.rcpt_tos)
            )
        except Exception:
            log.exception("Recording an inbound email failed; the sender will retry")
            return "451 4.3.0 Temporary failure, please try again later"
        return "250 2.0.0 Message accepted"

    def _record(self, raw: bytes, mail_from: str | None, recipients: tuple[str, ...]) -> None:
        with self.app.app_context():
            try:
                receive(raw, source=InboundSource.SMTP, envelope_sender=mail_from, envelope_recipients=recipients)
                db.session.commit()
            except Exception:
                db.session.rollback()
                raise
            finally:
                db.session.remove()


def start_receiver(app: Flask, host: str, port: int, *, threads: int = 4, shared_port: bool = False) -> Controller:
    """Start the receiver in a thread of its own (aiosmtpd's Controller); call .stop() to end it.
    `shared_port`: several processes listen on the same port (SO_REUSEPORT) and the kernel spreads the
    connections between them."""
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inbound-smtp")
    controller_class = SharedPortController if shared_port else Controller
    controller = controller_class(
        InboundHandler(app, executor), hostname=host, port=port,
        data_size_limit=2 * int(app.config["INBOUND_EMAIL_MAX_BYTES"]), decode_data=False,
        server_hostname=app.config.get("INBOUND_EMAIL_DOMAIN") or None,
    )
    controller.start()
    original_stop = controller.stop

    def stop(*args, **kwargs):
        original_stop(*args, **kwargs)
        executor.shutdown(wait=True)

    controller.stop = stop  # type: ignore[method-assign]  # the pool ends with the server
    return controller


def run_receivers(app: Flask, host: str, port: int, *, processes: int = 1, threads: int = 4,
                  ready=None) -> None:
    """Serve until SIGTERM or Ctrl-C, in `processes` processes sharing the port: parsing and the ORM are
    CPU work that one process does on one core at a time (bench/bench_inbound.py)."""
    import os
    import signal
    import threading

    children: list[int] = []
    if processes > 1:
        db.engine.dispose()  # no connection may be shared across the fork
        for _ in range(processes - 1):
            pid = os.fork()
            if pid == 0:
                children.clear()
                break
            children.append(pid)
    controller = start_receiver(app, host, port, threads=threads, shared_port=processes > 1)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    if ready is not None and (processes == 1 or children):
        ready()
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)

"""Pytest fixtures for the mail servers of tests/support/mail_servers.py (imported by the test modules)."""
from __future__ import annotations

import pytest

from tests.support.mail_servers import SSH_BANNER, BannerServer, SilentServer, SmtpSink, free_port


@pytest.fixture(scope="session")
def _smtp_sink_session():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(_smtp_sink_session):
    """An SMTP server with AUTH on localhost (credentials SMTP_USER / SMTP_PASSWORD), emptied per test."""
    _smtp_sink_session.reset()
    yield _smtp_sink_session
    _smtp_sink_session.reset()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.stop()


@pytest.fixture
def closed_port():
    return free_port()


@pytest.fixture
def banner_server():
    """Something other than a mail server on a local port: greets with an SSH banner and hangs up."""
    server = BannerServer(SSH_BANNER)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()

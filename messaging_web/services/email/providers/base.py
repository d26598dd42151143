"""The one small interface every provider implements, the email it sends, and the errors it raises."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutgoingEmail:
    """A rendered email ready for a provider; built from an EmailLog row by delivery.py."""

    log_id: int | None
    message_id: str
    from_email: str
    from_name: str | None
    to_email: str
    to_name: str | None
    subject: str
    html: str | None
    text: str | None
    reply_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class DeliveryError(Exception):
    """A send that did not succeed; the message is written for a person (no credentials, no internals)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransientError(DeliveryError):
    """Worth another attempt later: timeouts, refused connections, SMTP 4xx, HTTP 429 and 5xx."""


class PermanentError(DeliveryError):
    """Another attempt would fail the same way: bad credentials, refused recipient, HTTP 4xx."""


class AmbiguousDelivery(DeliveryError):
    """The connection was lost after the whole message reached the server: it may have been delivered."""


class Provider:
    """send(email) -> provider_message_id. Used as a context manager around a batch so that a
    provider with a connection (SMTP) opens it once; the default does nothing on enter and exit."""

    name = "base"
    # Called by send() at the last moment before the message is handed over, when the provider can say when that
    # is (`calls_before_handover`: SMTP, before its DATA command): the delivery worker confirms there that the
    # row is marked started, after the envelope's round trips, which overlap with that write.
    calls_before_handover = False
    before_handover: Callable[[], None] | None = None

    def send(self, email: OutgoingEmail) -> str:  # pragma: no cover - the interface
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        pass

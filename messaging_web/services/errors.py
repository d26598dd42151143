"""Domain errors that services raise and one error handler maps to 404 / 403 / a form error."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""


class NotFound(DomainError):
    """The row does not exist, or belongs to someone the actor may not see (the same answer)."""


class PermissionDenied(DomainError):
    """The actor is known but may not do this."""


class ValidationError(DomainError):
    """Input the user can fix; the message is written for them."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

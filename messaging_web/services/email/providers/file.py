"""The file outbox: every email becomes an .eml file in a directory (the embedded default)."""
from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from .base import OutgoingEmail, PermanentError, Provider
from .message import UnsafeHeader, build_message


class FileProvider(Provider):
    name = "file"

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    @classmethod
    def from_app_config(cls, config) -> FileProvider:
        return cls(config["MAIL_OUTBOX_DIR"])

    def send(self, email: OutgoingEmail) -> str:
        try:
            data = build_message(email)
        except UnsafeHeader as exc:
            raise PermanentError(str(exc)) from exc
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%f")
        # Unique whatever the log id: direct sends have none, and a reset database hands out ids again;
        # a name taken twice would replace an email that was already reported sent.
        name = f"{stamp}-{secrets.token_hex(4)}-{email.log_id or 'direct'}.eml"
        # Written under a temporary name and renamed, so a reader never sees half a file.
        partial = self.directory / f".{name}.partial"
        partial.write_bytes(data)
        os.replace(partial, self.directory / name)
        return name

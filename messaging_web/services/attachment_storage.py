"""Where attachment bytes live: one small interface, a local folder backend and an S3 backend."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Config, Flask, current_app


class StorageError(Exception):
    """The backend could not store, read or delete an object (disk full, bucket unreachable, ...)."""


class AttachmentStorage(Protocol):
    """Objects addressed by a key such as `2026/11/3f2a....png`; keys are generated, never user input."""

    name: str

    def save(self, key: str, data: bytes, content_type: str) -> None: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def download_url(self, key: str, *, content_type: str, disposition: str) -> str | None:
        """A short-lived URL the browser may fetch directly, or None to stream through the app."""
        ...


def _checked_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\\" in key:
        raise StorageError(f"Refusing an unsafe storage key: {key!r}")
    return key


class LocalStorage:
    """Files under one folder (instance/uploads by default); written to a temporary name, then renamed."""

    name = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / _checked_key(key)

    def save(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Readers never see a partly written file: the name appears only once the bytes are on disk.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"Could not write {key}: {exc}") from exc

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except OSError as exc:
            raise StorageError(f"Could not read {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"Could not delete {key}: {exc}") from exc

    def download_url(self, key: str, *, content_type: str, disposition: str) -> str | None:
        return None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage:
    """Objects in one S3 bucket (any S3-compatible endpoint), optionally under a key prefix."""

    name = "s3"

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None,
                 prefix: str = "", presign_seconds: int = 60, redirect_downloads: bool = True,
                 client=None):
        import boto3
        from botocore.config import Config

        if not bucket:
            raise StorageError("ATTACHMENT_S3_BUCKET is not set.")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.presign_seconds = presign_seconds
        self.redirect_downloads = redirect_downloads
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )

    def _key(self, key: str) -> str:
        return self.prefix + _checked_key(key)

    def save(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Could not write {key}: {exc}") from exc

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Could not read {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Could not delete {key}: {exc}") from exc

    def download_url(self, key: str, *, content_type: str, disposition: str) -> str | None:
        if not self.redirect_downloads:
            return None
        # S3 answers with the type and disposition we decided, not whatever was stored.
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket, "Key": self._key(key),
                "ResponseContentType": content_type, "ResponseContentDisposition": disposition,
            },
            ExpiresIn=self.presign_seconds,
        )

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError:
            return False
        return True


def _local_from_config(config) -> LocalStorage:
    return LocalStorage(config["UPLOAD_DIR"])


def _s3_from_config(config) -> S3Storage:
    return S3Storage(
        config.get("ATTACHMENT_S3_BUCKET") or "",
        endpoint_url=config.get("ATTACHMENT_S3_ENDPOINT_URL"),
        region=config.get("ATTACHMENT_S3_REGION"),
        prefix=config.get("ATTACHMENT_S3_PREFIX") or "",
        presign_seconds=int(config.get("ATTACHMENT_S3_PRESIGN_SECONDS") or 60),
        redirect_downloads=bool(config.get("ATTACHMENT_S3_REDIRECT", True)),
    )


BACKENDS: dict[str, Callable[[Config], AttachmentStorage]] = {"local": _local_from_config, "s3": _s3_from_config}


def storage_for_app(app: Flask | None = None) -> AttachmentStorage:
    """The backend named by ATTACHMENT_STORAGE, built once per application."""
    # current_app is typed as the Flask it stands for, not as the LocalProxy it is.
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    storage = app.extensions.get("attachment_storage")
    if storage is None:
        name = app.config.get("ATTACHMENT_STORAGE") or "local"
        if name not in BACKENDS:
            raise StorageError(f"Unknown ATTACHMENT_STORAGE {name!r}; choose one of {sorted(BACKENDS)}.")
        storage = BACKENDS[name](app.config)
        app.extensions["attachment_storage"] = storage
    return storage

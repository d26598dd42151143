"""Amazon SES through boto3's sesv2 API with the raw MIME message (endpoint configurable for moto)."""
from __future__ import annotations

import boto3
import botocore.config
import botocore.exceptions

from .base import OutgoingEmail, PermanentError, Provider, TransientError
from .message import UnsafeHeader, build_message

TRANSIENT_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException", "ServiceUnavailable",
                   "InternalFailure", "RequestTimeout", "LimitExceededException"}
CREDENTIAL_CODES = {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
                    "AccessDenied", "AccessDeniedException", "InvalidSignatureException"}


class SesProvider(Provider):
    name = "ses"

    def __init__(self, access_key_id: str | None, secret_access_key: str | None, region: str | None = "eu-west-1",
                 endpoint_url: str | None = None, timeout: float = 10.0):
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.region = region or "eu-west-1"
        self.endpoint_url = endpoint_url or None
        self.timeout = timeout
        self._client = None

    def client(self):
        if self._client is None:
            self._client = boto3.session.Session().client(
                "sesv2", region_name=self.region, endpoint_url=self.endpoint_url,
                aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key,
                config=botocore.config.Config(connect_timeout=self.timeout, read_timeout=self.timeout,
                                              retries={"max_attempts": 1}),
            )
        return self._client

    def send(self, email: OutgoingEmail) -> str:
        try:
            data = build_message(email)
        except UnsafeHeader as exc:
            raise PermanentError(str(exc)) from exc
        if not self.access_key_id or not self.secret_access_key:
            raise PermanentError("the SES access key is missing")
        try:
            response = self.client().send_email(
                FromEmailAddress=email.from_email,
                Destination={"ToAddresses": [email.to_email]},
                Content={"Raw": {"Data": data}},
            )
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400
            if code in TRANSIENT_CODES or status == 429 or status >= 500:
                raise TransientError(f"Amazon SES asked us to try again later ({code or status})") from None
            if code in CREDENTIAL_CODES:
                raise PermanentError("Amazon SES rejected the access key") from None
            message = exc.response.get("Error", {}).get("Message", "")
            raise PermanentError(f"Amazon SES refused the email ({code}): {message}"[:500]) from None
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError):
            raise TransientError("Amazon SES could not be reached") from None
        return response["MessageId"]

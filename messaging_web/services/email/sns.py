"""Amazon SNS messages, verified: how SES event notifications reach a store's webhook.

SNS signs each message with a certificate it publishes under https://sns.<region>.amazonaws.com/…pem
(SignatureVersion 1: SHA1 with RSA; 2: SHA256 with RSA) over the message's own fields in a fixed order.
A valid signature proves the message came from SNS, not from which AWS account: the topic ARN must
be the one the store configured. SNS re-sends a message with its original timestamp for as long as
its retry policy runs, so no freshness window applies; a replay changes nothing, since every status
transition is monotone.

The certificate and subscription hosts are checked against SNS_URL_PATTERN before anything is
fetched (tests point it at a local server).
"""
from __future__ import annotations

import base64
import binascii
import re
import threading
from typing import TypeGuard

import urllib3
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import current_app

SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
_certificates: dict[str, rsa.RSAPublicKey] = {}
_certificates_lock = threading.Lock()
_http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=5))


class SnsRefused(Exception):
    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


def _allowed(url: object) -> TypeGuard[str]:
    return isinstance(url, str) and re.match(current_app.config["SNS_URL_PATTERN"], url) is not None


def _get(url: str, failure: str) -> bytes:
    """GET from SNS; a failure is a 502, so that SNS sends the message again later."""
    try:
        response = _http.request("GET", url)
    except urllib3.exceptions.HTTPError:
        raise SnsRefused(failure, 502) from None
    if response.status != 200:
        raise SnsRefused(failure, 502)
    return response.data


def _public_key(url: str) -> rsa.RSAPublicKey:
    with _certificates_lock:
        if url in _certificates:
            return _certificates[url]
    pem = _get(url, "The signing certificate could not be fetched.")
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        raise SnsRefused("The signing certificate cannot be read.") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsRefused("The signing certificate cannot be read.")
    with _certificates_lock:
        if len(_certificates) > 32:
            _certificates.clear()
        _certificates[url] = key
    return key


def verified_message(message, topic_arn: str) -> dict:
    """The SNS message, once it is shown to be SNS's and from the store's topic; SnsRefused otherwise."""
    if not isinstance(message, dict) or message.get("Type") not in SIGNED_FIELDS:
        raise SnsRefused("This is not an Amazon SNS message.", 400)
    if message.get("TopicArn") != topic_arn:
        raise SnsRefused("The message is not from this store's SNS topic.")
    algorithm = HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None or not _allowed(message.get("SigningCertURL")):
        raise SnsRefused("The message is not signed by Amazon SNS.")
    fields = [
        (name, message[name]) for name in SIGNED_FIELDS[message["Type"]]
        if name in message and (name != "Subject" or message[name] is not None)
    ]
    if any(not isinstance(value, str) for _name, value in fields):
        raise SnsRefused("This is not an Amazon SNS message.", 400)
    signed = "".join(f"{name}\n{value}\n" for name, value in fields).encode()
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
        _public_key(message["SigningCertURL"]).verify(signature, signed, padding.PKCS1v15(), algorithm())
    except (InvalidSignature, binascii.Error, ValueError):
        raise SnsRefused("The signature does not match.") from None
    return message


def confirm_subscription(message: dict) -> None:
    """Visit the SubscribeURL of a verified confirmation, so that SNS starts sending notifications."""
    url = message.get("SubscribeURL")
    if not _allowed(url):
        raise SnsRefused("The subscription URL is not Amazon SNS's.")
    _get(url, "Amazon SNS could not confirm the subscription.")

"""A store's SMTP host must be reachable from the internet: the wizard is not a way into our own network
(private ranges, loopback, link-local, carrier-grade NAT with clouds' metadata address, IPv6 forms of them)."""
from __future__ import annotations

import pytest

from messaging_web.services.email.providers.base import PermanentError
from messaging_web.services.email.providers.smtp import SmtpProvider

REFUSED = {
    "loopback": "127.0.0.1",
    "10/8": "10.1.2.3",
    "172.16/12": "172.20.0.5",
    "192.168/16": "192.168.1.10",
    "link-local and cloud metadata 169.254/16": "169.254.169.254",
    "carrier-grade NAT 100.64/10": "100.64.0.1",
    "a cloud's metadata address in 100.64/10": "100.100.100.200",
    "this network 0/8": "0.0.0.0",
    "multicast": "224.0.0.1",
    "IPv6 loopback": "::1",
    "IPv6 unique local fc00::/7": "fd12:3456::1",
    "IPv6 link-local fe80::/10": "fe80::1",
    "IPv4-mapped private": "::ffff:10.0.0.1",
    "6to4 of a private address": "2002:0a00:0001::1",
    "NAT64 of the metadata address": "64:ff9b::a9fe:a9fe",
    # Other spellings of an address: the resolver reads them, and the guard judges what it resolved to.
    "loopback as one decimal number": "2130706433",
    "loopback in short form": "127.1",
    "loopback in octal": "0177.0.0.1",
    "the metadata address in hexadecimal": "0x64.0x64.0x64.0xc8",
}


@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_an_smtp_host_that_is_not_globally_reachable_is_refused(address):
    provider = SmtpProvider(address, 587, allow_internal_hosts=False)
    with pytest.raises(PermanentError, match="private or local network address"):
        provider._resolve()


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"])
def test_a_public_smtp_host_is_accepted(address):
    assert SmtpProvider(address, 587, allow_internal_hosts=False)._resolve() == address

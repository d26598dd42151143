"""Each provider against a real local server: what it sends, and how each failure is classified."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

import boto3
import pytest
from werkzeug import Response

from messaging_web.services.email.providers import (
    AmbiguousDelivery,
    OutgoingEmail,
    PermanentError,
    TransientError,
)
from messaging_web.services.email.providers.file import FileProvider
from messaging_web.services.email.providers.mailgun import MailgunProvider
from messaging_web.services.email.providers.message import (
    UnsafeHeader,
    build_message,
    check_header_text,
    normalise_address,
)
from messaging_web.services.email.providers.sendgrid import SendGridProvider
from messaging_web.services.email.providers.ses import SesProvider
from messaging_web.services.email.providers.smtp import SmtpProvider
from tests.support.mail_servers import SMTP_PASSWORD, SMTP_USER, SSH_BANNER, BannerServer

pytest_plugins = ["tests.support.fixtures"]


def email(**overrides) -> OutgoingEmail:
    values = dict(
        log_id=42, message_id="<email-log-42@messaging-web>", from_email="shop@bergmann.example",
        from_name="Café Bergmann", to_email="kunde@customer.example", to_name="Jörg Müller",
        subject="Ihre Bestellung ✓", html="<p>Hallo <b>Jörg</b></p>", text="Hallo Jörg",
        reply_to="help@bergmann.example",
    )
    values.update(overrides)
    return OutgoingEmail(**values)


def smtp(sink, **overrides) -> SmtpProvider:
    values = dict(host=sink.host, port=sink.port, username=SMTP_USER, password=SMTP_PASSWORD, use_tls=False,
                  timeout=2, allow_internal_hosts=True)
    values.update(overrides)
    return SmtpProvider(**values)


# --- headers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "Hello\r\nBcc: victim@example.com",
    "Hello\nBcc: victim@example.com",
    "Hello\0",
    "=?UTF-8?Q?Hello=0ABcc:_victim@example.com?=",
    "=?utf-8?b?SGVsbG8NCkJjYzogeA==?=",
])
def test_line_breaks_and_nul_are_refused_in_subjects_plain_or_encoded(value):
    with pytest.raises(UnsafeHeader):
        check_header_text(value, "subject")


@pytest.mark.parametrize("value", [
    "a@example.com, b@example.com", "a@example.com; b@example.com", "Name <a@example.com>",
    "=?UTF-8?Q?a=40example.com?=", "not-an-address", "a@example.com\r\nBcc: b@example.com",
])
def test_a_recipient_is_exactly_one_plain_address(value):
    with pytest.raises(UnsafeHeader):
        normalise_address(value, "recipient address")


def test_non_ascii_names_and_subjects_are_encoded_and_read_back_intact():
    raw = build_message(email())
    assert all(byte < 128 for byte in raw)
    from email import message_from_bytes, policy

    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Ihre Bestellung ✓"
    assert parsed["From"].addresses[0].display_name == "Café Bergmann"
    assert parsed["To"].addresses[0].display_name == "Jörg Müller"
    assert parsed["Message-ID"] == "<email-log-42@messaging-web>"
    assert parsed.get_body(("plain",)).get_content().strip() == "Hallo Jörg"
    assert "<b>Jörg</b>" in parsed.get_body(("html",)).get_content()


def test_building_a_message_with_an_injected_name_fails_before_anything_is_sent(tmp_path):
    with pytest.raises(PermanentError, match="line breaks"):
        FileProvider(tmp_path).send(email(to_name="=?UTF-8?Q?x=0ABcc:_evil@example.com?="))
    assert list(tmp_path.iterdir()) == []


# --- file outbox ---------------------------------------------------------------------------------

def test_file_outbox_writes_one_eml_file_per_email(tmp_path):
    name = FileProvider(tmp_path / "outbox").send(email())
    files = list((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == [name]
    assert name.endswith("-42.eml")
    assert b"Message-ID: <email-log-42@messaging-web>" in files[0].read_bytes()


def test_file_outbox_never_replaces_an_email_sent_before_with_the_same_log_id_or_none(tmp_path):
    outbox = FileProvider(tmp_path / "outbox")
    names = {outbox.send(email()) for _ in range(3)} | {outbox.send(email(log_id=None)) for _ in range(3)}
    assert len(names) == 6 and len(list((tmp_path / "outbox").iterdir())) == 6


# --- SMTP ----------------------------------------------------------------------------------------

def test_smtp_signs_in_and_delivers_to_exactly_the_recipient(smtp_sink):
    with smtp(smtp_sink) as provider:
        message_id = provider.send(email())
    assert message_id == "<email-log-42@messaging-web>"
    assert smtp_sink.logins == [(SMTP_USER, SMTP_PASSWORD)]
    assert smtp_sink.envelopes == [("shop@bergmann.example", ["kunde@customer.example"])]
    assert smtp_sink.parsed()[0]["Subject"] == "Ihre Bestellung ✓"


def test_smtp_reuses_one_connection_for_a_batch(smtp_sink):
    with smtp(smtp_sink) as provider:
        for n in range(5):
            provider.send(email(log_id=n, message_id=f"<email-log-{n}@messaging-web>"))
    assert len(smtp_sink.messages) == 5
    assert len(smtp_sink.logins) == 1


def test_wrong_smtp_password_is_a_permanent_error_in_plain_words(smtp_sink):
    with pytest.raises(PermanentError) as info:
        smtp(smtp_sink, password="wrong-password").send(email())
    assert info.value.message == "the SMTP server rejected the username or password"
    assert "wrong-password" not in info.value.message


def test_server_refusing_auth_is_a_permanent_error(smtp_sink):
    smtp_sink.fault = "refuse-auth"
    with pytest.raises(PermanentError, match="rejected the username or password"):
        smtp(smtp_sink).send(email())


def test_smtp_421_is_transient(smtp_sink):
    smtp_sink.fault = "421-mail"
    with pytest.raises(TransientError, match="421"):
        smtp(smtp_sink).send(email())
    assert smtp_sink.messages == []


def test_smtp_451_for_the_recipient_is_transient_and_the_connection_stays_usable(smtp_sink):
    smtp_sink.fault = "451-rcpt"
    with smtp(smtp_sink) as provider:
        with pytest.raises(TransientError, match="451"):
            provider.send(email())
        smtp_sink.fault = None
        provider.send(email())
    assert len(smtp_sink.messages) == 1
    assert len(smtp_sink.logins) == 1


def test_smtp_550_recipient_refused_is_permanent(smtp_sink):
    smtp_sink.fault = "550-rcpt"
    with pytest.raises(PermanentError, match="refused the recipient kunde@customer.example \\(550\\)"):
        smtp(smtp_sink).send(email())


def test_smtp_451_after_data_is_transient(smtp_sink):
    smtp_sink.fault = "451-data"
    with pytest.raises(TransientError, match="refused the message \\(451\\)"):
        smtp(smtp_sink).send(email())


def test_connection_dropped_before_data_is_transient(smtp_sink):
    smtp_sink.fault = "drop-rcpt"
    with pytest.raises(TransientError, match="lost before the message was sent"):
        smtp(smtp_sink).send(email())


def test_connection_dropped_after_the_whole_message_went_out_is_ambiguous(smtp_sink):
    smtp_sink.fault = "drop-after-data"
    with pytest.raises(AmbiguousDelivery, match="may have been delivered"):
        smtp(smtp_sink).send(email())


def could_not_connect(port: int) -> str:
    return f"could not connect to 127.0.0.1 on port {port}; check the host, the port and the security setting"


def test_server_that_never_answers_is_transient_and_the_message_says_only_that_it_could_not_connect(silent_server):
    provider = SmtpProvider(silent_server.host, silent_server.port, use_tls=False, timeout=0.5,
                            allow_internal_hosts=True)
    with pytest.raises(TransientError) as info:
        provider.send(email())
    assert info.value.message == could_not_connect(silent_server.port)


def test_refused_connection_is_transient_with_the_same_message(closed_port):
    with pytest.raises(TransientError) as info:
        SmtpProvider("127.0.0.1", closed_port, use_tls=False, timeout=1, allow_internal_hosts=True).send(email())
    assert info.value.message == could_not_connect(closed_port)


@pytest.mark.parametrize("banner", [SSH_BANNER, b"554 mx7.internal.example ESMTP Postfix 3.4.1 go away\r\n"])
def test_whatever_the_far_end_says_is_logged_for_us_and_never_repeated(banner, caplog):
    server = BannerServer(banner)
    try:
        with pytest.raises(TransientError) as info:
            SmtpProvider("127.0.0.1", server.port, use_tls=False, timeout=1, allow_internal_hosts=True).send(email())
    finally:
        server.stop()
    assert info.value.message == could_not_connect(server.port)
    words = banner.split()[1].decode()
    assert words not in info.value.message and words in caplog.text


def test_a_tls_mismatch_is_permanent_with_the_same_message(smtp_sink):
    with pytest.raises(PermanentError) as info:
        smtp(smtp_sink, use_ssl=True).send(email())
    assert info.value.message == could_not_connect(smtp_sink.port)


def test_store_smtp_host_on_a_private_network_is_refused_outside_development(smtp_sink):
    with pytest.raises(PermanentError) as info:
        smtp(smtp_sink, allow_internal_hosts=False).send(email())
    assert "private or local network address" in info.value.message
    assert smtp_sink.logins == []


def test_starttls_required_but_not_offered_says_so(smtp_sink):
    with pytest.raises(PermanentError, match="does not offer STARTTLS"):
        smtp(smtp_sink, use_tls=True).send(email())


def test_smtp_debug_output_never_carries_the_password(smtp_sink, capsys, caplog):
    caplog.set_level("DEBUG")
    smtp(smtp_sink).send(email())
    captured = capsys.readouterr()
    assert SMTP_PASSWORD not in captured.out + captured.err + caplog.text
    assert base64.b64encode(SMTP_PASSWORD.encode()).decode() not in captured.out + captured.err + caplog.text


# --- SendGrid ------------------------------------------------------------------------------------

def test_sendgrid_posts_the_v3_mail_send_request(httpserver):
    seen = {}

    def handler(request):
        seen["auth"] = request.headers.get("Authorization")
        seen["body"] = json.loads(request.data)
        return Response(status=202, headers={"X-Message-Id": "sg-abc123"})

    httpserver.expect_oneshot_request("/v3/mail/send", method="POST").respond_with_handler(handler)
    message_id = SendGridProvider("SG.key-1234", httpserver.url_for("")).send(email())
    assert message_id == "sg-abc123"
    assert seen["auth"] == "Bearer SG.key-1234"
    body = seen["body"]
    assert body["personalizations"] == [{"to": [{"email": "kunde@customer.example", "name": "Jörg Müller"}]}]
    assert body["from"] == {"email": "shop@bergmann.example", "name": "Café Bergmann"}
    assert body["reply_to"] == {"email": "help@bergmann.example"}
    assert body["subject"] == "Ihre Bestellung ✓"
    assert body["content"] == [{"type": "text/plain", "value": "Hallo Jörg"},
                               {"type": "text/html", "value": "<p>Hallo <b>Jörg</b></p>"}]
    assert body["custom_args"] == {"email_log_id": "42"}


@pytest.mark.parametrize("status, error, words", [
    (401, PermanentError, "rejected the API key"),
    (400, PermanentError, "refused the email (400)"),
    (429, TransientError, "rate limiting"),
    (500, TransientError, "server error (500)"),
])
def test_sendgrid_status_codes_are_classified(httpserver, status, error, words):
    httpserver.expect_oneshot_request("/v3/mail/send").respond_with_data('{"errors":[{"message":"x"}]}', status=status)
    with pytest.raises(error) as info:
        SendGridProvider("SG.key", httpserver.url_for("")).send(email())
    assert words in info.value.message


# --- Mailgun -------------------------------------------------------------------------------------

def test_mailgun_posts_the_messages_request_with_basic_auth(httpserver):
    seen = {}

    def handler(request):
        seen["auth"] = request.headers.get("Authorization")
        seen["form"] = parse_qs(request.get_data(as_text=True))
        seen["type"] = request.headers.get("Content-Type")
        return Response(json.dumps({"id": "<20261125.1@mg.bergmann.example>", "message": "Queued. Thank you."}),
                        status=200, content_type="application/json")

    httpserver.expect_oneshot_request("/v3/mg.bergmann.example/messages", method="POST").respond_with_handler(handler)
    base = httpserver.url_for("")
    provider = MailgunProvider("key-mg-5678", "mg.bergmann.example", "eu", {"us": "http://unused.invalid", "eu": base})
    assert provider.send(email()) == "<20261125.1@mg.bergmann.example>"
    assert seen["auth"] == "Basic " + base64.b64encode(b"api:key-mg-5678").decode()
    assert seen["type"].startswith("application/x-www-form-urlencoded")
    form = {k: v[0] for k, v in seen["form"].items()}
    assert form["to"] == "Jörg Müller <kunde@customer.example>"
    assert form["subject"] == "Ihre Bestellung ✓"
    assert form["text"] == "Hallo Jörg" and form["html"] == "<p>Hallo <b>Jörg</b></p>"
    assert form["h:Reply-To"] == "help@bergmann.example"
    assert form["v:email_log_id"] == "42"


def test_mailgun_us_region_uses_the_us_base_url(httpserver):
    httpserver.expect_oneshot_request("/v3/mg.example.com/messages").respond_with_json({"id": "<us@mg>"})
    provider = MailgunProvider("k", "mg.example.com", "us", {"us": httpserver.url_for(""), "eu": "http://unused.invalid"})
    assert provider.send(email()) == "<us@mg>"


@pytest.mark.parametrize("status, error", [(401, PermanentError), (429, TransientError), (500, TransientError),
                                           (400, PermanentError)])
def test_mailgun_status_codes_are_classified(httpserver, status, error):
    httpserver.expect_oneshot_request("/v3/mg.example.com/messages").respond_with_data("nope", status=status)
    with pytest.raises(error):
        MailgunProvider("k", "mg.example.com", "us", {"us": httpserver.url_for(""), "eu": ""}).send(email())


def test_api_provider_that_cannot_be_reached_is_transient(closed_port):
    with pytest.raises(TransientError, match="could not be reached"):
        SendGridProvider("SG.key", f"http://127.0.0.1:{closed_port}").send(email())


# --- SES -----------------------------------------------------------------------------------------

def test_ses_sends_the_raw_message_through_sesv2(moto_server):
    ses = boto3.client("ses", region_name="eu-west-1", endpoint_url=moto_server,
                       aws_access_key_id="AKIATEST", aws_secret_access_key="secret")
    ses.verify_email_identity(EmailAddress="shop@bergmann.example")
    provider = SesProvider("AKIATEST", "secret", "eu-west-1", moto_server)
    message_id = provider.send(email())
    assert message_id
    stats = ses.get_send_quota()
    assert stats["SentLast24Hours"] >= 1


def test_ses_refuses_an_unverified_sender_permanently(moto_server):
    provider = SesProvider("AKIATEST", "secret", "eu-west-1", moto_server)
    with pytest.raises(PermanentError, match="Amazon SES refused the email"):
        provider.send(email(from_email="nobody@unverified.example"))


def test_ses_that_cannot_be_reached_is_transient(closed_port):
    provider = SesProvider("AKIATEST", "secret", "eu-west-1", f"http://127.0.0.1:{closed_port}", timeout=1)
    with pytest.raises(TransientError, match="could not be reached"):
        provider.send(email())

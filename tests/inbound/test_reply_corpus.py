"""The reply corpus (tests/data/replies/): replies shaped like real mail clients' (Gmail, Outlook, Apple Mail,
Thunderbird, mobile clients; en, fr, de; top-posted and inline; HTML only; signatures, forwards, attachments;
non-UTF-8 charsets), each with the text we expect to post. Every case must give exactly its text, except the
known cases below, which are kept (and must still differ: when one starts to pass, move it out of the list)."""
from __future__ import annotations

from pathlib import Path

import pytest

from messaging_web.services.inbound.parsing import parse_email, reply_text

CORPUS = Path(__file__).resolve().parents[1] / "data" / "replies"
CASES = sorted(CORPUS.glob("*.eml"))

# The library takes a closing greeting and name for a signature and leaves them out.
KNOWN = {
    "17-multi-paragraph": "the sign-off 'Thanks,\\nAna' is stripped as a signature",
    "32-de-mfg-signature": "'Mit freundlichen Grüßen\\nHans Müller' is stripped as a signature",
}


def expected(case: Path) -> str:
    return case.with_name(case.name.removesuffix(".eml") + ".expected.txt").read_text(encoding="utf-8").strip()


def posted_text(case: Path) -> str:
    return reply_text(parse_email(case.read_bytes(), max_parts=100).text)


def test_the_corpus_has_at_least_thirty_cases_in_three_languages():
    assert len(CASES) >= 30
    assert len(KNOWN) <= 3


@pytest.mark.parametrize("case", CASES, ids=lambda path: path.stem)
def test_each_reply_posts_the_text_a_person_wrote(case):
    if case.stem in KNOWN:
        assert posted_text(case) != expected(case), f"{case.stem} passes now: remove it from KNOWN"
        return
    assert posted_text(case) == expected(case)


def test_attachments_of_the_corpus_are_found_and_not_in_the_text():
    files = {case.stem: [f.filename for f in parse_email(case.read_bytes(), max_parts=100).files] for case in CASES}
    assert files["25-png-attachment"] == ["box.png"] and files["26-pdf-attachment"] == ["facture.pdf"]
    assert sum(1 for names in files.values() if names) == 2


def test_encoded_and_eight_bit_headers_and_file_names_are_read_decoded():
    raw = (
        "From: =?utf-8?q?Chlo=C3=A9_Martin?= <chloe@shop.test>\r\n"
        "To: reply+1-abc@reply.platform.test\r\n"
        "Subject: Re: Robe bleue — taille 38\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMerci, c'est parfait.\r\n"
        "--b\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="=?utf-8?q?facture_no=C3=ABl.pdf?="\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
        "--b\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename*=utf-8''re%C3%A7u.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    ).encode()
    parsed = parse_email(raw, max_parts=10)
    assert (parsed.from_name, parsed.from_email) == ("Chloé Martin", "chloe@shop.test")
    assert parsed.subject == "Re: Robe bleue — taille 38"
    assert [f.filename for f in parsed.files] == ["facture noël.pdf", "reçu.pdf"]
    assert parsed.recipients == ["reply+1-abc@reply.platform.test"]

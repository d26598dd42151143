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

"""The portals' catalogs: every text of the code and pages is in French and German, and the catalogs are not
behind the sources (`make translations` brings them up to date)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "messaging_web" / "translations"
TRANSLATED_LANGUAGES = ("fr", "de")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def _catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


@pytest.fixture(scope="module")
def source_texts(tmp_path_factory) -> set[str]:
    """Every text marked for translation in the code and the pages, as `make translations` extracts them."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_", "-k", "_l", "-k", "lazy_gettext", "-k", "lazy_ngettext:1,2", "-k", "ngettext:1,2",
         "--no-location", "--omit-header", "-o", str(pot), "messaging_web"],
        cwd=ROOT, check=True, capture_output=True,
    )
    with open(pot, "rb") as file:
        return {message.id if isinstance(message.id, str) else message.id[0] for message in read_po(file) if message.id}


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_catalog_holds_every_text_of_the_sources_and_no_other(language, source_texts):
    catalog = _catalog(language)
    in_catalog = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    missing, stale = sorted(source_texts - in_catalog), sorted(in_catalog - source_texts)
    assert not missing and not stale, (
        f"the {language} catalog is behind the sources: run `make translations` and translate the new texts.\n"
        f"missing: {missing[:20]}\nno longer in the sources: {stale[:20]}"
    )


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_every_text_is_translated_with_the_same_placeholders(language):
    untranslated, fuzzy, mismatched = [], [], []
    for message in _catalog(language):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if not all(strings):
            untranslated.append(ids[0])
        elif message.fuzzy:
            fuzzy.append(ids[0])
        else:
            wanted = set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0]))
            if any(set(PLACEHOLDER.findall(text)) - wanted for text in strings):
                mismatched.append(ids[0])
    assert not untranslated, f"{len(untranslated)} texts have no {language} translation: {untranslated[:20]}"
    assert not fuzzy, f"{len(fuzzy)} {language} translations are marked fuzzy (check them): {fuzzy[:20]}"
    assert not mismatched, f"{language} translations with placeholders the text has not: {mismatched[:20]}"

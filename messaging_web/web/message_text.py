"""Message text to safe HTML: everything escaped, http(s) links made clickable, line breaks kept."""
from __future__ import annotations

import re

from markupsafe import Markup, escape

# A link runs to the next space or quote/angle bracket; trailing punctuation belongs to the sentence.
URL = re.compile(r"""https?://[^\s<>"'`]+""", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""


def message_html(text: str | None) -> Markup:
    """Escape the text, turn http(s) URLs into links that open safely, keep the writer's line breaks."""
    text = text or ""
    parts: list[str] = []
    position = 0
    for match in URL.finditer(text):
        url = match.group(0)
        while url and url[-1] in TRAILING:
            url = url[:-1]
        if len(url) <= len("https://"):
            continue
        start, end = match.start(), match.start() + len(url)
        parts.append(str(escape(text[position:start])))
        parts.append(
            f'<a href="{escape(url)}" rel="noopener noreferrer nofollow ugc" target="_blank">{escape(url)}</a>'
        )
        position = end
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts).replace("\n", "<br>\n"))

"""Message text to safe HTML: everything escaped, http(s) links made clickable, line breaks kept; and system
lines ("Conversation closed by ...") in the viewer's language."""
from __future__ import annotations

import re

from markupsafe import Markup, escape

from ..i18n import _, _l

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


# Who did it, as a system line names their side (Message.system_text["side"] is the actor's kind).
SYSTEM_SIDES = {"admin": _l("the platform team"), "store": _l("the store team"), "customer": _l("the customer")}


def system_line(system_text: dict | None, content: str | None) -> str:
    """A system message in the viewer's language, from its `system_text` (services/conversations/actions.py);
    the stored English `content` for a line without one, or with a key this code does not know."""
    if not isinstance(system_text, dict):
        return content or ""
    key, name, side = system_text.get("key"), str(system_text.get("name") or ""), system_text.get("side")
    if side not in SYSTEM_SIDES:
        return content or ""
    side_label = str(SYSTEM_SIDES[side])
    if key == "closed":
        return _("Conversation closed by %(name)s (%(side)s).", name=name, side=side_label)
    if key == "reopened":
        return _("Conversation reopened by %(name)s (%(side)s).", name=name, side=side_label)
    if key == "reopened_by_message":
        return _("Conversation reopened by a new message from %(name)s (%(side)s).", name=name, side=side_label)
    return content or ""

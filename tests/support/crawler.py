"""A crawler for the portals: signs in to the demo data, follows a portal's links and HTMX URLs, and
collects the forms it is shown, so that tests can send every page and form something it must survive."""
from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import Store
from messaging_web.services import demo
from messaging_web.services.email import email_settings

PAGES_PER_PORTAL = 60
# Pages of one shape (conversation 3, conversation 4) are visited this many times: the rest are alike.
PAGES_PER_SHAPE = 2
SKIPPED = ("/logout", "/static/", "/t/")
# Numbers no id column holds: PostgreSQL's INTEGER ends below 2**31, SQLite's below 2**63; and 400 digits.
HUGE_NUMBERS = [str(2**31), str(2**63), str(2**64), "-" + str(2**63), "9" * 400]
# The inbox's keyset cursor (<moment>_<thread id>) with such ids, and moments at the ends of what a datetime
# holds (as the cursor's moment and as a thread poll's deleted_since).
HUGE_CURSORS = [
    *(f"2026-01-01T00:00:00+00:00_{number}" for number in HUGE_NUMBERS),
    "9999-12-31T23:59:59-23:59_1", "0001-01-01T00:00:00+23:59_1", "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
]


INBOUND_DOMAIN = "reply.crawl.test"


def seed_demo_data(app) -> None:
    """The demo data, with a sender saved for Café Bergmann so that every step of its wizard opens, and reply
    by email on (until the test ends) with an emailed reply of Bergmann's held, so its list has a row."""
    app.config["INBOUND_EMAIL_DOMAIN"] = INBOUND_DOMAIN
    with app.app_context():
        demo.seed_demo()
        bergmann = db.session.scalar(sa.select(Store).where(Store.slug == "bergmann"))
        email_settings.save_sender(bergmann, "shop@bergmann.example", "Café Bergmann", None)
        db.session.commit()
        _hold_a_reply(bergmann)
        db.session.commit()


def reply_by_email_off(app) -> None:
    app.config["INBOUND_EMAIL_DOMAIN"] = ""


def _hold_a_reply(store: Store) -> None:
    from email.message import EmailMessage

    from messaging_web.models import Conversation, ConversationParticipant, ParticipantType
    from messaging_web.services.inbound.addresses import reply_address
    from messaging_web.services.inbound.receiving import receive

    reader = db.session.scalars(
        sa.select(ConversationParticipant).join(Conversation, Conversation.id == ConversationParticipant.conversation_id)
        .where(Conversation.store_id == store.id, ConversationParticipant.participant_type == ParticipantType.CUSTOMER)
        .limit(1)
    ).one()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "someone@elsewhere.test", reply_address(reader.id), "Re: hi"
    message.set_content("A reply from an address the thread does not know.")
    receive(message.as_bytes(), source="smtp")


def signed_in_client(app, login_path: str, email: str):
    """A client of its own, signed in to a demo account through the login form."""
    client = app.test_client()
    token = csrf_from(client.get(login_path).get_data(as_text=True))
    response = client.post(login_path, data={"email": email, "password": demo.DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


@dataclass
class Form:
    method: str
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)


class PageLinks(HTMLParser):
    """The URLs and forms of one HTML page (or HTMX fragment)."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.urls: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        for attr in ("href", "hx-get", "src", "sse-connect"):
            if a.get(attr):
                self.urls.append(a[attr])
        if tag == "form":
            self._form = Form((a.get("method") or "get").lower(), a.get("action") or self.page_url)
            self.forms.append(self._form)
            if a.get("hx-post"):
                # Posted by HTMX (a live preview, a composer): the same fields, to that URL as well.
                self.forms.append(Form("post", a["hx-post"], self._form.fields))
        elif self._form is not None and tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind != "file":
                self._form.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif self._form is not None and tag == "select" and a.get("name"):
            self._select = a["name"]
        elif self._form is not None and tag == "option" and self._select:
            self._form.fields.append((self._select, a.get("value", "")))
            self._select = None
        elif self._form is not None and tag == "textarea" and a.get("name"):
            self._textarea = (a["name"], [])
        elif self._form is not None and tag == "button" and a.get("name"):
            self._form.fields.append((a["name"], a.get("value", "")))
        elif tag != "form" and self._form is None and a.get("hx-post"):
            # A button that posts by itself (mark as read, resend): an empty form of its own.
            self.forms.append(Form("post", a["hx-post"]))

    def handle_data(self, data):
        if self._textarea:
            self._textarea[1].append(data)

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea and self._form is not None:
            self._form.fields.append((self._textarea[0], "".join(self._textarea[1])))
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._form = None


def in_portal(url: str, prefix: str) -> bool:
    path = urlsplit(url).path
    return path.startswith(prefix) and not any(s in path for s in SKIPPED)


def shape(app, url: str, method: str = "get") -> str:
    """The view a URL reaches and the arguments it names: conversation 3 and conversation 4 are alike."""
    parts = urlsplit(url)
    try:
        endpoint, _ = app.url_map.bind("localhost").match(parts.path, method=method.upper())
    except Exception:
        endpoint = parts.path
    return endpoint + "?" + ",".join(sorted(n for n, _ in parse_qsl(parts.query)))


def with_huge_ids(url: str) -> list[str]:
    """The URL with each number in its path in turn replaced by each of HUGE_NUMBERS (unsigned: a path's
    ids have no sign), the query kept."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    variants = []
    for i, segment in enumerate(segments):
        if segment.isdigit():
            for number in HUGE_NUMBERS:
                path = "/".join([*segments[:i], number.lstrip("-"), *segments[i + 1:]])
                variants.append(path + (f"?{parts.query}" if parts.query else ""))
    return variants


def crawl(client, starts: list[str], prefix: str) -> tuple[list[str], list[Form]]:
    """The portal's pages reachable from `starts` (each answered without a server error) and their forms."""
    app = client.application
    seen, forms, queue, pages = set(starts), {}, deque(starts), []
    shapes = Counter(shape(app, url) for url in starts)
    while queue and len(pages) < PAGES_PER_PORTAL:
        url = queue.popleft()
        response = client.get(url, headers={"HX-Request": "true"} if "page=" in url else {})
        body = read_to_the_end(response).get_data()
        assert response.status_code < 500, f"GET {url} -> {response.status_code}"
        pages.append(url)
        if "html" not in (response.content_type or ""):
            continue
        parser = PageLinks(urlsplit(url).path)
        parser.feed(body.decode())
        for link in parser.urls:
            link = link.split("#")[0]
            if link and in_portal(link, prefix) and link not in seen and shapes[shape(app, link)] < PAGES_PER_SHAPE:
                seen.add(link)
                shapes[shape(app, link)] += 1
                queue.append(link)
        for form in parser.forms:
            if in_portal(form.action, prefix):
                forms.setdefault((form.method, shape(app, form.action, form.method), tuple(n for n, _ in form.fields)), form)
    return pages, list(forms.values())


def csrf_of(form: Form) -> str:
    return next((v for n, v in form.fields if n == "csrf_token"), "")


def send(client, method: str, url: str, fields: list[tuple[str, str]], raw: dict[str, str] | None = None):
    """Fields urlencoded, with `raw` values put in as they are (already percent-encoded)."""
    body = urlencode(fields)
    if raw:
        body = "&".join([body, *(f"{quote(n)}={v}" for n, v in raw.items())]).strip("&")
    headers = {"HX-Request": "true"}
    if method == "get":
        base = url.split("?")[0]
        response = client.get(f"{base}?{body}", headers=headers)
    else:
        response = client.post(url, data=body, content_type="application/x-www-form-urlencoded", headers=headers)
    return read_to_the_end(response)


def read_to_the_end(response):
    """The response read and closed: a live stream's generator ends inside its own request context."""
    response.get_data()
    response.close()
    return response


def csrf_from(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

"""Which language and time zone a page is shown in: the account's choice, else (customers) the store's
language, else the browser's, else English; the switcher, the profile page and the time-zone offer."""
from __future__ import annotations

import re

import pytest

from messaging_web.extensions import db
from messaging_web.models import Customer, User
from tests.conftest import csrf_token

pytestmark = pytest.mark.usefixtures("shipped")

HTML_LANG = re.compile(r'<html lang="(\w+)">')


def page_language(response) -> str:
    return HTML_LANG.search(response.get_data(as_text=True)).group(1)


def test_a_visitor_reads_the_sign_in_page_in_the_browsers_language(client, factory):
    store = factory.store()
    page = client.get(f"/store/{store.slug}/login", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert page_language(page) == "de"
    assert "Abmelden" not in page.get_data(as_text=True)  # not signed in: no sign-out button
    assert page_language(client.get(f"/store/{store.slug}/login", headers={"Accept-Language": "es"})) == "en"


def test_a_customer_who_chose_nothing_reads_the_stores_language(client, factory, signed_in):
    store = factory.store(language="fr")
    signed_in(factory.customer(store))
    page = client.get(f"/inbox/{store.slug}/", headers={"Accept-Language": "de"}, follow_redirects=True)
    assert page_language(page) == "fr"
    assert "Se déconnecter" in page.get_data(as_text=True)


def test_a_store_user_who_chose_nothing_reads_the_browsers_language(client, factory, signed_in):
    store = factory.store(language="fr")
    signed_in(factory.store_user(store))
    page = client.get(f"/store/{store.slug}/", headers={"Accept-Language": "de"})
    assert page_language(page) == "de"
    assert "Abmelden" in page.get_data(as_text=True)


def test_the_switcher_saves_the_choice_on_the_account_and_it_wins_over_store_and_browser(app, client, factory, signed_in):
    store = factory.store(language="fr")
    customer = factory.customer(store)
    signed_in(customer)
    home = f"/inbox/{store.slug}/"
    token = csrf_token(client, home)
    answer = client.post("/account/language", data={"language": "de", "next": home, "csrf_token": token})
    assert answer.status_code == 302 and answer.headers["Location"] == home
    assert page_language(client.get(home, headers={"Accept-Language": "en"}, follow_redirects=True)) == "de"
    with app.app_context():
        saved = db.session.get(Customer, customer.id)
        assert saved.preferred_language == "de" and saved.language_saved_at is not None


def test_the_switcher_before_sign_in_is_kept_for_the_visit(client, factory):
    store = factory.store()
    login = f"/store/{store.slug}/login"
    token = csrf_token(client, login)
    client.post("/account/language", data={"language": "fr", "next": login, "csrf_token": token})
    assert page_language(client.get(login)) == "fr"


def test_the_switcher_refuses_an_unknown_language_and_another_host(client, factory):
    store = factory.store()
    login = f"/store/{store.slug}/login"
    token = csrf_token(client, login)
    answer = client.post("/account/language", data={"language": "xx", "next": "//evil.test/", "csrf_token": token})
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert page_language(client.get(login)) == "en"


def test_the_profile_page_saves_language_and_time_zone(app, client, factory, signed_in):
    store = factory.store()
    user = factory.store_user(store)
    signed_in(user)
    page = client.get("/account/profile")
    assert page.status_code == 200 and 'value="Europe/Paris"' in page.get_data(as_text=True)
    token = csrf_token(client, "/account/profile")
    answer = client.post("/account/profile", data={"language": "fr", "timezone": "Europe/Paris", "csrf_token": token})
    assert answer.status_code == 302
    with app.app_context():
        saved = db.session.get(User, user.id)
        assert (saved.preferred_language, saved.timezone) == ("fr", "Europe/Paris")
        assert saved.timezone_saved_at is not None
    assert "Votre profil est enregistré." in client.get("/account/profile").get_data(as_text=True)


def test_the_profile_page_refuses_an_unknown_zone_with_a_clear_error(client, factory, signed_in):
    store = factory.store()
    signed_in(factory.store_user(store))
    token = csrf_token(client, "/account/profile")
    answer = client.post("/account/profile", data={"language": "en", "timezone": "Mars/Olympus", "csrf_token": token})
    assert answer.status_code == 422
    assert "Choose a time zone from the list." in answer.get_data(as_text=True)


def test_the_browsers_zone_is_offered_until_a_zone_is_chosen(app, client, factory, signed_in):
    store = factory.store()
    signed_in(factory.store_user(store))
    home = f"/store/{store.slug}/"
    assert "data-zone-offer" in client.get(home).get_data(as_text=True)
    token = csrf_token(client, home)
    answer = client.post("/account/timezone", data={"timezone": "America/New_York", "next": home, "csrf_token": token})
    assert answer.status_code == 302
    page = client.get(home).get_data(as_text=True)
    assert "data-zone-offer" not in page and "America/New_York" in page  # the flash says so


def test_a_saved_language_shows_the_pages_in_it(app, client, factory, signed_in):
    store = factory.store()
    customer = factory.customer(store)
    with app.app_context():
        account = db.session.get(Customer, customer.id)
        account.preferred_language, account.timezone = "de", "Europe/Berlin"
        account.language_saved_at = account.timezone_saved_at = account.created_at
        db.session.commit()
    signed_in(customer)
    page = client.get("/account/profile").get_data(as_text=True)
    assert page_language_of(page) == "de" and "Ihr Profil" in page


def page_language_of(html: str) -> str:
    return HTML_LANG.search(html).group(1)

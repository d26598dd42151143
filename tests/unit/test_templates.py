"""Template resolution (store override -> platform, language fallback), rendering, validation on save,
and the shipped default set."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from messaging_web.extensions import db
from messaging_web.models import EmailTemplate, Store, StoreEmailTemplate
from messaging_web.services import template_catalog, templates
from messaging_web.services.errors import NotFound, ValidationError
from messaging_web.services.sandbox import rendering
from messaging_web.services.templates import TemplateRenderError, TemplateSource, render_email, resolve_template


def _platform(code="order_shipped", language="en", **values):
    data = dict(
        code=code, language=language, name="Order shipped", description=None, category="orders",
        subject=f"[{language}] Order {{{{ order_number }}}}", body_html=f"<p>{language} platform {{{{ customer_name }}}}</p>",
        body_text=None, variables=["customer_name", "order_number"], required_variables=["order_number"],
    )
    data.update(values)
    template = templates.create_platform_template(templates.PlatformTemplateInput(**data))
    db.session.flush()
    return template


def _store(language="de"):
    store = Store(name="Café Bergmann", slug=f"bergmann-{language}", default_language=language)
    db.session.add(store)
    db.session.flush()
    return store


def _override(store, template, **values):
    data = dict(subject=f"[{template.language}] Store order {{{{ order_number }}}}",
                body_html=f"<p>{template.language} store {{{{ customer_name }}}}</p>", body_text=None)
    data.update(values)
    return templates.save_store_override(store.id, template, templates.OverrideInput(**data))


# --- resolution, step by step ---------------------------------------------------------------------


def test_platform_template_in_the_requested_language(ctx):
    _platform(language="en")
    fr = _platform(language="fr")
    resolved = resolve_template("order_shipped", language="fr")
    assert (resolved.source, resolved.language, resolved.template_id) == ("platform", "fr", fr.id)
    assert resolved.cache_key == ("platform", fr.id, fr.updated_at)


def test_store_override_wins_over_platform_in_the_same_language(ctx):
    store = _store()
    fr = _platform(language="fr")
    override = _override(store, fr)
    resolved = resolve_template("order_shipped", store_id=store.id, language="fr")
    assert (resolved.source, resolved.language) == ("store", "fr")
    assert resolved.store_template_id == override.id and resolved.template_id == fr.id
    assert resolved.subject.startswith("[fr] Store order")


def test_requested_language_platform_wins_over_override_in_the_store_language(ctx):
    store = _store(language="de")
    _platform(language="fr")
    de = _platform(language="de")
    _override(store, de)
    resolved = resolve_template("order_shipped", store_id=store.id, language="fr")
    assert (resolved.source, resolved.language) == ("platform", "fr")


def test_falls_back_to_the_store_default_language(ctx):
    store = _store(language="de")
    _platform(language="en")
    _platform(language="de")
    resolved = resolve_template("order_shipped", store_id=store.id, language="it")
    assert (resolved.source, resolved.language) == ("platform", "de")


def test_store_override_falls_back_to_the_store_default_language(ctx):
    store = _store(language="de")
    _platform(language="en")
    de = _platform(language="de")
    _override(store, de)
    resolved = resolve_template("order_shipped", store_id=store.id, language="it")
    assert (resolved.source, resolved.language) == ("store", "de")


def test_falls_back_to_english_last(ctx):
    store = _store(language="de")
    en = _platform(language="en")
    resolved = resolve_template("order_shipped", store_id=store.id, language="it")
    assert (resolved.source, resolved.language, resolved.template_id) == ("platform", "en", en.id)


def test_store_override_falls_back_to_platform_language(ctx):
    """An English override is used for an Italian request at a German store without German text."""
    store = _store(language="de")
    en = _platform(language="en")
    _override(store, en)
    resolved = resolve_template("order_shipped", store_id=store.id, language="it")
    assert (resolved.source, resolved.language) == ("store", "en")


def test_inactive_override_is_skipped(ctx):
    store = _store(language="en")
    en = _platform(language="en")
    _override(store, en, is_active=False) if False else _override(store, en)
    db.session.execute(sa.update(StoreEmailTemplate).values(is_active=False))
    resolved = resolve_template("order_shipped", store_id=store.id, language="en")
    assert resolved.source == "platform"


def test_inactive_platform_template_is_skipped(ctx):
    _platform(language="en")
    fr = _platform(language="fr")
    templates.set_platform_template_active(fr, False)
    assert resolve_template("order_shipped", language="fr").language == "en"


def test_platform_only_template_ignores_store_overrides(ctx):
    store = _store(language="en")
    en = _platform(language="en")
    _override(store, en)
    en.is_platform_only = True
    db.session.flush()
    assert resolve_template("order_shipped", store_id=store.id, language="en").source == "platform"


def test_another_stores_override_is_never_used(ctx):
    store, other = _store(language="en"), _store(language="fr")
    en = _platform(language="en")
    _override(other, en)
    assert resolve_template("order_shipped", store_id=store.id, language="en").source == "platform"


def test_a_code_that_resolves_to_nothing_is_a_clear_error(ctx):
    _platform(language="en")
    with pytest.raises(NotFound, match="No active email template 'no_such_code'"):
        resolve_template("no_such_code", language="fr")
    templates.set_platform_template_active(db.session.scalar(sa.select(EmailTemplate)), False)
    with pytest.raises(NotFound, match="order_shipped"):
        resolve_template("order_shipped")


# --- rendering ------------------------------------------------------------------------------------


def test_render_escapes_html_but_not_subject_or_text(ctx):
    _platform(
        subject="Order {{ order_number }} for {{ customer_name }}",
        body_html="<style>p { color: red; }</style><p>Hello {{ customer_name }}</p>",
        body_text="Hello {{ customer_name }}",
    )
    email = render_email(resolve_template("order_shipped"), {"order_number": "A-1", "customer_name": "Tom & <Jerry>"})
    assert email.subject == "Order A-1 for Tom & <Jerry>"
    assert "Hello Tom &amp; &lt;Jerry&gt;" in email.html
    assert email.text == "Hello Tom & <Jerry>"


def test_render_inlines_css_for_mail_clients(ctx):
    _platform(body_html="<html><head><style>p { color: red; }</style></head><body><p>Hi</p></body></html>")
    email = render_email(resolve_template("order_shipped"), {"order_number": "A-1"})
    assert '<p style="color: red;">Hi</p>' in email.html and "<style>" not in email.html


def test_text_body_is_derived_from_the_html_when_empty(ctx):
    _platform(body_html='<h1>Shipped</h1><p>Track it <a href="https://t.example/1">here</a>.</p><ul><li>Boots</li></ul>')
    email = render_email(resolve_template("order_shipped"), {"order_number": "A-1"})
    assert "# Shipped" in email.text and "[here](https://t.example/1)" in email.text and "* Boots" in email.text
    assert "<" not in email.text


def test_missing_required_variables_are_refused_before_rendering_naming_them(ctx):
    _platform(required_variables=["order_number", "customer_name"])
    with pytest.raises(TemplateRenderError, match="Missing required variables: order_number, customer_name") as err:
        render_email(resolve_template("order_shipped"), {"order_number": None})
    assert err.value.missing_variables == ["order_number", "customer_name"]
    assert isinstance(err.value, ValidationError)


def test_orm_objects_never_reach_the_sandbox(ctx):
    store = _store()
    _platform()
    with pytest.raises(TypeError, match="plain data.*context.store is a Store"):
        render_email(resolve_template("order_shipped"), {"order_number": "A-1", "store": store})


def test_dates_and_nested_plain_data_render(ctx):
    _platform(subject="Hi", body_html="{% for m in messages %}{{ m.sender }} {{ m.sent_at|date('%d.%m.%Y') }};{% endfor %}",
              variables=["messages", "order_number"], required_variables=[])
    sent = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)
    email = render_email(resolve_template("order_shipped"), {"messages": [{"sender": "Ann", "sent_at": sent}]})
    assert "Ann 24.11.2026;" in email.html


def _compiled(resolved):
    return rendering.compile_template(resolved.subject, resolved.body_html, resolved.body_text, resolved.cache_key)


def test_compiled_templates_are_cached_by_id_and_updated_at(ctx):
    template = _platform()
    resolved = resolve_template("order_shipped")
    first = _compiled(resolved)
    assert _compiled(resolved) is first
    template.subject = "Changed {{ order_number }}"
    template.updated_at = template.updated_at + dt.timedelta(seconds=1)
    db.session.flush()
    again = resolve_template("order_shipped")
    assert _compiled(again) is not first
    assert render_email(again, {"order_number": "7"}).subject == "Changed 7"


def test_undeclared_variable_is_reported_not_rendered_empty(ctx):
    source = TemplateSource("Hi", "<p>{{ customer_name }} {{ nickname }}</p>", None, ["customer_name"])
    with pytest.raises(TemplateRenderError, match="'nickname' is undefined"):
        render_email(source.as_resolved(), {"customer_name": "Ann"})


def test_declared_optional_variable_that_is_not_given_renders_empty(ctx):
    source = TemplateSource("Hi", "<p>[{{ nickname }}]</p>", None, ["nickname"])
    assert "<p>[]</p>" in render_email(source.as_resolved(), {}).html


def test_optional_variable_can_be_tested_without_error(ctx):
    source = TemplateSource("Hi", "<p>{% if nickname %}{{ nickname }}{% else %}friend{% endif %}</p>", None, ["nickname"])
    assert "friend" in render_email(source.as_resolved(), {}).html


# --- validation on save ---------------------------------------------------------------------------


def test_template_that_does_not_compile_is_not_saved(ctx):
    with pytest.raises(TemplateRenderError, match=r"HTML body: syntax error on line 2") as err:
        _platform(body_html="<p>fine</p>\n{% if customer_name %}<p>unclosed")
    assert err.value.field == "body_html" and err.value.line == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailTemplate)) == 0


def test_undeclared_variable_is_refused_on_save(ctx):
    with pytest.raises(ValidationError, match="not declared: tracking_url"):
        _platform(body_html="<a href='{{ tracking_url }}'>x</a>")


@pytest.mark.parametrize("language", ["en", "fr", "de-CH"])
def test_language_codes_accepted(ctx, language):
    assert _platform(language=language.lower() if "-" not in language else "de-ch").language in {"en", "fr", "de-CH"}


@pytest.mark.parametrize("language", ["english", "e", "de_CHX", "12", ""])
def test_bad_language_codes_refused(ctx, language):
    with pytest.raises(ValidationError, match="language code") as err:
        _platform(language=language)
    assert err.value.field == "language"


def test_duplicate_code_and_language_is_a_form_error_not_an_integrity_error(ctx):
    _platform(language="fr")
    with pytest.raises(ValidationError, match="exists already") as err:
        _platform(language="fr")
    assert err.value.field == "language"


def test_editing_into_an_existing_code_and_language_is_refused(ctx):
    _platform(language="fr")
    de = _platform(language="de")
    data = templates.PlatformTemplateInput(
        code="order_shipped", language="fr", name="x", description=None, category="orders", subject="s",
        body_html="<p>x</p>", body_text=None, variables=[], required_variables=[],
    )
    with pytest.raises(ValidationError, match="exists already"):
        templates.update_platform_template(de, data)


def test_bodies_over_512_kb_are_refused(ctx):
    with pytest.raises(ValidationError, match="larger than 512 KB"):
        _platform(body_html="<p>" + "x" * (512 * 1024) + "</p>")


def test_required_variables_must_be_declared(ctx):
    with pytest.raises(ValidationError, match="must also be listed") as err:
        _platform(variables=["customer_name"], required_variables=["order_number"], subject="Hi",
                  body_html="<p>{{ customer_name }}</p>")
    assert err.value.field == "required_variables"


def test_store_override_is_validated_like_a_platform_template(ctx):
    store = _store()
    en = _platform()
    with pytest.raises(TemplateRenderError, match="Subject: syntax error"):
        _override(store, en, subject="{{ order_number ")
    with pytest.raises(ValidationError, match="not declared: secret"):
        _override(store, en, body_html="{{ secret }}")


def test_platform_only_template_cannot_be_overridden(ctx):
    store = _store()
    en = _platform(is_platform_only=True)
    with pytest.raises(ValidationError, match="cannot be customized"):
        _override(store, en)


def test_saving_an_override_twice_updates_it(ctx):
    store = _store()
    en = _platform()
    first = _override(store, en)
    second = _override(store, en, subject="Second {{ order_number }}")
    assert first.id == second.id and second.subject.startswith("Second")


def test_revert_removes_the_override(ctx):
    store = _store()
    en = _platform()
    override = _override(store, en)
    templates.revert_template_override(override)
    assert resolve_template("order_shipped", store_id=store.id).source == "platform"


def test_variable_lists_parse_from_json_or_typed_text():
    assert templates.parse_variable_list('["a", "b", "a"]') == ["a", "b"]
    assert templates.parse_variable_list("a, b\nc") == ["a", "b", "c"]
    assert templates.parse_variable_list(None) == []


# --- preview --------------------------------------------------------------------------------------


def test_preview_lists_every_problem_without_raising(ctx):
    source = TemplateSource("Hi {{ name }}", "<p>{{ name }} {{ extra }}</p>", None, ["name"], ["name"])
    preview = templates.preview_template(source, {})
    assert preview.email is None
    assert "Uses variables that are not declared: extra." in preview.problems
    assert "Missing required variables: name." in preview.problems


def test_preview_renders_like_the_send_path(ctx):
    source = TemplateSource("Hi {{ name }}", "<style>b{color:red}</style><b>{{ name }}</b>", None, ["name"], ["name"])
    preview = templates.preview_template(source, {"name": "Ann"})
    assert preview.problems == []
    assert preview.email == render_email(source.as_resolved(), {"name": "Ann"})


# --- the shipped default set ----------------------------------------------------------------------

EXPECTED_CODES = {
    "signup_welcome": "auth", "email_verification": "auth", "password_reset": "auth",
    "order_confirmation": "orders", "order_shipped": "orders", "invoice_available": "billing",
    "payment_failed": "billing", "team_invite": "system", "new_message_notification": "system",
    "settings_test_email": "system", "inbound_reply_not_delivered": "system", "store_newsletter": "marketing",
}


def test_default_set_ships_twelve_codes_in_three_languages(ctx):
    report = template_catalog.load_default_templates()
    assert len(report.created) == 36 and report.kept == []
    rows = db.session.scalars(sa.select(EmailTemplate)).all()
    assert {(r.code, r.language) for r in rows} == {(c, lang) for c in EXPECTED_CODES for lang in ("en", "fr", "de")}
    for row in rows:
        assert row.category == EXPECTED_CODES[row.code]
        # Stores may not change the sign-in emails, nor the answer the platform itself sends to replies.
        assert row.is_platform_only == (row.category == "auth" or row.code == "inbound_reply_not_delivered")


def test_every_shipped_template_renders_with_its_sample(ctx):
    template_catalog.load_default_templates()
    for code, shipped in template_catalog.shipped_codes().items():
        for language in ("en", "fr", "de"):
            email = render_email(resolve_template(code, language=language), shipped.sample)
            assert email.subject and "<" not in email.text and "style=" in email.html, (code, language)


def test_the_text_part_of_every_shipped_template_reads_like_the_html(ctx):
    """Headings, paragraphs, every link with its URL, list items and table rows; no tags, no images."""
    import re
    from html import unescape

    template_catalog.load_default_templates()
    for code, shipped in template_catalog.shipped_codes().items():
        for language in ("en", "fr", "de"):
            email = render_email(resolve_template(code, language=language), shipped.sample)
            where = (code, language)
            assert "<" not in email.text and "![" not in email.text and "**" not in email.text, where
            for heading in re.findall(r"<h1[^>]*>(.*?)</h1>", email.html, re.S):
                assert f"# {unescape(re.sub(r'<[^>]+>', '', heading)).strip()}" in email.text, where
            for url, label in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', email.html, re.S):
                assert f"[{unescape(re.sub(r'<[^>]+>', '', label)).strip()}]({unescape(url)})" in email.text, where
            for paragraph in re.findall(r"<p[^>]*>([^<]+)</p>", email.html):
                assert " ".join(unescape(paragraph).split()) in " ".join(email.text.split()), where
    order = render_email(resolve_template("order_confirmation"), template_catalog.shipped_sample("order_confirmation"))
    assert re.search(r"^\| Trail running shoes +\| 1 +\| 129.00 EUR \|$", order.text, re.M)


def test_the_prepared_text_converter_writes_what_the_public_call_writes(ctx):
    """rendering.py calls html-to-markdown's native converter with options built once; an upgrade that changed
    what that call writes would show here, for every shipped template."""
    import html_to_markdown

    from messaging_web.services.sandbox import rendering

    template_catalog.load_default_templates()
    for code, shipped in template_catalog.shipped_codes().items():
        for language in ("en", "fr", "de"):
            html = render_email(resolve_template(code, language=language), shipped.sample, inline=False).html
            public = (html_to_markdown.convert(html, rendering._TEXT_OPTIONS).content or "").strip() + "\n"
            assert rendering.text_from_html(html) == public, (code, language)


def test_notification_and_settings_test_templates_take_the_agreed_variables(ctx):
    template_catalog.load_default_templates()
    notification = resolve_template("new_message_notification", language="fr")
    assert set(notification.variables) == {"recipient_name", "store_name", "conversation_subject", "messages", "conversation_url",
                                          "reply_by_email", "message_count"}
    email = render_email(notification, {
        "recipient_name": "Alice", "store_name": "Boutique", "conversation_subject": "Retour",
        "conversation_url": "https://x.example/c/1",
        "messages": [{"sender_name": "Boutique", "content": "Bonjour <b>", "sent_at": dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)}],
    })
    assert "Bonjour &lt;b&gt;" in email.html and "02/01/2026 03:04" in email.html
    settings_test = resolve_template("settings_test_email", language="de")
    assert set(settings_test.variables) == {"store_name", "from_name", "provider"}
    assert "smtp" in render_email(settings_test, {"store_name": "Café", "provider": "smtp"}).text


def test_reloading_never_overwrites_an_edited_template(ctx):
    template_catalog.load_default_templates()
    edited = db.session.scalar(sa.select(EmailTemplate).where(EmailTemplate.code == "order_shipped", EmailTemplate.language == "fr"))
    edited.subject = "Édité par l'admin {{ order_number }}"
    db.session.delete(db.session.scalar(sa.select(EmailTemplate).where(EmailTemplate.code == "team_invite", EmailTemplate.language == "de")))
    db.session.flush()
    report = template_catalog.load_default_templates()
    assert report.created == ["team_invite/de"] and len(report.kept) == 35
    assert db.session.get(EmailTemplate, edited.id).subject == "Édité par l'admin {{ order_number }}"


def test_load_templates_command(app):
    result = app.test_cli_runner().invoke(args=["messaging", "load-templates"])
    assert result.exit_code == 0 and "Created 36 templates, kept 0" in result.output
    result = app.test_cli_runner().invoke(args=["messaging", "load-templates"])
    assert "Created 0 templates, kept 36" in result.output


def test_regional_language_falls_back_to_its_base_language_before_the_store_default(ctx):
    store = _store(language="fr")
    _platform(language="fr")
    _platform(language="de")
    resolved = resolve_template("order_shipped", store_id=store.id, language="de-CH")
    assert resolved.language == "de"
    assert templates.language_chain("de_ch", "fr") == ["de-CH", "de", "fr", "en"]
    assert templates.language_chain("not a language", None) == ["en"]


def test_regional_template_wins_when_it_exists(ctx):
    _platform(language="de")
    _platform(language="de-CH")
    assert resolve_template("order_shipped", language="de-ch").language == "de-CH"


def test_override_of_a_deactivated_platform_language_is_not_used(ctx):
    store = _store(language="en")
    _platform(language="en")
    fr = _platform(language="fr")
    _override(store, fr)
    templates.set_platform_template_active(fr, False)
    resolved = resolve_template("order_shipped", store_id=store.id, language="fr")
    assert (resolved.source, resolved.language) == ("platform", "en")


def test_jinja_has_the_sandbox_fixes():
    from importlib.metadata import version

    assert tuple(int(part) for part in version("jinja2").split(".")[:3]) >= (3, 1, 6)

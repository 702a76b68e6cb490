"""A recipient's message: parts, headers, tracked links, pixel, unsubscribe, and no blank for a missing field."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator

import pytest

from accord.campaign import CampaignEngine
from accord.campaign.deliveries import create_delivery
from accord.campaign.exceptions import CampaignInputError, MissingFieldError, TemplateCheckError
from accord.campaign.messages import Renderer, render_message
from accord.settings import Settings
from accord.workspace import initialise

HTML = """<html><body><p>Hi {{ recipient.firstName }} ({{ recipient.custom.tier }}),</p>
<p><a href="https://shop.example/sale?a=1&amp;b=2">Sale</a>
<a href='https://shop.example/u/{{ recipient.externalId }}'>You</a>
<a href="mailto:help@shop.example">Help</a> <a href="https://shop.example/sale?a=1&amp;b=2">Sale again</a></p>
</body></html>"""
TEXT = "Hi {{ recipient.firstName }}, the sale: https://shop.example/sale?a=1&b=2.\nMore: https://shop.example/more\n"
ANN = {"id": 1, "externalId": "C1", "email": "ann@example.com", "firstName": "Zoë", "lastName": "Lee", "phone": None,
       "custom": {"tier": "<gold>"}}  # fmt: skip


@pytest.fixture
def engine(settings: Settings) -> Iterator[CampaignEngine]:
    initialise(settings)
    engine = CampaignEngine.open(settings)
    yield engine
    engine.close()


def delivery(engine: CampaignEngine, **changes: str) -> int:
    values = {"sender": "Shop <news@shop.example>", "subject": "Hello {{ recipient.firstName }}", "html": HTML,
              "text": TEXT} | changes  # fmt: skip
    return int(create_delivery(engine, "spring", target={"list": "all"}, **values)["id"])


def parsed(message: email.message.EmailMessage) -> email.message.EmailMessage:
    """The message as a mail client reads what went over SMTP."""
    raw = message.as_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # SMTP line ends throughout
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_a_message_is_text_and_html_with_its_headers(engine: CampaignEngine, settings: Settings) -> None:
    delivery_id = delivery(engine)
    message = parsed(Renderer(engine, delivery_id).render(ANN, 42))
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Subject"] == "Hello Zoë"
    assert message["To"] == "Zoë Lee <ann@example.com>"
    assert message["From"] == "Shop <news@shop.example>"
    assert message["Date"] and message["X-Accord-Broadlog"] == "42"
    assert message["Message-ID"] == f"<42.{delivery_id}.default@shop.example>"
    again = parsed(Renderer(engine, delivery_id).render(ANN, 42))
    assert again["Message-ID"] == message["Message-ID"]  # a resend of the row is recognisable
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hi Zoë (&lt;gold&gt;)" in html  # the HTML part is autoescaped
    assert message.get_body(("plain",)).get_content().startswith("Hi Zoë, the sale: ")  # type: ignore[union-attr]


def test_every_http_link_is_tracked_and_the_unsubscribe_link_and_headers_are_there(
    engine: CampaignEngine, settings: Settings
) -> None:
    renderer = Renderer(engine, delivery(engine))
    message = parsed(renderer.render(ANN, 42))
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    base = settings.campaign_public_url + "/campaign/t/"
    assert "https://shop.example" not in html and "https://shop.example" not in text
    assert 'href="mailto:help@shop.example"' in html  # only http(s) links are tracked
    clicks = re.findall(re.escape(base) + r"c/(42)\.(\d+)\.[\w-]+", html + text)
    # one index per distinct link, shared by the two parts: html's two, then the text's new one
    assert sorted({int(i) for _, i in clicks}) == [0, 1, 2]
    assert renderer.links(ANN, 42) == ["https://shop.example/sale?a=1&b=2", "https://shop.example/u/C1",
                                       "https://shop.example/more"]  # fmt: skip
    assert re.search(f'<img src="{re.escape(base)}o/42\\.[\\w-]+"', html)  # the open pixel
    unsubscribe = re.search(re.escape(base) + r"u/42\.[\w-]+", message["List-Unsubscribe"])
    assert unsubscribe and message["List-Unsubscribe"] == f"<{unsubscribe.group(0)}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f'<a href="{unsubscribe.group(0)}">Unsubscribe</a>' in html  # a footer: the template placed none
    assert f"Unsubscribe: {unsubscribe.group(0)}" in text
    assert text.rstrip().endswith(unsubscribe.group(0)) and "." not in text.split("sale?a=1&b=2")[0][-3:]


@pytest.mark.settings(campaign_unsubscribe_mailto="leave@shop.example")
def test_the_template_may_place_the_unsubscribe_link_and_a_setting_adds_a_mailto(engine: CampaignEngine) -> None:
    delivery_id = delivery(engine, html="<p><a href='{{ unsubscribe_url }}'>Leave</a></p>",
                           text="Leave: {{ unsubscribe_url }}")  # fmt: skip
    message = parsed(Renderer(engine, delivery_id).render(ANN, 7))
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert html.count("/campaign/t/u/7.") == 1 and "Leave</a>" in html  # no footer beside the template's link
    assert message.get_body(("plain",)).get_content().count("/campaign/t/u/7.") == 1  # type: ignore[union-attr]
    assert re.fullmatch(r"<http://127\.0\.0\.1:8000/campaign/t/u/7\.[\w-]+>, "
                        r"<mailto:leave@shop\.example\?subject=unsubscribe%207\.[\w-]+>",
                        message["List-Unsubscribe"])  # fmt: skip


def test_a_recipient_without_a_used_field_gets_no_message_but_an_error(engine: CampaignEngine) -> None:
    renderer = Renderer(engine, delivery(engine))
    for lacking in ({"firstName": None}, {"firstName": "  "}, {"custom": {}}):
        with pytest.raises(MissingFieldError) as caught:
            renderer.render(ANN | lacking, 1)
        assert caught.value.details["recipient"] == "C1"
        assert caught.value.field in ("firstName", "custom.tier")
        assert caught.value.reason == f"missing field {caught.value.field}"


def test_a_field_only_tested_or_defaulted_is_optional(engine: CampaignEngine) -> None:
    html = ("{% if recipient.phone %}Call {{ recipient.phone }}{% else %}No phone{% endif %} "
            "{{ recipient.custom.city | default('nowhere') }}")  # fmt: skip
    renderer = Renderer(engine, delivery(engine, html=html, text="t", subject="s"))
    assert renderer.templates.required == ()
    body = parsed(renderer.render(ANN, 1)).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "No phone nowhere" in body
    body = parsed(renderer.render(ANN | {"phone": "+3312"}, 1)).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Call +3312" in body


def test_templates_with_problems_are_refused_with_all_of_them(engine: CampaignEngine) -> None:
    with pytest.raises(TemplateCheckError) as caught:
        delivery(engine, subject="{{ recipient.firstName", html="<p>{{ recipient.__class__ }}</p>\n{{ secret }}",
                 text="ok\n{{ recipient.nickname }}\n{{ ''.__class__.__mro__ }}\n{% include 'x.html' %}")  # fmt: skip
    assert caught.value.details["problems"] == [
        "subject, line 1: syntax error: unexpected end of template, expected 'end of print statement'.",
        "html, line 1: `__class__` is not allowed in a template (sandbox)",
        "html, line 2: unknown field `secret`; templates read `recipient.<field>`, `recipient.custom.<name>` and "
        "`unsubscribe_url`",
        "text, line 2: unknown field `recipient.nickname`; recipient fields: externalId, email, firstName, "
        "lastName, phone",
        "text, line 3: `__mro__` is not allowed in a template (sandbox)",
        "text, line 3: `__class__` is not allowed in a template (sandbox)",
        "text, line 4: a delivery's template is whole: it cannot extend, include or import another",
    ]


def test_a_sandbox_refusal_the_check_cannot_see_is_our_error_at_render(engine: CampaignEngine) -> None:
    renderer = Renderer(engine, delivery(engine, html="{{ recipient | attr('__class__') }}"))
    with pytest.raises(CampaignInputError, match="templates failed for recipient 'C1'"):
        renderer.render(ANN, 1)


def test_a_name_or_subject_with_line_breaks_adds_no_header(engine: CampaignEngine) -> None:
    renderer = Renderer(engine, delivery(engine, subject="Hi {{ recipient.lastName }}"))
    sneaky = ANN | {"firstName": "Ann\r\nBcc: evil@attacker.example", "lastName": "Lee\nX-Evil: 1"}
    message = parsed(renderer.render(sneaky, 3))
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["To"].addresses[0].addr_spec == "ann@example.com"
    assert message["Subject"] == "Hi Lee X-Evil: 1"


def test_render_message_makes_the_same_message_without_a_database(engine: CampaignEngine, settings: Settings) -> None:
    renderer = Renderer(engine, delivery(engine))
    alone = render_message(renderer.delivery, ANN, 42, engine.tracking_key(), settings.campaign_public_url)
    stored = renderer.render(ANN, 42)
    del alone["Date"], stored["Date"]
    assert alone.as_bytes() == stored.as_bytes() and b"/campaign/t/c/42.0." in alone.as_bytes()


def test_render_bytes_is_the_messages_smtp_form(engine: CampaignEngine) -> None:
    renderer = Renderer(engine, delivery(engine, text="Line one\r\nline two\rthree\n" + "long " * 40))
    people = [ANN, ANN | {"firstName": "Ann", "custom": {"tier": "gold"}}, ANN | {"lastName": "Lee " + "x" * 900}]
    for recipient in people:  # non-ASCII, plain ASCII, and a header long enough to need folding
        direct = renderer.render_bytes(recipient, 42)
        through_email = renderer.render(recipient, 42).as_bytes()
        assert re.sub(rb"Date: [^\r]+", b"", direct) == re.sub(rb"Date: [^\r]+", b"", through_email)
        text = parsed(renderer.render(recipient, 42)).get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert text.startswith("Line one\r\nline two\r\nthree\r\nlong long")  # every line end is CRLF on the wire

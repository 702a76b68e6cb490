"""The tracking endpoint over real HTTP: opens, clicks, unsubscribes, and what a bad link gets (404)."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from accord.api import create_app
from accord.campaign import CampaignEngine, get_recipient, set_opt_out, suppressions
from accord.campaign.deliveries import create_delivery, target_recipients
from accord.campaign.messages import Renderer
from accord.campaign.models import BroadLogRecord, TrackingLogRecord
from accord.settings import Settings
from tests.api.test_api import served_routes
from tests.campaign.mailing import PEOPLE, add_recipients
from tests.conftest import Api

HTML = """<p>Hi {{ recipient.firstName }}: <a href="https://shop.example/sale">Sale</a>
<a href="https://shop.example/u/{{ recipient.externalId }}?a=1&amp;b=2">Yours</a></p>"""


@dataclass
class Sent:
    """The messages of a delivery as they would have gone out, one send-log row each."""

    engine: CampaignEngine
    base: str
    messages: dict[str, email.message.EmailMessage]  # by external id
    broadlogs: dict[str, int]

    def links(self, external_id: str, kind: str) -> list[str]:
        """This recipient's tracking links of a kind (o, c, u), as paths on the test's server."""
        message = self.messages[external_id]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        found = re.findall(r"http://127\.0\.0\.1:8000(/campaign/t/" + kind + r"/[\w.-]+)", html)
        return list(dict.fromkeys(found))

    def log(self) -> list[tuple[str, str, str, int]]:
        with self.engine.database.session() as session:
            rows = session.scalars(select(TrackingLogRecord).order_by(TrackingLogRecord.id))
            return [(r.type, r.url, r.user_agent, r.broadlog_id) for r in rows]


@pytest.fixture
def sent(api: Api, settings: Settings) -> Iterator[Sent]:
    engine = CampaignEngine.open(settings)
    add_recipients(engine, PEOPLE[:2], "all")
    delivery = create_delivery(engine, "spring", sender="news@shop.example", subject="Sale", html=HTML, text="Hi",
                               target={"list": "all"})  # fmt: skip
    recipients, _ = target_recipients(engine, delivery["id"])
    with engine.database.session() as session:
        rows = [BroadLogRecord(delivery_id=delivery["id"], recipient_id=r["id"], email=r["email"], status="sent")
                for r in recipients]  # fmt: skip
        session.add_all(rows)
        session.flush()
        broadlogs = {r["externalId"]: row.id for r, row in zip(recipients, rows, strict=True)}
    renderer = Renderer(engine, delivery["id"])
    messages = {r["externalId"]: email.message_from_bytes(renderer.render(r, broadlogs[r["externalId"]]).as_bytes(),
                                                          policy=email.policy.default)
                for r in recipients}  # fmt: skip
    yield Sent(engine, api.base, messages, broadlogs)  # type: ignore[arg-type]
    engine.close()


def public() -> httpx.Client:
    """A recipient's browser or mailbox provider: no token."""
    return httpx.Client(follow_redirects=False, timeout=30, headers={"User-Agent": "MailApp/1.0"})


def test_the_open_pixel_is_a_gif_never_cached_and_logs_the_open(sent: Sent) -> None:
    [pixel] = sent.links("C1", "o")
    with public() as client:
        answer = client.get(sent.base + pixel)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
    assert answer.content.startswith(b"GIF89a") and "no-store" in answer.headers["cache-control"]
    assert sent.log() == [("open", "", "MailApp/1.0", sent.broadlogs["C1"])]


def test_a_click_redirects_to_the_link_that_was_in_that_message(sent: Sent) -> None:
    with public() as client:
        answers = [client.get(sent.base + path) for path in sent.links("C2", "c")]
    assert [(a.status_code, a.headers["location"]) for a in answers] == [
        (302, "https://shop.example/sale"),
        (302, "https://shop.example/u/C2?a=1&b=2"),
    ]
    broadlog = sent.broadlogs["C2"]
    assert sent.log() == [("click", "https://shop.example/sale", "MailApp/1.0", broadlog),
                          ("click", "https://shop.example/u/C2?a=1&b=2", "MailApp/1.0", broadlog)]  # fmt: skip


def test_forged_altered_and_truncated_links_get_the_same_404(sent: Sent) -> None:
    [pixel] = sent.links("C1", "o")
    first_click = sent.links("C1", "c")[0]
    numbers, _, tag = first_click.rpartition(".")
    broadlog, index = numbers.rsplit("/", 1)[1].split(".")
    c2_click = sent.links("C2", "c")[0]
    bad = [
        first_click[:-1] + ("A" if first_click[-1] != "A" else "B"),  # forged signature
        f"/campaign/t/c/{broadlog}.{int(index) + 1}.{tag}",  # altered link index
        f"/campaign/t/c/{sent.broadlogs['C2']}.{index}.{tag}",  # another message's row
        f"/campaign/t/c/0{broadlog}.{index}.{tag}",  # the same number spelt otherwise
        first_click[:-4],  # truncated
        first_click.rpartition(".")[0],  # no signature at all
        pixel.replace("/o/", "/c/"),  # an open token used as a click
        pixel.replace("/o/", "/u/"),  # ... or as an unsubscribe
        "/campaign/t/c/1.99.AAAAAAAAAAAAAAAAAAAAAA",  # a made-up one
        c2_click.replace(f"/{sent.broadlogs['C2']}.", f"/{sent.broadlogs['C1']}."),
    ]
    with public() as client:
        answers = [client.get(sent.base + path) for path in bad]
        posts = [client.post(sent.base + pixel.replace("/o/", "/u/"), data={"List-Unsubscribe": "One-Click"})]
    assert {(a.status_code, a.text) for a in answers + posts} == {(404, "not found")}
    assert all("location" not in a.headers for a in answers)
    assert sent.log() == []


def test_unsubscribe_page_then_one_click_post_opts_out_once(sent: Sent, settings: Settings) -> None:
    [link] = sent.links("C1", "u")
    header = sent.messages["C1"]["List-Unsubscribe"]
    assert header == f"<http://127.0.0.1:8000{link}>"
    with public() as client:
        page = client.get(sent.base + link)
        assert page.status_code == 200 and "a***@example.com" in page.text
        assert '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
        assert get_recipient(sent.engine, "C1")["blackListEmail"] is False  # looking is not unsubscribing
        first = client.post(sent.base + link, data={"List-Unsubscribe": "One-Click"})
        second = client.post(sent.base + link, data={"List-Unsubscribe": "One-Click"})
        again = client.get(sent.base + link)
    assert first.status_code == second.status_code == 200 and "Unsubscribed" in again.text
    assert get_recipient(sent.engine, "C1")["blackListEmail"] is True
    assert get_recipient(sent.engine, "C2")["blackListEmail"] is False
    assert [(s["email"], s["reason"]) for s in suppressions(sent.engine)] == [("ann@example.com", "unsubscribed")]
    assert sent.log() == [("unsubscribe", "", "MailApp/1.0", sent.broadlogs["C1"])]  # once
    rows, excluded = target_recipients(sent.engine, "spring")
    assert [r["externalId"] for r in rows] == ["C2"] and excluded["optedOut"] == 1


def test_an_unsubscribe_post_without_the_one_click_field_or_with_a_big_body_does_nothing(sent: Sent) -> None:
    [link] = sent.links("C1", "u")
    with public() as client:
        empty = client.post(sent.base + link)
        big = client.post(sent.base + link, content=b"List-Unsubscribe=One-Click&" + b"x" * 5000,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert empty.status_code == 400 and big.status_code == 413
    assert get_recipient(sent.engine, "C1")["blackListEmail"] is False and sent.log() == []


def test_every_other_post_still_needs_a_token(api: Api, settings: Settings) -> None:
    app = create_app(settings)
    paths = sorted({route.path for route in served_routes(app.routes) if "POST" in route.methods})
    assert "/campaign/t/u/{token}" in paths and len(paths) > 20
    with public() as client:
        for path in paths:
            answer = client.post(api.base + re.sub(r"\{[^}]+\}", "x", path), json={})
            if path.startswith(("/campaign/t/u/", "/campaign/t/s/")):
                assert answer.status_code == 404, path  # the signature is their authentication
            elif path == "/auth/login":
                assert answer.status_code == 400, path  # public: signs in with a name and password, none given
            elif path == "/ui/login":
                assert answer.status_code == 200 and "Give your user name" in answer.text  # the form, said again
            elif path.startswith("/ui/"):  # a person's form without a session: the sign-in form, as a page
                assert (answer.status_code, answer.headers.get("location")) == (303, "/ui/login"), path
            else:
                assert answer.status_code == 401, path
        for method in ("PUT", "PATCH", "DELETE"):  # the one-click exemption is for POST alone
            assert client.request(method, api.base + "/campaign/t/u/x").status_code == 401
    app.state.workspace.close()


def test_one_click_posts_at_once_unsubscribe_once(sent: Sent) -> None:
    [link] = sent.links("C2", "u")

    def post(_: int) -> int:
        with public() as client:
            return client.post(sent.base + link, data={"List-Unsubscribe": "One-Click"}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(post, range(8))) == [200] * 8
    assert sent.log() == [("unsubscribe", "", "MailApp/1.0", sent.broadlogs["C2"])]
    assert [s["email"] for s in suppressions(sent.engine)] == ["bob@example.com"]


def test_a_recipient_opted_out_otherwise_still_logs_its_first_unsubscribe(sent: Sent) -> None:
    set_opt_out(sent.engine, "C1", "email")
    [link] = sent.links("C1", "u")
    with public() as client:
        answers = [client.post(sent.base + link, data={"List-Unsubscribe": "One-Click"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert sent.log() == [("unsubscribe", "", "MailApp/1.0", sent.broadlogs["C1"])]  # the consent reaches the CDP
    assert [s["email"] for s in suppressions(sent.engine)] == ["ann@example.com"]

"""The campaign pages: the instance at a glance with its engagement, recipients, lists, workflows (drawn, run
now) and deliveries (previewed, proofed to a real SMTP server, sent as an operation, their rates), and what they
refuse: forms without their CSRF token, people without the home-wide campaign permissions, bad input."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from accord.access import create_user, grant_role
from accord.settings import Settings
from accord.workspace import Workspace
from tests.conftest import Api
from tests.smtp_server import SmtpSink, start_smtp
from tests.web.conftest import PASSWORD, Watched, check_page, sign_in

AUDIENCE = ("externalId,email,firstName,segmentMembership.status\nC1,ann@example.com,Ann,realized\n"
            "C2,bob@example.com,Bob,realized\n")  # fmt: skip
LETTER = {
    "name": "spring",
    "label": "Spring letter",
    "sender": "Shop <news@shop.example>",
    "subject": "{{ recipient.firstName }}, spring is here",
    "html": '<html><body><h1 style="color:#0b5cad">Hello {{ recipient.firstName }}</h1>'
    '<p>Our <a href="https://shop.example/spring">spring collection</a> is in.</p></body></html>',
    "text": "Hello {{ recipient.firstName }}, our spring collection is in: https://shop.example/spring",
    "target": {"audience": "sp1"},
}
HOSTILE = '<script>document.title="owned"</script>'


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd, a process of its own) for this module's tests."""
    sink = start_smtp(tmp_path_factory.mktemp("smtp-web-campaign"))
    yield sink
    sink.stop()


@pytest.fixture
def smtp(smtp_server: SmtpSink) -> SmtpSink:
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink) -> Settings:
    """Deliveries go to the test's SMTP server; the instance's landing folder may be read by its import."""
    return settings.model_copy(update={"campaign_smtp_port": smtp.port, "campaign_smtp_backoff": 0.01,
                                       "allowed_roots": [*settings.allowed_roots, settings.landing]})  # fmt: skip


def set_up_campaign(api: Api, settings: Settings, letter: dict[str, Any] = LETTER) -> None:
    """As tests/campaign does it: the instance connected to the sandbox, Ann and Bob imported from an audience
    file in its landing folder (the list of the audience `sp1`), and a draft delivery to them."""
    connected = api.post("/campaign/connect", json={})
    assert connected.status_code == 200, connected.text
    (settings.campaign_landing_folder / "spring_segmentsp1_20261130080000.csv").write_text(AUDIENCE)
    run = api.post("/campaign/import").json()
    assert run["status"] == "success", run
    made = api.post("/campaign/deliveries", json=letter)
    assert made.status_code == 201, made.text


@contextmanager
def signed_in_client(api: Api, user: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in through the form, as `user`."""
    with httpx.Client(base_url=api.base, timeout=60) as client:
        assert client.post("/ui/login", data={"user": user, "password": PASSWORD}).status_code == 303
        yield client


def received_by(smtp: SmtpSink, address: str) -> list[Any]:
    """The messages the SMTP server took for this address, parsed."""
    return [r.message() for r in smtp.received() if r.recipients == [address]]


SHOWN = {
    "/ui/campaign": "/ui/campaign",
    "/ui/campaign/recipients": "/ui/campaign/recipients?q=a",
    "/ui/campaign/recipients/{recipient_id}": "/ui/campaign/recipients/1",
    "/ui/campaign/lists": "/ui/campaign/lists",
    "/ui/campaign/lists/{list_id}": "/ui/campaign/lists/1",
    "/ui/campaign/workflows": "/ui/campaign/workflows",
    "/ui/campaign/workflows/{name}": "/ui/campaign/workflows/audience-import",
    "/ui/campaign/deliveries": "/ui/campaign/deliveries",
    "/ui/campaign/deliveries/{delivery_id}": "/ui/campaign/deliveries/1",
}
"""This module's pages, each with a URL that shows it once `set_up_campaign` ran and the delivery was sent."""
FRAGMENTS = {
    "/ui/campaign/deliveries/{delivery_id}/preview": "a delivery's HTML alone, framed by its page: checked by "
    "test_a_delivery_is_previewed_proofed_and_sent and test_hostile_names_and_content_are_shown_as_text",
}


def test_the_campaign_pages_pass_every_check(api: Api, people: Workspace, settings: Settings, smtp: SmtpSink,
                                             watched: Watched) -> None:  # fmt: skip
    set_up_campaign(api, settings)
    assert api.post("/campaign/deliveries/spring/send").json()["sent"] == 2  # the home's chart has a day to show
    sign_in(watched.page, api.base, "ada")
    for step, url in enumerate(SHOWN.values(), 1):
        check_page(watched, f"{api.base}{url}", str(step))
    page = watched.page
    page.goto(f"{api.base}/ui/campaign")
    assert page.locator("#count-recipients").inner_text() == "2"
    assert page.locator("#count-deliveries").inner_text() == "1"
    expect(page.locator(".chart canvas")).to_have_count(1)  # uPlot drew the rates
    assert page.locator("#engagement-by-day tbody tr").count() == 1


def test_a_delivery_is_previewed_proofed_and_sent(api: Api, people: Workspace, settings: Settings, smtp: SmtpSink,
                                                  watched: Watched) -> None:  # fmt: skip
    set_up_campaign(api, settings)
    page = watched.page
    sign_in(page, api.base, "ada")
    page.get_by_role("link", name="Campaign").click()
    page.wait_for_url(re.compile(r"/ui/campaign\?sandbox=prod$"))
    page.get_by_role("navigation", name="Campaign").get_by_role("link", name="Deliveries").click()
    page.get_by_role("link", name="Spring letter").click()
    page.wait_for_url(re.compile(r"/ui/campaign/deliveries/1\?"))
    assert page.locator("h1").inner_text() == "Delivery Spring letter"
    frame = page.frame_locator("#preview-frame")
    expect(frame.locator("h1")).to_have_text("Hello Ada")  # the made-up recipient, in the sandboxed frame
    assert page.locator("#preview-subject").inner_text() == "Ada, spring is here"
    watched.shot("1-preview")

    page.get_by_label("Send a proof to").fill("boss@example.com")
    page.get_by_role("button", name="Send proof").click()
    page.wait_for_url(re.compile(r"proof=sent"))
    assert "boss" not in page.url  # the address stays out of the URL (history, logs)
    assert page.locator("#proof-notice").inner_text() == "A proof was sent to the address you gave."
    assert page.locator("#delivery-state").inner_text() == "proofed"
    assert "recipients\n2" in page.locator("#check-result").inner_text()  # the check made with the proof
    [proof] = received_by(smtp, "boss@example.com")
    assert proof["Subject"] == "[PROOF] Ann, spring is here"  # rendered for a recipient of the target
    watched.shot("2-proofed")

    page.get_by_role("button", name="Send the delivery").click()
    page.wait_for_url(re.compile(r"/ui/operations/"))
    watched.shot("3-sending")
    expect(page.locator("#operation-result")).to_be_visible(timeout=60_000)  # the page asked until it ended
    assert "2 sent, 0 bounced, 0 failed" in page.locator("#operation-state").inner_text()
    check_page(watched, page.url, "4-sent")  # the operation's page passes every check too
    page.locator("#operation-result").click()
    page.wait_for_url(re.compile(r"/ui/campaign/deliveries/1\?"))
    assert page.locator("#delivery-state").inner_text() == "sent" and page.locator("#log-sent").inner_text() == "2"
    assert sorted(r.recipients[0] for r in smtp.received()) == ["ann@example.com", "bob@example.com",
                                                                 "boss@example.com"]  # fmt: skip

    # Ann's mail client loads the open pixel of her message: the delivery's rates show it
    [message] = received_by(smtp, "ann@example.com")
    pixel = re.search(r'<img src="([^"]+/campaign/t/o/[^"]+)"', message.get_body(("html",)).get_content())
    assert pixel is not None
    opened = httpx.get(pixel.group(1).replace(settings.campaign_public_url.rstrip("/"), api.base))
    assert opened.status_code == 200
    page.reload()
    rates = page.locator("dl.rates").inner_text()
    assert "delivered\n100.0 % of the messages tried" in rates and "opened\n50.0 % of the messages sent" in rates
    watched.shot("5-rates")


def test_a_workflow_is_drawn_and_run_now(api: Api, people: Workspace, settings: Settings, watched: Watched) -> None:
    set_up_campaign(api, settings)
    page = watched.page
    sign_in(page, api.base, "ada")
    page.goto(f"{api.base}/ui/campaign/workflows?sandbox=prod")
    page.get_by_role("link", name="audience-import").first.click()
    expect(page.locator(".workflow-graph .node")).to_have_count(5)
    assert page.locator(".workflow-graph .edge").count() == 4
    rows = page.locator("#activities tbody tr")  # start, collect, load, update, lists
    assert rows.nth(3).inner_text().split("\t")[:4] == ["update", "update-data", "lists", "success"]
    watched.shot("1-graph")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/ui/operations/"))
    expect(page.locator("#operation-result")).to_be_visible(timeout=60_000)
    assert "ended success" in page.locator("#operation-state").inner_text()
    page.locator("#operation-result").click()
    page.wait_for_url(re.compile(r"run=2$"))
    assert "in run 2 (success)" in page.locator("#graph-title").inner_text()
    assert "collected 0" in rows.nth(1).inner_text()  # nothing new landed since run 1
    assert page.locator("a[aria-current=true]").inner_text() == "Run 2"
    watched.shot("2-run-now")


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_hostile_names_and_content_are_shown_as_text(api: Api, people: Workspace, settings: Settings,
                                                     watched: Watched) -> None:  # fmt: skip
    hostile_letter = {**LETTER, "name": f"d{HOSTILE}", "label": HOSTILE, "subject": f"Hi {HOSTILE}",
                      "html": f"<p>Hello</p>{HOSTILE}", "text": HOSTILE}  # fmt: skip
    set_up_campaign(api, settings, hostile_letter)
    assert api.post("/campaign/lists", json={"name": HOSTILE, "label": HOSTILE}).status_code == 201
    audience = io.StringIO()
    csv.writer(audience).writerows([["externalId", "email", "firstName", "segmentMembership.status"],
                                    ["H1", "h@example.com", HOSTILE, "realized"]])  # fmt: skip
    (settings.campaign_landing_folder / "x_segmentsp2_20261130090000.csv").write_text(audience.getvalue())
    assert api.post("/campaign/import").json()["status"] == "success"
    with signed_in_client(api, "ada") as client:
        for url in ("/ui/campaign", "/ui/campaign/deliveries", "/ui/campaign/deliveries/1", "/ui/campaign/lists",
                    "/ui/campaign/lists/2", "/ui/campaign/recipients", "/ui/campaign/recipients/3"):  # fmt: skip
            answer = client.get(url)
            assert answer.status_code == 200, url
            assert "<script>document" not in answer.text and "&lt;script&gt;" in answer.text, url
            assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text), url  # no inline script at all
        framed = client.get("/ui/campaign/deliveries/1/preview")  # the author's HTML as is, where it cannot run
        assert framed.status_code == 200 and HOSTILE in framed.text
        policy = framed.headers["Content-Security-Policy"]
        assert policy.startswith("sandbox;") and "default-src 'none'" in policy and "script-src" not in policy
    page = watched.page
    sign_in(page, api.base, "ada")
    page.goto(f"{api.base}/ui/campaign/deliveries/1?sandbox=prod")
    expect(page.frame_locator("#preview-frame").locator("p")).to_have_text("Hello")
    framed_page = page.frame(url=re.compile(r"/preview"))
    assert framed_page is not None and framed_page.title() != "owned" and page.title() != "owned"
    for url in ("/ui/campaign/lists", "/ui/campaign/recipients/3", "/ui/campaign/deliveries"):
        page.goto(f"{api.base}{url}?sandbox=prod")
        assert page.title() != "owned" and HOSTILE in page.locator("main").inner_text(), url
    # the frame's script was refused, and said so: by the sandbox and the policy, never run
    assert watched.problems and all("script" in p.lower() for p in watched.problems), watched.problems
    watched.problems.clear()
    watched.shot("escaped")


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_form_without_its_csrf_token_changes_nothing(api: Api, people: Workspace, settings: Settings,
                                                       smtp: SmtpSink) -> None:  # fmt: skip
    set_up_campaign(api, settings)
    with signed_in_client(api, "ada") as client:
        for action, data in (("/ui/campaign/deliveries/1/proof", {"address": "boss@example.com"}),
                             ("/ui/campaign/deliveries/1/send", {}), ("/ui/campaign/deliveries/1/check", {}),
                             ("/ui/campaign/recipients/1/opt-out", {"channel": "email", "action": "out"}),
                             ("/ui/campaign/workflows/audience-import/run", {})):  # fmt: skip
            for token in (None, "forged"):
                sent = data | ({"csrf_token": token} if token else {})
                refused = client.post(action, data=sent)
                assert refused.status_code == 403 and "text/html" in refused.headers["content-type"], action
        assert client.get("/ui/operations").text.count("/ui/operations/") == 0  # no operation started
    assert smtp.count() == 0 and api.get("/campaign/deliveries/spring").json()["state"] == "draft"
    assert api.get("/campaign/recipients/C1").json()["blackListEmail"] is False
    assert len(api.get("/campaign/workflows/audience-import/runs").json()) == 1


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_the_campaign_is_neither_linked_nor_served_without_its_home_wide_permissions(
    api: Api, people: Workspace, settings: Settings, smtp: SmtpSink
) -> None:
    set_up_campaign(api, settings)
    with signed_in_client(api, "ann") as client:  # a marketer, granted in prod only: no campaign at all
        home = client.get("/ui")
        assert home.status_code == 200 and "/ui/campaign" not in home.text
        for url in ("/ui/campaign", "/ui/campaign/deliveries/1", "/ui/campaign/deliveries/1/preview",
                    "/ui/campaign/recipients", "/ui/campaign/workflows/audience-import"):  # fmt: skip
            refused = client.get(url)
            assert refused.status_code == 403 and "View Campaign" in refused.text and "Spring" not in refused.text
        proof = client.post(
            "/ui/campaign/deliveries/1/proof",
            data={"address": "boss@example.com", "csrf_token": client.cookies["accord_csrf"]},
        )
        assert proof.status_code == 403 and "Manage Campaign" in proof.text
    create_user(people.catalog, "vic", email="vic@example.com", password=PASSWORD)
    grant_role(people.catalog, "auditor", "vic", None)  # reads everything, in every sandbox
    with signed_in_client(api, "vic") as client:
        shown = client.get("/ui/campaign/deliveries/1")
        assert shown.status_code == 200 and "Spring letter" in shown.text
        assert "Send proof" not in shown.text and "Send the delivery" not in shown.text  # not his to do
        assert "Opt out" not in client.get("/ui/campaign/recipients/1").text
        assert "Run now" not in client.get("/ui/campaign/workflows/audience-import").text
        token = client.cookies["accord_csrf"]
        for action in ("/ui/campaign/deliveries/1/send", "/ui/campaign/workflows/audience-import/run"):
            assert client.post(action, data={"csrf_token": token}).status_code == 403, action
        checked = client.post("/ui/campaign/deliveries/1/check", data={"csrf_token": token})  # reads: his to do
        assert checked.status_code == 200 and "Checked now" in checked.text
    assert smtp.count() == 0 and api.get("/campaign/deliveries/spring").json()["state"] == "draft"


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_bad_input_is_said_on_a_page_and_nothing_is_done(api: Api, people: Workspace, settings: Settings,
                                                         smtp: SmtpSink) -> None:  # fmt: skip
    set_up_campaign(api, settings)
    with signed_in_client(api, "ada") as client:
        token = client.cookies["accord_csrf"]
        for address, said in (
            ("x" * 5000, "at most 254 characters; this one has 5,000"),
            ("not-an-address", "not an e-mail address"),
            ("  ", "Give the address"),
        ):
            answer = client.post("/ui/campaign/deliveries/1/proof", data={"address": address, "csrf_token": token})
            assert answer.status_code == 200 and said in answer.text and 'id="form-error"' in answer.text, address
            assert "x" * 300 not in answer.text  # what was typed is kept only as far as an address goes
        for url, said in (
            ("/ui/campaign?days=abc", "days &#39;abc&#39;: one of 7, 30, 90, 365"),
            ("/ui/campaign/recipients?page=-1", "a whole number from 1"),
            ("/ui/campaign/recipients?q=" + "a" * 5000, "0 recipients"),
            ("/ui/campaign/lists/1?page=" + "9" * 30, "a whole number from 1"),
            ("/ui/campaign/deliveries?page=%00", "a whole number from 1"),
            ("/ui/campaign/workflows/audience-import?run=x", "a run&#39;s number"),
            ("/ui/campaign/workflows/audience-import?run=99", "no workflow run &#39;99&#39;"),
        ):
            answer = client.get(url)
            assert answer.status_code == 200 and said in answer.text, (url, answer.text[-2000:])
        for url, status in (
            ("/ui/campaign/deliveries/abc", 404),
            ("/ui/campaign/deliveries/99", 404),
            ("/ui/campaign/deliveries/99/preview", 404),
            ("/ui/campaign/recipients/1e3", 404),
            ("/ui/campaign/lists/" + "9" * 40, 404),
            ("/ui/campaign/workflows/nothing", 404),
        ):
            answer = client.get(url)
            assert answer.status_code == status and "text/html" in answer.headers["content-type"], url
        for answer in (client.get("/ui/campaign/deliveries", params={"page": "1" * 100}),
                       client.post("/ui/campaign/recipients/1/opt-out", data={"channel": "e" * 100, "action": "out",
                                                                             "csrf_token": token})):  # fmt: skip
            assert answer.status_code == 400 and "text/html" in answer.headers["content-type"], answer.text
            assert "cannot be used" in answer.text  # past its bound: a page, never the API's JSON
        opt_out = "/ui/campaign/recipients/1/opt-out"
        wrong = client.post(opt_out, data={"channel": "teleport", "action": "out", "csrf_token": token})
        assert wrong.status_code == 200 and "unknown channel &#39;teleport&#39;" in wrong.text
        assert "Choose to opt out" in client.post(opt_out, data={"channel": "email", "csrf_token": token}).text
        assert client.post("/ui/campaign/deliveries/x/send", data={"csrf_token": token}).status_code == 404
        done = client.post(opt_out, data={"channel": "email", "action": "out", "csrf_token": token})
        assert done.status_code == 303 and done.headers["location"] == "/ui/campaign/recipients/1?sandbox=prod"
        assert 'id="opted-email">yes' in client.get(done.headers["location"]).text
    assert smtp.count() == 0 and api.get("/campaign/deliveries/spring").json()["state"] == "draft"
    assert api.get("/campaign/recipients/C2").json()["blackListEmail"] is False


def test_a_workflow_is_laid_out_in_layers_from_left_to_right() -> None:
    from accord.web.workflow_graph import COLUMN_GAP, NODE_HEIGHT, NODE_WIDTH, ROW_GAP, workflow_graph

    activities = [  # in the document's order, not the graph's: the layout does not depend on it
        {"name": "mail-others", "type": "delivery", "next": ["alert"]},
        {"name": "newcomers", "type": "query", "next": ["vip"]},
        {"name": "vip", "type": "split", "next": {"gold": ["mail-gold"], "others": ["mail-others"]}},
        {"name": "mail-gold", "type": "delivery", "next": ["alert"]},
        {"name": "alert", "type": "alert"},
    ]
    ran = [{"activity": "newcomers", "status": "failed", "counts": {}},
           {"activity": "newcomers", "status": "success", "counts": {"population": 1200, "excluded": 3}},
           {"activity": "vip", "status": "success", "counts": {"gold": 200}}]  # fmt: skip
    graph = workflow_graph(activities, ran)
    column = {n.name: (n.x - 8) // (NODE_WIDTH + COLUMN_GAP) for n in graph.nodes}
    row = {n.name: (n.y - 8) // (NODE_HEIGHT + ROW_GAP) for n in graph.nodes}
    assert column == {"newcomers": 0, "vip": 1, "mail-others": 2, "mail-gold": 2, "alert": 3}
    assert row == {"newcomers": 0, "vip": 0, "mail-others": 0, "mail-gold": 1, "alert": 0}
    assert (graph.width, graph.height) == (16 + 4 * NODE_WIDTH + 3 * COLUMN_GAP, 16 + 2 * NODE_HEIGHT + ROW_GAP)
    nodes = {n.name: n for n in graph.nodes}
    assert nodes["newcomers"].status == "success" and nodes["newcomers"].headline == ("population", 1200)
    assert nodes["vip"].headline == ("gold", 200) and nodes["alert"].status is None and nodes["alert"].headline is None
    edges = {(e.source, e.target): e for e in graph.edges}
    assert set(edges) == {("newcomers", "vip"), ("vip", "mail-gold"), ("vip", "mail-others"),
                          ("mail-others", "alert"), ("mail-gold", "alert")}  # fmt: skip
    assert edges[("vip", "mail-gold")].output == "gold" and edges[("newcomers", "vip")].output is None
    start = nodes["vip"]
    assert edges[("vip", "mail-gold")].path.startswith(f"M{start.x + NODE_WIDTH} {start.y + NODE_HEIGHT // 2} C")
    assert workflow_graph([]).nodes == [] and workflow_graph([{"name": "x" * 40, "type": "query"}]).nodes[0].label \
        == "x" * 21 + "…"  # fmt: skip

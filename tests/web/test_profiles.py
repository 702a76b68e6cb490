"""The profiles pages: a person looked up by any identity, their profile (attributes with where each value came
from and why it won, events, memberships and their history, the identity graph drawn), and un-merging a link."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import expect

from accord.workspace import Workspace
from tests.conftest import Api
from tests.web.conftest import PASSWORD, Watched, check_page, sign_in

HOSTILE = '<script>document.title="owned"</script>'
MAPPING = {"mappings": [
    {"source": "first", "destination": "person.name.firstName"},
    {"source": "last", "destination": "person.name.lastName"},
    {"source": "email", "destination": "personalEmail.address"},
    {"source": "phone", "destination": "mobilePhone.number"},
    {"source": "city", "destination": "homeAddress.city"},
]}  # fmt: skip
ANN, WORK, PHONE = "ann@example.com", "ann.work@example.com", "5550100"


def upload(api: Api, dataset: str, name: str, text: str, mapping: dict[str, Any] | None = None) -> None:
    data = {"mapping": json.dumps(mapping)} if mapping else {}
    made = api.post(f"/datasets/{dataset}/batches", files={"file": (name, text.encode())}, data=data)
    assert made.status_code == 201 and made.json()["status"] == "success", made.text


@pytest.fixture
def ann(api: Api, people: Workspace) -> Workspace:
    """Two records of the crm dataset that share a phone number, so one profile (Ann at home and at work), with
    events, in the audience `parisians`; built through the API as a data engineer would."""
    crm = {"class": "profile", "fieldGroups": ["demographic-details", "personal-contact-details"], "identities": [
        {"path": "personalEmail.address", "namespace": "Email", "primary": True},
        {"path": "mobilePhone.number", "namespace": "Phone"}]}  # fmt: skip
    assert api.put("/schemas/crm", json=crm).status_code == 200
    web = {"name": "web", "class": "experienceevent", "fieldGroups": ["identitymap", "web-details"]}
    assert api.post("/schemas", json=web).status_code == 201
    assert api.post("/datasets", json={"name": "web", "schema": "web", "profileEnabled": True}).status_code == 201
    upload(api, "crm", "home.csv", f"first,last,email,phone,city\nAnn,Lee,{ANN},555 0100,Paris\n", MAPPING)
    upload(api, "crm", "work.csv", f"first,last,email,phone,city\nAnnie,{HOSTILE},{WORK},555-0100,\n", MAPPING)
    events = [{"_id": f"visit-{n}" if n else HOSTILE, "timestamp": f"2026-03-0{n + 1}T10:00:00Z",
               "eventType": "web.webpagedetails.pageViews", "identityMap": {"Email": [{"id": ANN}]}}
              for n in range(3)]  # fmt: skip
    upload(api, "web", "web.json", "\n".join(json.dumps(e) for e in events) + "\n")
    rebuilt = api.post("/profiles/rebuild")
    assert rebuilt.status_code == 200 and rebuilt.json()["graph"]["graphs"] == 1, rebuilt.text
    assert api.post("/segment/jobs", json={}).json()["counts"]["parisians"]["realized"] == 1
    return people


def profile_url(namespace: str, value: str, **more: str) -> str:
    return f"/ui/profiles/view?{urlencode({'namespace': namespace, 'id': value, **more})}"


UNLINK = {"namespace": "Email", "id": ANN, "from_namespace": "Email", "from_id": ANN, "to_namespace": "Phone",
          "to_id": PHONE}  # fmt: skip

SHOWN = {
    "/ui/profiles": "/ui/profiles",
    "/ui/profiles/view": profile_url("Email", ANN),
    "/ui/profiles/unlink": f"/ui/profiles/unlink?{urlencode(UNLINK)}",
}
"""This module's pages, each with a URL that shows it (checked by `test_the_profiles_pages_pass_every_check`)."""
FRAGMENTS: dict[str, str] = {}


def test_the_profiles_pages_pass_every_check(api: Api, ann: Workspace, watched: Watched) -> None:
    sign_in(watched.page, api.base, "ada")
    for step, url in enumerate(SHOWN.values(), 1):
        check_page(watched, f"{api.base}{url}", str(step))


def test_a_person_is_looked_up_then_a_wrong_link_removed_and_the_profile_splits(
    api: Api, ann: Workspace, watched: Watched
) -> None:
    page = watched.page
    sign_in(page, api.base, "dan")  # a data engineer: may remove links and rebuild profiles
    page.get_by_role("link", name="Profiles").click()
    page.wait_for_url(re.compile(r"/ui/profiles\?"))
    page.get_by_label("Namespace").select_option("Email")
    page.get_by_label("Identity value").fill(" ANN@Example.com ")  # as a person types it
    watched.shot("1-look-up")
    page.get_by_role("button", name="Look up").click()
    page.wait_for_url(re.compile(r"/ui/profiles/view\?"))
    expect(page.locator("h1")).to_have_text(f"Profile of Email: {ANN}")

    attributes = page.locator("#attributes")
    first_name = attributes.locator("tr[data-path='person.name.firstName']")
    expect(first_name).to_contain_text("Annie")  # the newer batch's value wins
    expect(first_name.locator(".reason")).to_have_text("its batch was committed last (2 records hold a value)")
    city = attributes.locator("tr[data-path='homeAddress.city']")
    expect(city).to_contain_text("Paris")
    expect(city.locator(".reason")).to_have_text("the only record that holds a value")
    expect(attributes.locator("tr[data-path='person.name.lastName'] td").nth(1)).to_have_text(HOSTILE)  # as text
    assert page.title() != "owned"
    expect(page.locator("#events tbody tr")).to_have_count(3)
    expect(page.locator("#events tbody tr").first).to_contain_text("2026-03-03")  # newest first
    expect(page.locator("#memberships")).to_contain_text("parisians")
    expect(page.locator("#memberships")).to_contain_text("realized")
    expect(page.locator("#membership-history tbody tr")).to_have_count(1)
    expect(page.locator("figure.identity-graph svg circle")).to_have_count(3)
    links = page.locator("#graph-links tbody tr")
    expect(links).to_have_count(2)
    expect(page.locator("#graph-links tr.active")).to_have_count(2)
    watched.shot("2-profile")

    wrong = page.locator("#graph-links tr", has_text=f"Email: {ANN}").filter(has_text=f"Phone: {PHONE}")
    wrong.get_by_role("button", name="Remove this link").click()
    page.wait_for_url(re.compile(r"/ui/profiles/unlink\?"))
    expect(page.locator("#what-happens")).to_contain_text("the profile splits in two")
    page.get_by_label("Why remove it").fill("a shared family phone")
    watched.shot("3-confirm")
    page.get_by_role("button", name="Remove the link").click()
    page.wait_for_url(re.compile(r"/ui/operations/"))
    result = page.locator("#operation-result")
    expect(result).to_be_visible(timeout=120_000)
    watched.shot("4-rebuilt")
    result.click()
    page.wait_for_url(re.compile(r"/ui/profiles/view\?"))

    expect(page.locator("#profile-facts")).to_contain_text(f"1: Email: {ANN}")  # the profile split
    expect(page.locator("#attributes tr[data-path='person.name.firstName']")).to_contain_text("Ann")
    expect(page.locator("#attributes tr[data-path='person.name.firstName'] .reason")).to_have_text(
        "the only record that holds a value")  # fmt: skip
    expect(page.locator("#events tbody tr")).to_have_count(3)  # the events carry her e-mail: they stay hers
    removed = page.locator("#graph-links tr.removed")
    expect(removed).to_have_count(1)
    expect(removed).to_contain_text(f"Phone: {PHONE}")
    expect(removed.locator(".status")).to_have_text("removed: removed by a user")
    expect(page.locator("#graph-links tr.active")).to_have_count(0)
    expect(page.locator("svg line.removed")).to_have_count(1)
    expect(page.locator("svg .node.outside")).to_have_count(1)  # the phone, now in the other profile
    watched.shot("5-split")

    page.get_by_role("link", name="Look up another profile").click()
    page.get_by_label("Namespace").select_option("Phone")
    page.get_by_label("Identity value").fill("555 0100")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/ui/profiles/view\?"))
    expect(page.locator("#profile-facts")).to_contain_text(f"Email: {WORK}")
    expect(page.locator("#profile-facts")).not_to_contain_text(f"Email: {ANN}")
    expect(page.locator("#attributes tr[data-path='person.name.firstName']")).to_contain_text("Annie")
    watched.shot("6-the-other-part")
    [removal] = api.get("/identity/removals").json()
    assert (removal["reason"], removal["removedBy"]) == ("a shared family phone", "web:dan")


def signed_in(client: httpx.Client, user: str) -> str:
    """Sign `user` in; the session's CSRF token."""
    assert client.post("/ui/login", data={"user": user, "password": PASSWORD}).status_code == 303
    return client.cookies["accord_csrf"]


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_bad_look_ups_answer_the_form_with_what_is_wrong(api: Api, ann: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        signed_in(client, "ann")  # a marketer: View Profiles
        cases = [
            ({"namespace": "Emial", "id": ANN}, "e-namespace", "no identity namespace &#39;Emial&#39;; did you mean"),
            ({"namespace": "Email", "id": ""}, "e-id", "Give the value of the identity."),
            ({"namespace": "Email", "id": "   "}, "e-id", "Give the value of the identity."),
            ({"namespace": "", "id": ANN}, "e-namespace", "Choose the namespace of the identity."),
            ({"namespace": "Email", "id": "x" * 10_240}, "e-id", "at most 1,024 characters (this one has 10,240)"),
            ({"namespace": "N" * 5000, "id": ANN}, "e-namespace", "at most 64 characters"),
            ({"namespace": "Email", "id": "nobody@example.com"}, "e-id", "no profile holds Email:nobody@example.com"),
            ({"namespace": "Email", "id": ANN, "policy": "nope"}, "e-policy", "no merge policy named &#39;nope&#39;"),
            ({"namespace": HOSTILE, "id": HOSTILE}, "e-namespace", "no identity namespace"),
        ]  # fmt: skip
        for params, where, said in cases:
            answer = client.get("/ui/profiles/view", params=params)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), params
            assert f'id="{where}"' in answer.text and said in answer.text, (params, answer.text[-3000:])
            assert 'id="form-error"' in answer.text and HOSTILE not in answer.text
            assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text)  # no inline script at all
        kept = client.get("/ui/profiles/view", params={"namespace": "Email", "id": "nobody@example.com"})
        assert 'value="nobody@example.com"' in kept.text  # what was typed is kept
        shown = client.get(profile_url("Email", ANN))
        assert shown.status_code == 200 and "&lt;script&gt;document.title" in shown.text and HOSTILE not in shown.text


@pytest.mark.settings(session_cookie_secure=False)
def test_a_removal_needs_its_permission_and_the_session_token(api: Api, ann: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed_in(client, "ann")  # a marketer: may look profiles up, not remove links
        shown = client.get(profile_url("Email", ANN))
        assert shown.status_code == 200 and 'id="graph-links"' in shown.text
        assert "Remove this link" not in shown.text and "/ui/profiles/unlink" not in shown.text
        confirm = client.get("/ui/profiles/unlink", params=UNLINK)
        assert confirm.status_code == 403 and "Manage Identity Namespaces" in confirm.text
        refused = client.post("/ui/profiles/unlink", params={"sandbox": "prod"}, data={**UNLINK, "csrf_token": csrf})
        assert refused.status_code == 403 and "Manage Identity Namespaces" in refused.text
    with httpx.Client(base_url=api.base, timeout=60) as client:
        signed_in(client, "dan")
        assert "Remove this link" in client.get(profile_url("Email", ANN)).text
        no_token = client.post("/ui/profiles/unlink", params={"sandbox": "prod"}, data=UNLINK)
        assert no_token.status_code == 403 and "text/html" in no_token.headers["content-type"]
        wrong_token = client.post("/ui/profiles/unlink", params={"sandbox": "prod"},
                                  data={**UNLINK, "csrf_token": "forged"})  # fmt: skip
        assert wrong_token.status_code == 403
    assert api.get("/identity/removals").json() == []  # nothing recorded by any refusal


@pytest.mark.settings(session_cookie_secure=False)
def test_a_bad_removal_answers_the_form_and_records_nothing(api: Api, ann: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed_in(client, "dan")
        cases = [
            ({"reason": "r" * 600}, "at most 500 characters (this one has 600)"),
            ({"to_namespace": "Fone"}, "no identity namespace &#39;Fone&#39;; did you mean Phone"),
            ({"to_id": ""}, "Give the value of the other end."),
            ({"from_id": "x" * 10_240}, "An identity value has at most 1,024 characters"),
            ({"to_namespace": HOSTILE}, "no identity namespace &#39;&lt;script&gt;document.title"),
            ({"to_namespace": "N" * 65}, "A namespace symbol has at most 64 characters"),
            ({"reason": HOSTILE, "to_namespace": "Fone"}, "&lt;script&gt;document.title"),
        ]
        for change, said in cases:
            answer = client.post("/ui/profiles/unlink", params={"sandbox": "prod"},
                                 data={**UNLINK, **change, "csrf_token": csrf})  # fmt: skip
            assert answer.status_code == 200 and said in answer.text, (change, answer.text[-2000:])
            assert 'id="form-error"' in answer.text and HOSTILE not in answer.text
        bad_link = client.get("/ui/profiles/unlink", params={**UNLINK, "to_id": ""})
        assert bad_link.status_code == 400 and "not a link to remove" in bad_link.text
    assert api.get("/identity/removals").json() == []


def test_the_graph_is_drawn_inside_its_box_whatever_its_size() -> None:
    from accord.web.profiles import HEIGHT, WIDTH, drawing_of

    for size in (1, 2, 3, 7, 16, 40):
        members = [{"namespace": "Email", "id": f"p{n}@example.com"} for n in range(size)]
        links = [{"from": members[0], "to": m} for m in members[1:]]
        dropped = [{"from": members[0], "to": {"namespace": "Phone", "id": "555"}, "droppedBy": "removed by a user"}]
        graph = {"identities": members, "links": links, "droppedLinks": dropped}
        drawn = drawing_of(graph, ("Email", "p0@example.com"))
        assert len(drawn.nodes) == size + 1 and len(drawn.links) == size
        assert [n.id for n in drawn.nodes if n.outside] == ["555"] and drawn.links[-1].removed
        assert [n.id for n in drawn.nodes if n.asked] == ["p0@example.com"]
        assert all(0 < n.x < WIDTH and 0 < n.y < HEIGHT and 0 < n.label_y < HEIGHT for n in drawn.nodes)
        assert len({(n.x, n.y) for n in drawn.nodes}) == size + 1  # no two on one spot
        assert drawn.labelled == (size + 1 <= 16)


@pytest.mark.settings(session_cookie_secure=False)
def test_the_profile_page_shows_computed_attributes(api: Api, ann: Workspace) -> None:
    body = {"name": "visits", "displayName": "Visits", "expression": {"value": "xEvent.count()"},
            "duration": {"count": 90, "unit": "DAYS"}}  # fmt: skip
    assert api.post("/computed-attributes", json=body).status_code == 201
    with httpx.Client(base_url=api.base, timeout=60) as client:
        signed_in(client, "ann")
        before = client.get(profile_url("Email", ANN)).text
        assert 'id="computed-attributes"' in before and "none yet" in before and "not yet" in before
        refreshed = api.post("/computed-attributes/refresh").json()
        value = api.get("/profiles", params={"namespace": "Email", "id": ANN}).json()["computedAttributes"][0]["value"]
        after = client.get(profile_url("Email", ANN)).text
    row = re.search(r'<tr data-path="_tenant\.SystemComputedAttributes\.visits\.value">(.*?)</tr>', after, re.S)
    assert row is not None and f"<td>{value}</td>" in row.group(1) and refreshed["evaluatedAt"] in row.group(1)

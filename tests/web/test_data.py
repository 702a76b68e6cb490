"""The data pages: schemas and their field trees, datasets with preview, statistics, batches and row errors,
identity namespaces, and the forms that create each; what each refuses, and to whom."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from accord import identity, lake, schema
from accord.workspace import Workspace
from tests.conftest import Api
from tests.web.conftest import PASSWORD, Watched, check_page, sign_in

SHOWN = {
    "/ui/data": "/ui/data",
    "/ui/data/schemas": "/ui/data/schemas",
    "/ui/data/schemas/{name}": "/ui/data/schemas/crm",
    "/ui/data/new-schema": "/ui/data/new-schema",
    "/ui/data/datasets": "/ui/data/datasets",
    "/ui/data/datasets/{name}": "/ui/data/datasets/crm",
    "/ui/data/new-dataset": "/ui/data/new-dataset",
    "/ui/data/namespaces": "/ui/data/namespaces",
    "/ui/data/new-namespace": "/ui/data/new-namespace",
}
"""This module's pages, each with a URL that shows it once `_seeded` ran."""
FRAGMENTS = {
    "/ui/data/batches/{batch_id}": "a batch's page: checked by test_a_schema_a_dataset_and_a_batch_with_a_bad_row",
}

MAPPING = json.dumps({"mappings": [
    {"source": "first", "destination": "person.name.firstName"},
    {"source": "last", "destination": "person.name.lastName"},
    {"expression": "lower(email)", "destination": "personalEmail.address"},
]})  # fmt: skip
HOSTILE = '<script>document.title="owned"</script>'
HOSTILE_VALUE = "<img src=/ui/static/none.png onerror=alert(1)>"
"""A customer's value as a file may bring it: shown as text, never as an image whose script would run."""


def _ingest(api: Api, dataset: str, body: str) -> dict[str, Any]:
    """A CSV ingested as the API does it (`POST /datasets/{name}/batches`), failed rows up to half allowed."""
    answer = api.post(f"/datasets/{dataset}/batches", files={"file": (f"{dataset}.csv", body.encode())},
                      data={"mapping": MAPPING, "errorThreshold": "50"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    batch: dict[str, Any] = answer.json()
    return batch


def _seeded(api: Api) -> None:
    """Rows in crm (the `people` fixture's dataset), and an event dataset with a time-to-live."""
    _ingest(api, "crm", f'first,last,email\nAnn,Lee,ANN@example.com\nBob,"{HOSTILE_VALUE}",bob@example.com\n')
    assert api.post("/schemas", json={"name": "visits", "class": "experienceevent",
                                      "fieldGroups": ["identitymap", "web-details"]}).status_code == 201  # fmt: skip
    assert api.post("/datasets", json={"name": "visits", "schema": "visits"}).status_code == 201
    assert api.patch("/datasets/visits", json={"ttlDays": 30}).status_code == 200


def test_the_data_pages_pass_every_check(api: Api, people: Workspace, watched: Watched) -> None:
    _seeded(api)
    sign_in(watched.page, api.base, "ada")
    for step, url in enumerate([*SHOWN.values(), "/ui/data/datasets/visits"], 1):
        check_page(watched, f"{api.base}{url}?sandbox=prod", str(step))
    watched.page.goto(f"{api.base}/ui/data/datasets/crm?sandbox=prod")
    assert HOSTILE_VALUE in watched.page.locator("#preview").inner_text()
    assert watched.page.locator("main img").count() == 0


def test_a_schema_a_dataset_and_a_batch_with_a_bad_row(api: Api, people: Workspace, watched: Watched) -> None:
    page = watched.page
    sign_in(page, api.base, "dan")  # a data engineer
    page.get_by_role("link", name="Data", exact=True).click()
    page.wait_for_url(re.compile(r"/ui/data\?"))
    watched.shot("1-data")
    page.get_by_role("link", name="Create a schema").click()
    page.get_by_label("Name (required)", exact=True).fill("loyal-customers")
    page.get_by_label("Title").fill("Loyal customers")
    page.get_by_label("Class").select_option("profile")
    page.get_by_label("Demographic Details").check()
    page.get_by_label("Personal Contact Details").check()
    page.get_by_label("Identity 1: field").fill("personalEmail.address")
    page.keyboard.press("Escape")  # the field's suggestions (a datalist) closed, as a person closes them
    page.get_by_label("Identity 1: namespace").select_option("Email")
    page.get_by_label("Identity 1 is the primary identity").check()
    page.get_by_label("Identity 2: field").fill("mobilePhone.number")
    page.keyboard.press("Escape")
    page.get_by_label("Identity 2: namespace").select_option("Phone")
    page.get_by_role("button", name="Create the schema").focus()
    watched.shot("2-schema-form")
    page.keyboard.press("Enter")  # the focused button sends the form
    page.wait_for_url(re.compile(r"/ui/data/schemas/loyal-customers\?"))
    email = page.locator('#field-tree tr[data-path="personalEmail.address"]')
    assert "Email (primary)" in email.inner_text() and "personal-contact-details" in email.inner_text()
    assert "Phone" in page.locator('tr[data-path="mobilePhone.number"]').inner_text()
    assert "(primary)" not in page.locator('tr[data-path="mobilePhone.number"]').inner_text()
    assert "demographic-details" in page.locator('tr[data-path="person.name.firstName"]').inner_text()
    assert "class profile" in page.locator('tr[data-path="_id"]').inner_text()
    watched.shot("3-schema-tree")

    page.get_by_role("link", name="Create a dataset on this schema").click()
    assert page.get_by_label("Schema", exact=True).input_value() == "loyal-customers"  # chosen from the schema's page
    page.get_by_label("Name (required)", exact=True).fill("loyal")
    page.get_by_label("Feeds profiles").check()
    page.get_by_label("Name (required)", exact=True).press("Enter")  # the keyboard sends the form
    page.wait_for_url(re.compile(r"/ui/data/datasets/loyal\?"))
    assert "No row yet" in page.locator("section", has_text="Preview").inner_text()
    watched.shot("4-dataset-empty")

    batch = _ingest(api, "loyal", "first,last,email\nAnn,Lee,ANN@example.com\nBob,Ng,not-an-email\nCy,Ko,cy@x.io\n")
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (2, 1)
    page.reload()
    preview = page.locator("#preview").inner_text()
    assert "ann@example.com" in preview and "cy@x.io" in preview and "not-an-email" not in preview
    stats = page.locator('#statistics tr[data-path="personalEmail.address"]').inner_text()
    assert "\t2\t" in stats and "100 %" in stats and "ann@example.com" in stats and "cy@x.io" in stats
    assert page.locator("#row-count").inner_text() == "2"
    row = page.locator(f'#batches tr[data-batch="{batch["id"]}"]').inner_text()
    assert "success" in row and "\t3\t2\t1\t" in row
    watched.shot("5-dataset-rows")

    page.get_by_role("link", name=batch["id"]).click()
    page.wait_for_url(re.compile(rf"/ui/data/batches/{batch['id']}\?"))
    lines = [row.locator("td").all_inner_texts() for row in page.locator("#row-errors tbody tr").all()]
    assert lines and all(cells[1:4] == ["3", "2", "personalEmail.address"] for cells in lines), lines  # line 3, row 2
    assert "INGEST-1214-400" in [cells[4] for cells in lines] and all(cells[5] for cells in lines)
    assert "not-an-email" in lines[0][6]  # the row as read
    watched.shot("6-batch-errors")
    check_page(watched, page.url, "7-batch-page")


def test_a_namespace_is_created_and_hostile_names_show_as_text(api: Api, people: Workspace, watched: Watched) -> None:
    page = watched.page
    sign_in(page, api.base, "ada")
    page.goto(f"{api.base}/ui/data/new-namespace?sandbox=prod")
    page.get_by_label("Symbol (required)").fill("LoyaltyId")
    page.get_by_label("Name", exact=True).fill(HOSTILE)
    page.get_by_label("Identity type").select_option("cross_device")
    page.get_by_label("Description").fill('<img src=x onerror="document.title=1">')
    page.get_by_role("button", name="Create the namespace").click()
    page.wait_for_url(re.compile(r"/ui/data/namespaces\?"))
    assert "Namespace LoyaltyId created" in page.locator(".notice").inner_text()
    row = page.locator('tr[data-namespace="LoyaltyId"]')
    assert HOSTILE in row.inner_text() and "custom" in row.inner_text()
    assert page.locator("main img").count() == 0 and "owned" not in page.title()
    watched.shot("1-namespace")

    page.goto(f"{api.base}/ui/data/new-namespace?sandbox=prod")
    page.get_by_label("Symbol (required)").fill("loyaltyid")  # taken, whatever its case
    page.get_by_role("button", name="Create the namespace").click()
    assert "is taken" in page.locator("#e-symbol").inner_text()
    assert page.get_by_label("Symbol (required)").input_value() == "loyaltyid"  # what was typed is kept
    watched.shot("2-namespace-refused")

    page.goto(f"{api.base}/ui/data/new-schema?sandbox=prod")
    page.get_by_label("Name (required)", exact=True).fill("<script>alert(1)</script>")
    page.get_by_label("Title").fill(HOSTILE)
    page.get_by_label("Identity 1: field").fill("no.such.field")
    page.keyboard.press("Escape")
    page.get_by_label("Identity 1: namespace").select_option("LoyaltyId")
    page.get_by_role("button", name="Create the schema").click()
    assert "should match pattern" in page.locator("#e-name").inner_text()
    assert "Nothing was created" in page.locator("#form-error").inner_text()
    assert page.get_by_label("Title").input_value() == HOSTILE and "owned" not in page.title()
    page.get_by_label("Name (required)", exact=True).fill("hostile")
    page.get_by_role("button", name="Create the schema").click()
    assert "no field 'no.such.field'" in page.locator("#e-identity-0").inner_text()
    assert page.get_by_label("Identity 1: namespace").input_value() == "LoyaltyId"  # kept
    watched.shot("3-schema-refused")
    page.get_by_label("Identity 1: field").fill("")
    page.keyboard.press("Escape")
    page.get_by_label("Identity 1: namespace").select_option("")
    page.get_by_role("button", name="Create the schema").click()
    page.wait_for_url(re.compile(r"/ui/data/schemas/hostile\?"))
    assert HOSTILE in page.locator("dl.facts").inner_text() and "owned" not in page.title()
    page.goto(f"{api.base}/ui/data?sandbox=prod")
    assert HOSTILE in page.locator('tr[data-schema="hostile"]').inner_text() and "owned" not in page.title()
    watched.shot("4-hostile-shown-as-text")


@contextmanager
def _client(api: Api, user: str) -> Iterator[httpx.Client]:
    """A person signed in through the form, as a browser without scripts would be."""
    with httpx.Client(base_url=api.base, timeout=60) as client:
        assert client.post("/ui/login", data={"user": user, "password": PASSWORD}).status_code == 303
        yield client


def _names(ws: Workspace) -> tuple[set[str], set[str], set[str]]:
    """The sandbox's schemas, datasets and custom namespaces, as stored."""
    with ws.catalog.session() as session:
        return ({s.name for s in schema.list_schemas(session, "prod")},
                {d["name"] for d in lake.list_datasets(session, "prod")},
                {n.symbol for n in identity.list_namespaces(session, "prod") if not n.standard})  # fmt: skip


FORMS = {
    "/ui/schemas?sandbox=prod": {"name": "s2", "class": "profile", "fieldGroups": "demographic-details"},
    "/ui/datasets?sandbox=prod": {"name": "d2", "schema": "crm"},
    "/ui/namespaces?sandbox=prod": {"symbol": "N2", "type": "email"},
    "/ui/datasets/visits/ttl?sandbox=prod": {"days": "7"},
    "/ui/datasets/visits/purge?sandbox=prod": {},
}


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_every_form_needs_its_csrf_token_and_its_permission(api: Api, people: Workspace) -> None:
    _seeded(api)
    before = _names(people)
    with _client(api, "dan") as dan:
        for url, data in FORMS.items():
            refused = dan.post(url, data=data)  # no CSRF token
            assert refused.status_code == 403 and "text/html" in refused.headers["content-type"], url
            forged = dan.post(url, data={**data, "csrf_token": "not-the-session-s"})
            assert forged.status_code == 403, url
    with _client(api, "sam") as sam:  # an auditor: sees everything, changes nothing
        index = sam.get("/ui/data")
        assert index.status_code == 200 and all(s in index.text for s in ("Schemas", "Datasets", "Identity namespaces"))
        assert "Create a" not in index.text and "/ui/data/new-" not in index.text  # no button to a refused form
        visits = sam.get("/ui/data/datasets/visits")
        assert visits.status_code == 200 and "30 days" in visits.text and "/ttl" not in visits.text
        assert "Create a dataset" not in sam.get("/ui/data/schemas/crm").text
        for form in ("new-schema", "new-dataset", "new-namespace"):
            refused = sam.get(f"/ui/data/{form}")
            assert refused.status_code == 403 and "Refused" in refused.text and "Manage" in refused.text, form
        for url, data in FORMS.items():
            refused = sam.post(url, data={**data, "csrf_token": sam.cookies["accord_csrf"]})
            assert refused.status_code == 403 and "Manage" in refused.text, url
    assert _names(people) == before  # nothing made by any refused form
    assert api.get("/datasets/visits").json()["ttlDays"] == 30


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_marketer_sees_the_data_but_no_button_to_change_it(api: Api, people: Workspace) -> None:
    with _client(api, "ann") as ann:
        index = ann.get("/ui/data")
        assert index.status_code == 200 and "crm" in index.text and "Create a" not in index.text
    with httpx.Client(base_url=api.base, timeout=60) as nobody:  # no session: the sign-in form
        assert nobody.get("/ui/data").headers["location"] == "/ui/login"


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_bad_values_are_said_where_they_were_typed_and_nothing_is_half_made(api: Api, people: Workspace) -> None:
    _seeded(api)
    before = _names(people)
    with _client(api, "ada") as ada:
        csrf = ada.cookies["accord_csrf"]

        def post(url: str, **data: Any) -> httpx.Response:
            answer = ada.post(f"{url}?sandbox=prod", data={"csrf_token": csrf, **data})
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), url
            assert "Nothing was created" in answer.text or "Not changed" in answer.text, url
            return answer

        hostile = post("/ui/schemas", name=HOSTILE, title="x" * 300, **{"class": "nothing"})
        assert HOSTILE not in hostile.text and "&lt;script&gt;" in hostile.text
        assert 'id="e-title"' in hostile.text and "at most 256 characters, not 300" in hostile.text
        assert "x" * 300 in hostile.text  # what was typed is kept, to be corrected
        long = post("/ui/schemas", name="s" * 5000, **{"class": "profile"})
        assert 'id="e-name"' in long.text and "at most 128 characters, not 5,000" in long.text
        groups = post("/ui/schemas", name="s3", fieldGroups=["commerce-details", "nope"], **{"class": "profile"})
        assert 'id="e-fieldGroups"' in groups.text and "is for experienceevent, not profile" in groups.text
        twice = post("/ui/schemas", name="crm", **{"class": "profile"})
        assert 'id="e-name"' in twice.text and "already exists" in twice.text
        primary = post("/ui/schemas", name="s4", fieldGroups=["personal-contact-details"], primary="1",
                       identity_path=["personalEmail.address", "mobilePhone.number", ""],
                       identity_namespace=["Email", "Nope", ""], **{"class": "profile"})  # fmt: skip
        assert re.search(r'id="e-identity-1">[^<]*unknown identity namespace', primary.text)

        assert HOSTILE not in post("/ui/datasets", name=HOSTILE, schema="crm").text
        assert "must be letters, digits" in post("/ui/datasets", name="a b", schema="crm").text
        assert "at most 128 characters, not 200" in post("/ui/datasets", name="d" * 200, schema="crm").text
        assert 'id="e-schema"' in post("/ui/datasets", name="d3", schema="nope").text
        contract = post("/ui/datasets", name="d4", schema="crm", schemaContract="sometimes")
        assert 'id="e-schemaContract"' in contract.text and "is not one of" in contract.text
        # a second profile-enabled schema whose field clashes with crm's in the union: refused, and no dataset left
        assert api.post("/fieldgroups", json={"name": "clash", "classes": ["profile"], "fields": {"_tenant": {
            "type": "object", "properties": {"tier": {"type": "integer"}}}}}).status_code == 201  # fmt: skip
        assert api.post("/fieldgroups", json={"name": "clash2", "classes": ["profile"], "fields": {"_tenant": {
            "type": "object", "properties": {"tier": {"type": "string"}}}}}).status_code == 201  # fmt: skip
        for name, group in (("c1", "clash"), ("c2", "clash2")):
            assert (
                api.post("/schemas", json={"name": name, "class": "profile", "fieldGroups": [group]}).status_code == 201
            )
        assert api.post("/datasets", json={"name": "c1", "schema": "c1", "profileEnabled": True}).status_code == 201
        clash = post("/ui/datasets", name="c2", schema="c2", profileEnabled="on")
        assert 'id="e-profileEnabled"' in clash.text and "clashes" in clash.text
        assert "c2" not in {d["name"] for d in api.get("/datasets").json()}

        long_ns = post("/ui/namespaces", symbol="N" * 65, type="email", description="d" * 2000)
        assert 'id="e-symbol"' in long_ns.text and 'id="e-description"' in long_ns.text
        assert 'id="e-type"' in post("/ui/namespaces", symbol="N3", type="robot").text
        assert 'id="e-symbol"' in post("/ui/namespaces", symbol="1abc", type="email").text

        for days, said in (("abc", "whole number"), ("99999999", "whole number"), ("-3", "whole number")):
            ttl = post("/ui/datasets/visits/ttl", days=days)
            assert said in ttl.text and f'value="{days}"' in ttl.text, days
        assert "applies to events only" in post("/ui/datasets/crm/ttl", days="3").text
        assert ada.post("/ui/datasets/nope/ttl?sandbox=prod", data={"csrf_token": csrf, "days": "3"}).status_code == 404

        for url in ("/ui/data/datasets/crm?rows=abc", "/ui/data/datasets/crm?rows=100000", "/ui/data/schemas?page=0",
                    "/ui/data/namespaces?page=" + "9" * 15):  # fmt: skip
            answer = ada.get(url)
            assert answer.status_code == 400 and "whole number" in answer.text, url
        for url in ("/ui/data/namespaces?page=" + "9" * 50, "/ui/data/new-dataset?schema=" + "s" * 500):
            answer = ada.get(url)  # past any bound a page would take: refused before the route, said as a page
            assert answer.status_code == 400 and "cannot be used" in answer.text, url
        huge = ada.post("/ui/namespaces?sandbox=prod", data={"csrf_token": csrf, "symbol": "N" * 20_000})
        assert huge.status_code == 400 and "cannot be used" in huge.text and "N" * 200 not in huge.text
        for url in ("/ui/data/schemas/nope", "/ui/data/datasets/" + "x" * 5000, "/ui/data/batches/nope",
                    "/ui/data/batches/" + "b" * 500):  # fmt: skip
            answer = ada.get(url)
            assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html"), url
        assert ada.get("/ui/data/datasets/crm?rows=100").status_code == 200
    assert _names(people) == ({*before[0], "c1", "c2"}, {*before[1], "c1"}, before[2])
    assert api.get("/datasets/visits").json()["ttlDays"] == 30  # every refused change left it as it was


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_time_to_live_is_set_cleared_and_its_purge_runs_as_an_operation(api: Api, people: Workspace) -> None:
    _seeded(api)
    with _client(api, "dan") as dan:
        csrf = dan.cookies["accord_csrf"]
        saved = dan.post("/ui/datasets/visits/ttl?sandbox=prod", data={"csrf_token": csrf, "days": "90"})
        assert saved.status_code == 303 and saved.headers["location"] == "/ui/data/datasets/visits?sandbox=prod"
        assert api.get("/datasets/visits").json()["ttlDays"] == 90
        started = dan.post("/ui/datasets/visits/purge?sandbox=prod", data={"csrf_token": csrf})
        assert started.status_code == 303 and started.headers["location"].startswith("/ui/operations/")
        for _ in range(100):
            state = dan.get(started.headers["location"]).text
            if "finished" in state or "failed" in state:
                break
            time.sleep(0.1)
        assert "finished" in state and "0 events removed" in state and "/ui/data/datasets/visits" in state
        assert (
            dan.post("/ui/datasets/visits/ttl?sandbox=prod", data={"csrf_token": csrf, "days": ""}).status_code == 303
        )
        assert api.get("/datasets/visits").json()["ttlDays"] is None
        assert "none: events are kept" in dan.get("/ui/data/datasets/visits").text


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_lists_come_in_pages(api: Api, people: Workspace) -> None:
    for number in range(55):
        assert api.post("/namespaces", json={"symbol": f"N{number:02d}", "type": "email"}).status_code == 201
    with _client(api, "ada") as ada:
        index = ada.get("/ui/data")
        assert index.text.count("data-namespace=") == 10 and "All 64 identity namespaces" in index.text
        first = ada.get("/ui/data/namespaces")
        assert first.text.count("data-namespace=") == 50 and "Page 1 of 2" in first.text and "Next page" in first.text
        second = ada.get("/ui/data/namespaces", params={"page": "2"})
        assert second.text.count("data-namespace=") == 14 and 'data-namespace="N54"' in second.text
        assert ada.get("/ui/data/namespaces", params={"page": "7"}).text.count("data-namespace=") == 14  # the last


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_the_dataset_page_reads_no_more_than_its_preview_and_footers(api: Api, people: Workspace) -> None:
    """The page's statistics come from the files' footers: as the API's full statistics on what both give."""
    _seeded(api)
    rows = "".join(f"P{i},L{i % 7},p{i}@x.io\n" for i in range(5000))
    _ingest(api, "crm", "first,last,email\n" + rows)
    exact = api.get("/datasets/crm/stats").json()
    with _client(api, "ada") as ada:
        ada.get("/ui/data/datasets/crm")  # the first read of a lake opens the engine
        started = time.perf_counter()
        page = ada.get("/ui/data/datasets/crm")
        seconds = time.perf_counter() - started
    assert page.status_code == 200 and seconds < 1.0, seconds
    figures = exact["fields"]["personalEmail.address"]
    assert f"<td>{figures['count']:,}</td>" in page.text and f"<td>{figures['max']}</td>" in page.text
    assert f'id="row-count">{exact["rowCount"]:,}<' in page.text
    assert page.text.count("<tr>", page.text.index('id="preview"'), page.text.index('id="stats-title"')) == 21

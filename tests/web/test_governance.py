"""The governance pages: labels on datasets and fields, policies and marketing actions, privacy jobs run in the
background, the activity log, users and roles; each page walked by every check, a journey by clicks and typing,
and bad input on every form (a wrong policy expression shown at its column, hostile names escaped, forms without
their CSRF token refused, an auditor who reads but changes nothing, a password never shown again)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from accord import governance
from accord.access import ActivityQuery, list_activity
from accord.workspace import Workspace
from tests.conftest import Api
from tests.web.conftest import NARROW, PASSWORD, WIDE, Watched, accessibility_problems, check_page, sign_in

MAPPING = json.dumps({"mappings": [
    {"source": "first", "destination": "person.name.firstName"},
    {"expression": "lower(email)", "destination": "personalEmail.address"}]})  # fmt: skip
HOSTILE = '<script>document.title="owned"</script>'
PLAIN = "<script>"  # where a name takes no spaces or quotes

SHOWN = {
    "/ui/governance": "/ui/governance",
    "/ui/governance/labels": "/ui/governance/labels",
    "/ui/governance/datasets/{name}": "/ui/governance/datasets/crm",
    "/ui/governance/policies": "/ui/governance/policies",
    "/ui/governance/marketing-actions": "/ui/governance/marketing-actions",
    "/ui/governance/privacy": "/ui/governance/privacy",
    "/ui/governance/activity": "/ui/governance/activity",
    "/ui/governance/users": "/ui/governance/users",
    "/ui/governance/users/{name}": "/ui/governance/users/ann",
    "/ui/governance/roles": "/ui/governance/roles",
}
"""This module's pages, each with a URL that shows it once `governed` has seeded the home."""
FRAGMENTS = {
    "/ui/governance/privacy/{job_id}": "a privacy job's page: checked by the journey, which starts the job",
    "/ui/governance/privacy/{job_id}/bundle": "an access job's bundle, a download: test_a_job_page_reports_each_store",
    "/ui/governance/activity/export": "the log as JSON lines, a download: test_the_log_pages_and_exports_its_filters",
}
"""GET routes that are not a page of their own, or are checked by a journey, with where."""

CHANGES = [  # every form that changes something, with what it would post
    ("/ui/labels", {"name": "Forged"}),
    ("/ui/datasets/crm/labels", {"labels": "C2"}),
    ("/ui/datasets/crm/labels/remove", {"label": "I1", "field": "personalEmail.address"}),
    ("/ui/policies", {"name": "forged", "action": "analytics", "expression": "C1"}),
    ("/ui/policies/core-analytics/enable", {}),
    ("/ui/policies/core-analytics/disable", {}),
    ("/ui/marketing-actions", {"name": "forgedAction"}),
    ("/ui/privacy/jobs", {"kind": "access", "namespace": "Email", "value": "ann@example.com", "step": "check"}),
    ("/ui/users", {"name": "forged", "password": "long enough password"}),
    ("/ui/users/dan/disable", {}),
    ("/ui/users/dan/enable", {}),
    ("/ui/users/dan/grants", {"role": "admin", "where": "*"}),
    ("/ui/users/dan/grants/revoke", {"role": "data engineer", "where": "prod"}),
    ("/ui/roles", {"name": "forged", "permissions": "View Sources"}),
]


@pytest.fixture
def governed(api: Api, people: Workspace) -> Iterator[Workspace]:
    """`people`, with Ann and Bob in the crm dataset and in a contacts dataset whose schema says their e-mail
    address identifies them (a privacy job finds them there), and crm's e-mail field labelled I1."""
    made = api.post("/schemas", json={"name": "contacts", "class": "profile", "fieldGroups": [
        "demographic-details", "personal-contact-details"], "identities": [
        {"path": "personalEmail.address", "namespace": "Email", "primary": True}]})  # fmt: skip
    assert made.status_code == 201, made.text
    assert api.post("/datasets", json={"name": "contacts", "schema": "contacts"}).status_code == 201
    body = "first,email\nAnn,ann@example.com\nBob,bob@example.com\n"
    for dataset in ("crm", "contacts"):
        loaded = api.post(f"/datasets/{dataset}/batches", files={"file": ("people.csv", body.encode())},
                          data={"mapping": MAPPING})  # fmt: skip
        assert loaded.status_code == 201, loaded.text
    labelled = api.post("/datasets/crm/labels", json={"labels": ["I1"], "field": "personalEmail.address"})
    assert labelled.status_code == 200, labelled.text
    yield people


def signed(client: httpx.Client, user: str, password: str = PASSWORD) -> str:
    """Sign `user` in on the client; the CSRF token their forms carry."""
    assert client.post("/ui/login", data={"user": user, "password": password}).status_code == 303
    return str(client.cookies["accord_csrf"])


def test_the_governance_pages_pass_every_check(api: Api, governed: Workspace, watched: Watched) -> None:
    sign_in(watched.page, api.base, "ada")
    for step, url in enumerate(SHOWN.values(), 1):
        check_page(watched, f"{api.base}{url}?sandbox=prod", f"{step}-{url.rsplit('/', 1)[-1]}")


def test_ada_labels_enables_a_policy_runs_a_job_and_finds_it_in_the_log(api: Api, governed: Workspace,
                                                                       watched: Watched) -> None:  # fmt: skip
    page, base = watched.page, api.base
    sign_in(page, base, "ada")
    page.get_by_role("link", name="Governance").click()
    page.get_by_role("link", name="Labels", exact=True).click()
    page.get_by_role("link", name="crm").click()
    page.wait_for_url(re.compile(r"/ui/governance/datasets/crm"))
    watched.shot("1-dataset-labels")
    page.get_by_label("Field", exact=True).select_option("personalEmail.address")
    page.get_by_label("Label", exact=True).select_option("C2")
    page.get_by_role("button", name="Add the label").click()
    email = page.locator('tr[data-field="personalEmail.address"]')
    expect(email).to_contain_text("C2")
    expect(email).to_contain_text("I1")
    watched.shot("2-labelled")

    page.get_by_role("link", name="Governance").first.click()
    page.get_by_role("link", name="Policies").click()
    policy = page.locator("#policy-core-export-to-third-party")
    expect(policy.locator(".state")).to_have_text("disabled")
    page.get_by_role("button", name="Enable core-export-to-third-party").click()
    expect(policy.locator(".state")).to_have_text("enabled")
    expect(page.get_by_role("button", name="Disable core-export-to-third-party")).to_be_visible()
    watched.shot("3-policy-enabled")

    page.get_by_role("link", name="Governance").first.click()
    page.get_by_role("link", name="Privacy jobs").first.click()
    page.get_by_label("Value 1").fill("Ann@Example.com")
    watched.shot("4-privacy-form")
    page.get_by_role("button", name="Start the job").click()
    page.wait_for_url(re.compile(r"/ui/operations/"))
    watched.shot("5-job-running")
    expect(page.locator("#operation-result")).to_be_visible(timeout=60_000)
    assert "finished" in page.locator("#operation-state").inner_text()
    watched.shot("6-job-finished")
    page.locator("#operation-result").click()
    page.wait_for_url(re.compile(r"/ui/governance/privacy/[0-9a-f-]+\?"))
    expect(page.locator("#job-status")).to_have_text("complete")
    lake = page.locator('#report tr[data-store="lake"] td')
    assert lake.nth(1).inner_text() == "yes" and lake.nth(2).inner_text() == "1"  # Ann's row of contacts
    check_page(watched, page.url, "7-job")

    page.get_by_role("link", name="Governance").first.click()
    page.get_by_role("link", name="The activity log").click()
    page.get_by_label("Object").fill("datasets/crm")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"object=datasets%2Fcrm"))
    rows = page.locator("#activity tbody tr")
    expect(rows.first).to_contain_text("POST /ui/datasets/{name}/labels")
    assert rows.first.locator(".object").inner_text() == "datasets/crm"
    assert "ada" in rows.first.inner_text() and "success" in rows.first.inner_text()
    assert all(t.strip() == "datasets/crm" for t in page.locator("#activity .object").all_inner_texts())
    watched.shot("8-activity-by-object")


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_job_page_reports_each_store_and_gives_an_access_jobs_bundle(api: Api, governed: Workspace) -> None:
    access_job = governance.run_privacy_job(governed, "prod", "access", ["Email:bob@example.com"], requested_by="t")
    delete_job = governance.run_privacy_job(governed, "prod", "delete", ["Email:nobody@example.com"])
    with httpx.Client(base_url=api.base, timeout=60) as client:
        signed(client, "ada")
        shown = client.get(f"/ui/governance/privacy/{access_job['id']}", params={"sandbox": "prod"})
        assert shown.status_code == 200 and "bob@example.com" in shown.text
        assert all(f'data-store="{r["store"]}"' in shown.text for r in access_job["report"])
        bundle = client.get(f"/ui/governance/privacy/{access_job['id']}/bundle", params={"sandbox": "prod"})
        assert bundle.status_code == 200 and bundle.json()["lake"], bundle.text[:300]
        assert "attachment" in bundle.headers["content-disposition"]
        deleted = client.get(f"/ui/governance/privacy/{delete_job['id']}", params={"sandbox": "prod"})
        assert "nobody@example.com" not in deleted.text and "kept as a digest" in deleted.text
        assert "/bundle" not in deleted.text
        none = client.get(f"/ui/governance/privacy/{delete_job['id']}/bundle", params={"sandbox": "prod"})
        assert none.status_code == 404 and "delete job" in none.text and none.headers["content-type"].startswith(
            "text/html")  # fmt: skip
        for unknown in ("0" * 32, "x" * 500):
            missing = client.get(f"/ui/governance/privacy/{unknown}", params={"sandbox": "prod"})
            assert missing.status_code in (400, 404) and "text/html" in missing.headers["content-type"], unknown
        listed = client.get("/ui/governance/privacy", params={"sandbox": "prod"})
        assert access_job["id"] in listed.text and delete_job["id"] in listed.text


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_delete_is_confirmed_before_it_runs_and_a_bad_request_is_said_beside_its_rows(
    api: Api, governed: Workspace
) -> None:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed(client, "ada")
        ask = {"csrf_token": csrf, "kind": "delete", "namespace": ["Email", "Email", "Emial"],
               "value": ["ann@example.com", "not an address", "bob@example.com"], "step": "check"}  # fmt: skip
        bad = client.post("/ui/privacy/jobs", params={"sandbox": "prod"}, data=ask)
        assert bad.status_code == 200 and "The job was not started" not in bad.text
        assert re.search(r'id="row-error-2">[^<]*not a valid Email', bad.text), bad.text
        assert re.search(r'id="row-error-3">[^<]*did you mean Email', bad.text)
        assert 'id="row-error-1"' not in bad.text and 'value="not an address"' in bad.text  # kept as typed
        ask |= {"namespace": ["Email", "", "Email"], "value": ["ann@example.com", "", "Bob@Example.com"]}
        confirm = client.post("/ui/privacy/jobs", params={"sandbox": "prod"}, data=ask)
        assert confirm.status_code == 200 and "Delete them from every store" in confirm.text
        assert "<code>bob@example.com</code>" in confirm.text
        assert governance.list_privacy_jobs(governed, "prod") == []  # nothing runs before it is confirmed
        edit = client.post("/ui/privacy/jobs", params={"sandbox": "prod"}, data=ask | {"step": "edit"})
        assert 'value="Bob@Example.com"' in edit.text
        assert 'id="kind-delete" name="kind" value="delete" checked' in edit.text
        more = client.post("/ui/privacy/jobs", params={"sandbox": "prod"}, data=ask | {"step": "more"})
        assert more.text.count('name="value"') == 3 + 5
        done = client.post("/ui/privacy/jobs", params={"sandbox": "prod"}, data=ask | {"step": "confirm"})
        assert done.status_code == 303 and done.headers["location"].startswith("/ui/operations/")
        state = ""
        for _ in range(120):
            state = client.get(done.headers["location"].replace("?", "/state?")).text
            if "See the result" in state:
                break
            time.sleep(0.5)
        job = governance.list_privacy_jobs(governed, "prod")[0]
        assert (job["kind"], job["status"]) == ("delete", "complete")
        assert f"/ui/governance/privacy/{job['id']}" in state
        assert job["summary"]["removed"] >= 2  # Ann's and Bob's rows of contacts at least
        for problem, data in (
            (
                "at most 1,000 identities",
                ask | {"namespace": ["Email"] * 1001, "value": [f"p{i}@x.io" for i in range(1001)]},
            ),
            ("at least one identity", ask | {"namespace": ["Email"], "value": [" "]}),
            ("`access` or `delete`", ask | {"kind": "erase" * 100}),
            ("at most 1,024 characters", ask | {"value": ["a@" + "b" * 2000 + ".io"]}),
        ):
            answer = client.post("/ui/privacy/jobs", params={"sandbox": "prod"}, data=data)
            assert answer.status_code == 200 and problem in answer.text, problem
        assert len(governance.list_privacy_jobs(governed, "prod")) == 1


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_bad_policy_expression_is_shown_at_its_column_and_nothing_is_made(api: Api, governed: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed(client, "ada")
        typed = {"csrf_token": csrf, "name": "no-export", "action": "exportToThirdParty",
                 "expression": "C4 OR C44 OR Zz1", "description": "kept", "enabled": "on"}  # fmt: skip
        answer = client.post("/ui/policies", params={"sandbox": "prod"}, data=typed)
        assert answer.status_code == 200 and 'id="form-error"' in answer.text
        error = answer.text[answer.text.index('id="policy-expression-error"') :]
        assert "Column 7: no label &#39;C44&#39;; did you mean C4" in error and "Column 14: no label" in error
        assert "C4 OR C44 OR Zz1\n      ^</pre>" in error  # the column pointed at under what was typed
        assert 'value="no-export"' in answer.text and 'value="kept"' in answer.text and "checked" in answer.text
        broken = client.post("/ui/policies", params={"sandbox": "prod"}, data=typed | {"expression": "(C4 OR"})
        assert "Column 7: a label, `NOT` or `(` expected, found the end" in broken.text
        wrong = client.post("/ui/policies", params={"sandbox": "prod"}, data=typed | {
            "name": "bad name!", "action": "exportToThirdPary", "expression": "C4"})  # fmt: skip
        assert re.search(r'id="policy-name-error">1 to 128 letters', wrong.text)
        assert re.search(r'id="policy-action-error">[^<]*did you mean exportToThirdParty', wrong.text)
        long = client.post("/ui/policies", params={"sandbox": "prod"}, data=typed | {"expression": "C4 " * 2000})
        assert long.status_code == 200 and re.search(r'id="policy-expression-error">\s*<p>at most 4,000', long.text)
        with governed.catalog.session() as session:
            assert "no-export" not in {p["name"] for p in governance.list_policies(session, "prod")}
        made = client.post("/ui/policies", params={"sandbox": "prod"}, data=typed | {"expression": "C4 OR (C5 AND I1)"})
        assert made.status_code == 303
        listed = client.get("/ui/governance/policies", params={"sandbox": "prod"}).text
        row = listed[listed.index('id="policy-no-export"') :]
        assert '<td class="state">enabled</td>' in row[:600] and "C4 OR (C5 AND I1)" in row[:800]
        twice = client.post("/ui/policies", params={"sandbox": "prod"}, data=typed | {"expression": "C4"})
        assert twice.status_code == 200 and "already exists" in twice.text
        missing = client.post("/ui/policies/nope/enable", params={"sandbox": "prod"}, data={"csrf_token": csrf})
        assert missing.status_code == 404 and "no policy" in missing.text


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_labels_are_added_and_removed_and_wrong_ones_are_said_beside_their_field(api: Api, governed: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed(client, "dan")  # a data engineer applies labels
        page = "/ui/governance/datasets/crm"
        whole = client.post("/ui/datasets/crm/labels", params={"sandbox": "prod"}, data={"csrf_token": csrf,
                                                                                        "labels": "C12"})  # fmt: skip
        assert whole.status_code == 303 and whole.headers["location"] == f"{page}?sandbox=prod"
        assert "C12" in client.get(page, params={"sandbox": "prod"}).text.split('id="dataset-labels"')[1][:400]
        bad = client.post("/ui/datasets/crm/labels", params={"sandbox": "prod"},
                          data={"csrf_token": csrf, "labels": ["C99", "I1"],
                                "field": "personalEmail.adress"})  # fmt: skip
        assert bad.status_code == 200
        assert re.search(r'id="add-labels-error">no label &#39;C99&#39;', bad.text)
        assert re.search(r'id="add-field-error">[^<]*did you mean personalEmail.address', bad.text)
        absent = client.post("/ui/datasets/crm/labels/remove", params={"sandbox": "prod"},
                             data={"csrf_token": csrf, "label": "C3", "field": "homeAddress"})  # fmt: skip
        assert absent.status_code == 200 and "has no label C3; it holds: none" in absent.text
        removed = client.post("/ui/datasets/crm/labels/remove", params={"sandbox": "prod"},
                              data={"csrf_token": csrf, "label": "C12", "field": ""})  # fmt: skip
        assert removed.status_code == 303
        long = client.post("/ui/datasets/crm/labels", params={"sandbox": "prod"},
                           data={"csrf_token": csrf, "labels": "C1", "field": "x" * 600})  # fmt: skip
        assert long.status_code == 200 and "at most 512 characters" in long.text
        nowhere = client.post("/ui/datasets/nope/labels", params={"sandbox": "prod"},
                              data={"csrf_token": csrf, "labels": "C1"})  # fmt: skip
        assert nowhere.status_code == 404 and "no dataset" in nowhere.text
        assert client.get("/ui/governance/datasets/" + "x" * 300, params={"sandbox": "prod"}).status_code == 400
        custom = client.post("/ui/labels", params={"sandbox": "prod"}, data={"csrf_token": csrf, "name": "PSPD"})
        assert custom.status_code == 403  # creating a label is managing policies, which dan may not
    with governed.catalog.session() as session:
        assert governance.dataset_labels(session, "prod", "crm") == {
            "dataset": "crm", "labels": [], "fields": {"personalEmail.address": ["I1"]}}  # fmt: skip


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_custom_labels_and_marketing_actions_are_created_and_wrong_names_said(api: Api, governed: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed(client, "ada")
        assert (
            client.post(
                "/ui/labels",
                params={"sandbox": "prod"},
                data={"csrf_token": csrf, "name": "PSPD", "description": "sensitive"},
            ).status_code
            == 303
        )
        labels = client.get("/ui/governance/labels", params={"sandbox": "prod"}).text
        assert 'id="label-PSPD"' in labels and "custom" in labels
        for name, said in (("9lives", "a letter, then letters"), ("PSPD", "already exists"), ("C1", "already exists"),
                           ("x" * 70, "at most 64 characters")):  # fmt: skip
            answer = client.post("/ui/labels", params={"sandbox": "prod"}, data={"csrf_token": csrf, "name": name})
            assert answer.status_code == 200 and re.search(f'id="label-name-error">[^<]*{said}', answer.text), name
        assert client.post("/ui/marketing-actions", params={"sandbox": "prod"}, data={
            "csrf_token": csrf, "name": "smsTargeting", "title": "SMS targeting"}).status_code == 303  # fmt: skip
        actions = client.get("/ui/governance/marketing-actions", params={"sandbox": "prod"}).text
        assert "<code>smsTargeting</code></td><td>SMS targeting</td><td>custom</td>" in actions
        again = client.post("/ui/marketing-actions", params={"sandbox": "prod"},
                            data={"csrf_token": csrf, "name": "smsTargeting"})  # fmt: skip
        assert again.status_code == 200 and "already exists" in again.text
        policies = client.get("/ui/governance/policies", params={"sandbox": "prod"}).text
        assert '<option value="smsTargeting">SMS targeting (smsTargeting)</option>' in policies


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_hostile_names_are_escaped_on_every_page(api: Api, governed: Workspace, watched: Watched) -> None:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed(client, "ada")
        for path, data in (
            ("/ui/labels", {"name": "HOSTILE", "description": HOSTILE}),
            ("/ui/marketing-actions", {"name": "hostileAction", "title": HOSTILE, "description": HOSTILE}),
            ("/ui/policies", {"name": "hostile", "action": "hostileAction", "expression": "HOSTILE",
                              "description": HOSTILE}),
            ("/ui/roles", {"name": "hostile", "description": HOSTILE, "permissions": "View Sources"}),
            ("/ui/users", {"name": "mallory", "email": f"{PLAIN}@x.io", "password": "long enough password"}),
        ):  # fmt: skip
            made = client.post(path, params={"sandbox": "prod"}, data=data | {"csrf_token": csrf})
            assert made.status_code == 303, (path, made.text[:2000])
        said = {  # what a page says back (a name refused, an expression that cannot be read)
            "/ui/labels": {"name": HOSTILE},
            "/ui/policies": {"name": HOSTILE, "action": HOSTILE, "expression": f"C1 OR {HOSTILE}"},
            "/ui/users": {"name": HOSTILE, "email": HOSTILE},
            "/ui/roles": {"name": HOSTILE, "permissions": HOSTILE},
            "/ui/privacy/jobs": {"namespace": HOSTILE, "value": HOSTILE, "step": "check"},
        }
        pages = [client.post(path, params={"sandbox": "prod"}, data=data | {"csrf_token": csrf}).text
                 for path, data in said.items()]  # fmt: skip
        pages += [client.get(url, params={"sandbox": "prod"}).text for url in SHOWN.values()]
        pages += [client.get("/ui/governance/users/mallory", params={"sandbox": "prod"}).text]
        pages += [client.get("/ui/governance/activity", params={"sandbox": "prod", "user": HOSTILE,
                                                               "object": HOSTILE, "since": HOSTILE}).text]  # fmt: skip
        for text in pages:
            assert HOSTILE not in text and "<script>document" not in text and f"{PLAIN}@x.io" not in text
        assert sum("&lt;script&gt;" in text for text in pages) >= 10
    sign_in(watched.page, api.base, "ada")  # and in a browser, nothing runs (a blocked script is a console error)
    for url in [*SHOWN.values(), "/ui/governance/users/mallory"]:
        watched.page.goto(f"{api.base}{url}?sandbox=prod")
        assert watched.page.title() != "owned" and not watched.problems, (url, watched.problems)


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_every_form_without_its_csrf_token_is_refused_and_changes_nothing(api: Api, governed: Workspace) -> None:
    before = _state(governed)
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed(client, "ada")
        for path, data in CHANGES:
            for token in (None, "forged-" + csrf[7:]):
                posted = data | ({"csrf_token": token} if token else {})
                answer = client.post(path, params={"sandbox": "prod"}, data=posted)
                assert answer.status_code == 403 and "text/html" in answer.headers["content-type"], (path, token)
                assert "CSRF" in answer.text or "csrf" in answer.text, path
    assert _state(governed) == before


def _state(ws: Workspace) -> Any:
    """What the forms of `CHANGES` could change."""
    from accord.access import list_roles, list_users

    with ws.catalog.session() as session:
        return (governance.list_labels(session, "prod"), governance.dataset_labels(session, "prod", "crm"),
                governance.list_policies(session, "prod"), governance.list_actions(session, "prod"),
                governance.list_privacy_jobs(ws, "prod"), list_users(ws.catalog), list_roles(ws.catalog))  # fmt: skip


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_an_auditor_reads_the_log_sees_no_change_buttons_and_is_refused_every_change(
    api: Api, governed: Workspace
) -> None:
    before = _state(governed)
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed(client, "sam")
        index = client.get("/ui/governance", params={"sandbox": "prod"}).text
        assert "/ui/governance/activity" in index and "/ui/governance/policies" in index
        assert "/ui/governance/privacy" not in index and "/ui/governance/users" not in index
        log = client.get("/ui/governance/activity", params={"sandbox": "prod"})
        assert log.status_code == 200 and "POST /datasets/{name}/labels" in log.text
        for url in SHOWN.values():
            answer = client.get(url, params={"sandbox": "prod"})
            if url.startswith(("/ui/governance/privacy", "/ui/governance/users", "/ui/governance/roles")):
                assert answer.status_code == 403 and "Manage" in answer.text, url
                continue
            assert answer.status_code == 200, url
            assert 'method="post" action="/ui/logout"' in answer.text  # the one form an auditor has
            assert answer.text.count('method="post"') == 1 and "<button" in answer.text, url
        for path, data in CHANGES:
            answer = client.post(path, params={"sandbox": "prod"}, data=data | {"csrf_token": csrf})
            assert answer.status_code == 403 and "this needs the permission" in answer.text, path
        export = client.get("/ui/governance/activity/export", params={"sandbox": "prod"})
        assert export.status_code == 200 and export.text.count("\n") >= 5
    assert _state(governed) == before
    refused = list_activity(governed.catalog, None, ActivityQuery("prod", user="sam"))
    assert {e["outcome"] for e in refused} == {"denied"} and len(refused) == len(CHANGES)  # each refusal logged


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_created_users_password_never_appears_in_a_page_or_the_log(api: Api, governed: Workspace) -> None:
    secret = "Tr0ub4dor&3-never-shown"
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed(client, "ada")
        eve = {"csrf_token": csrf, "name": "eve", "email": "eve@example.com"}
        short = client.post("/ui/users", params={"sandbox": "prod"}, data=eve | {"password": "short"})
        assert short.status_code == 200 and re.search(r'id="user-password-error">10 to 1,024 characters', short.text)
        assert 'value="eve@example.com"' in short.text  # kept; the password is not
        assert "short" not in short.text.split('id="user-password"')[1][:200]
        typo = client.post("/ui/users", params={"sandbox": "prod"},
                           data={"csrf_token": csrf, "name": "eve !", "password": secret})  # fmt: skip
        assert typo.status_code == 200 and secret not in typo.text
        made = client.post("/ui/users", params={"sandbox": "prod"}, data=eve | {"password": secret})
        assert made.status_code == 303 and made.headers["location"] == "/ui/governance/users/eve?sandbox=prod"
        granted = client.post("/ui/users/eve/grants", params={"sandbox": "prod"},
                              data={"csrf_token": csrf, "role": "marketer", "where": "prod"})  # fmt: skip
        assert granted.status_code == 303
        urls = [*SHOWN.values(), "/ui/governance/users/eve"]
        seen = [client.get(url, params={"sandbox": "prod"}).text for url in urls]
        seen.append(client.get("/ui/governance/activity/export", params={"sandbox": "prod"}).text)
        assert all(secret not in text for text in seen) and "<tr><td>marketer</td><td>prod</td>" in seen[-2]
    with httpx.Client(base_url=api.base, timeout=60) as client:  # the password works, and only she knows it
        signed(client, "eve", secret)
    entries = list_activity(governed.catalog, None, ActivityQuery("prod", limit=10_000))
    assert secret not in json.dumps(entries)
    home_wide = [e for e in entries if e["action"].startswith("POST /ui/users")]
    assert len(home_wide) == 4 and all(e["sandbox"] is None for e in home_wide)  # the home's, as the API's are
    with httpx.Client(base_url=api.base, timeout=60) as client:  # so a sandbox's auditor does not read them
        signed(client, "sam")
        assert "/ui/users" not in client.get("/ui/governance/activity", params={"sandbox": "prod"}).text


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_roles_are_granted_revoked_and_made_and_the_last_manager_is_kept(api: Api, governed: Workspace) -> None:
    assert api.post("/sandboxes", json={"name": "dev"}).status_code == 201
    with httpx.Client(base_url=api.base, timeout=60) as client:
        csrf = signed(client, "ada")
        role = {"csrf_token": csrf, "name": "segment keeper", "description": "audiences only",
                "permissions": ["View Segments", "Manage Segments"]}  # fmt: skip
        assert client.post("/ui/roles", params={"sandbox": "prod"}, data=role).status_code == 303
        roles = client.get("/ui/governance/roles", params={"sandbox": "prod"}).text
        assert "<strong>segment keeper</strong>" in roles and "View Segments, Manage Segments" in roles
        empty = client.post("/ui/roles", params={"sandbox": "prod"}, data=role | {"name": "idle", "permissions": []})
        assert re.search(r'id="role-permissions-error">a role needs at least one permission', empty.text)
        forged = client.post("/ui/roles", params={"sandbox": "prod"}, data=role | {"name": "x", "permissions": "Fly"})
        assert re.search(r'id="role-permissions-error">no permission named &#39;Fly&#39;', forged.text)
        grant = {"csrf_token": csrf, "role": "segment keeper", "where": "dev"}
        assert client.post("/ui/users/dan/grants", params={"sandbox": "prod"}, data=grant).status_code == 303
        dan = client.get("/ui/governance/users/dan", params={"sandbox": "prod"}).text
        assert "<tr><td>segment keeper</td><td>dev</td>" in dan and "<tr><td>data engineer</td><td>prod</td>" in dan
        nowhere = client.post("/ui/users/dan/grants", params={"sandbox": "prod"}, data=grant | {"where": "nope"})
        assert nowhere.status_code == 200 and "nope" in nowhere.text and 'id="form-error"' in nowhere.text
        revoked = client.post("/ui/users/dan/grants/revoke", params={"sandbox": "prod"}, data=grant)
        assert revoked.status_code == 303
        assert "<td>segment keeper</td>" not in client.get("/ui/governance/users/dan", params={"sandbox": "prod"}).text
        # ada and the home's owner manage users in every sandbox: the owner may go, then ada is the last
        assert client.post("/ui/users/admin/disable", params={"sandbox": "prod"},
                           data={"csrf_token": csrf}).status_code == 303  # fmt: skip
        kept = client.post("/ui/users/ada/disable", params={"sandbox": "prod"},
                           data={"csrf_token": csrf, "confirm": "yes"})  # ticked: the service refuses  # fmt: skip
        assert kept.status_code == 200 and "would leave no enabled user holding" in kept.text
        assert '<dd id="user-state">enabled</dd>' in kept.text
        last = client.post("/ui/users/ada/grants/revoke", params={"sandbox": "prod"},
                           data={"csrf_token": csrf, "role": "admin", "where": "*", "confirm": "yes"})  # fmt: skip
        assert last.status_code == 200 and "would leave no enabled user holding" in last.text
        assert client.post("/ui/users/admin/enable", params={"sandbox": "prod"},
                           data={"csrf_token": csrf}).status_code == 303  # fmt: skip
        assert client.get("/ui/governance/users/nobody", params={"sandbox": "prod"}).status_code == 404
        odd = client.post("/ui/users", params={"sandbox": "prod"}, data={"csrf_token": csrf, "name": "r2",
                                                                       "kind": "robot"})  # fmt: skip
        assert odd.status_code == 200 and "a person or a service account" in odd.text


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_the_log_pages_and_exports_its_filters_and_says_what_is_wrong(api: Api, governed: Workspace) -> None:
    for _ in range(30):  # 60 changes of crm, and one of another object
        assert api.post("/datasets/crm/labels", json={"labels": ["C3"], "field": "homeAddress"}).status_code == 200
        assert api.delete("/datasets/crm/labels", params={"label": ["C3"], "field": "homeAddress"}).status_code == 200
    assert api.post("/labels", json={"name": "Later"}).status_code == 201
    with httpx.Client(base_url=api.base, timeout=60) as client:
        signed(client, "ada")
        first = client.get("/ui/governance/activity", params={"sandbox": "prod", "object": "datasets/crm"}).text
        assert first.count('<td class="object">datasets/crm</td>') == 50 and "labels/Later" not in first
        older = re.search(r'id="older" href="([^"]+)"', first)
        assert older is not None
        second = client.get(older[1].replace("&amp;", "&")).text
        assert 0 < second.count('<td class="object">datasets/crm</td>') < 50 and 'id="older"' not in second
        assert "Newest entries" in second
        by_user = client.get("/ui/governance/activity", params={"sandbox": "prod", "user": "nobody"}).text
        assert "No entry matches these filters" in by_user
        export = client.get("/ui/governance/activity/export", params={"sandbox": "prod", "object": "datasets/crm"})
        lines = [json.loads(line) for line in export.text.splitlines()]
        assert export.headers["content-type"].startswith("application/x-ndjson")
        assert len(lines) > 60 and {e["object"]["type"] for e in lines} == {"datasets"}
        link = re.search(r'id="export" href="([^"]+)"', first)
        assert link is not None and "object=datasets%2Fcrm" in link[1]
        for params, said in (({"since": "yesterday"}, 'id="filter-since-error">since &#39;yesterday&#39; is neither'),
                             ({"user": "u" * 100}, 'id="filter-user-error">at most 64 characters'),
                             ({"before": "abc"}, "the page asked for is not one of this log"),
                             ({"since": "9999-12-31T23:59:59+14:00"}, "")):  # fmt: skip
            answer = client.get("/ui/governance/activity", params={"sandbox": "prod", **params})
            assert answer.status_code == 200 and said in answer.text, params
        wrong = client.get("/ui/governance/activity/export", params={"sandbox": "prod", "since": "soon"})
        assert wrong.status_code == 200 and "text/html" in wrong.headers["content-type"] and "soon" in wrong.text
        recent = client.get("/ui/governance/activity", params={"sandbox": "prod", "since": "1h", "object": "labels"})
        assert '<td class="object">labels/Later</td>' in recent.text


def test_a_delete_asks_for_confirmation_then_runs_and_shows_what_it_removed(
    api: Api, governed: Workspace, watched: Watched
) -> None:
    page, base = watched.page, api.base
    sign_in(page, base, "ada")
    page.goto(f"{base}/ui/governance/privacy?sandbox=prod")
    page.get_by_label("Delete: remove them from every store").check()
    page.get_by_role("button", name="More rows").click()  # the form again, with what was chosen and more rows
    expect(page.get_by_label("Value 8")).to_be_visible()
    assert page.get_by_label("Delete: remove them from every store").is_checked()
    page.get_by_label("Value 1").fill("bob@example.com")
    page.get_by_label("Namespace 2").select_option("Email")
    page.get_by_label("Value 2").fill("not an address")
    page.get_by_role("button", name="Start the job").click()
    expect(page.locator("#row-error-2")).to_contain_text("not a valid Email")
    watched.shot("1-row-refused")
    page.get_by_label("Value 2").fill("")
    page.keyboard.press("Enter")  # the form's first button: start
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete these people from every store?")
    assert page.locator("#confirm-identities").inner_text().strip() == "Email: bob@example.com"
    assert not accessibility_problems(page)
    page.set_viewport_size(NARROW)
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1
    watched.shot("2-confirm-390")
    page.set_viewport_size(WIDE)
    assert governance.list_privacy_jobs(governed, "prod") == []
    page.get_by_role("button", name="Delete them from every store").click()
    page.wait_for_url(re.compile(r"/ui/operations/"))
    expect(page.locator("#operation-result")).to_be_visible(timeout=60_000)
    watched.shot("3-finished")
    page.locator("#operation-result").click()
    expect(page.locator("#job-status")).to_have_text("complete")
    lake = page.locator('#report tr[data-store="lake"] td')
    assert lake.nth(2).inner_text() == "1" and lake.nth(3).inner_text() == "1"  # Bob's row of contacts, found, removed
    assert "bob@example.com" not in page.content()  # a delete job names nobody once it ended
    watched.shot("4-report")


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_manager_does_not_lock_themselves_out_with_one_click(api: Api, people: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:
        assert client.post("/ui/login", data={"user": "ada", "password": PASSWORD}).status_code == 303
        csrf = client.cookies["accord_csrf"]
        page = client.get("/ui/governance/users/ada")
        assert 'id="confirm-disable"' in page.text and "it is my own role" in page.text
        for path, data in (
            ("/ui/users/ada/disable", {}),
            ("/ui/users/ada/grants/revoke", {"role": "admin", "where": "*"}),
        ):
            asked = client.post(path, data={"csrf_token": csrf, **data})
            assert asked.status_code == 200 and "tick" in asked.text, path  # nothing done: asked to confirm
        assert client.get("/ui").status_code == 200  # still signed in, still an admin
        assert api.get("/users/ada").json()["disabled"] is False
        sam = client.get("/ui/governance/users/sam")
        assert 'id="confirm-disable"' not in sam.text  # another's account needs no such box

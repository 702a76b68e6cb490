"""Declared HTTP destinations: a body rendered from the template lands as sent, the sandbox refuses
templates that reach for Python's internals, and a document with several mistakes gets all of them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.destinations.connectors.http import HttpApiDestination
from accord.destinations.exceptions import TemplateRefusedError
from accord.destinations.spec import RequestContext
from accord.destinations.streaming.declared import declared_destination_class, render_sample, validate_declared_file
from accord.destinations.streaming.documents import parse_document
from accord.destinations.streaming.lanes import deliver
from accord.errors import DocumentError
from tests.destinations.conftest import destination, document, rows
from tests.http_receiver import HttpReceiver

FLOW = RequestContext("crm-account", {"id": "f7", "name": "vip to crm"})
TEMPLATE = (
    '{"source": "{{ destination }}/{{ flow.id }}", "items": [{% for p in profiles %}'
    '{"id": {{ p.profileId | tojson }}, "email": {{ p.identities.Email[0] | normalise_email | tojson }}, '
    '"hash": "{{ p.identities.Email[0] | normalise_email | sha256 }}", '
    '"in": {{ p.segments | dictsort | selectattr("1.status", "ne", "exited") | map("first") | list | tojson }}}'
    "{% if not loop.last %},{% endif %}{% endfor %}]}"
)


def test_a_body_rendered_from_the_template_lands_byte_for_byte(receiver: HttpReceiver) -> None:
    doc = document(body=TEMPLATE, headers={"X-Flow": "{{ flow.name }}"}, limits={"requestsInFlight": 1})
    sample = [*rows(3), *rows(1, start=3, status="exited")]
    sample[0]["identities"]["Email"] = ["  Ann.Lee@Example.COM "]
    result = deliver(destination(doc, url=receiver.url), sample, FLOW)
    [got] = receiver.requests("/profiles")
    assert result.rows_delivered == 4 and got.headers["x-flow"] == "vip to crm"
    expected = declared_destination_class(parse_document(doc))
    [shown] = render_sample(expected, sample, {"url": receiver.url}, FLOW)
    assert got.body == shown["body"].encode()  # what the sample shows is what was sent
    body = got.json()
    assert body["source"] == "crm-account/f7" and body["items"][0]["email"] == "ann.lee@example.com"
    import hashlib

    assert body["items"][0]["hash"] == hashlib.sha256(b"ann.lee@example.com").hexdigest()
    assert [item["in"] for item in body["items"]] == [["s1"], ["s1"], ["s1"], []]


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ profiles.__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% set x = profiles.append(1) %}{{ profiles }}",
    ],
)
def test_the_sandbox_refuses_templates_that_reach_python_internals(template: str, tmp_path: Path) -> None:
    cls = declared_destination_class(parse_document(document(body=template, contentType="text/plain")))
    with pytest.raises(TemplateRefusedError) as caught:
        render_sample(cls)
    assert "refused by the sandbox" in caught.value.message and "template body" in caught.value.message
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(document(body=template, contentType="text/plain")))
    with pytest.raises(DocumentError) as reported:
        validate_declared_file(path)
    assert reported.value.problems[0]["path"] == "body" and "sandbox" in reported.value.problems[0]["message"]


def test_a_document_with_several_mistakes_reports_all_of_them_with_paths() -> None:
    bad = document(
        id="Bad Id",
        exportType="people",
        method="GET",
        url="{{ config.endpoint }}/x",
        body='{"k": {{ config.apiKey }}, "p": {{ profiles | tojson }',
        headers={"X-Key": "{% if %}"},
        auth={"type": "oauth2-client-credentials", "tokenUrl": "{{ config.url }}/token"},
        aggregation={"maxProfilesPerRequest": 0},
        config=[{"name": "url"}, {"name": "url"}, {"name": "apiKey", "secret": True, "type": "text"}],
    )
    with pytest.raises(DocumentError) as caught:
        parse_document(bad)
    found = [p["path"] for p in caught.value.problems]
    assert found == ["id", "exportType", "method", "auth.clientId", "auth.clientSecret",
                     "aggregation.maxProfilesPerRequest", "config[2].type", "body", "headers.X-Key"]  # fmt: skip
    messages = " | ".join(f"{p['path']}: {p['message']}" for p in caught.value.problems)
    assert "template syntax" in messages and "headers.X-Key" in caught.value.message


def test_settings_used_but_not_declared_and_secrets_in_the_body_are_mistakes() -> None:
    bad = document(url="{{ config.endpoint }}", body='{"k": "{{ config.apiKey }}"}',
                   config=[{"name": "url"}, {"name": "url"}, {"name": "apiKey", "secret": True}],
                   auth={"by": "mode", "options": {"none": {"type": "none"}}})  # fmt: skip
    with pytest.raises(DocumentError) as caught:
        parse_document(bad)
    said = {(p["path"], p["message"]) for p in caught.value.problems}
    assert ("url", "config.endpoint is not a declared config field") in said
    assert any(path == "body" and "config.apiKey is secret" in message for path, message in said)
    assert ("config[1].name", "'url' is declared twice") in said
    assert ("auth.by", "'mode' is not a declared config field") in said


def test_the_built_in_http_destination_is_a_declared_document(receiver: HttpReceiver) -> None:
    assert HttpApiDestination.spec.delivery == "streaming" and HttpApiDestination.spec.export_type == "profile"
    assert set(HttpApiDestination.spec.secret_fields()) == {"token", "password", "clientSecret"}
    config = HttpApiDestination.spec.config.model_validate({"url": f"{receiver.url}/in", "authentication": "basic",
                                                            "username": "u", "password": "pw-123456"})  # fmt: skip
    result = deliver(HttpApiDestination(config), rows(3), FLOW)
    got = receiver.requests("/in")
    assert result.rows_delivered == 3 and all(r.headers["authorization"].startswith("Basic ") for r in got)
    assert {(r.json()["destination"], r.json()["flow"]["name"]) for r in got} == {("crm-account", "vip to crm")}
    sent = sorted((p for r in got for p in r.json()["profiles"]), key=lambda p: p["profileId"])
    assert sent == json.loads(json.dumps(rows(3)))
    with pytest.raises(Exception, match="authentication 'bearer' needs token"):
        HttpApiDestination.spec.config.model_validate({"url": receiver.url, "authentication": "bearer"})

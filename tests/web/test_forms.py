"""Forms drawn from a spec's JSON Schema: every secret is an input never filled in again, a private key keeps its
line breaks, and what the browser posts is typed back as the schema says."""

from __future__ import annotations

import pytest

from accord import destinations, sources
from accord.errors import DocumentError
from accord.web.forms import SECRET_KINDS, form_document, form_fields
from accord.web.pages import templates

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
SCHEMAS = {f"source {c.id}": c.to_document()["config"] for c in sources.list_connectors()} | {
    f"destination {d.id}": d.config.model_json_schema() for d in destinations.list_destinations()}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_secret_of_every_spec_is_an_input_never_filled_in(name: str) -> None:
    schema = SCHEMAS[name]
    secret = {key for key, prop in schema.get("properties", {}).items() if prop.get("secret")}
    fields = form_fields(schema)
    assert {f.name for f in fields if f.kind in SECRET_KINDS} == secret
    macro = templates.from_string('{% from "_macros.html" import schema_fields %}{{ schema_fields(f, v, {}, k) }}')
    html = macro.render(f=fields, v={key: "typed-secret-value" for key in secret}, k=())
    assert "typed-secret-value" not in html  # even what was just typed is not shown back


def test_a_private_key_is_a_box_that_keeps_its_lines() -> None:
    schema = SCHEMAS["source sftp"]
    [key] = [f for f in form_fields(schema) if f.name == "privateKey"]
    assert key.kind == "secret-text"
    macro = templates.from_string('{% from "_macros.html" import schema_fields %}{{ schema_fields(f) }}')
    assert '<textarea id="f-privateKey" name="privateKey"' in macro.render(f=[key])
    typed = form_document(schema, {"host": "h", "username": "u", "privateKey": KEY})
    assert typed["privateKey"] == KEY  # line breaks and all: the key can be read


def test_what_is_posted_is_typed_and_every_bad_field_is_said_at_once() -> None:
    schema = SCHEMAS["source sftp"]
    assert form_document(schema, {"host": " h ", "username": "u", "port": "2222"}) == {
        "host": "h", "username": "u", "port": 2222}  # fmt: skip
    with pytest.raises(DocumentError) as caught:
        form_document(schema, {"port": "twenty-two", "host": "x" * 10_001})
    paths = {p["path"] for p in caught.value.problems}
    assert paths == {"port", "host", "username"}

"""The schema registry: composition, identities, custom field groups, evolution, union, JSON Schema."""

from __future__ import annotations

from typing import Any

import pytest

from accord import lake, schema
from accord.schema import BreakingChangeError, InvalidSchemaError
from accord.workspace import Workspace

LOYALTY: dict[str, Any] = {
    "name": "loyalty",
    "classes": ["profile"],
    "fields": {
        "_tenant": {
            "type": "object",
            "properties": {
                "tier": {"type": "string", "enum": ["gold", "silver"]},
                "points": {"type": "integer", "minimum": 0},
            },
        }
    },
}
CRM: dict[str, Any] = {
    "name": "crm",
    "class": "profile",
    "fieldGroups": ["demographic-details", "personal-contact-details"],
    "identities": [{"path": "personalEmail.address", "namespace": "Email", "primary": True}],
}


def test_standard_field_groups_cover_the_xdm_paths_users_expect(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        created = schema.create_schema(
            session,
            "prod",
            {
                "name": "everything",
                "class": "profile",
                "fieldGroups": [
                    "demographic-details",
                    "personal-contact-details",
                    "work-contact-details",
                    "consents-and-preferences",
                    "identitymap",
                    "segment-membership",
                ],
            },
        )
    paths = set(created.leaves())
    for expected in (
        "person.name.firstName",
        "person.name.lastName",
        "person.birthDate",
        "person.gender",
        "personalEmail.address",
        "mobilePhone.number",
        "homeAddress.city",
        "homeAddress.countryCode",
        "workEmail.address",
        "workPhone.number",
        "workAddress.city",
        "workAddress.postalCode",
        "consents.marketing.email.val",
        "identityMap",
        "segmentMembership",
    ):
        assert expected in paths
    assert created.schema_class.id == "https://ns.adobe.com/xdm/context/profile"
    with workspace.catalog.session() as session:
        event = schema.create_schema(
            session,
            "prod",
            {
                "name": "events",
                "class": "experienceevent",
                "fieldGroups": ["commerce-details", "web-details", "campaign-delivery-logs", "campaign-tracking-logs"],
            },
        )
    leaves = event.leaves()
    assert leaves["_id"].required and leaves["timestamp"].required
    assert {
        "commerce.order.priceTotal",
        "productListItems",
        "web.webPageDetails.URL",
        "_experience.campaign.delivery.broadlogID",
        "_experience.campaign.tracking.url",
    } <= set(leaves)


def test_every_problem_of_a_schema_is_reported_at_once_with_its_path(workspace: Workspace) -> None:
    with pytest.raises(InvalidSchemaError) as caught, workspace.catalog.session() as session:
        schema.create_schema(
            session,
            "prod",
            {
                "name": "bad",
                "class": "profile",
                "fieldGroups": ["demographic-detail", "commerce-details", "personal-contact-details"],
                "identities": [
                    {"path": "personalEmail.adress", "namespace": "Email", "primary": True},
                    {"path": "personalEmail", "namespace": "bad symbol!", "primary": True},
                ],
            },
        )
    problems = {(p["path"], p["message"].split(";")[0]) for p in caught.value.problems}
    assert ("fieldGroups[0]", "unknown field group 'demographic-detail'") in problems
    assert any(p == "fieldGroups[1]" and "experienceevent" in m for p, m in problems)
    assert any(
        p == "identities[0]" and "personalEmail.address" in m
        for p, m in [(q["path"], q["message"]) for q in caught.value.problems]
    )
    assert any(p == "identities[1]" and "not a valid symbol" in m for p, m in problems)
    assert any(p == "identities[1]" and "must be a string" in m for p, m in problems)
    assert ("identities", "at most one identity can be primary") in problems
    assert "did you mean demographic-details" in caught.value.message


def test_custom_field_groups_live_under_tenant_and_are_checked_whole(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        schema.create_field_group(session, "prod", LOYALTY)
    bad = {
        "name": "bad",
        "classes": ["profile", "nope"],
        "fields": {
            "loyalty": {"type": "string"},
            "_tenant": {
                "type": "object",
                "properties": {
                    "a": {"type": "integer", "maxLength": 3},
                    "b": {"type": "array"},
                    "c": {"type": "string", "pattern": "("},
                },
            },
        },
    }
    with pytest.raises(InvalidSchemaError) as caught, workspace.catalog.session() as session:
        schema.create_field_group(session, "prod", bad)
    messages = " | ".join(f"{p['path']}: {p['message']}" for p in caught.value.problems)
    assert "unknown class 'nope'" in messages
    assert "fields.loyalty: custom fields must sit under `_tenant`" in messages
    assert "maxLength" in messages and "`items`" in messages and "regular expression" in messages


def test_field_group_clashes_are_refused(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        schema.create_field_group(session, "prod", LOYALTY)
        schema.create_field_group(
            session,
            "prod",
            {
                "name": "loyalty2",
                "classes": ["profile"],
                "fields": {"_tenant": {"type": "object", "properties": {"tier": {"type": "integer"}}}},
            },
        )
    with pytest.raises(InvalidSchemaError, match=r"_tenant\.tier"), workspace.catalog.session() as session:
        schema.create_schema(session, "prod", {"name": "s", "class": "profile", "fieldGroups": ["loyalty", "loyalty2"]})


def _with_dataset(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        schema.create_field_group(session, "prod", LOYALTY)
        schema.create_schema(session, "prod", {**CRM, "fieldGroups": [*CRM["fieldGroups"], "loyalty"]})
        lake.create_dataset(session, "prod", "crm", "crm", profile_enabled=True)


def test_additive_changes_are_accepted_once_a_dataset_uses_the_schema(workspace: Workspace) -> None:
    _with_dataset(workspace)
    with workspace.catalog.session() as session:
        updated = schema.update_schema(
            session, "prod", "crm", {**CRM, "fieldGroups": [*CRM["fieldGroups"], "loyalty", "consents-and-preferences"]}
        )
    assert updated.version == 2 and "consents.marketing.email.val" in updated.leaves()
    grown = {
        **LOYALTY,
        "fields": {
            "_tenant": {
                "type": "object",
                "properties": {**LOYALTY["fields"]["_tenant"]["properties"], "since": {"type": "date"}},
            }
        },
    }
    with workspace.catalog.session() as session:
        schema.update_field_group(session, "prod", "loyalty", grown)
        assert "_tenant.since" in schema.get_schema(session, "prod", "crm").leaves()


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"fieldGroups": ["demographic-details", "loyalty"], "identities": []}, "personalEmail", "field removed"),
        ({"identities": []}, "personalEmail.address", "identity descriptor"),
    ],
)
def test_breaking_schema_changes_are_refused_with_field_and_reason(
    workspace: Workspace, change: dict[str, Any], path: str, reason: str
) -> None:
    _with_dataset(workspace)
    document = {**CRM, "fieldGroups": [*CRM["fieldGroups"], "loyalty"], **change}
    with pytest.raises(BreakingChangeError) as caught, workspace.catalog.session() as session:
        schema.update_schema(session, "prod", "crm", document)
    assert any(p["path"] == path and reason in p["message"] for p in caught.value.details["problems"])
    with workspace.catalog.session() as session:  # nothing changed
        assert schema.get_schema(session, "prod", "crm").version == 1


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ({"type": "integer"}, "type changed from string to integer"),
        ({"type": "string", "enum": ["gold"]}, "enum narrowed"),
        ({"type": "string", "enum": ["gold", "silver"], "required": True}, "became required"),
        ({"type": "string", "enum": ["gold", "silver"], "maxLength": 2}, "maxLength"),
    ],
)
def test_breaking_field_group_changes_are_refused(workspace: Workspace, field: dict[str, Any], reason: str) -> None:
    _with_dataset(workspace)
    changed = {
        **LOYALTY,
        "fields": {
            "_tenant": {"type": "object", "properties": {"tier": field, "points": {"type": "integer", "minimum": 0}}}
        },
    }
    with pytest.raises(BreakingChangeError) as caught, workspace.catalog.session() as session:
        schema.update_field_group(session, "prod", "loyalty", changed)
    assert caught.value.details["problems"][0]["path"] == "_tenant.tier"
    assert reason in caught.value.message


def test_unused_schemas_can_change_freely_and_be_deleted(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        schema.create_schema(session, "prod", CRM)
        schema.update_schema(session, "prod", "crm", {**CRM, "fieldGroups": ["demographic-details"], "identities": []})
        schema.delete_schema(session, "prod", "crm")
        assert schema.list_schemas(session, "prod") == []


def test_union_schema_merges_profile_enabled_schemas(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        schema.create_schema(session, "prod", CRM)
        schema.create_schema(
            session, "prod", {"name": "prefs", "class": "profile", "fieldGroups": ["consents-and-preferences"]}
        )
        lake.create_dataset(session, "prod", "crm", "crm", profile_enabled=True)
        lake.create_dataset(session, "prod", "prefs", "prefs", profile_enabled=False)
        union = schema.union_schema(session, "prod", "profile")
        assert "personalEmail.address" in union.leaves() and "consents.marketing.email.val" not in union.leaves()
        lake.set_profile_enabled(session, "prod", "prefs", True)
        union = schema.union_schema(session, "prod", "profile")
    assert "consents.marketing.email.val" in union.leaves()
    assert union.field_groups == ("crm", "prefs")


def test_json_schema_export(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        schema.create_field_group(session, "prod", LOYALTY)
        resolved = schema.create_schema(
            session, "prod", {**CRM, "fieldGroups": [*CRM["fieldGroups"], "loyalty", "identitymap"]}
        )
    exported = schema.to_json_schema(resolved)
    assert exported["meta:class"] == "https://ns.adobe.com/xdm/context/profile"
    email = exported["properties"]["personalEmail"]["properties"]["address"]
    assert email == {"type": "string", "format": "email"}
    assert exported["properties"]["person"]["properties"]["birthDate"] == {"type": "string", "format": "date"}
    tier = exported["properties"]["_tenant"]["properties"]["tier"]
    assert tier["enum"] == ["gold", "silver"]
    identity_map = exported["properties"]["identityMap"]
    assert identity_map["type"] == "object" and identity_map["additionalProperties"]["type"] == "array"
    assert exported["meta:identities"][0] == {"path": "personalEmail.address", "namespace": "Email", "primary": True}
    import jsonschema  # the export must itself be a valid JSON Schema document

    jsonschema.Draft202012Validator.check_schema(exported)


def test_work_contact_details_are_checked_and_reachable_from_pql(workspace: Workspace) -> None:
    """The reference product's Work Contact Details field group: a work e-mail is checked as an e-mail, and a
    segment over `workAddress.city` is accepted as the documented examples write it."""
    from accord import lake, segment
    from accord.errors import AccordError

    with workspace.catalog.session() as session:
        made = schema.create_schema(session, "prod", {"name": "staff", "class": "profile",
                                                      "fieldGroups": ["work-contact-details"]})  # fmt: skip
        lake.create_dataset(session, "prod", "staff", "staff", profile_enabled=True)
    assert made.leaves()["workEmail.address"].format == "email"
    with workspace.catalog.session() as session:
        segment.validate_pql(session, "prod", 'workAddress.city = "Paris" and workEmail.address.endsWith("@acme.io")')
        with pytest.raises(AccordError, match="workAdress"):
            segment.validate_pql(session, "prod", 'workAdress.city = "Paris"')

"""A schema's field tree as a reader sees it: each field once, under its parent, with where it comes from and the
identity it holds."""

from __future__ import annotations

import pytest

from accord import schema
from accord.workspace import Workspace


def test_each_field_says_its_type_origin_and_identity(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        schema.create_field_group(session, "prod", {"name": "loyalty", "classes": ["profile"], "fields": {"_tenant": {
            "type": "object", "properties": {"tier": {"type": "string", "required": True},
                                             "tags": {"type": "array", "items": {"type": "string"}}}}}})  # fmt: skip
        schema.create_schema(session, "prod", {
            "name": "crm", "class": "profile",
            "fieldGroups": ["demographic-details", "personal-contact-details", "loyalty"],
            "identities": [{"path": "personalEmail.address", "namespace": "Email", "primary": True},
                           {"path": "mobilePhone.number", "namespace": "Phone"}]})  # fmt: skip
        resolved, lines = schema.schema_outline(session, "prod", "crm")
    by_path = {line.path: line for line in lines}
    assert [line.path for line in lines] == [path for path, _ in schema.walk(resolved.fields)]  # parents first
    assert by_path["_id"].from_class and by_path["_id"].field_groups == ()
    email = by_path["personalEmail.address"]
    assert (email.namespace, email.primary, email.depth, email.name) == ("Email", True, 1, "address")
    assert email.field_groups == ("personal-contact-details",) and not email.from_class
    assert (by_path["mobilePhone.number"].namespace, by_path["mobilePhone.number"].primary) == ("Phone", False)
    assert by_path["person.name.firstName"].field_groups == ("demographic-details",)
    assert by_path["person.name.firstName"].depth == 2 and by_path["person"].type == "object"
    assert by_path["_tenant.tier"].required and by_path["_tenant.tier"].field_groups == ("loyalty",)
    assert by_path["_tenant.tags"].type == "array of string"
    assert sum(1 for line in lines if line.namespace) == 2


def test_arrays_of_objects_show_their_items_fields_and_a_shared_object_names_each_group(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        schema.create_field_group(session, "prod", {"name": "more-commerce", "classes": ["experienceevent"], "fields": {
            "_tenant": {"type": "object", "properties": {"coupon": {"type": "string"}}}}})  # fmt: skip
        schema.create_field_group(session, "prod", {"name": "stores", "classes": ["experienceevent"], "fields": {
            "_tenant": {"type": "object", "properties": {"store": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(session, "prod", {"name": "events", "class": "experienceevent",
                                               "fieldGroups": ["identitymap", "commerce-details", "more-commerce",
                                                               "stores"]})  # fmt: skip
        _, lines = schema.schema_outline(session, "prod", "events")
    by_path = {line.path: line for line in lines}
    assert by_path["productListItems"].type == "array of object"
    sku = by_path["productListItems[].SKU"]
    assert (sku.depth, sku.name, sku.field_groups) == (1, "SKU", ("commerce-details",))
    assert by_path["identityMap"].type == "map of array of object"
    assert by_path["_tenant"].field_groups == ("more-commerce", "stores")  # both bring it
    assert by_path["_tenant.store"].field_groups == ("stores",)
    assert by_path["timestamp"].from_class and by_path["eventType"].from_class


def test_an_unknown_schema_is_refused_with_the_nearest_names(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        schema.create_schema(session, "prod", {"name": "crm", "class": "profile", "fieldGroups": []})
        with pytest.raises(schema.SchemaNotFoundError, match="did you mean crm"):
            schema.schema_outline(session, "prod", "crn")

"""XDM-style schema registry: classes, field groups, identity descriptors, union schemas, JSON Schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.schema.exceptions import (
        BreakingChangeError,
        FieldGroupNotFoundError,
        InvalidSchemaError,
        SchemaNotFoundError,
    )
    from accord.schema.fields import FIELD_NAME, FieldSpec, FieldTree, FieldType, find, leaves, value_at, walk
    from accord.schema.fields import parse_fields as parse_fields_document
    from accord.schema.jsonschema import to_json_schema
    from accord.schema.model import (
        CLASS_NAMES,
        TENANT,
        FieldGroup,
        IdentityDescriptor,
        ResolvedSchema,
        SchemaDocument,
        standard_classes,
        standard_field_groups,
    )
    from accord.schema.outline import FieldLine, outline, schema_outline
    from accord.schema.registry import (
        available_field_groups,
        check_union,
        create_field_group,
        create_schema,
        delete_schema,
        get_field_group,
        get_schema,
        list_field_groups,
        list_schemas,
        resolve_schema_by_id,
        union_schema,
        update_field_group,
        update_schema,
    )
    from accord.schema.storage import field_dtype

_EXPORTS = {
    "exceptions": ["BreakingChangeError", "FieldGroupNotFoundError", "InvalidSchemaError", "SchemaNotFoundError"],
    "fields": [
        "FIELD_NAME",
        "FieldSpec",
        "FieldTree",
        "FieldType",
        "find",
        "leaves",
        "parse_fields_document",
        "value_at",
        "walk",
    ],
    "jsonschema": ["to_json_schema"],
    "model": [
        "CLASS_NAMES",
        "TENANT",
        "FieldGroup",
        "IdentityDescriptor",
        "ResolvedSchema",
        "SchemaDocument",
        "standard_classes",
        "standard_field_groups",
    ],
    "outline": ["FieldLine", "outline", "schema_outline"],
    "registry": [
        "available_field_groups",
        "check_union",
        "create_field_group",
        "create_schema",
        "delete_schema",
        "get_field_group",
        "get_schema",
        "list_field_groups",
        "list_schemas",
        "resolve_schema_by_id",
        "union_schema",
        "update_field_group",
        "update_schema",
    ],
    "storage": ["field_dtype"],
}
__all__ = lazy_face(__name__, _EXPORTS, aliases={"parse_fields_document": "parse_fields"})

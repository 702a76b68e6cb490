"""XDM-style schema registry: classes, field groups, identity descriptors, union schemas, JSON Schema."""

from accord.schema.exceptions import (
    BreakingChangeError,
    FieldGroupNotFoundError,
    InvalidSchemaError,
    SchemaNotFoundError,
)
from accord.schema.fields import FieldSpec, FieldTree, FieldType, find, leaves, walk
from accord.schema.fields import parse_fields as parse_fields_document
from accord.schema.jsonschema import to_json_schema
from accord.schema.model import (
    CLASS_NAMES,
    FieldGroup,
    IdentityDescriptor,
    ResolvedSchema,
    SchemaDocument,
    standard_classes,
    standard_field_groups,
)
from accord.schema.registry import (
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

__all__ = [
    "CLASS_NAMES",
    "BreakingChangeError",
    "FieldGroup",
    "FieldGroupNotFoundError",
    "FieldSpec",
    "FieldTree",
    "FieldType",
    "IdentityDescriptor",
    "InvalidSchemaError",
    "ResolvedSchema",
    "SchemaDocument",
    "SchemaNotFoundError",
    "check_union",
    "create_field_group",
    "create_schema",
    "delete_schema",
    "field_dtype",
    "find",
    "get_field_group",
    "get_schema",
    "leaves",
    "list_field_groups",
    "list_schemas",
    "parse_fields_document",
    "resolve_schema_by_id",
    "standard_classes",
    "standard_field_groups",
    "to_json_schema",
    "union_schema",
    "update_field_group",
    "update_schema",
    "walk",
]

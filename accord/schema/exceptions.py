"""Errors of the schema registry."""

from __future__ import annotations

from accord.errors import ConflictError, DocumentError, NotFoundError, did_you_mean


class SchemaNotFoundError(NotFoundError):
    code = "SCHEMA-0404-404"

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(
            f"no schema named {name!r} in this sandbox{did_you_mean(name, available)}", name=name, available=available
        )


class FieldGroupNotFoundError(NotFoundError):
    code = "SCHEMA-0405-404"

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(
            f"no field group named {name!r}" + did_you_mean(name, available),
            name=name,
            available=available,
        )


class InvalidSchemaError(DocumentError):
    code = "SCHEMA-0400-400"

    def __init__(self, problems: list[dict[str, object]]) -> None:
        super().__init__("the schema", problems)


class BreakingChangeError(ConflictError):
    """A change to a schema that datasets use would invalidate stored data."""

    code = "SCHEMA-0409-409"

    def __init__(self, schema: str, problems: list[dict[str, str]]) -> None:
        reasons = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        super().__init__(
            f"schema {schema!r} is used by a dataset, so only additive changes are allowed: {reasons}",
            schema=schema,
            problems=problems,
        )


class DuplicateNameError(ConflictError):
    code = "SCHEMA-0410-409"

"""Request and response models of the REST API (they make the OpenAPI document complete)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from accord.lake.contracts import CONTRACT_HELP, Contract


class ErrorBody(BaseModel):
    code: str = Field(examples=["SCHEMA-0404-404"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Invalid input; `details.problems` lists each problem with its path",
        401: "Missing or invalid API token",
        403: "The caller may not do this: it holds no role in the sandbox, or lacks the permission the route "
        "needs (`details.permission`)",
        404: "Not found; `details.available` lists what exists",
        409: "Conflicts with what is stored",
        413: "Upload too large",
    }.items()
}


class Health(BaseModel):
    status: str
    version: str


class SandboxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    title: str = ""


class SandboxOut(BaseModel):
    id: str
    name: str
    title: str
    createdAt: str


class IdentityOut(BaseModel):
    path: str
    namespace: str
    primary: bool


class SchemaOut(BaseModel):
    id: str
    name: str
    title: str
    class_: str = Field(alias="class")
    classId: str
    version: int
    fieldGroups: list[str]
    identities: list[IdentityOut]
    identityMap: bool
    datasets: list[str]
    fields: dict[str, Any] = Field(description="Field tree: name -> {type, properties|items|values, rules}")


class FieldGroupOut(BaseModel):
    name: str
    title: str
    classes: list[str]
    standard: bool
    version: int
    fields: dict[str, Any]


class DatasetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    schema_: str = Field(alias="schema")
    profileEnabled: bool = False
    schemaContract: Contract = Field(Contract.discard_row, description=CONTRACT_HELP)


class DatasetPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profileEnabled: bool | None = None
    ttlDays: int | None = Field(None, description="Events older than this many days leave profiles (0: none)")
    schemaContract: Contract | None = Field(None, description=CONTRACT_HELP)


class DatasetOut(BaseModel):
    id: str
    name: str
    schema_: str | None = Field(alias="schema")
    class_: str | None = Field(alias="class")
    profileEnabled: bool
    ttlDays: int | None = None
    schemaContract: Contract = Contract.discard_row
    createdAt: str
    batchCount: int
    rowCount: int


class BatchError(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class BatchOut(BaseModel):
    id: str
    dataset: str | None
    datasetId: str
    status: str = Field(description="loading, success, failed or deleted")
    source: str
    format: str
    sizeBytes: int
    inputRecordCount: int
    outputRecordCount: int
    failedRecordCount: int
    errorThreshold: float
    schemaVersion: int
    errors: list[dict[str, Any]]
    created: str
    completed: str | None
    durationSeconds: float | None
    options: dict[str, Any]
    contentHash: str | None = Field(default=None, description="SHA-256 of the file as received")
    warnings: list[dict[str, Any]] = Field(
        default_factory=list,
        description="What the user should know although the batch went ahead, e.g. INGEST-1007-200: the same "
        "content was already ingested into the dataset (with `batchId`, the earlier batch)",
    )
    skipped: bool = Field(
        default=False, description="The upload was skipped (skipDuplicateFiles): this is the earlier batch"
    )
    profilesRebuilt: dict[str, Any] | None = Field(
        default=None, description="After a delete: the rebuilt identity graphs and profiles the batch fed"
    )


class RecordDeletion(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=100_000, description="The `_id` of each record to delete")


class RowError(BaseModel):
    code: str
    path: str
    message: str


class RowDiagnostic(BaseModel):
    lineNumber: int | None
    rowNumber: int | None
    record: Any = Field(None, description="The original row, as columns, for rows that parsed")
    corrupt_record: str | None = Field(
        None, alias="_corrupt_record", description="The raw text of a row that did not parse"
    )
    errors: list[RowError] = Field(alias="_errors")


class RowDiagnostics(BaseModel):
    batchId: str
    items: list[RowDiagnostic]


class Preview(BaseModel):
    dataset: str
    rows: list[dict[str, Any]]


class FieldStatistics(BaseModel):
    type: str
    count: int
    distinct: int | None = None
    min: Any = None
    max: Any = None


class DatasetStatistics(BaseModel):
    dataset: str
    rowCount: int
    fields: dict[str, FieldStatistics]

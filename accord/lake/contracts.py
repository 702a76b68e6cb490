"""Schema contracts: per dataset, what streaming does with data that does not fit the schema.

In the manner of dlt's schema contracts, for a message with a field the schema lacks or a value of a kind
its field cannot take (`records_misfits`):

- `evolve`: new fields under `_tenant` are added to the dataset's own custom field group (compatible
  changes only: a field is added, never changed); what cannot be added is discarded as by `discard_row`;
- `freeze`: the message is refused at the door (its answer says why), so the schema never changes;
- `discard_row` (the default): the message is taken, its row left out of the lake;
- `discard_value`: the message is taken, the values that do not fit left out of its row.

Either way the batch's diagnostics record what was left out, with the path and why (`accord batch errors`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from accord.errors import InvalidInputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Contract(StrEnum):
    evolve = "evolve"
    freeze = "freeze"
    discard_row = "discard_row"
    discard_value = "discard_value"


CONTRACTS: tuple[str, ...] = tuple(c.value for c in Contract)
CONTRACT_HELP = (
    "What streaming does with a message that does not fit the schema: evolve (add its new `_tenant` fields to the "
    "dataset's field group), freeze (refuse it), discard_row (keep it out of the lake), discard_value (keep the "
    "row without the values that do not fit); recorded in the batch's diagnostics either way"
)


def checked_contract(contract: str) -> str:
    """The contract named, or a clear error listing the others."""
    if contract not in CONTRACTS:
        raise InvalidInputError(f"schema contract {str(contract)[:40]!r} is not one of {', '.join(CONTRACTS)}",
                                code="DATASET-0407-400", field="schemaContract")  # fmt: skip
    return str(contract)


def set_schema_contract(session: Session, sandbox: str, name: str, contract: str) -> dict[str, Any]:
    """Set what streaming does with a dataset's data that does not fit its schema."""
    from accord.catalog import resolve_sandbox
    from accord.lake.datasets import dataset_document, find_dataset

    record = find_dataset(session, resolve_sandbox(session, sandbox).id, name)
    record.schema_contract = checked_contract(contract)
    session.flush()
    return dataset_document(session, record)

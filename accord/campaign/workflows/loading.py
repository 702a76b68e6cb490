"""One file's rows into recipients, in one transaction: the known keys read in a few statements, new recipients
inserted and changed ones updated in bulk (no round trip per row), the contract limit on active profiles
checked before anything is written, and the load audited when the file is an audience."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update

from accord.campaign.exceptions import CampaignLimitError
from accord.campaign.models import AudienceLoadRecord, RecipientRecord
from accord.campaign.recipients import address_problem
from accord.campaign.workflows.records import MAX_REJECTS_KEPT, table
from accord.campaign.workflows.spec import RunContext
from accord.catalog import utcnow

COLUMNS = {"externalId": "external_id", "email": "email", "firstName": "first_name", "lastName": "last_name",
           "phone": "phone"}  # fmt: skip
CHUNK = 500  # keys per IN (...): well under SQLite's bound parameters


class RowRejected(Exception):
    def __init__(self, key: str | None, reason: str) -> None:
        super().__init__(reason)
        self.key, self.reason = key, reason


@dataclass
class FileLoad:
    """A file's rows as read: values by key (recipient fields), members leaving, rows rejected."""

    name: str
    key: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    leaving: list[str] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0

    def add(self, number: int, key: str, values: dict[str, Any]) -> None:
        email = values.get("email")
        problem = address_problem(email) if email is not None else None
        if problem:
            self.reject(number, key, problem)
            return
        self.rows[key] = values
        self.numbers[key] = number

    def reject(self, number: int, key: str | None, reason: str) -> None:
        self.rejected += 1
        if len(self.rejects) < MAX_REJECTS_KEPT:
            self.rejects.append({"row": number, "key": key, "reason": reason})


def apply_file(context: RunContext, load: FileLoad, operation: str, *, audience: bool) -> dict[str, Any]:
    """Write the file's rows; returns its counts, the ids of its members and of those leaving, its audit id."""
    key_column = getattr(RecipientRecord, COLUMNS[load.key])
    with context.engine.database.session() as session:
        known = _known(session, load.key, [*load.rows, *load.leaving])
        new = [k for k in load.rows if k not in known]
        if operation == "update":
            for k in new:
                load.reject(load.numbers[k], k, f"no recipient has {load.key} {k!r} (operation update)")
            new = []
        if operation == "insert":
            for k in [k for k in load.rows if k in known]:
                load.reject(load.numbers[k], k, f"a recipient has {load.key} {k!r} already (operation insert)")
        _check_room(context, session, len(new), load.name)
        if new:
            # Core's executemany: the ORM's bulk path costs more than the database for plain new rows
            session.connection().execute(
                insert(table(RecipientRecord)), [_new_row(load.key, k, load.rows[k]) for k in new]
            )
        changes = [] if operation == "insert" else _changes(load, known)
        if changes:
            session.execute(update(RecipientRecord), changes)
        ids = {**{k: row["id"] for k, row in known.items()}, **_ids(session, key_column, new)}
        members = sorted(ids[k] for k in load.rows if k in ids and (operation != "insert" or k in new))
        leaving = sorted(ids[k] for k in load.leaving if k in ids)
        result = {"loaded": len(members), "inserted": len(new), "updated": len(changes), "rejected": load.rejected,
                  "population": members, "leaving": leaving}  # fmt: skip
        if audience:
            record = AudienceLoadRecord(run_id=context.run_id, file=load.name, list_name="", loaded=len(members),
                                        inserted=len(new), updated=len(changes), rejected=load.rejected,
                                        rejects=load.rejects)  # fmt: skip
            session.add(record)
            session.flush()
            result["load"] = record.id
        return result


def _known(session: Any, key: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The recipients of these keys, each with its id, its columns (by column name) and its custom fields."""
    found: dict[str, dict[str, Any]] = {}
    key_column = getattr(RecipientRecord, COLUMNS[key])
    columns = [RecipientRecord.id, *(getattr(RecipientRecord, c) for c in COLUMNS.values()), RecipientRecord.custom]
    for start in range(0, len(keys), CHUNK):
        for row in session.execute(select(*columns).where(key_column.in_(keys[start : start + CHUNK]))):
            values = row._asdict()
            found[values[COLUMNS[key]]] = values
    return found


def _ids(session: Any, key_column: Any, keys: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for start in range(0, len(keys), CHUNK):
        query = select(key_column, RecipientRecord.id).where(key_column.in_(keys[start : start + CHUNK]))
        ids.update({key: id_ for key, id_ in session.execute(query)})
    return ids


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(recipient columns by their column names, custom fields)"""
    plain = {COLUMNS[f]: v for f, v in values.items() if f in COLUMNS}
    custom = {f.removeprefix("custom."): v for f, v in values.items() if f.startswith("custom.")}
    return plain, custom


def _new_row(key: str, value: str, values: dict[str, Any]) -> dict[str, Any]:
    plain, custom = _split(values)
    if not plain.get("external_id"):  # reconciled by e-mail, with no external id in the file
        plain["external_id"] = value
    now = utcnow()
    return {**plain, "custom": custom, "black_list_email": False, "black_list_mobile": False, "black_list": False,
            "created_at": now, "updated_at": now}  # fmt: skip


def _changes(load: FileLoad, known: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The updates of known recipients whose values differ from the file's (so a second load changes nothing)."""
    changes, now = [], utcnow()
    for key, values in load.rows.items():
        before = known.get(key)
        if before is None:
            continue
        plain, custom = _split(values)
        if not plain.get("external_id"):  # an external id is never emptied
            plain.pop("external_id", None)
        changed = {c: v for c, v in plain.items() if before.get(c) != v}
        merged = {**(before["custom"] or {}), **custom}
        if merged != (before["custom"] or {}):
            changed["custom"] = merged
        if changed:
            changes.append({"id": before["id"], **changed, "updated_at": now})
    return changes


def _check_room(context: RunContext, session: Any, new: int, name: str) -> None:
    limit = context.engine.settings.campaign_max_active_profiles
    if new and (session.scalar(select(func.count()).select_from(RecipientRecord)) or 0) + new > limit:
        raise CampaignLimitError(f"{name} would bring the instance over its {limit} active profiles (setting "
                                 f"campaign_max_active_profiles) with {new} new recipients: nothing of it was loaded",
                                 file=name, limit=limit)  # fmt: skip

"""Un-merging: a user removes a link between two identities, or an identity from its graph.

Removals are recorded (who, when with its UTC offset, why) and applied by every graph build: a removed link is kept
but inactive, and a removed identity keeps none of its links, so it stands alone; the graphs, and
the profiles built on them, split accordingly."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import IdentityRemovalRecord, aware, resolve_sandbox
from accord.errors import InvalidInputError
from accord.identity.namespaces import SEPARATOR, namespaces
from accord.identity.rules import resolve_identity


def _node(session: Session, sandbox: str, pair: tuple[str, str]) -> str:
    namespace, value = pair
    if not namespace or not value:
        raise InvalidInputError("an identity is a namespace and an id", code="IDENTITY-0403-400")
    known = namespaces(session, resolve_sandbox(session, sandbox).id)
    typed = resolve_identity(known, namespace, value)  # as the graphs hold it
    return f"{typed.namespace}{SEPARATOR}{typed.id}"


def _who(removed_by: str) -> str:
    if not removed_by.strip():  # an un-merge nobody can account for is not recorded
        raise InvalidInputError("a removal records who made it", code="IDENTITY-0405-400")
    return removed_by.strip()[:128]


def remove_link(session: Session, sandbox: str, first: tuple[str, str], second: tuple[str, str], reason: str,
                removed_by: str) -> dict[str, Any]:  # fmt: skip
    """Remove the link between two identities from every future graph build.

    `removed_by` says who: the API token's name, or `cli:<login>` from the command line."""
    a, b = sorted((_node(session, sandbox, first), _node(session, sandbox, second)))
    record = IdentityRemovalRecord(sandbox_id=resolve_sandbox(session, sandbox).id, kind="link", node=a, other=b,
                                   reason=reason, removed_by=_who(removed_by))  # fmt: skip
    session.add(record)
    session.flush()
    return removal_document(record)


def remove_identity(session: Session, sandbox: str, identity: tuple[str, str], reason: str,
                    removed_by: str) -> dict[str, Any]:  # fmt: skip
    """Take an identity out of its graph: none of its links count any more (`removed_by` as for links)."""
    record = IdentityRemovalRecord(sandbox_id=resolve_sandbox(session, sandbox).id, kind="identity",
                                   node=_node(session, sandbox, identity), reason=reason,
                                   removed_by=_who(removed_by))  # fmt: skip
    session.add(record)
    session.flush()
    return removal_document(record)


def removal_document(record: IdentityRemovalRecord) -> dict[str, Any]:
    def pair(node: str | None) -> dict[str, str] | None:
        if node is None:
            return None
        namespace, value = node.split(SEPARATOR, 1)
        return {"namespace": namespace, "id": value}

    return {
        "id": record.id, "kind": record.kind, "identity": pair(record.node), "other": pair(record.other),
        "reason": record.reason, "removedBy": record.removed_by, "createdAt": aware(record.created_at).isoformat(),
    }  # fmt: skip


def list_removals(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = session.scalars(select(IdentityRemovalRecord).where(IdentityRemovalRecord.sandbox_id == sandbox_id)
                              .order_by(IdentityRemovalRecord.created_at))  # fmt: skip
    return [removal_document(r) for r in records]


def removed(session: Session, sandbox_id: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(removed links as sorted node pairs, removed identities) of a sandbox."""
    records = list(session.scalars(select(IdentityRemovalRecord).where(IdentityRemovalRecord.sandbox_id == sandbox_id)))
    links = [(r.node, r.other) for r in records if r.kind == "link" and r.other is not None]
    return links, [r.node for r in records if r.kind == "identity"]

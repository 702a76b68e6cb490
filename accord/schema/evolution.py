"""Which schema changes are additive (safe for stored data) and which are breaking."""

from __future__ import annotations

from accord.schema.fields import FieldSpec, FieldTree, walk
from accord.schema.model import IdentityDescriptor


def breaking_changes(
    old: FieldTree,
    new: FieldTree,
    old_identities: tuple[IdentityDescriptor, ...] = (),
    new_identities: tuple[IdentityDescriptor, ...] = (),
) -> list[dict[str, str]]:
    """Every reason why data valid under `old` might not be valid or readable under `new`."""
    problems: list[dict[str, str]] = []
    old_fields = dict(walk(old))
    new_fields = dict(walk(new))
    for path, before in old_fields.items():
        after = new_fields.get(path)
        if after is None:
            if not any(path.startswith(p + ".") for p in old_fields if p not in new_fields and p != path):
                problems.append({"path": path, "message": "field removed; stored rows hold values for it"})
            continue
        problems.extend({"path": path, "message": m} for m in _narrowing(before, after))
    for path, after in new_fields.items():
        if path not in old_fields and after.required:
            problems.append({"path": path, "message": "new field is required; rows already stored have no value"})
    before_ids = {(i.path, i.namespace, i.primary) for i in old_identities}
    after_ids = {(i.path, i.namespace, i.primary) for i in new_identities}
    for path, namespace, primary in sorted(before_ids - after_ids):
        problems.append(
            {
                "path": path,
                "message": f"identity descriptor ({namespace}{', primary' if primary else ''}) removed or changed",
            }
        )
    return problems


def _narrowing(before: FieldSpec, after: FieldSpec) -> list[str]:
    reasons: list[str] = []
    if before.type != after.type:
        return [f"type changed from {before.type.value} to {after.type.value}"]
    if after.required and not before.required:
        reasons.append("field became required; stored rows may lack it")
    if after.enum is not None and (before.enum is None or not set(before.enum) <= set(after.enum)):
        lost = sorted(set(before.enum or []) - set(after.enum)) if before.enum else None
        reasons.append(f"enum narrowed (values removed: {lost})" if lost else "enum added to an open field")
    if after.max_length is not None and (before.max_length is None or after.max_length < before.max_length):
        reasons.append(f"maxLength lowered to {after.max_length}")
    if after.pattern is not None and after.pattern != before.pattern:
        reasons.append("pattern added or changed")
    if after.format is not None and after.format != before.format:
        reasons.append(f"format changed to {after.format}")
    if after.minimum is not None and (before.minimum is None or after.minimum > before.minimum):
        reasons.append(f"minimum raised to {after.minimum}")
    if after.maximum is not None and (before.maximum is None or after.maximum < before.maximum):
        reasons.append(f"maximum lowered to {after.maximum}")
    if before.items is not None and after.items is not None:
        reasons.extend(f"items: {r}" for r in _narrowing(before.items, after.items))
    if before.values is not None and after.values is not None:
        reasons.extend(f"values: {r}" for r in _narrowing(before.values, after.values))
    return reasons

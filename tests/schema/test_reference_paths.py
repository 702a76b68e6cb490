"""Every path the reference product's PQL examples use has a home in Accord, as docs/schemas.md says.

The table in docs/schemas.md ("Paths in the reference product's PQL examples") is read as it stands,
so that the page and the registry cannot drift apart: a standard home must define the path (and a
segment must reach it), and a custom one must live under `_tenant`, where the example's own path is
defined by no standard field group."""

from __future__ import annotations

import re
from pathlib import Path

from accord import lake, schema, segment
from accord.schema import FieldSpec, FieldType, standard_classes, standard_field_groups
from accord.workspace import Workspace

DOCS = Path(__file__).parents[2] / "docs" / "schemas.md"
HEADING = "### Paths in the reference product's PQL examples"


def table() -> list[tuple[list[str], list[str], str]]:
    """(paths in the examples, paths in Accord, home) for each row of the page's table."""
    text = DOCS.read_text()
    section = text[text.index(HEADING) :].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        accord_cell = cells[1].split("(")[0]  # an aside in parentheses is not a home
        rows.append((re.findall(r"`([^`]+)`", cells[0]), [p for p in re.findall(r"`([^`]+)`", accord_cell)
                     if p != "..."], cells[2].strip("`")))  # fmt: skip
    return rows


def resolve(tree: dict[str, FieldSpec], path: str) -> FieldSpec | None:
    """The field at a dotted path, through objects, the items of arrays and the values of maps."""
    spec: FieldSpec | None = None
    current: dict[str, FieldSpec] | None = tree
    for part in path.split("."):
        if current is None or part not in current:
            return None
        spec = current[part]
        while spec.type in (FieldType.array, FieldType.map):
            inner = spec.items if spec.type == FieldType.array else spec.values
            if inner is None:
                break
            spec = inner
        current = spec.properties if spec.type == FieldType.object else None
    return spec


def test_the_table_covers_the_examples_paths() -> None:
    rows = table()
    homes = {home for _, _, home in rows}
    assert len(rows) >= 20, "the table was not found or lost rows"
    assert {"custom", "personal-contact-details", "work-contact-details", "commerce-details"} <= homes


def test_every_standard_home_defines_its_path() -> None:
    groups, classes = standard_field_groups(), standard_classes()
    for examples, paths, home in table():
        if home == "custom":
            continue
        tree = classes[home].fields if home in classes else groups[home].fields
        for path in paths:
            assert resolve(tree, path) is not None, f"{home} does not define {path} (for {examples})"


def test_every_custom_home_is_a_tenant_field_no_standard_group_defines() -> None:
    trees = [group.fields for group in standard_field_groups().values()]
    trees += [cls.fields for cls in standard_classes().values()]
    for examples, paths, home in table():
        if home != "custom":
            continue
        assert paths and all(p.startswith("_tenant.") for p in paths), f"{examples}: {paths}"
        for example in examples:
            assert all(resolve(tree, example) is None for tree in trees), f"{example} is standard after all"


def test_a_segment_reaches_every_standard_profile_path(workspace: Workspace) -> None:
    """A sandbox whose schema takes the standard profile field groups can write each profile path in PQL."""
    groups = standard_field_groups()
    profile_groups = sorted(name for name, group in groups.items() if "profile" in group.classes)
    with workspace.catalog.session() as session:
        schema.create_schema(session, "prod", {"name": "everything", "class": "profile", "fieldGroups": profile_groups})
        lake.create_dataset(session, "prod", "everything", "everything", profile_enabled=True)
    checked: list[str] = []
    with workspace.catalog.session() as session:
        for _, paths, home in table():
            if home in groups and "profile" in groups[home].classes:
                for path in paths:
                    segment.validate_pql(session, "prod", f"{path}.isNotNull()")
                    checked.append(path)
    assert "workAddress.country" in checked and "loyalty.points" in checked

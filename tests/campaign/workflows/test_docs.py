"""docs/campaign.md, section Workflows: every activity type has its own heading and an example, and every
example there is a valid workflow document."""

from __future__ import annotations

import re
from pathlib import Path

from accord.campaign import workflows

DOC = Path(__file__).parents[3] / "docs" / "campaign.md"


def section() -> str:
    text = DOC.read_text()
    return text[text.index("## Workflows") : text.index("## Audiences in")]


def test_every_activity_type_is_documented_with_an_example() -> None:
    text = section()
    for name in workflows.activity_types():
        assert f"#### {name}\n" in text, f"docs/campaign.md has no section for the activity {name!r}"
        body = text.split(f"#### {name}\n", 1)[1].split("\n#### ", 1)[0]
        assert f"type: {name}" in body, f"the section of {name!r} has no example using it"


def test_every_example_of_the_workflows_section_is_a_valid_document() -> None:
    examples = re.findall(r"```yaml\n(.*?)```", section(), re.S)
    assert len(examples) >= len(workflows.activity_types())
    for example in examples:
        workflows.check_workflow(example)

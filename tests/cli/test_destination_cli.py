"""`accord destination validate FILE`: a good document prints a sample request; a bad one gets exit code 2
and every problem with its path; a missing file or broken YAML a clear error, never a stack trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GOOD = """\
id: acme-crm
name: Acme CRM
category: email marketing
exportType: profile
url: "https://{{ config.region }}.acme.example/v2/contacts"
method: PUT
headers:
  X-Api-Key: "{{ config.apiKey }}"
  X-Flow: "{{ flow.name }}"
body: >-
  {"contacts": [{% for p in profiles %}{"email": {{ p.identities.Email[0] | tojson }}}
  {%- if not loop.last %},{% endif %}{% endfor %}]}
aggregation: {maxProfilesPerRequest: 500, maxBatchAgeSeconds: 60}
config:
  - {name: region, enum: [eu, us]}
  - {name: apiKey, secret: true}
"""

BAD = """\
id: Acme CRM
name: Acme
exportType: contacts
url: "{{ config.host }}/in"
body: "{{ profiles | tojson }"
aggregation: {maxProfilesPerRequest: 0}
config:
  - {name: apiKey, secret: true, type: text}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_good_document_prints_a_sample_request(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", GOOD)
    shown = cli("destination", "validate", path)
    assert shown.code == 0, shown.stderr
    assert "destination 'acme-crm' (Acme CRM, email marketing, profile-based) is valid" in shown.stdout
    assert "PUT https://eu.acme.example/v2/contacts" in shown.stdout
    assert "X-Api-Key: ***" in shown.stdout and "X-Flow: Sample flow" in shown.stdout
    assert '{"contacts": [{"email": "Ann.Lee@Example.com "},{"email": "bo@example.org"}]}' in shown.stdout
    document = cli("destination", "validate", path, "--json").json()
    assert document["valid"] is True and document["destination"]["secretFields"] == ["apiKey"]
    [request] = document["sample"]
    assert json.loads(request["body"])["contacts"][1] == {"email": "bo@example.org"}


def test_sample_rows_can_be_given(cli: Any, tmp_path: Path) -> None:
    rows = [{"profileId": "9", "attributes": {}, "identities": {"Email": ["z@example.com"]}, "segments": {}}]
    shown = cli("destination", "validate", write(tmp_path, "acme.yaml", GOOD), "--rows",
                write(tmp_path, "rows.json", json.dumps(rows)), "--json")  # fmt: skip
    assert shown.code == 0 and json.loads(shown.json()["sample"][0]["body"]) == {
        "contacts": [{"email": "z@example.com"}]
    }


def test_a_bad_document_gets_exit_code_2_and_every_problem_with_its_path(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", BAD)
    shown = cli("destination", "validate", path)
    assert shown.code == 2 and "Traceback" not in shown.stderr + shown.stdout
    for line in ("  - id: String should match pattern", "  - exportType: Input should be 'profile' or 'segment'",
                 "  - aggregation.maxProfilesPerRequest: Input should be greater than or equal to 1",
                 "  - config[0].type: Input should be", "  - body: template syntax, line 1"):  # fmt: skip
        assert line in shown.stderr, (line, shown.stderr)
    problems = cli("destination", "validate", path, "--json").json()["error"]["details"]["problems"]
    assert [p["path"] for p in problems] == ["id", "exportType", "aggregation.maxProfilesPerRequest",
                                             "config[0].type", "body"]  # fmt: skip


def test_a_template_refused_by_the_sandbox_is_a_clear_error(cli: Any, tmp_path: Path) -> None:
    text = GOOD.replace('{"contacts"', "{{ ''.__class__.__mro__ }} {\"contacts\"")
    shown = cli("destination", "validate", write(tmp_path, "sneaky.yaml", text))
    assert shown.code == 2 and "Traceback" not in shown.stderr
    assert "body: the template body was refused by the sandbox" in shown.stderr


def test_a_missing_file_and_broken_yaml_are_clear_errors(cli: Any, tmp_path: Path) -> None:
    missing = cli("destination", "validate", str(tmp_path / "nowhere.yaml"))
    assert missing.code == 2 and f"no file {tmp_path / 'nowhere.yaml'}" in missing.stderr
    broken = cli("destination", "validate", write(tmp_path, "broken.yaml", "id: x\nurl: [unclosed\nbody: y\n"))
    assert broken.code == 2 and "not valid YAML" in broken.stderr and "line 3" in broken.stderr
    not_a_mapping = cli("destination", "validate", write(tmp_path, "list.json", "[1, 2]"))
    assert not_a_mapping.code == 2 and "must be a mapping" in not_a_mapping.stderr
    for result in (missing, broken, not_a_mapping):
        assert "Traceback" not in result.stdout + result.stderr


def test_the_example_of_the_destinations_page_is_valid_and_prints_what_the_page_shows(cli: Any, tmp_path: Path) -> None:
    page = (Path(__file__).parents[2] / "docs" / "destinations.md").read_text()
    start = page.index("```yaml\nid: acme-crm") + len("```yaml\n")
    example = page[start : page.index("```", start)]
    shown = cli("destination", "validate", write(tmp_path, "acme.yaml", example))
    assert shown.code == 0, shown.stderr
    console = page[page.index("$ accord destination validate acme.yaml\n") :]
    expected = console[console.index("\n") + 1 : console.index("\n$ ")].strip().replace("acme.yaml:", "")
    assert expected in shown.stdout.replace(str(tmp_path) + "/acme.yaml:", "")

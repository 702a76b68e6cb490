"""Consent: every activation leaves out profiles that refused what it does (its channel; sharing, for flows that
export to third parties; personalisation, for flows that target), and an opt-out that arrives after a profile
went out reaches the destination at the next run, as an exit (a campaign instance takes it off its lists)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from accord import destinations
from accord.access import AllowedRoots
from accord.sources import SecretBox
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, MAPPING, create_flow, evaluate, ingest_people


def rows_of(run: dict, folder: Path) -> dict[str, str]:
    text = (folder / run["files"][0]["name"]).read_text()
    return {r["email"]: r["segmentMembership.status"] for r in csv.DictReader(io.StringIO(text))}


def test_an_opt_out_that_arrives_later_goes_out_as_an_exit_at_the_next_run(
    people: Workspace, outbox: Path, tmp_path: Path
) -> None:
    create_flow(people, "news", {**FLOW, "exportMode": "incremental", "consentChannel": "email"})
    first = destinations.run_activation(people, "prod", "news")
    assert first["excluded"] == {"consent": 1}  # Bob refused e-mail from the start
    assert "ann@example.com" in rows_of(first, outbox) and "bob@example.com" not in rows_of(first, outbox)
    # Ann opts out by a later batch (a campaign unsubscribe and a streamed consent come in the same way)
    ingest_people(people, tmp_path, "crm,first,email,city,consent\nC1,Ann,ann@example.com,Paris,n\n", "optout.csv")
    evaluate(people)
    second = destinations.run_activation(people, "prod", "news")
    assert rows_of(second, outbox) == {"ann@example.com": "exited"}
    assert second["audiences"][0]["changes"] == {"removed": 1} and second["excluded"] == {"consent": 2}
    third = destinations.run_activation(people, "prod", "news")
    assert third["audiences"][0]["changes"] == {}  # told once
    # she consents again: she goes out again
    ingest_people(people, tmp_path, "crm,first,email,city,consent\nC1,Ann,ann@example.com,Paris,y\n", "back.csv")
    evaluate(people)
    assert rows_of(destinations.run_activation(people, "prod", "news"), outbox) == {"ann@example.com": "existing"}


def test_a_flow_that_shares_data_leaves_out_those_who_refused_sharing(
    people: Workspace, outbox: Path, tmp_path: Path
) -> None:
    with_share = {**MAPPING.model_dump(by_alias=True)}
    with_share["mappings"] = [*with_share["mappings"], {"source": "share", "destination": "consents.share.val"}]
    from accord.ingest import IngestRequest, ingest_file, parse_mapping

    (tmp_path / "share.csv").write_text("crm,first,email,city,consent,share\nC1,Ann,ann@example.com,Paris,y,n\n"
                                        "C5,Eve,eve@example.com,Paris,,dn\n")  # fmt: skip
    batch = ingest_file(people, "prod", IngestRequest("crm", tmp_path / "share.csv", parse_mapping(with_share)))
    assert batch["status"] == "success", batch
    evaluate(people)
    create_flow(people, "mail-only", FLOW)
    create_flow(people, "shared", {**FLOW, "marketingActions": ["exportToThirdParty"]})
    # each file read before the next run: both flows name theirs after the same account, audience and second
    mailed = destinations.run_activation(people, "prod", "mail-only")
    assert {"ann@example.com", "eve@example.com"} <= set(rows_of(mailed, outbox))  # no share needed to mail
    shared = destinations.run_activation(people, "prod", "shared")
    assert not {"ann@example.com", "eve@example.com"} & set(rows_of(shared, outbox))
    assert shared["excluded"] == {"consent": 2}
    # the same action said on the account instead (by whoever manages destinations): the same consent asked
    with people.catalog.session() as session:
        destinations.create_account(session, SecretBox(people.settings.home), "prod", "partner", "local",
                                    {"root": str(outbox)}, AllowedRoots.from_settings(people.settings),
                                    ["exportToThirdParty"])  # fmt: skip
    create_flow(people, "through-partner", FLOW, account="partner")
    partnered = destinations.run_activation(people, "prod", "through-partner")
    assert not {"ann@example.com", "eve@example.com"} & set(rows_of(partnered, outbox))
    assert partnered["excluded"] == {"consent": 2}

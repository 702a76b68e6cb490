"""A privacy delete leaves the identity graphs and the profile store exactly as a full rebuild from the lake it
left would make them, whoever the people were: household members who share an e-mail with someone kept,
people whose graph the size limit cut, people with a link a user removed, people known by events only."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from accord import governance, profile
from accord.catalog import resolve_sandbox
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.governance.privacy_data import People, build, stores, write_files

PEOPLE = People(120)


@pytest.fixture
def sandbox(settings: Settings, tmp_path: Path) -> Workspace:
    initialise(settings)
    ws = Workspace.open(settings)
    write_files(tmp_path / "files", PEOPLE, seed=3)
    build(ws, tmp_path / "files")
    return ws


def _ids(ws: Workspace) -> str:
    with ws.catalog.session() as session:
        return resolve_sandbox(session, "prod").id


@pytest.mark.settings(identity_graph_limit=4)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_a_delete_graphs_and_profiles_are_what_a_full_rebuild_makes(sandbox: Workspace, seed: int) -> None:
    rng = random.Random(seed)
    chosen = {0, 7, rng.randrange(PEOPLE.count), rng.randrange(PEOPLE.count)}  # 0: a household; 7: a removed link
    named = []
    for i in sorted(chosen):  # each person asked for by another of their identities
        named.append(rng.choice([f"CRMID:C{i}", f"Email:{PEOPLE.email(i)}", f"ECID:{PEOPLE.ecid(i)}",
                                 f"Phone_E164:{PEOPLE.phone(i)}"]))  # fmt: skip
    job = governance.run_privacy_job(sandbox, "prod", "delete", named, requested_by="test")
    assert job["status"] == "complete", job
    by_store = {r["store"]: r for r in job["report"]}
    assert by_store["lake"]["removed"] > 0 and by_store["identityGraph"]["removed"] > 0
    assert by_store["profileStore"]["details"]["how"] == "spliced"
    after = stores(sandbox, _ids(sandbox))
    profile.rebuild(sandbox, "prod")
    rebuilt = stores(sandbox, _ids(sandbox))
    assert after.keys() == rebuilt.keys()
    for name in after:
        assert after[name] == rebuilt[name], name


def test_a_store_built_on_other_graphs_is_built_again_in_full(sandbox: Workspace) -> None:
    from accord import identity

    identity.build_graph(sandbox, "prod")  # the graphs are newer than the profile store
    job = governance.run_privacy_job(sandbox, "prod", "delete", ["CRMID:C11"])
    store = next(r for r in job["report"] if r["store"] == "profileStore")
    assert job["status"] == "complete" and store["details"]["how"] == "rebuilt"
    after = stores(sandbox, _ids(sandbox))
    profile.rebuild(sandbox, "prod")
    assert stores(sandbox, _ids(sandbox)) == after

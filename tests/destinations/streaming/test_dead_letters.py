"""Dead letters in the catalog: what a receiver down for good never took is filed with the request and the
last answer (never a credential), listed by flow, and delivered by a replay once the receiver is back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from accord.catalog import resolve_sandbox
from accord.catalog.activations import ActivationFlowRecord
from accord.destinations import create_account, open_destination
from accord.destinations.registry import register_declared
from accord.destinations.spec import RequestContext
from accord.destinations.streaming.deadletters import CatalogDeadLetters, list_dead_letters, replay_dead_letters
from accord.destinations.streaming.lanes import deliver
from accord.sources import SecretBox
from accord.workspace import Workspace
from tests.destinations.conftest import document, register_people, rows
from tests.http_receiver import HttpReceiver, answer

TOKEN = "s3cr3t-bearer-token-value"


@pytest.fixture
def declared_folder(workspace: Workspace, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "declared"
    folder.mkdir()
    doc = document(
        id="signed-http",
        auth={"type": "bearer", "token": "{{ config.token }}"},
        headers={"X-Api-Key": "{{ config.token }}", "X-Source": "accord"},
        config=[{"name": "url", "format": "url"}, {"name": "token", "secret": True}],
        limits={"requestsInFlight": 1, "failuresToOpen": 100},
    )
    (folder / "signed.yaml").write_text(yaml.safe_dump(doc))
    assert register_declared(folder) == {}
    yield folder
    register_declared(tmp_path / "none")  # the registry forgets them: other tests see the built-ins only


SHARING = {"audiences": [{"segment": "parisians"}], "mapping": [{"source": "personalEmail.address", "target": "e"}],
           "marketingActions": ["exportToThirdParty"]}  # fmt: skip
"""What the flow is: e-mail addresses of Parisians handed to a third party."""


def flow_on(workspace: Workspace, url: str) -> tuple[Any, str, str]:
    register_people(workspace)
    box = SecretBox(workspace.settings.home)
    with workspace.catalog.session() as session:
        account = create_account(session, box, "prod", "acct", "signed-http", {"url": url, "token": TOKEN,
                                                                                "timeoutSeconds": 2})  # fmt: skip
        sandbox_id = resolve_sandbox(session, "prod").id
        flow = ActivationFlowRecord(sandbox_id=sandbox_id, name="to-http", account_id=account.id,
                                    definition=SHARING)  # fmt: skip
        session.add(flow)
        session.flush()
        destination = open_destination(account, box)
        return destination, sandbox_id, flow.id


def test_dead_letters_are_filed_listed_and_replayed(
    workspace: Workspace, declared_folder: Path, receiver: HttpReceiver
) -> None:
    destination, sandbox_id, flow_id = flow_on(workspace, receiver.url)
    receiver.then(default=answer(503, body=b'{"error": "maintenance until noon"}'))
    sink = CatalogDeadLetters(workspace.catalog, sandbox_id, flow_id, run_id="run-1")
    result = deliver(destination, rows(15), RequestContext("acct", {"id": flow_id, "name": "to-http"}), sink)
    assert result.rows_failed == 15 and len(result.dead_letters) == 2  # two requests of at most 10

    with workspace.catalog.session() as session:
        letters = list_dead_letters(session, "prod", "to-http")
    assert [x["id"] for x in letters] == result.dead_letters
    for letter in letters:
        assert letter["attempts"] == 3 and letter["runId"] == "run-1" and letter["replayStatus"] is None
        assert letter["answer"]["status"] == 503 and "maintenance" in letter["answer"]["body"]
        assert letter["request"]["headers"] == {"Content-Type": "application/json", "X-Source": "accord"}
        assert TOKEN not in json.dumps(letter)  # neither the Authorization header nor the API key header
    sent = receiver.requests("/profiles")
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" and r.headers["x-api-key"] == TOKEN for r in sent)

    receiver.then(default=answer(200))  # the receiver is back
    with workspace.catalog.session() as session:
        summary = replay_dead_letters(session, SecretBox(workspace.settings.home), "prod", "to-http")
    assert (summary["replayed"], summary["delivered"], summary["failed"]) == (2, 2, 0)
    replayed = [r for r in receiver.requests("/profiles") if r.status == 200]
    assert sorted(p["profileId"] for r in replayed for p in r.json()["profiles"]) == sorted(str(i) for i in range(15))
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in replayed)  # credentials added again
    assert [r.body for r in replayed] == [r.body for r in sent[::3]]  # the very bodies, oldest first

    with workspace.catalog.session() as session:
        after = list_dead_letters(session, "prod", "to-http")
        assert list_dead_letters(session, "prod", "to-http", pending=True) == []
        again = replay_dead_letters(session, SecretBox(workspace.settings.home), "prod", "to-http")
    assert {x["replayStatus"] for x in after} == {"delivered"} and all(x["replayedAt"] for x in after)
    assert again["replayed"] == 0


def test_one_letter_is_replayed_by_id_and_a_failed_replay_stays_pending(
    workspace: Workspace, declared_folder: Path, receiver: HttpReceiver
) -> None:
    destination, sandbox_id, flow_id = flow_on(workspace, receiver.url)
    receiver.then(default=answer(500))
    context = RequestContext("acct", {"id": flow_id, "name": "to-http"})
    deliver(destination, rows(12), context, CatalogDeadLetters(workspace.catalog, sandbox_id, flow_id))
    box = SecretBox(workspace.settings.home)
    with workspace.catalog.session() as session:
        first, second = list_dead_letters(session, "prod", "to-http")
        failed = replay_dead_letters(session, box, "prod", "to-http", letter=second["id"])
    assert (failed["replayed"], failed["failed"]) == (1, 1)
    receiver.then(default=answer(200))
    with workspace.catalog.session() as session:
        pending = list_dead_letters(session, "prod", "to-http", pending=True)
        assert {x["id"] for x in pending} == {first["id"], second["id"]}
        assert pending[1]["replayStatus"] == "failed" and pending[1]["attempts"] == 6
        done = replay_dead_letters(session, box, "prod", "to-http", letter=first["id"])
    assert done["delivered"] == 1
    with workspace.catalog.session() as session:
        states = {x["id"]: x["replayStatus"] for x in list_dead_letters(session, "prod", "to-http")}
    assert states == {first["id"]: "delivered", second["id"]: "failed"}


def test_a_replay_is_refused_whole_when_the_flow_now_breaks_a_policy(
    workspace: Workspace, declared_folder: Path, receiver: HttpReceiver
) -> None:
    from accord import governance

    destination, sandbox_id, flow_id = flow_on(workspace, receiver.url)
    receiver.then(default=answer(503))
    sink = CatalogDeadLetters(workspace.catalog, sandbox_id, flow_id)
    deliver(destination, rows(5), RequestContext("acct", {"id": flow_id, "name": "to-http"}), sink)
    with workspace.catalog.session() as session:  # since then: the e-mail field is contract-bound, the policy on
        governance.add_labels(session, "prod", "crm", ["C2"], "personalEmail.address")
        governance.set_policy_enabled(session, "prod", "core-export-to-third-party", True)
    receiver.then(default=answer(200))
    before = len(receiver.requests("/profiles"))
    with workspace.catalog.session() as session, pytest.raises(governance.PolicyViolationError) as refused:
        replay_dead_letters(session, SecretBox(workspace.settings.home), "prod", "to-http")
    assert refused.value.violations[0].policy == "core-export-to-third-party"
    assert len(receiver.requests("/profiles")) == before  # nothing sent
    with workspace.catalog.session() as session:
        assert len(list_dead_letters(session, "prod", "to-http", pending=True)) == 1  # kept for later

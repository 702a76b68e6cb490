"""Long operations started from the workspace: their states, their owner and sandbox, how long they are kept."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from accord.errors import InvalidInputError, NotFoundError
from accord.web import operations
from accord.web.operations import OperationFailed, Operations, Told
from accord.workspace import Workspace
from tests.conftest import Api
from tests.web.conftest import PASSWORD


def wait_for(ops: Operations, operation_id: str, states: tuple[str, ...]) -> operations.Operation:
    deadline = time.monotonic() + 10
    while (found := ops.get(operation_id, "ann", "prod")).state not in states:
        assert time.monotonic() < deadline, found
        time.sleep(0.01)
    return found


def test_an_operation_is_queued_then_runs_then_ends_with_its_result_or_its_reason() -> None:
    ops = Operations(workers=1)
    release = threading.Event()

    def slow(told: Told) -> str:
        told("halfway", 0.5)
        release.wait(10)
        return "/ui/somewhere"

    def failing(_told: Told) -> str:
        raise InvalidInputError("the folder is gone")

    first = ops.start("slow", "ann", "prod", slow)
    second = ops.start("failing", "ann", "prod", failing)
    assert wait_for(ops, first.id, ("running",)).step == "halfway"
    assert ops.get(second.id, "ann", "prod").state == "queued"  # one worker: it waits
    release.set()
    done = wait_for(ops, first.id, ("finished",))
    assert (done.result, done.percent, done.finished_at is not None) == ("/ui/somewhere", 100, True)
    failed = wait_for(ops, second.id, ("failed",))
    assert (failed.error, failed.result) == ("the folder is gone", None)
    ops.close()


def test_an_operation_is_its_owners_in_its_sandbox_only() -> None:
    ops = Operations(workers=1)
    mine = ops.start("mine", "ann", "prod", lambda _told: None)
    for user, sandbox in (("sam", "prod"), ("ann", "dev")):
        with pytest.raises(NotFoundError):
            ops.get(mine.id, user, sandbox)
    assert [o.id for o in ops.of("ann", "prod")] == [mine.id] and ops.of("ann", "dev") == []
    ops.close()


def test_a_running_operation_is_never_forgotten_to_make_room(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operations, "KEPT", 3)
    ops = Operations(workers=1)
    ended = [ops.start(f"quick {n}", "ann", "prod", lambda _told: None) for n in range(2)]
    for operation in ended:
        wait_for(ops, operation.id, ("finished",))
    release = threading.Event()
    blocking = ops.start("blocking", "ann", "prod", lambda _told: release.wait(10) and None)
    wait_for(ops, blocking.id, ("running",))
    later = [ops.start(f"later {n}", "ann", "prod", lambda _told: None) for n in range(3)]  # queued behind it
    kept = [o.id for o in ops.of("ann", "prod")]
    assert kept == [o.id for o in reversed([blocking, *later])]  # past 3 kept, only the ended made room
    release.set()
    ops.close()


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_the_state_of_an_operation_no_longer_known_stops_the_page_asking(api: Api, people: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:
        assert client.post("/ui/login", data={"user": "ann", "password": PASSWORD}).status_code == 303
        gone = client.get("/ui/operations/no-such-operation/state")
        assert gone.status_code == 286 and "no operation" in gone.text  # htmx stops polling on 286
        assert "hx-trigger" not in gone.text
        page = client.get("/ui/operations/no-such-operation")
        assert page.status_code == 404 and "no operation" in page.text


def test_work_that_ended_but_failed_is_failed_and_still_leads_to_what_it_made() -> None:
    ops = Operations(workers=1)

    def failed_run(_told: Told) -> str:
        raise OperationFailed("the run failed: the folder does not exist", "/ui/sources/runs/r1")

    ended = wait_for(ops, ops.start("run", "ann", "prod", failed_run).id, ("failed",))
    assert (ended.error, ended.result) == ("the run failed: the folder does not exist", "/ui/sources/runs/r1")
    ops.close()


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_dataflow_run_that_fails_is_said_failed_on_its_operation(api: Api, people: Workspace, tmp_path: Any) -> None:
    assert api.post("/connections", json={"name": "gone", "connector": "local",
                                          "config": {"root": str(tmp_path / "nope")}}).status_code == 201  # fmt: skip
    assert api.post("/dataflows", json={"name": "crm-files", "connection": "gone", "dataset": "crm", "source": {
        "glob": "*.csv"}, "mapping": {"mappings": [{"source": "id", "destination": "person.name.firstName"}]}}
    ).status_code == 201  # fmt: skip
    with httpx.Client(base_url=api.base, timeout=30) as client:
        assert client.post("/ui/login", data={"user": "dan", "password": PASSWORD}).status_code == 303
        started = client.post("/ui/dataflows/crm-files/runs", data={"csrf_token": client.cookies["accord_csrf"]})
        assert started.status_code == 303
        deadline = time.monotonic() + 30
        while 'hx-trigger="every 1s"' in (state := client.get(f"{started.headers['location'].split('?')[0]}/state"
                                                              )).text:  # fmt: skip
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert "<strong>failed</strong>" in state.text and "does not exist" in state.text
        assert 'id="operation-result" href="/ui/sources/runs/' in state.text  # the failed run, to see why

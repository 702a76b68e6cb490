"""The event log's conformance suite, on each log (tests/streaming/conftest.py): durable before it answers,
one copy per message id for ever, read in order, positions kept and never going back."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from accord.streaming.exceptions import LogClosedError, LogUnavailableError
from accord.streaming.log import Appended, Entry, SqliteEventLog
from tests.servers import start_nats
from tests.streaming.conftest import DUPLICATE_WINDOW, EventLogFactory


def entries(inlet: str, ids: range) -> list[Entry]:
    return [Entry(inlet, f"m{i}", b'{"n": %d}' % i) for i in ids]


def test_messages_are_kept_once_in_order_and_survive_a_reopen(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.open()
    assert log.last() == 0 and log.read(0, 10) == []
    first = log.append(entries("a", range(3))).result(10)
    again = log.append([*entries("a", range(2, 4)), *entries("b", range(1))]).result(10)
    assert [x.duplicate for x in first] == [False] * 3
    assert [x.duplicate for x in again] == [True, False, False]  # m2 of inlet a was there; b's m0 is its own
    assert again[0].seq == first[2].seq
    log.commit("processor", first[1].seq)
    log.close()
    reopened = event_log_factory.open()
    stored = reopened.read(0, 100)
    assert [(s.inlet, s.message_id) for s in stored] == [("a", "m0"), ("a", "m1"), ("a", "m2"), ("a", "m3"),
                                                          ("b", "m0")]  # fmt: skip
    assert [s.body for s in stored][:2] == [b'{"n": 0}', b'{"n": 1}']
    assert [s.seq for s in stored] == sorted(s.seq for s in stored)
    assert all(abs(s.received - time.time()) < 60 for s in stored)
    assert reopened.position("processor") == first[1].seq and reopened.position("other") == 0
    assert [s.message_id for s in reopened.read(reopened.position("processor"), 2)] == ["m2", "m3"]
    reopened.commit("processor", 1)  # a position never goes back
    assert reopened.position("processor") == first[1].seq
    assert reopened.last() == stored[-1].seq


def test_a_message_sent_twice_at_once_is_kept_once(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.open()
    # twice in one append, and in two appends that the writer may take in one commit
    both = log.append([*entries("a", range(2)), Entry("a", "m1", b"again")])
    other = log.append(entries("a", range(1, 3)))
    first, second = both.result(10), other.result(10)
    assert [x.duplicate for x in first] == [False, False, True] and first[2].seq == first[1].seq
    assert [x.duplicate for x in second] == [True, False] and second[0].seq == first[1].seq
    assert [(s.message_id, s.body) for s in log.read(0, 10)] == [("m0", b'{"n": 0}'), ("m1", b'{"n": 1}'),
                                                                 ("m2", b'{"n": 2}')]  # fmt: skip


def test_an_appender_that_stops_waiting_stops_no_other(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.open()
    given_up = log.append(entries("a", range(2)))
    given_up.cancel()  # a request's wait cancelled (a timeout, its client gone) before the log answered
    later = log.append(entries("b", range(1))).result(10)
    assert [x.duplicate for x in later] == [False]
    assert ("b", "m0") in {(s.inlet, s.message_id) for s in log.read(0, 10)}


def test_duplicates_are_known_across_a_reopen_and_past_the_duplicate_window(
    event_log_factory: EventLogFactory,
) -> None:
    log = event_log_factory.open()
    first = log.append(entries("a", range(3))).result(10)
    log.close()
    time.sleep(DUPLICATE_WINDOW + 0.2)  # JetStream has forgotten the ids by now; the log must not
    reopened = event_log_factory.open()
    again = reopened.append([*entries("a", range(4)), Entry("a", "m0", b"another body")]).result(10)
    assert [x.duplicate for x in again] == [True, True, True, False, True]
    assert [x.seq for x in again[:3]] == [x.seq for x in first] and again[4].seq == first[0].seq
    stored = reopened.read(0, 100)
    assert [s.message_id for s in stored] == ["m0", "m1", "m2", "m3"] and stored[0].body == b'{"n": 0}'


def test_ids_are_any_text_and_apart_per_inlet(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.open()
    odd = [Entry("inlet one", "id\nwith: spaces é", b"1"), Entry("inlet", "e one", b"2"), Entry("inlet e", "one", b"3"),
           Entry("inlet", "", b"")]  # fmt: skip
    assert not any(x.duplicate for x in log.append(odd).result(10))
    assert [(s.inlet, s.message_id, s.body) for s in log.read(0, 10)] == [(e.inlet, e.message_id, e.body) for e in odd]


def test_reads_page_through_the_log(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.open()
    log.append(entries("a", range(25))).result(10)
    pages, after = [], 0
    while page := log.read(after, 10):
        pages.append([s.message_id for s in page])
        after = page[-1].seq
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [m for page in pages for m in page] == [f"m{i}" for i in range(25)]
    assert log.read(log.last(), 10) == []


def test_appends_from_many_threads_are_all_durable_with_distinct_seqs(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.open()
    futures: list[Future[list[Appended]]] = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        for n in range(250):  # 8 x 250 = 2,000 appends of two messages, many in flight at once
            future = log.append(entries(f"w{worker}", range(n * 2, n * 2 + 2)))
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = [x for future in futures for x in future.result(60)]
    assert len(results) == 8 * 250 * 2 and not any(x.duplicate for x in results)
    assert len({x.seq for x in results}) == len(results)
    log.close()
    reopened = event_log_factory.open()  # acknowledged means kept
    assert {s.seq for s in reopened.read(0, 10_000)} == {x.seq for x in results}


@pytest.mark.parametrize("event_log_factory", ["sqlite"], indirect=True)  # JetStream acknowledges each message
def test_appends_from_many_threads_share_commits(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.open()
    assert isinstance(log, SqliteEventLog)
    futures = [log.append(entries("a", range(n * 4, n * 4 + 4))) for n in range(200)]
    assert len([x for future in futures for x in future.result(30)]) == 800
    assert log.commits < len(futures)  # many appends shared a commit


@pytest.mark.parametrize("event_log_factory", ["sqlite"], indirect=True)  # a NATS server's files are its own
def test_the_log_file_is_the_owners_alone(event_log_factory: EventLogFactory, tmp_path: Path) -> None:
    event_log_factory.open()
    assert (tmp_path / "log.db").stat().st_mode & 0o077 == 0


def test_positions_never_go_back_whoever_commits(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.open()
    positions = list(range(1, 201))

    def commit(part: list[int]) -> None:
        for position in part:
            log.commit("processor", position)

    threads = [threading.Thread(target=commit, args=(positions[w::4][::-1],)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.position("processor") == 200
    log.commit("odd name / with spaces", 7)
    assert log.position("odd name / with spaces") == 7 and log.position("odd name") == 0


def test_a_closed_log_refuses_appends(event_log_factory: EventLogFactory) -> None:
    log = event_log_factory.open()
    log.close()
    with pytest.raises(LogClosedError):
        log.append(entries("a", range(1))).result(5)


@pytest.mark.parametrize("event_log_factory", [pytest.param("nats", marks=pytest.mark.integration)], indirect=True)
def test_a_stopped_server_gives_a_clear_error_and_the_log_works_once_it_is_back(
    event_log_factory: EventLogFactory,
) -> None:
    server = start_nats()  # this test's own: it stops it
    try:
        log = event_log_factory.open(server.url)
        before = log.append(entries("a", range(3))).result(10)
        log.commit("processor", before[1].seq)
        server.stop()
        with pytest.raises(LogUnavailableError) as failed:
            log.append(entries("a", range(3, 6))).result(30)
        assert failed.value.code == "STREAM-0504-503" and failed.value.kind == "transient"
        assert server.url in failed.value.message and failed.value.__cause__ is not None
        with pytest.raises(LogUnavailableError):
            log.read(0, 10)
        server.restart()
        deadline = time.monotonic() + 30
        while True:  # the client reconnects by itself
            try:
                after = log.append(entries("a", range(3, 6))).result(10)  # sent again with the same ids
                break
            except LogUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # whatever the failed call may have left on the wire counts once, under its first seq
        stored = log.read(0, 100)
        assert [s.message_id for s in stored] == [f"m{i}" for i in range(6)]
        assert [x.seq for x in after] == [s.seq for s in stored[3:]]
        assert log.position("processor") == before[1].seq
    finally:
        server.remove()

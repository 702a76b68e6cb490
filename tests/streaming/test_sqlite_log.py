"""The embedded event log: durable before it answers, one copy per message id, read in order, positions kept."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from accord.streaming.exceptions import LogClosedError
from accord.streaming.log import Entry, SqliteEventLog


def entries(inlet: str, ids: range) -> list[Entry]:
    return [Entry(inlet, f"m{i}", b'{"n": %d}' % i) for i in ids]


def test_messages_are_kept_once_in_order_and_survive_a_reopen(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "log.db")
    first = log.append(entries("a", range(3))).result(5)
    again = log.append([*entries("a", range(2, 4)), *entries("b", range(1))]).result(5)
    assert [x.duplicate for x in first] == [False] * 3
    assert [x.duplicate for x in again] == [True, False, False]  # m2 of inlet a was there; b's m0 is its own
    assert again[0].seq == first[2].seq
    log.commit("processor", first[1].seq)
    log.close()
    reopened = SqliteEventLog(tmp_path / "log.db")
    try:
        stored = reopened.read(0, 100)
        assert [(s.inlet, s.message_id) for s in stored] == [("a", "m0"), ("a", "m1"), ("a", "m2"), ("a", "m3"),
                                                              ("b", "m0")]  # fmt: skip
        assert [s.seq for s in stored] == sorted(s.seq for s in stored)
        assert reopened.position("processor") == first[1].seq and reopened.position("other") == 0
        assert [s.message_id for s in reopened.read(reopened.position("processor"), 2)] == ["m2", "m3"]
        reopened.commit("processor", 1)  # a position never goes back
        assert reopened.position("processor") == first[1].seq
        assert reopened.last() == stored[-1].seq
        assert (tmp_path / "log.db").stat().st_mode & 0o077 == 0
    finally:
        reopened.close()


def test_appends_from_many_threads_share_commits(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "log.db")
    futures = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        for n in range(50):
            future = log.append(entries(f"w{worker}", range(n * 4, n * 4 + 4)))
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = [x for future in futures for x in future.result(30)]
    try:
        assert len(results) == 8 * 50 * 4 and not any(x.duplicate for x in results)
        assert len({x.seq for x in results}) == len(results)
        assert log.commits < len(futures)  # many appends shared a commit (group commit)
    finally:
        log.close()


def test_a_closed_log_refuses_appends(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "log.db")
    log.close()
    with pytest.raises(LogClosedError):
        log.append(entries("a", range(1))).result(5)

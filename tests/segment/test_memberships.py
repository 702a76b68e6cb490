"""Membership transitions as array operations: the rules one status at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from accord.segment.memberships import EXISTING, EXITED, NONE, REALIZED, Arrays, micros, update

NOW = datetime(2026, 11, 23, tzinfo=UTC)
RETENTION = NOW - timedelta(days=30)


def arrays(rows: list[tuple[int, int, datetime | None, datetime | None]]) -> Arrays:
    def stamp(moment: datetime | None) -> int:
        return micros(moment) if moment else int(NONE)

    graphs, statuses = np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int8)
    qualified, exited = (np.array([stamp(r[i]) for r in rows], np.int64) for i in (2, 3))
    return Arrays(graphs, statuses, qualified, exited)


def test_each_status_moves_as_the_rules_say() -> None:
    long_ago, lately = NOW - timedelta(days=40), NOW - timedelta(days=3)
    previous = arrays([
        (1, REALIZED, lately, None),     # still in -> existing
        (2, EXISTING, lately, None),     # gone -> exited now
        (3, EXITED, long_ago, lately),   # exited 3 days ago, still out -> kept
        (4, EXITED, long_ago, long_ago), # exited 40 days ago -> dropped
        (5, EXITED, long_ago, lately),   # back in -> realized
    ])  # fmt: skip
    current, moved, counts = update(previous, np.array([1, 5, 6], np.int64), NOW, RETENTION)
    by_graph = dict(zip(current.graph.tolist(), current.status.tolist(), strict=True))
    assert by_graph == {1: EXISTING, 2: EXITED, 3: EXITED, 5: REALIZED, 6: REALIZED}
    assert counts == {"realized": 2, "existing": 1, "exited": 2, "qualified": 3}
    exited_at = dict(zip(current.graph.tolist(), current.exited.tolist(), strict=True))
    assert exited_at[2] == micros(NOW) and exited_at[3] == micros(lately) and exited_at[1] == NONE
    qualified = dict(zip(current.graph.tolist(), current.qualified.tolist(), strict=True))
    assert qualified[1] == micros(NOW) and qualified[2] == micros(lately)
    transitions = dict(zip(moved.graph.tolist(), zip(moved.exited.tolist(), moved.status.tolist(), strict=True),
                           strict=True))  # fmt: skip
    assert transitions == {2: (EXISTING, EXITED), 5: (EXITED, REALIZED), 6: (-1, REALIZED)}
    assert list(current.graph) == sorted(current.graph)


def test_streamed_changes_replace_and_add() -> None:
    base = arrays([(1, REALIZED, NOW, None), (3, EXISTING, NOW, None)])
    merged = base.with_changes(arrays([(3, EXITED, NOW, NOW), (2, REALIZED, NOW, None)]))
    assert merged.graph.tolist() == [1, 2, 3] and merged.status.tolist() == [REALIZED, REALIZED, EXITED]


def test_the_same_profiles_again_are_all_existing() -> None:
    lately = NOW - timedelta(days=1)
    previous = arrays([(1, REALIZED, lately, None), (2, EXISTING, lately, None)])
    current, moved, counts = update(previous, np.array([1, 2], np.int64), NOW, RETENTION)
    assert current.status.tolist() == [EXISTING, EXISTING] and current.qualified.tolist() == [micros(NOW)] * 2
    assert len(moved.graph) == 0 and counts == {"realized": 0, "existing": 2, "exited": 0, "qualified": 2}

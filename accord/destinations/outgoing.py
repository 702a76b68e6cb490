"""Profiles on their way to a streaming destination: one (`OutgoingProfile`), or a batch as columns
(`OutgoingProfiles`, what the delivery engine carries)."""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, ClassVar, NamedTuple, overload

if TYPE_CHECKING:
    from accord.destinations.spec import ProfileRow


class OutgoingProfile(NamedTuple):
    """One profile on its way to a streaming destination: its id, and its row as JSON text or as a dict.

    Either form is made from the other when asked for (`text`, `row`): an activation run's profiles come
    as JSON the engine wrote (a request body that holds them whole only joins the texts), rows given as
    dicts stay dicts until a body needs their text, `json.dumps(row, sort_keys=True)` as Jinja's `tojson`
    writes it. A tuple, so that a run makes a million of them without a Python call each."""

    profile_id: str
    json_text: str | None = None
    """The row as JSON text, when it came so."""
    row_given: ProfileRow | None = None
    """The row as a dict, when it came so."""
    identifier_count: int | None = None
    """How many identity values it carries, when known."""

    @classmethod
    def of_row(cls, row: ProfileRow) -> OutgoingProfile:
        return cls(str(row["profileId"]), None, row, None)

    @property
    def text(self) -> str:
        """The profile as JSON text."""
        return self.json_text if self.json_text is not None else json.dumps(self.row_given, sort_keys=True)

    @property
    def row(self) -> ProfileRow:
        """The profile as a dict (read from its JSON text each time it is asked for)."""
        return self.row_given if self.row_given is not None else json.loads(self.json_text or "null")  # type: ignore[no-any-return]

    @property
    def identifiers(self) -> int:
        """How many identity values it carries (all namespaces)."""
        if self.identifier_count is not None:
            return self.identifier_count
        return sum(len(values) for values in self.row["identities"].values())


class OutgoingProfiles(Sequence[OutgoingProfile]):
    """Outgoing profiles as columns: their ids, JSON texts, dict rows and identifier counts, a list each.

    What the delivery engine carries: a million profiles of an activation run are a million strings in
    two lists, not a million objects made, split and counted one at a time by Python code (and walked
    by the garbage collector as they go). Slicing, selecting and joining work on the columns; an item
    is made as an `OutgoingProfile` only when asked for."""

    __slots__ = ("counts", "given", "ids", "texts")
    COLUMNS: ClassVar[tuple[str, ...]] = ("ids", "texts", "given", "counts")
    """The columns in the order the constructor takes them."""

    def __init__(self, ids: list[str], texts: list[str | None], given: list[ProfileRow | None],
                 counts: list[int | None]) -> None:  # fmt: skip
        self.ids, self.texts, self.given, self.counts = ids, texts, given, counts

    @classmethod
    def of_texts(cls, ids: list[str], texts: list[str], counts: list[int]) -> OutgoingProfiles:
        """Profiles whose rows came as JSON text, with how many identity values each carries."""
        return cls(ids, texts, [None] * len(ids), counts)  # type: ignore[arg-type]

    @classmethod
    def of(cls, items: Sequence[ProfileRow | OutgoingProfile]) -> OutgoingProfiles:
        """Rows (dicts, kept as dicts) or outgoing profiles, in columns."""
        if isinstance(items, OutgoingProfiles):
            return items
        profiles = [item if isinstance(item, OutgoingProfile) else OutgoingProfile.of_row(item) for item in items]
        if not profiles:
            return cls([], [], [], [])
        ids, texts, given, counts = (list(column) for column in zip(*profiles, strict=True))
        return cls(ids, texts, given, counts)

    @classmethod
    def joined(cls, parts: Sequence[OutgoingProfiles]) -> OutgoingProfiles:
        """The parts' profiles one after the other, in one batch."""
        if len(parts) == 1:
            return parts[0]
        return cls(*([*chain.from_iterable(getattr(p, c) for p in parts)] for c in cls.COLUMNS))

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> OutgoingProfile: ...

    @overload
    def __getitem__(self, index: slice) -> OutgoingProfiles: ...

    def __getitem__(self, index: int | slice) -> OutgoingProfile | OutgoingProfiles:
        if isinstance(index, slice):
            return OutgoingProfiles(self.ids[index], self.texts[index], self.given[index], self.counts[index])
        return OutgoingProfile(self.ids[index], self.texts[index], self.given[index], self.counts[index])

    def __iter__(self) -> Iterator[OutgoingProfile]:
        return map(OutgoingProfile, self.ids, self.texts, self.given, self.counts)

    def grouped(self, keys: list[int], groups: int) -> list[OutgoingProfiles]:
        """The profiles in `groups` groups by their key (0 to groups - 1), each group in their order.

        A stable sort of the places by key and one pick per column (no Python code per profile)."""
        if len(self) < 2:
            return [self if key == (keys[0] if keys else -1) else self[0:0] for key in range(groups)]
        order = sorted(range(len(keys)), key=keys.__getitem__)
        pick = itemgetter(*order)
        columns = [pick(getattr(self, c)) for c in self.COLUMNS]
        bounds = [*(bisect_left(pick(keys), key) for key in range(groups)), len(keys)]
        return [OutgoingProfiles(*(list(c[bounds[g] : bounds[g + 1]]) for c in columns)) for g in range(groups)]

    def identifier_counts(self) -> list[int]:
        """How many identity values each profile carries (counted from its row where not known)."""
        if None not in self.counts:
            return self.counts  # type: ignore[return-value]
        return [p.identifiers if count is None else count for count, p in zip(self.counts, self, strict=True)]

    def json_texts(self) -> list[str]:
        """Each profile's row as JSON text."""
        if None not in self.texts:
            return self.texts  # type: ignore[return-value]
        return [profile.text for profile in self]

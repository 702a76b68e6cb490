"""Profiles as JSON text: what the engine writes for a run's built file means what the row as a dict
would, a body that writes the profiles whole (joined texts) lands as Jinja's `tojson` would write it,
any other template gets dicts, and a producer's error stops a delivery (no lane left waiting)."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2.utils import htmlsafe_json_dumps

from accord.destinations.export import STATUS, AudienceExport
from accord.destinations.flows import parse_definition
from accord.destinations.spec import ExportFile, OutgoingProfile, ProfileRow, RequestContext
from accord.destinations.streaming.lanes import deliver
from accord.destinations.streaming.profiles import outgoing_profiles
from accord.destinations.streaming.templates import writes_profiles_whole
from tests.destinations.conftest import destination, document, rows
from tests.http_receiver import HttpReceiver

FLOW = RequestContext("acct", {"id": "f1", "name": "flow one"})
MAPPING = [{"source": "person.name.firstName", "target": "first name"}, {"source": "x.tier", "target": "tier"},
           {"source": "x.age", "target": "age"}, {"source": "identityMap.Email", "target": "email"},
           {"source": "identityMap.Phone", "target": "phone"}]  # fmt: skip
TEXT = st.one_of(st.none(), st.text(alphabet=string.printable + "éß€\x00\x01\u2028<>&'\"\\", max_size=12))


def built_file(folder: Path, table: pa.Table, segment_id: str = "seg1", name: str = "Buyers") -> AudienceExport:
    """A run's built file for one audience, as the export writes it for a streaming destination."""
    path = folder / f"{segment_id}-{len(list(folder.iterdir()))}.parquet"
    pq.write_table(table, path)
    return AudienceExport(segment_id, name, files=[ExportFile(path, path.name, table.num_rows, 0)])


def as_dict(record: dict[str, Any], segment_id: str, name: str) -> ProfileRow:
    """The row as a dict, as streaming rows were built in Python before the engine wrote them."""
    identities = {ns: [record[t]] for t, ns in (("email", "Email"), ("phone", "Phone")) if record[t] is not None}
    return {"profileId": str(record["graph"]), "attributes": {t: record[t] for t in ("first name", "tier", "age")},
            "identities": identities, "segments": {segment_id: {"name": name, "status": record[STATUS]}}}  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({"first name": TEXT, "tier": TEXT, "email": TEXT, "phone": TEXT,
                                       "age": st.one_of(st.none(), st.integers(-(2**40), 2**40)),
                                       STATUS: st.sampled_from(["realized", "existing", "exited"])}),
                max_size=30), st.text(string.printable + "é'\"", max_size=8))  # fmt: skip
def test_the_engine_writes_what_the_row_as_a_dict_says(tmp_path_factory: Any, records: list[dict[str, Any]],
                                                       segment_name: str) -> None:  # fmt: skip
    records = [r | {"graph": i * 7919 - 50} for i, r in enumerate(records)]
    schema = pa.schema([(c, pa.string()) for c in ("first name", "tier", "email", "phone")] +
                       [("age", pa.int64()), (STATUS, pa.string()), ("graph", pa.int64())])  # fmt: skip
    folder = tmp_path_factory.mktemp("built")
    export = built_file(folder, pa.Table.from_pylist(records, schema), "seg'1", segment_name)
    flow = parse_definition({"audiences": [{"segment": "buyers"}], "mapping": MAPPING})
    got = [profile for batch in outgoing_profiles([export], flow) for profile in batch]
    assert [p.row for p in got] == [as_dict(r, "seg'1", segment_name) for r in records]
    assert [p.profile_id for p in got] == [str(r["graph"]) for r in records]  # in the file's order
    assert [p.identifiers for p in got] == [(r["email"] is not None) + (r["phone"] is not None) for r in records]


def test_dates_times_and_decimals_are_written_as_the_docs_say(tmp_path: Path) -> None:
    table = pa.table({
        "day": pa.array([date(2024, 5, 1)]), "at": pa.array([datetime(2024, 5, 1, 9, 30)], pa.timestamp("us")),
        "zoned": pa.array([datetime(2024, 5, 1, 9, 30, tzinfo=UTC)], pa.timestamp("us", "Europe/Paris")),
        "price": pa.array([Decimal("12.50")], pa.decimal128(10, 2)), "email": ["a@b.c"],
        STATUS: ["realized"], "graph": pa.array([3], pa.int64()),
    })  # fmt: skip
    mapping = [{"source": f"x.{c}", "target": c} for c in ("day", "at", "zoned", "price")]
    flow = parse_definition({"audiences": [{"segment": "s"}],
                             "mapping": [*mapping, {"source": "identityMap.Email", "target": "email"}]})  # fmt: skip
    ((profile,),) = outgoing_profiles([built_file(tmp_path, table)], flow)
    assert profile.row["attributes"] == {"day": "2024-05-01", "at": "2024-05-01 09:30:00",
                                         "zoned": "2024-05-01 09:30:00+00", "price": 12.5}  # fmt: skip


def test_numbers_json_cannot_hold_go_out_as_null(tmp_path: Path) -> None:
    values = [float("nan"), float("inf"), float("-inf"), 2.5]
    table = pa.table({"score": pa.array(values, pa.float64()), "ratio": pa.array(values, pa.float32()),
                      "email": ["a@b.c"] * 4, STATUS: ["realized"] * 4,
                      "graph": pa.array(range(4), pa.int64())})  # fmt: skip
    flow = parse_definition({"audiences": [{"segment": "s"}], "mapping": [
        {"source": "x.score", "target": "score"}, {"source": "x.ratio", "target": "ratio"},
        {"source": "identityMap.Email", "target": "email"}]})  # fmt: skip
    (batch,) = outgoing_profiles([built_file(tmp_path, table)], flow)

    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant}")

    rows = [json.loads(text, parse_constant=refuse) for text in batch.json_texts()]  # strict JSON
    assert [r["attributes"] for r in rows] == [{"score": None, "ratio": None}] * 3 + [{"score": 2.5, "ratio": 2.5}]


def test_a_body_that_writes_profiles_whole_lands_as_jinja_would_write_it(receivers: Any) -> None:
    whole, looped = receivers(), receivers()
    sample = rows(12)
    sample[0]["attributes"]["firstName"] = "<b>Ann & 'Bo'</b> \u2028"
    deliver(destination(document(limits={"requestsInFlight": 1}), url=whole.url), sample, FLOW)
    each = document(body='{"flow": {{ flow.name | tojson }}, "profiles": [{% for p in profiles %}'
                         "{{ p | tojson }}{% if not loop.last %}, {% endif %}{% endfor %}]}",
                    limits={"requestsInFlight": 1})  # fmt: skip
    deliver(destination(each, url=looped.url), sample, FLOW)
    sent = whole.requests("/profiles")
    assert [len(r.json()["profiles"]) for r in sent] == [10, 2]
    for fast, slow, profiles in zip(sent, looped.requests("/profiles"), (sample[:10], sample[10:]), strict=True):
        assert fast.body == slow.body  # byte for byte, HTML-safe escapes included
        jinja = str(htmlsafe_json_dumps(profiles, sort_keys=True))  # what `{{ profiles | tojson }}` writes
        assert fast.body.decode() == '{"flow": "flow one", "profiles": ' + jinja + "}"
    assert b"\\u003cb\\u003eAnn \\u0026 \\u0027Bo\\u0027" in sent[0].body


def test_engine_texts_and_dicts_give_the_same_json_to_any_template(receivers: Any, tmp_path: Path) -> None:
    texts, dicts = receivers(), receivers()
    sample = [row | {"identities": {"Email": [f"p{i}@x.io"], "Phone": ["+1"]}} for i, row in enumerate(rows(25))]
    encoded = [OutgoingProfile(r["profileId"], json.dumps(r, separators=(",", ":")), None, 2) for r in sample]
    for body in ('{"profiles": {{ profiles | tojson }}}',
                 '[{% for p in profiles %}{"e": {{ p.identities.Email[0] | tojson }}}'
                 '{% if not loop.last %},{% endif %}{% endfor %}]'):  # fmt: skip
        doc = document(body=body, limits={"requestsInFlight": 1})
        deliver(destination(doc, url=texts.url), encoded, FLOW)
        deliver(destination(doc, url=dicts.url), sample, FLOW)
    assert [r.json() for r in texts.requests("/profiles")] == [r.json() for r in dicts.requests("/profiles")]
    assert len(texts.requests("/profiles")) == 6  # 3 requests of at most 10 profiles, for each body


@pytest.mark.parametrize(
    ("body", "whole"),
    [
        ('{"profiles": {{ profiles | tojson }}}', True),
        ('{"p": {{ profiles|tojson }}, "again": {{ profiles | tojson }}}', True),
        ('{"n": {{ profiles | length }}, "p": {{ profiles | tojson }}}', False),
        ('{"p": {{ profiles | tojson(indent=2) }}}', False),
        ("{% for p in profiles %}{{ p.profileId }}{% endfor %}", False),
        ("{% set profiles = [1] %}{{ profiles | tojson }}", False),
        ('{"flow": {{ flow | tojson }}}', False),
    ],
)
def test_only_a_template_that_writes_profiles_whole_gets_their_texts(body: str, whole: bool) -> None:
    assert writes_profiles_whole(body) is whole


def rows_then_failure(count: int) -> Iterator[ProfileRow]:
    yield from rows(count)
    raise RuntimeError("the engine stopped")


@pytest.mark.timeout(30)
def test_a_producer_that_fails_midway_stops_the_delivery_with_its_error(receiver: HttpReceiver) -> None:
    with pytest.raises(RuntimeError, match="the engine stopped"):
        deliver(destination(url=receiver.url), rows_then_failure(2500), FLOW)

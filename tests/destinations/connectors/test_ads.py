"""The advertising destination: the receiver gets hashes only (SHA-256 of normalised e-mails and phones),
never a clear identifier, and never more than 10,000 identifiers in a request."""

from __future__ import annotations

import hashlib

from accord.destinations.connectors.ads import AdsDestination
from accord.destinations.registry import destination_class
from accord.destinations.spec import ProfileRow, RequestContext
from accord.destinations.streaming.lanes import deliver
from tests.http_receiver import HttpReceiver


def people(count: int) -> list[ProfileRow]:
    return [
        {
            "profileId": f"profile-{i}",
            "attributes": {"firstName": f"Person{i}"},
            "identities": {"Email": [f"  Person.{i}@Example.COM "], "Phone": [f"+44 (0)20 7946-{i:04d}"],
                           "CRM": [f"crm-{i}"]},
            "segments": {"s-buyers": {"name": "Buyers", "status": "exited" if i % 10 == 0 else "realized"}},
        }
        for i in range(count)
    ]  # fmt: skip


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_only_hashes_of_normalised_identifiers_in_requests_of_at_most_10000(receiver: HttpReceiver) -> None:
    assert destination_class("ads") is AdsDestination and AdsDestination.spec.category == "advertising"
    config = AdsDestination.spec.config.model_validate({"url": f"{receiver.url}/audiences", "token": "ads-token-1"})
    crowd = people(12_000)
    result = deliver(AdsDestination(config), crowd, RequestContext("ads-account", {"id": "f", "name": "ads"}))
    got = receiver.requests("/audiences")
    assert result.rows_delivered == 12_000 and result.rows_failed == 0
    counts = [sum(len(a["add"]) + len(a["remove"]) for a in r.json()["audiences"]) for r in got]
    assert max(counts) <= 10_000 and sum(counts) == 24_000 and len(got) >= 3
    added, removed = set(), set()
    for request in got:
        for audience in request.json()["audiences"]:
            assert audience["segmentId"] == "s-buyers" and set(audience) == {"segmentId", "add", "remove"}
            for key, into in (("add", added), ("remove", removed)):
                for identifier in audience[key]:
                    [(name, value)] = identifier.items()
                    assert name in ("email_lc_sha256", "phone_sha256") and len(value) == 64
                    into.add((name, value))
    expected_email = {i: sha(f"person.{i}@example.com") for i in range(12_000)}
    expected_phone = {i: sha(f"+44207946{i:04d}") for i in range(12_000)}
    assert ("email_lc_sha256", expected_email[7]) in added and ("phone_sha256", expected_phone[7]) in added
    assert ("email_lc_sha256", expected_email[10]) in removed and ("phone_sha256", expected_phone[10]) in removed
    assert len(added) == 2 * 10_800 and len(removed) == 2 * 1_200
    everything = receiver.every_byte().lower()
    for i in (0, 1, 7, 10, 11_999):  # no clear identifier in any byte received, in any spelling
        for clear in (f"person.{i}@example.com", f"+44 (0)20 7946-{i:04d}", f"+44207946{i:04d}",
                      f"207946{i:04d}", f"crm-{i}", f"profile-{i}", f"person{i}"):  # fmt: skip
            assert clear.encode() not in everything, clear
    assert all(r.headers["authorization"] == "Bearer ads-token-1" for r in got)


def test_a_profile_without_an_email_or_phone_sends_nothing_and_is_counted(receiver: HttpReceiver) -> None:
    config = AdsDestination.spec.config.model_validate({"url": f"{receiver.url}/audiences", "token": "t-1234"})
    crowd = people(3)
    crowd[1]["identities"] = {"CRM": ["crm-1"], "Email": ["not an address"], "Phone": ["12"]}
    result = deliver(AdsDestination(config), crowd)
    assert result.rows_delivered == 2 and result.failures == {"no identity or value the destination accepts": 1}
    assert b"crm-1" not in receiver.every_byte() and b"not an address" not in receiver.every_byte()

"""Double opt-in: subscribe, the confirmation message, and its confirm link over real HTTP."""

from __future__ import annotations

import re

import httpx
import pytest

from accord.campaign import CampaignEngine, create_list, list_member_ids, suppress
from accord.campaign.deliveries import create_delivery, target_recipients
from accord.campaign.exceptions import CampaignInputError, DuplicateObjectError
from accord.campaign.subscriptions import subscribe
from accord.settings import Settings
from tests.campaign.mailing import PEOPLE, add_recipients
from tests.conftest import Api


def confirm_path(message: object) -> str:
    text = message.get_content()  # type: ignore[attr-defined]
    found = re.search(r"http://127\.0\.0\.1:8000(/campaign/t/s/[\w.-]+)", text)
    assert found, text
    return found.group(1)


def test_a_subscriber_is_pending_until_they_confirm_by_the_link(api: Api, settings: Settings) -> None:
    engine = CampaignEngine.open(settings)
    try:
        create_list(engine, "newsletter", label="Our newsletter", double_opt_in=True)
        add_recipients(engine, PEOPLE[:1])
        message = subscribe(engine, "newsletter", "Ann@Example.com")  # an existing recipient, found by address
        other = subscribe(engine, "newsletter", "new@example.com", {"firstName": "Nia", "custom": {"city": "Oslo"}})
        assert message["To"] == "ann@example.com" and message["From"] == settings.campaign_sender
        assert message["Subject"] == "Please confirm your subscription to Our newsletter"
        assert list_member_ids(engine, "newsletter") == []  # pending members are no members yet
        delivery = create_delivery(engine, "n1", sender="news@shop.example", subject="s", text="t",
                                   target={"list": "newsletter"})  # fmt: skip
        assert target_recipients(engine, delivery["id"])[0] == []
        with httpx.Client(base_url=api.base, timeout=30) as browser:
            page = browser.get(confirm_path(message))
            assert page.status_code == 200 and "Subscribe a***@example.com to Our newsletter?" in page.text
            assert list_member_ids(engine, "newsletter") == []  # a scanner fetching the link confirms nothing
            done = browser.post(confirm_path(message))
            again = browser.post(confirm_path(message))
            forged = browser.post(confirm_path(message)[:-2] + "xx")
            wrong_list = browser.get(re.sub(r"/s/\d+\.", "/s/99.", confirm_path(message)))
        assert done.status_code == again.status_code == 200 and "is subscribed to Our newsletter" in done.text
        assert (forged.status_code, wrong_list.status_code) == (404, 404)
        assert list_member_ids(engine, "newsletter") == ["C1"]
        assert [r["email"] for r in target_recipients(engine, delivery["id"])[0]] == ["ann@example.com"]
        with pytest.raises(DuplicateObjectError):
            subscribe(engine, "newsletter", "ann@example.com")
        assert confirm_path(other) != confirm_path(message)
    finally:
        engine.close()


def test_suppressed_or_bad_addresses_and_plain_lists_are_refused(api: Api, settings: Settings) -> None:
    engine = CampaignEngine.open(settings)
    try:
        create_list(engine, "newsletter", double_opt_in=True)
        create_list(engine, "plain")
        suppress(engine, "gone@example.com", "unsubscribed")
        cases = [
            ("newsletter", "GONE@example.com", {}, "g\\*\\*\\*@example.com is on the suppression list"),
            ("newsletter", "not-an-address", {}, "not an e-mail address"),
            ("plain", "ann@example.com", {}, "not a subscription list"),
            ("newsletter", "ann@example.com", {"password": "x"}, "unknown field 'password'"),
        ]
        for list_name, address, fields, error in cases:
            with pytest.raises(CampaignInputError, match=error):
                subscribe(engine, list_name, address, fields)
        assert list_member_ids(engine, "newsletter") == [] and list_member_ids(engine, "plain") == []
    finally:
        engine.close()

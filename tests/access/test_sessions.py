"""Sign-in for people: session cookies, CSRF on changes, lock-out after wrong passwords, and the bound on
failed authentications per client address."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from accord.access import create_user, grant_role, set_disabled
from accord.catalog import SessionRecord, UserRecord, utcnow
from accord.workspace import Workspace
from tests.conftest import Api

PASSWORD = "correct horse battery"


@pytest.fixture
def ws(api: Api, settings: Any) -> Any:
    workspace = Workspace.open(settings)
    create_user(workspace.catalog, "ann", email="ann@example.com", password=PASSWORD)
    grant_role(workspace.catalog, "data engineer", "ann", None)
    yield workspace
    workspace.close()


def sign_in(api: Api, password: str = PASSWORD, **extra: Any) -> httpx.Response:
    return httpx.post(f"{api.base}/auth/login", json={"user": "ann", "password": password}, **extra)


def cookie(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert found, response.headers
    return found[0]


def as_ann(signed: httpx.Response) -> httpx.Client:
    """A client that sends the session cookie (httpx keeps Secure cookies off plain HTTP, as browsers do but for
    localhost: the header is set by hand)."""
    secret = cookie(signed, "accord_session").split(";")[0].split("=", 1)[1]
    return httpx.Client(base_url=signed.request.url.join("/"), headers={"Cookie": f"accord_session={secret}"})


def test_signing_in_sets_a_secure_httponly_strict_cookie_and_gives_a_csrf_token(api: Api, ws: Workspace) -> None:
    signed = sign_in(api)
    assert signed.status_code == 200 and signed.json()["user"] == "ann"
    session = cookie(signed, "accord_session").lower()
    assert "httponly" in session and "secure" in session and "samesite=strict" in session
    csrf = cookie(signed, "accord_csrf").lower()
    assert "httponly" not in csrf and "samesite=strict" in csrf
    with as_ann(signed) as client:
        me = client.get("/me").json()
        assert me["user"] == "ann" and "Manage Schemas" in me["permissions"]
        schema = {"name": "crm", "class": "profile", "fieldGroups": ["personal-contact-details"]}
        refused = client.post("/schemas", json=schema)  # a change without the CSRF token
        assert refused.status_code == 403 and refused.json()["code"] == "ACCESS-0443-403"
        forged = client.post("/schemas", json=schema, headers={"X-CSRF-Token": "guessed"})
        assert forged.status_code == 403
        made = client.post("/schemas", json=schema, headers={"X-CSRF-Token": signed.json()["csrfToken"]})
        assert made.status_code == 201, made.text
        # a form posted from another site carries the cookie, never the token
        cross = client.post("/sandboxes", data={"name": "evil"}, headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403
        assert client.post("/auth/logout", headers={"X-CSRF-Token": signed.json()["csrfToken"]}).status_code == 204
        assert client.get("/me").status_code == 401  # ended


def test_a_forged_expired_idle_or_disabled_session_is_refused(api: Api, ws: Workspace) -> None:
    forged = httpx.get(f"{api.base}/me", headers={"Cookie": "accord_session=forged-value"})
    assert forged.status_code == 401 and forged.json()["code"] == "ACCORD-0401-401"
    for change in ({"expires_at": utcnow() - timedelta(seconds=1)}, {"last_seen_at": utcnow() - timedelta(hours=1)}):
        signed = sign_in(api)
        with as_ann(signed) as client:
            assert client.get("/me").status_code == 200
            with ws.catalog.session() as session:
                session.execute(update(SessionRecord).values(**change))
            assert client.get("/me").status_code == 401, change
    signed = sign_in(api)
    with as_ann(signed) as client:
        set_disabled(ws.catalog, "ann", True)
        assert client.get("/me").status_code == 401
        set_disabled(ws.catalog, "ann", False)
        assert client.get("/me").status_code == 200
    set_disabled(ws.catalog, "ann", True)
    assert sign_in(api).status_code == 401  # a disabled user cannot sign in
    bad = httpx.post(f"{api.base}/auth/login", json={"user": "ann"})
    assert bad.status_code == 400 and bad.json()["details"]["problems"][0]["path"] == "password"
    assert httpx.post(f"{api.base}/auth/login", content=b"x" * 20_000).status_code == 413


@pytest.mark.settings(auth_failures_per_minute=100_000)
def test_a_thousand_wrong_passwords_in_a_minute_lock_the_user_out_without_checking_them(
    api: Api, ws: Workspace
) -> None:
    started = time.monotonic()
    codes = []
    with httpx.Client(base_url=api.base, timeout=30) as client:
        for attempt in range(1000):
            codes.append(client.post("/auth/login", data={"user": "ann", "password": f"guess-{attempt}"}).status_code)
    # checked: the first five, and one each time the lock (30 s, then 60 s...) has ended; the rest are refused
    # unchecked, or a thousand bcrypt checks would take minutes
    assert codes[:5] == [401] * 5 and codes.count(401) <= 8 and codes.count(429) >= 990, codes.count(401)
    assert time.monotonic() - started < 120
    locked = sign_in(api)  # even the right password, while locked
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    with ws.catalog.session() as session:
        session.execute(update(UserRecord).where(UserRecord.name == "ann").values(locked_until=utcnow()))
    assert sign_in(api, "wrong again").status_code == 401
    relocked = sign_in(api)
    assert relocked.status_code == 429  # the sixth wrong one in a row locked it again, for longer
    assert int(relocked.headers["Retry-After"]) > 30
    with ws.catalog.session() as session:
        session.execute(update(UserRecord).where(UserRecord.name == "ann").values(locked_until=utcnow()))
    assert sign_in(api).status_code == 200  # and a success starts the count again
    with ws.catalog.session() as session:
        assert session.query(UserRecord).filter_by(name="ann").one().failed_logins == 0


@pytest.mark.settings(auth_failures_per_minute=5)
def test_failed_authentications_from_an_address_are_bounded(api: Api, ws: Workspace) -> None:
    wrong = {"Authorization": "Bearer acc_wrong"}
    for _ in range(3):
        assert httpx.get(f"{api.base}/datasets").status_code == 401  # no credentials: no guess, not counted
    for _ in range(5):
        assert httpx.get(f"{api.base}/datasets", headers=wrong).status_code == 401
    blocked = httpx.get(f"{api.base}/datasets", headers=wrong)
    assert blocked.status_code == 429 and blocked.json()["code"] == "ACCESS-0444-429"
    assert int(blocked.headers["Retry-After"]) <= 61
    posted = httpx.post(f"{api.base}/schemas", headers=wrong, json={"name": "x"})  # refused before its body is read
    assert posted.status_code == 429
    assert sign_in(api).status_code == 429  # signing in from the address waits for the minute to pass
    assert api.get("/datasets").status_code == 200  # a valid token is never kept out by others' guesses


def test_wrong_passwords_sent_together_are_counted_before_they_are_all_checked(api: Api, ws: Workspace) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def guess(attempt: int) -> int:
        return httpx.post(f"{api.base}/auth/login", json={"user": "ann", "password": f"guess-{attempt}"},
                          timeout=60).status_code  # fmt: skip

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(guess, range(60)))
    assert codes.count(401) == 5 and codes.count(429) == 55, codes  # five checked, then locked (and 30 a minute)
    with ws.catalog.session() as session:
        assert session.query(UserRecord).filter_by(name="ann").one().failed_logins == 5

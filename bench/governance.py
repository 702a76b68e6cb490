"""Governance benchmark: the policy evaluation of a large activation flow, and what permission checks add to a
request. The privacy delete's figures come from `bench/privacy.py`, kept beside these in the same file.

- Policy evaluation: a flow of 50 audiences and 50 mapped fields over a 500-field union schema (three
  profile-enabled datasets, labels on a tenth of the fields, ten enabled policies), evaluated whole with
  its lineage (`destinations.evaluate_flow`, what `accord policy evaluate` runs), 40 times as `accord serve`
  makes them (start-up frozen out of the garbage collector's full passes) and 40 times before that. Goal:
  median and p95 under 50 ms.
- Permission checks: the same route (`GET /namespaces`, which needs View Identity Namespaces) called in-process
  through the whole ASGI stack, with the checks, and with them off (the token read without its user's grants,
  no permission looked up, any sandbox taken), interleaved in rounds; the difference of the medians per
  request. Goal: under 0.2 ms.

Run with `make bench-governance`; figures in bench/results/governance.json."""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, write_result

FIELDS, AUDIENCES, MAPPED = 500, 50, 50
EVALUATION_GOAL_MS, CHECK_GOAL_MS = 50.0, 0.2


def _home(root: Path) -> Any:
    from accord import destinations, governance, lake, schema, segment, sources
    from accord.access import AllowedRoots
    from accord.settings import Settings
    from accord.workspace import Workspace, initialise

    settings = Settings(home=root / "home", allowed_roots=[root], scheduler=False, duckdb_threads=2)
    initialise(settings)
    ws = Workspace.open(settings)
    (root / "out").mkdir()
    names = [f"f{i:03d}" for i in range(FIELDS)]
    with ws.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "wide", "classes": ["profile"], "fields": {"_tenant": {
            "type": "object", "properties": {n: {"type": "string"} for n in names}}}})  # fmt: skip
        for d in range(3):
            schema.create_schema(s, "prod", {"name": f"s{d}", "class": "profile", "fieldGroups": ["wide"]})
            lake.create_dataset(s, "prod", f"d{d}", f"s{d}", profile_enabled=True)
        for i, n in enumerate(names[::10]):
            governance.add_labels(s, "prod", f"d{i % 3}", [("C2", "I1", "S2", "C9")[i % 4]], f"_tenant.{n}")
        governance.add_labels(s, "prod", "d1", ["C8"])
        for p in range(10):
            governance.create_policy(s, "prod", f"p{p}", "exportToThirdParty", f"C{p + 10 if p < 3 else 5} AND S1",
                                     enabled=True)  # fmt: skip
        for a in range(AUDIENCES):
            pql = " and ".join(f'_tenant.{names[(a * 7 + k) % FIELDS]} = "x{k}"' for k in range(3))
            segment.create_segment(s, "prod", {"name": f"a{a}", "expression": {"value": pql}})
        box, roots = sources.SecretBox(settings.home), AllowedRoots.from_settings(settings)
        destinations.create_account(s, box, "prod", "out", "local", {"root": str(root / "out")}, roots)
        flow = {"audiences": [{"segment": f"a{a}"} for a in range(AUDIENCES)],
                "mapping": [{"source": f"_tenant.{names[m * 9 % FIELDS]}", "target": f"c{m}"} for m in range(MAPPED)],
                "marketingActions": ["exportToThirdParty"],
                "limits": {"audiencesPerFlow": AUDIENCES, "attributesPerFlow": MAPPED}}  # fmt: skip
        destinations.create_flow(s, "prod", "big", "out", flow)
    return settings, ws


def _evaluations(ws: Any, count: int) -> list[float]:
    from accord import destinations

    times = []
    for _ in range(count):
        started = time.perf_counter()
        with ws.catalog.session() as s:
            found = destinations.evaluate_flow(s, "prod", "big")
        times.append((time.perf_counter() - started) * 1000)
    assert found["allowed"], found  # every piece walked, none forbidden: the whole lineage is built each time
    return times


def policy_evaluation(ws: Any) -> dict[str, Any]:
    """Evaluations one after another, first as a fresh process makes them (the garbage collector's full passes
    walk everything loaded, and fall on some), then as `accord serve` makes them: what start-up loaded frozen
    out of those passes (`gc.freeze`, accord/cli/serving.py)."""
    fresh = _evaluations(ws, 40)
    gc.collect()
    gc.freeze()
    try:
        served = _evaluations(ws, 40)
    finally:
        gc.unfreeze()
    median = statistics.median(served)
    return {"audiences": AUDIENCES, "mappedFields": MAPPED, "unionFields": FIELDS, "enabledPolicies": 10,
            "medianMs": round(median, 2), "p95Ms": _p95(served), "maxMs": round(max(served), 2),
            "unfrozen": {"medianMs": round(statistics.median(fresh), 2), "p95Ms": _p95(fresh),
                         "maxMs": round(max(fresh), 2)},
            "goalMs": EVALUATION_GOAL_MS, "ratioToGoal": round(median / EVALUATION_GOAL_MS, 3),
            "met": median < EVALUATION_GOAL_MS and _p95(served) < EVALUATION_GOAL_MS}  # fmt: skip


def _p95(times: list[float]) -> float:
    return round(sorted(times)[int(len(times) * 0.95)], 2)


async def _call(app: Any, token: str) -> float:
    messages: list[dict[str, Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "path": "/namespaces",
             "raw_path": b"/namespaces", "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
             "headers": [(b"authorization", f"Bearer {token}".encode()), (b"host", b"127.0.0.1")]}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    started = time.perf_counter()
    await app(scope, receive, send)
    elapsed = time.perf_counter() - started
    assert messages[0]["status"] == 200, messages
    return elapsed * 1000


def permission_checks(settings: Any, token: str) -> dict[str, Any]:
    """The same route with the checks and without: without, the token's grants are not read, no permission is
    looked up and any sandbox is taken (what the API did before roles)."""
    import accord.access.tokens as tokens
    import accord.api.deps as deps
    from accord.access import ANY_CALLER
    from accord.api import create_app

    app = create_app(settings)

    from sqlalchemy import bindparam, select

    from accord.catalog import ApiToken, Sandbox, UserRecord

    alone = (select(ApiToken, Sandbox.name, UserRecord.name, UserRecord.disabled_at)
             .outerjoin(Sandbox, Sandbox.id == ApiToken.sandbox_id)
             .outerjoin(UserRecord, UserRecord.id == ApiToken.user_id)
             .where(ApiToken.token_hash == bindparam("digest")))  # fmt: skip

    def token_alone(session: Any, digest: str) -> list[Any]:
        """The statement of before roles, built once as the real one is: the token, its sandbox, its user."""
        return [(*row, None, None, None, None) for row in session.execute(alone, {"digest": digest}).all()]

    real = (tokens.token_rows, deps.require, deps.route_requirement, deps.authorize_sandbox)
    off = (token_alone, lambda *_a: None, lambda *_a: ANY_CALLER,
           lambda caller, wanted, default: wanted or caller.sandbox or default)  # fmt: skip

    def checks(on: bool) -> None:
        tokens.token_rows, deps.require, deps.route_requirement, deps.authorize_sandbox = real if on else off  # type: ignore[assignment]

    async def rounds() -> tuple[list[float], list[float]]:
        with_checks: list[float] = []
        without: list[float] = []
        for _ in range(200):  # warm: connections, caches, the route's first run
            await _call(app, token)
        for _ in range(12):
            for flag, into in ((True, with_checks), (False, without)):
                checks(flag)
                into += [await _call(app, token) for _ in range(400)]
        return with_checks, without

    try:
        on, unchecked = asyncio.run(rounds())
    finally:
        checks(True)
    added = statistics.median(on) - statistics.median(unchecked)
    return {"route": "GET /namespaces", "requests": len(on), "medianWithChecksMs": round(statistics.median(on), 4),
            "medianWithoutChecksMs": round(statistics.median(unchecked), 4), "addedMs": round(added, 4),
            "goalMs": CHECK_GOAL_MS, "ratioToGoal": round(max(added, 0) / CHECK_GOAL_MS, 3),
            "met": added < CHECK_GOAL_MS}  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        from accord.access import create_token

        settings, ws = _home(Path(folder))
        token = create_token(ws.catalog, "bench")[1]
        evaluation = policy_evaluation(ws)
        said = f"median {evaluation['medianMs']} ms, p95 {evaluation['p95Ms']} ms (goal < {EVALUATION_GOAL_MS} ms); " \
               f"without gc.freeze: median {evaluation['unfrozen']['medianMs']} ms, p95 " \
               f"{evaluation['unfrozen']['p95Ms']} ms"  # fmt: skip
        print(f"policy evaluation, {AUDIENCES} audiences x {MAPPED} fields over {FIELDS}: {said}")
        ws.close()
        checks = permission_checks(settings, token)
        print(f"permission checks: {checks['addedMs']} ms added to a request (median {checks['medianWithChecksMs']} "
              f"ms with, {checks['medianWithoutChecksMs']} ms without; goal < {CHECK_GOAL_MS} ms)")  # fmt: skip
    previous = RESULTS / "governance.json"
    kept = {}
    if previous.exists():  # the privacy delete's figures, from bench/privacy.py
        kept = {k: v for k, v in json.loads(previous.read_text()).items() if k == "privacyDelete"}
    path = write_result("governance", {"policyEvaluation": evaluation, "permissionChecks": checks, **kept})
    print(f"written to {path}")


if __name__ == "__main__":
    main()

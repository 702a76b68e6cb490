"""The S3 connector against a real moto server that enforces credentials."""

from __future__ import annotations

import gzip
import time
from typing import Any

import boto3
import pytest

from accord import sources
from accord.workspace import Workspace
from tests.servers import MotoServer
from tests.sources.conftest import box, connect, firsts, flow, run

pytestmark = pytest.mark.integration


def s3(moto: MotoServer) -> Any:
    key, secret_key = moto.admin
    return boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret_key)  # fmt: skip


def config(moto: MotoServer, bucket: str, keys: tuple[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    key, secret_key = keys or moto.admin
    return {"bucket": bucket, "endpointUrl": moto.endpoint, "accessKeyId": key, "secretAccessKey": secret_key,
            **extra}  # fmt: skip


def check(ws: Workspace, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return sources.test_connection(session, box(ws), "prod", name)


@pytest.fixture
def bucket(moto: MotoServer, request: pytest.FixtureRequest) -> str:
    name = f"landing-{abs(hash(request.node.name)) % 10**8}"
    s3(moto).create_bucket(Bucket=name)
    return name


def put_csv(moto: MotoServer, bucket: str, key: str, rows: list[str]) -> None:
    body = gzip.compress(("id,first,email\n" + "".join(r + "\n" for r in rows)).encode())
    s3(moto).put_object(Bucket=bucket, Key=key, Body=body)


def test_connection_test_names_the_failing_step(ws: Workspace, moto: MotoServer, bucket: str, closed_port: int) -> None:
    connect(ws, "good", "s3", config(moto, bucket))
    connect(ws, "refused", "s3", config(moto, bucket, endpointUrl=f"http://127.0.0.1:{closed_port}"))
    connect(ws, "badkeys", "s3", config(moto, bucket, keys=("AKIAWRONGWRONGWRONG1", "wrong-secret")))
    connect(ws, "nobucket", "s3", config(moto, "no-such-bucket-here"))
    connect(ws, "denied", "s3", config(moto, bucket, keys=moto.limited))
    good = check(ws, "good")
    assert good["ok"] and [s["step"] for s in good["steps"]] == ["endpoint", "credentials", "bucket", "list files"]
    outcomes = {name: check(ws, name)["steps"][-1] for name in ("refused", "badkeys", "nobucket", "denied")}
    assert (outcomes["refused"]["step"], outcomes["refused"]["ok"]) == ("endpoint", False)
    assert outcomes["refused"]["message"].startswith("connection refused")
    assert outcomes["badkeys"]["step"] == "credentials" and "refused" in outcomes["badkeys"]["message"]
    assert outcomes["nobucket"]["step"] == "bucket" and "does not exist" in outcomes["nobucket"]["message"]
    assert outcomes["denied"]["step"] == "bucket" and "access denied" in outcomes["denied"]["message"]
    assert all(o["hint"] for o in outcomes.values())
    assert "wrong-secret" not in str(check(ws, "badkeys"))


def test_s3_files_are_ingested_once_and_new_ones_picked_up(ws: Workspace, moto: MotoServer, bucket: str) -> None:
    put_csv(moto, bucket, "crm/2026/a.csv.gz", ["1,Ann,ann@x.io", "2,Bob,bob@x.io"])
    put_csv(moto, bucket, "crm/2026/notes.txt.gz", ["9,Not,n@x.io"])
    put_csv(moto, bucket, "other/b.csv.gz", ["3,Out,o@x.io"])
    connect(ws, "landing", "s3", config(moto, bucket))
    flow(ws, name="s3-flow", connection="landing", source={"path": "crm", "glob": "**/*.csv.gz"})
    first = run(ws, "s3-flow")
    assert (first["status"], first["files"], first["recordsIngested"]) == ("success", 1, 2)
    assert run(ws, "s3-flow")["files"] == 0
    time.sleep(1.1)  # S3 times are in seconds: the new file must be newer
    put_csv(moto, bucket, "crm/2026/c.csv.gz", ["4,Cy,cy@x.io"])
    third = run(ws, "s3-flow")
    assert (third["files"], third["recordsIngested"]) == (1, 1)
    assert firsts(ws) == ["Ann", "Bob", "Cy"]


def test_a_missing_bucket_fails_the_run_clearly(ws: Workspace, moto: MotoServer) -> None:
    connect(ws, "gone", "s3", config(moto, "bucket-that-is-not-there"))
    flow(ws, name="f", connection="gone", source={"glob": "*"})
    result = run(ws, "f")
    assert result["status"] == "failed" and "NoSuchBucket" in result["errors"][0]["message"]

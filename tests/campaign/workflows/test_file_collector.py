"""The file collector on a real S3 server (moto, enforcing credentials): new files only, fetched into the run's
folder and loaded, the store's secret sealed in the stored workflow and never shown."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from accord import campaign, sources
from accord.campaign import workflows
from accord.errors import DocumentError
from tests.servers import MotoServer

pytestmark = pytest.mark.integration


def partner_workflow(moto: MotoServer, bucket: str) -> dict[str, Any]:
    key, secret = moto.admin
    config = {"bucket": bucket, "endpointUrl": moto.endpoint, "accessKeyId": key, "secretAccessKey": secret,
              "region": "us-east-1"}  # fmt: skip
    return {"name": "partners", "activities": [
        {"name": "collect", "type": "file-collector", "next": ["check"],
         "options": {"connector": "s3", "config": config, "path": "drop", "glob": "*.csv"}},
        {"name": "check", "type": "data-loading", "options": {"required": ["externalId", "email"]}, "next": ["load"]},
        {"name": "load", "type": "update-data", "options": {"key": "externalId"}, "next": ["list"]},
        {"name": "list", "type": "list-update", "options": {"list": "partners"}},
    ]}  # fmt: skip


def test_new_files_of_an_s3_landing_location_are_loaded_once(engine: campaign.CampaignEngine, moto: MotoServer) -> None:
    sources.ensure_key_file(engine.settings.home)  # as `accord init` makes it: the key secrets are sealed with
    key, secret = moto.admin
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id=key,
                      aws_secret_access_key=secret)  # fmt: skip
    bucket = "campaign-partners"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="drop/one.csv", Body=b"externalId,email\nP1,p1@example.com\nP2,p2@example.com\n")
    s3.put_object(Bucket=bucket, Key="drop/notes.txt", Body=b"not for us")
    workflows.create_workflow(engine, partner_workflow(moto, bucket))
    stored = json.dumps(workflows.get_workflow(engine, "partners"))
    assert secret not in stored and "sealedConfig" in stored  # the secret is sealed, never shown
    first = workflows.run_workflow(engine, "partners")
    assert first["status"] == "success", first["error"]
    assert campaign.list_member_ids(engine, "partners") == ["P1", "P2"]
    s3.put_object(Bucket=bucket, Key="drop/two.csv", Body=b"externalId,email\nP3,p3@example.com\n")
    second = workflows.run_workflow(engine, "partners")
    [collect] = [a for a in second["activities"] if a["activity"] == "collect"]
    assert collect["counts"] == {"listed": 2, "collected": 1, "left": 0}  # one.csv was processed already
    assert campaign.list_member_ids(engine, "partners") == ["P1", "P2", "P3"]
    assert not (engine.settings.home / "work" / "campaign").exists() or not any(
        (engine.settings.home / "work" / "campaign").iterdir())  # fmt: skip  # the downloads went with the run


def test_a_store_configuration_is_checked_when_the_workflow_is_stored(
    engine: campaign.CampaignEngine, moto: MotoServer
) -> None:
    document = partner_workflow(moto, "b")
    document["activities"][0]["options"]["config"].pop("bucket")
    document["activities"].append({"name": "etc", "type": "file-collector", "next": ["check"],
                                   "options": {"connector": "local", "config": {"root": "/etc"}}})  # fmt: skip
    with pytest.raises(DocumentError) as caught:
        workflows.create_workflow(engine, document)
    found = {p["path"]: p["message"] for p in caught.value.problems}
    assert set(found) == {"activities[0].options.config.bucket", "activities[4].options"}
    assert "'/etc' is outside the folders this server allows" in found["activities[4].options"]
    assert workflows.list_workflows(engine)[-1]["name"] != "partners"  # nothing kept

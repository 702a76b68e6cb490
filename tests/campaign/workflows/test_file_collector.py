"""The file collector on a real S3 server (moto, enforcing credentials): new files only, fetched into the run's
folder and loaded, the store's secret sealed in the stored workflow and never shown."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from accord import campaign, sources
from accord.campaign import workflows
from accord.campaign.workflows.activities.file_collector import STORES
from accord.errors import DocumentError
from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY, AzuriteServer, MotoServer, SftpServer

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


Put = Callable[[str, bytes], None]


def s3_store(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Put]:
    moto: MotoServer = request.getfixturevalue("moto")
    key, secret = moto.admin
    client = boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id=key,
                          aws_secret_access_key=secret)  # fmt: skip
    bucket = f"collect-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=bucket)
    config = {"bucket": bucket, "endpointUrl": moto.endpoint, "accessKeyId": key, "secretAccessKey": secret,
              "region": "us-east-1"}  # fmt: skip
    return config, lambda name, body: client.put_object(Bucket=bucket, Key=f"drop/{name}", Body=body)


def azure_store(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Put]:
    from azure.storage.blob import BlobServiceClient

    azurite: AzuriteServer = request.getfixturevalue("azurite")
    service = BlobServiceClient(azurite.endpoint, credential={"account_name": AZURITE_ACCOUNT,
                                                             "account_key": AZURITE_KEY})  # fmt: skip
    container = f"collect{secrets.token_hex(4)}"
    service.create_container(container)
    config = {"accountName": AZURITE_ACCOUNT, "accountKey": AZURITE_KEY, "endpoint": azurite.endpoint,
              "container": container}  # fmt: skip
    return config, lambda name, body: service.get_blob_client(container, f"drop/{name}").upload_blob(body)


def sftp_store(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Put]:
    sftp: SftpServer = request.getfixturevalue("sftp")
    folder = sftp.root / "data" / f"collect-{secrets.token_hex(4)}" / "drop"
    folder.mkdir(parents=True)
    config = {"host": "127.0.0.1", "port": sftp.port, "username": "alice", "password": "wonderland",
              "hostKey": sftp.fingerprint, "root": f"/data/{folder.parent.name}", "timeout": 5}  # fmt: skip
    return config, lambda name, body: (folder / name).write_bytes(body)


def local_store(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Put]:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    folder = tmp_path / "files" / "landing" / "drop"
    folder.mkdir(parents=True)
    return {"root": str(folder.parent)}, lambda name, body: (folder / name).write_bytes(body)


STORE_CASES = {"s3": s3_store, "azure-blob": azure_store, "sftp": sftp_store, "local": local_store}


def by_field_name(store: str, config: dict[str, Any]) -> dict[str, Any]:
    """The configuration with its keys spelt as the model's field names (`secret_access_key`), which the model
    accepts as well as the aliases (`secretAccessKey`)."""
    names = {field.alias or name: name for name, field in sources.connector_spec(store).config.model_fields.items()}
    return {names.get(key, key): value for key, value in config.items()}


@pytest.mark.parametrize("spelling", ["alias", "field name"])
@pytest.mark.parametrize("store", STORES)
def test_every_store_delivers_new_files_once_and_keeps_its_secrets_sealed(
    engine: campaign.CampaignEngine, store: str, spelling: str, request: pytest.FixtureRequest
) -> None:
    if store not in STORE_CASES:
        pytest.fail(f"the file collector's store {store!r} has no case here: add one")
    sources.ensure_key_file(engine.settings.home)
    config, put = STORE_CASES[store](request)
    secrets = [str(config[name]) for name in sources.connector_spec(store).secret_fields() if name in config]
    if spelling == "field name":
        config = by_field_name(store, config)
    put("one.csv", b"externalId,email\nS1,s1@example.com\n")
    workflows.create_workflow(engine, {"name": "in", "activities": [
        {"name": "collect", "type": "file-collector", "next": ["check"],
         "options": {"connector": store, "config": config, "path": "drop"}},
        {"name": "check", "type": "data-loading", "next": ["load"]},
        {"name": "load", "type": "update-data", "next": ["list"]},
        {"name": "list", "type": "list-update", "options": {"list": "in"}},
    ]})  # fmt: skip
    shown = json.dumps(workflows.get_workflow(engine, "in"))
    stored = b"".join(path.read_bytes() for path in engine.settings.home.glob("campaign.db*"))  # and its WAL
    for secret in secrets:  # neither shown nor stored in clear, however its name was spelt
        assert secret not in shown and secret.encode() not in stored
    assert workflows.run_workflow(engine, "in")["status"] == "success"
    put("two.csv", b"externalId,email\nS2,s2@example.com\n")
    second = workflows.run_workflow(engine, "in")
    assert second["status"] == "success", second["error"]
    [collect] = [a for a in second["activities"] if a["activity"] == "collect"]
    assert collect["counts"]["collected"] == 1
    assert campaign.list_member_ids(engine, "in") == ["S1", "S2"]

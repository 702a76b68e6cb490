"""Secrets of destination accounts never leave the secret box, for every destination the registry knows.

As for source connections (tests/sources/test_secrets.py, whose configuration builder this reuses),
the destinations are not listed here: each one's configuration is built from its JSON Schema, every
secret field (by the name a configuration uses) gets a value of its own, and those values are looked
for in the account's documents, its connection test, every row of every catalog table and every byte
under the home. The CLI's and API's answers and the logs are walked with the connectors' in
tests/sources/test_secrets.py (`SURFACES`)."""

from __future__ import annotations

import json
from pathlib import Path

from accord import destinations
from accord.access import AllowedRoots
from accord.settings import Settings
from accord.sources import SecretBox
from accord.workspace import Workspace
from tests.sources.test_secrets import assert_nowhere, catalog_text, home_bytes, sample_config

SECRET_WORDS = ("password", "passphrase", "secret", "token", "privatekey", "accountkey", "apikey", "clientsecret")
"""Words that make a configuration field a secret whatever a destination's author marked."""


def test_every_secret_field_of_every_destination_stays_sealed(
    workspace: Workspace, settings: Settings, tmp_path: Path, closed_port: int
) -> None:
    roots, box = AllowedRoots.from_settings(settings), SecretBox(settings.home)
    folder = tmp_path / "landing"
    folder.mkdir()
    everything: dict[str, str] = {}
    walked = []
    for spec in destinations.list_destinations():
        config, values = sample_config(spec, folder, closed_port)  # type: ignore[arg-type]
        with workspace.catalog.session() as session:
            record = destinations.create_account(session, box, "prod", spec.id, spec.id, config, roots)
            document = destinations.account_document(record)
            listed = destinations.list_accounts(session, "prod")
            shown = destinations.get_account(session, "prod", spec.id)
            tested = destinations.test_account(session, box, "prod", spec.id, roots)
            opened = destinations.open_destination(record, box, roots).config.model_dump(by_alias=True)
        assert document["secretFields"] == sorted(values), spec.id
        assert {k: opened[k] for k in values} == values  # sealed, and given back whole to the destination
        assert_nowhere(
            values,
            ("account document", json.dumps(document)),
            ("account list", json.dumps(listed)),
            ("account shown", json.dumps(shown)),
            ("connection test", json.dumps(tested)),
        )
        everything |= {f"{spec.id}.{k}": v for k, v in values.items()}
        walked.append(spec.id)

    assert_nowhere(
        everything,
        ("catalog rows", catalog_text(settings)),
        ("home files", home_bytes(settings.home).decode("latin-1")),
    )
    assert walked == destinations.destination_ids()
    assert {"s3.secretAccessKey", "azure-blob.accountKey", "azure-blob.sasToken", "sftp.password",
            "sftp.privateKey", "sftp.passphrase"} <= set(everything)  # fmt: skip


def test_fields_named_like_secrets_are_marked_secret() -> None:
    """A destination whose author forgot to mark a password or token would store it in clear: caught here."""
    for spec in destinations.list_destinations():
        properties = spec.config.model_json_schema()["properties"]
        unmarked = [
            name
            for name, field in properties.items()
            if any(word in name.lower().replace("_", "") for word in SECRET_WORDS)
            and not field.get("secret")
            and not name.lower().endswith("url")  # where a token is fetched (`tokenUrl`) is no secret
        ]
        assert not unmarked, (spec.id, unmarked)

"""Secrets never leave the secret box, for every connector the registry knows and each of its secret fields.

The connectors are not listed here: the test walks the registry (built-in and third-party entry
points alike), builds a configuration each connector accepts from its JSON Schema, gives every
secret field (by the name a configuration uses) a value of its own, and then looks for those
values everywhere a user or another process could see them: every row of every catalog table and
every byte under the home, the CLI's plain and JSON output, the API's answers, the logs at debug
level, connection-test messages, and the errors about an invalid configuration."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from accord import sources
from accord.access import AllowedRoots
from accord.catalog import Catalog, create_sandbox
from accord.catalog.models import Base
from accord.errors import AccordError
from accord.settings import Settings
from accord.sources import ConnectorSpec
from accord.workspace import Workspace
from tests.conftest import Api


def secret_value(field: str) -> str:
    # base64 text, so that a connector that decodes its key (Azure) gets as far as using it
    return base64.b64encode(f"accord-secret-{field}-{secrets.token_hex(8)}".encode()).decode()


def leaks(values: dict[str, str], seen: str) -> list[str]:
    """The secret fields whose value (or its decoded text) shows in `seen`."""
    return [field for field, value in values.items() if value in seen or base64.b64decode(value).decode() in seen]


def _choice(schema: dict[str, Any]) -> dict[str, Any]:
    options = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
    return options[0] if options else schema


def sample_value(name: str, schema: dict[str, Any], folder: Path, closed_port: int) -> Any:
    """A value a connector accepts for one field, pointing anything network-like at a closed local port
    (connection tests then fail at once, without leaving the machine)."""
    schema = _choice(schema)
    lowered = name.lower()
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("localPath"):
        return str(folder)
    kind = schema.get("type")
    if kind == "integer":
        return closed_port if "port" in lowered else schema.get("minimum", 1)
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if "url" in lowered or "endpoint" in lowered:
        return f"http://127.0.0.1:{closed_port}/accord"
    if lowered == "host" or lowered.endswith("host"):
        return "127.0.0.1"
    return "a" * max(schema.get("minLength", 0), 3)


def sample_config(spec: ConnectorSpec, folder: Path, closed_port: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Every field of a connector's configuration filled, each secret field with a value of its own."""
    schema = spec.config.model_json_schema()
    config = {name: sample_value(name, field, folder, closed_port) for name, field in schema["properties"].items()}
    # The secret fields as the connector catalog documents them: `secret: true` in the JSON Schema.
    values = {name: secret_value(name) for name, field in schema["properties"].items() if field.get("secret")}
    config |= values
    try:
        spec.config.model_validate(config)
    except Exception as exc:  # the walk must reach every connector: say which one it could not configure
        pytest.fail(f"cannot build a configuration for connector {spec.id!r} from its JSON Schema: {exc}")
    return config, values


def invalid_configs(spec: ConnectorSpec, config: dict[str, Any], values: dict[str, str]) -> list[dict[str, Any]]:
    """Configurations refused while the secrets are present: other fields of a wrong type, secrets of a
    wrong type, and a secret under a misspelt name."""
    others = {k: ["not", "this"] for k in config if k not in values}
    return [
        {**config, **others},
        {**config, **{k: {"nested": v} for k, v in values.items()}},
        {**config, **{f"{k}Typo": v for k, v in values.items()}},
    ]


def secret_specs() -> list[ConnectorSpec]:
    found = [spec for spec in sources.list_connectors() if "secret" in json.dumps(spec.config.model_json_schema())]
    assert found, "the registry has no connector with secret fields: the walk would prove nothing"
    return found


def catalog_text(settings: Settings) -> str:
    """Every row of every catalog table, read generically through the models' metadata."""
    catalog = Catalog(settings.catalog_url)
    try:
        with catalog.engine.connect() as connection:
            return "\n".join(
                repr(tuple(row)) for table in Base.metadata.sorted_tables for row in connection.execute(table.select())
            )
    finally:
        catalog.dispose()


def home_bytes(home: Path) -> bytes:
    """Every byte of every file under the home: the catalog, its write-ahead log, the lake..."""
    return b"\n".join(path.read_bytes() for path in sorted(home.rglob("*")) if path.is_file())


def assert_nowhere(values: dict[str, str], *places: tuple[str, str]) -> None:
    found = {where: leaks(values, seen) for where, seen in places}
    assert not any(found.values()), {where: fields for where, fields in found.items() if fields}


@dataclass(frozen=True)
class Surface:
    """Where a kind of plug-in with secrets is configured: source connections, or destination accounts."""

    specs: Callable[[], list[Any]]
    """Every spec of the registry that has secret fields."""
    route: str
    """The API's collection of accounts (POST creates one; `/{name}` and `/{name}/test` follow)."""
    command: str
    """The CLI's group, and the words of its create command and of the option naming the plug-in."""
    create: tuple[str, str]
    kind: str
    """The key naming the plug-in in an API body."""
    test: Callable[[Any, Any, str, str, AllowedRoots], dict[str, Any]]
    validate: Callable[[str, dict[str, Any], AllowedRoots], Any]


def _destination_specs() -> list[Any]:
    from accord import destinations

    found = [s for s in destinations.list_destinations() if "secret" in json.dumps(s.config.model_json_schema())]
    assert found, "the registry has no destination with secret fields: the walk would prove nothing"
    return found


def _validate_destination(destination: str, config: dict[str, Any], roots: AllowedRoots) -> Any:
    from accord import destinations

    return sources.validate_spec_config(destinations.destination_spec(destination), config, roots, "DEST-0400-400")


def _test_destination(session: Any, box: Any, sandbox: str, name: str, roots: AllowedRoots) -> dict[str, Any]:
    from accord import destinations

    return destinations.test_account(session, box, sandbox, name, roots)


SURFACES = {
    "sources": Surface(secret_specs, "/connections", "connection", ("create", "--connector"), "connector",
                       sources.test_connection, sources.connections.validate_config),
    "destinations": Surface(_destination_specs, "/destinations/accounts", "destination", ("connect", "--destination"),
                            "destination", _test_destination, _validate_destination),
}  # fmt: skip


@pytest.mark.parametrize("surface", list(SURFACES))
def test_every_secret_field_of_every_connector_stays_sealed(
    api: Api, cli: Any, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture, closed_port: int,
    surface: str,
) -> None:  # fmt: skip
    """For source connectors and destinations alike (any registered later too): walks every spec with secrets."""
    caplog.set_level(logging.DEBUG)
    plug = SURFACES[surface]
    folder = tmp_path / "landing"
    folder.mkdir()
    assert cli("init").code == 0  # the CLI works on the API's home: its rows and files are read below too
    walked: list[str] = []
    everything: dict[str, str] = {}
    for spec in plug.specs():
        config, values = sample_config(spec, folder, closed_port)
        everything |= {f"{spec.id}.{k}": v for k, v in values.items()}
        name = spec.id.replace("_", "-")

        # the API: create, list, get, test, and the invalid configurations
        answers = [api.post(plug.route, json={"name": name, plug.kind: spec.id, "config": config})]
        assert answers[0].status_code == 201, answers[0].text
        assert answers[0].json()["secretFields"] == sorted(values), answers[0].json()
        answers += [api.get(plug.route), api.get(f"{plug.route}/{name}"), api.post(f"{plug.route}/{name}/test")]
        assert [a.status_code for a in answers[1:]] == [200, 200, 200], [a.text for a in answers]
        for number, wrong in enumerate(invalid_configs(spec, config, values)):
            refused = api.post(plug.route, json={"name": f"{name}-bad{number}", plug.kind: spec.id, "config": wrong})
            assert refused.status_code == 400, refused.text
            answers.append(refused)

        # the CLI: create, list, show and test, plain and as JSON, and the invalid configurations
        document = tmp_path / f"{name}.json"
        document.write_text(json.dumps(config))
        outputs = []
        create, option = plug.create
        for suffix, flags in (("plain", []), ("json", ["--json"])):
            created = cli(plug.command, create, f"{name}-{suffix}", option, spec.id, "--config", str(document), *flags)
            assert created.code == 0, created.stderr
            outputs += [created, cli(plug.command, "list", *flags), cli(plug.command, "show", f"{name}-{suffix}",
                        *flags), cli(plug.command, "test", f"{name}-{suffix}", *flags)]  # fmt: skip
        for number, wrong in enumerate(invalid_configs(spec, config, values)):
            document.write_text(json.dumps(wrong))
            for flags in ([], ["--json"]):
                refused = cli(plug.command, create, f"{name}-bad{number}", option, spec.id, "--config",
                              str(document), *flags)  # fmt: skip
                assert refused.code == 2, refused.stdout + refused.stderr
                outputs.append(refused)
        assert cli(plug.command, "show", f"{name}-json", "--json").json()["secretFields"] == sorted(values)

        # the service functions themselves: test messages, and the error of each invalid configuration
        workspace = Workspace.open(settings)
        try:
            with workspace.catalog.session() as session:
                tested = plug.test(session, sources.SecretBox(settings.home), "prod", name,
                                   AllowedRoots.from_settings(settings))  # fmt: skip
            errors = []
            for wrong in invalid_configs(spec, config, values):
                with pytest.raises(AccordError) as caught:
                    plug.validate(spec.id, wrong, AllowedRoots.from_settings(settings))
                errors.append(f"{caught.value.message} {caught.value.to_dict()}")
        finally:
            workspace.close()

        assert_nowhere(
            values,
            *((f"API {a.request.method} {a.request.url.path}", a.text) for a in answers),
            *((f"CLI output {n}", o.stdout + o.stderr) for n, o in enumerate(outputs)),
            ("connection test", json.dumps(tested)),
            ("configuration errors", "\n".join(errors)),
        )
        walked.append(spec.id)

    assert_nowhere(
        everything,
        ("catalog rows", catalog_text(settings)),
        ("home files", home_bytes(settings.home).decode("latin-1")),
        ("logs at debug level", caplog.text),
    )
    assert walked == [spec.id for spec in plug.specs()]


def test_secrets_given_by_python_name_are_sealed_too(workspace: Workspace, tmp_path: Path, closed_port: int) -> None:
    """A configuration may use a field's Python name where its model allows it (`secret_access_key`)."""
    for spec in secret_specs():
        config, values = sample_config(spec, tmp_path, closed_port)
        by_name = {
            name: config[info.alias or name]
            for name, info in spec.config.model_fields.items()
            if (info.alias or name) in config
        }
        if not spec.config.model_config.get("populate_by_name") or by_name.keys() == config.keys():
            continue
        with workspace.catalog.session() as session:
            roots = AllowedRoots.from_settings(workspace.settings)
            box = sources.SecretBox(workspace.settings.home)
            record = sources.create_connection(session, box, "prod", spec.id, spec.id, by_name, roots)
            shown = sources.connection_document(record)
        assert shown["secretFields"] == sorted(values)
        assert_nowhere(values, ("document", json.dumps(shown)), ("rows", catalog_text(workspace.settings)))


def test_clear_secrets_of_an_older_catalog_are_sealed_when_it_opens(
    settings: Settings, tmp_path: Path, closed_port: int
) -> None:
    """Rows that Accord stored before revision 0009, the way it stored them, are sealed on the next open."""
    catalog = Catalog(settings.catalog_url, create=True)
    catalog.upgrade("0008")
    with catalog.session() as session:
        sandbox_id = create_sandbox(session, "prod").id
    box = sources.SecretBox(Path(sources.ensure_key_file(settings.home)).parent)
    stored: dict[str, dict[str, str]] = {}
    for spec in secret_specs():
        config, values = sample_config(spec, tmp_path, closed_port)
        # the old code sealed only the fields whose Python name is their alias, and kept the rest in clear
        sealed = {k: v for k, v in values.items() if k in spec.config.model_fields}
        clear = {k: v for k, v in config.items() if k not in sealed}
        with catalog.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO connections (id, sandbox_id, name, connector, config, secrets, created_at, "
                     "updated_at) VALUES (:id, :sandbox, :name, :connector, :config, :secrets, :now, :now)"),
                {"id": secrets.token_hex(12), "sandbox": sandbox_id, "name": spec.id, "connector": spec.id,
                 "config": json.dumps(clear), "secrets": box.seal(sealed), "now": "2026-01-01 00:00:00.000000"},
            )  # fmt: skip
        stored[spec.id] = values
    everything = {f"{c}.{k}": v for c, values in stored.items() for k, v in values.items()}
    with catalog.engine.connect() as connection:
        old_rows = str(connection.execute(text("SELECT * FROM connections")).all())
    catalog.dispose()
    assert leaks(everything, old_rows)  # the old rows do hold secrets in clear

    reopened = Workspace.open(settings)  # migrates to the newest revision, then seals
    try:
        with reopened.catalog.session() as session:
            documents = {d["name"]: d for d in sources.list_connections(session, "prod")}
            for connector, values in stored.items():
                assert documents[connector]["secretFields"] == sorted(values)
                record = sources.find_connection(session, sandbox_id, connector)
                opened = sources.connections.open_source(record, box, AllowedRoots.from_settings(settings)).config
                dumped = opened.model_dump(by_alias=True)
                assert {k: dumped[k] for k in values} == values  # sealed, and still usable
    finally:
        reopened.close()
    assert_nowhere(
        everything,
        ("catalog rows", catalog_text(settings)),
        ("catalog files", home_bytes(settings.home).decode("latin-1")),
    )

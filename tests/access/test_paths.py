"""Every path a caller can name stays inside the folders the operator allows: `..`, absolute paths
outside, symlinks leading out, and Accord's own home, through the API, the CLI and the services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accord import sources
from accord.access import AllowedRoots, PathNotAllowedError
from accord.errors import InvalidInputError
from accord.settings import Settings
from accord.sources.files import FileSelection, RemoteFile
from accord.workspace import Workspace, initialise
from tests.conftest import Api, setup_crm

MAPPING = {
    "mappings": [
        {"source": "first", "destination": "person.name.firstName"},
        {"expression": "lower(email)", "destination": "personalEmail.address"},
    ]
}


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this machine that the operator did not allow, holding a file worth stealing."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "stolen.csv").write_text("first,email\nMallory,mallory@evil.example\n")
    return folder


@pytest.fixture
def inbox(tmp_path: Path, outside: Path) -> Path:
    """An allowed folder, with symlinks that lead out of it: one to a folder, one to a file."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.csv").write_text("first,email\nAnn,ann@x.io\n")
    (folder / "escape").symlink_to(outside, target_is_directory=True)
    (folder / "stolen.csv").symlink_to(outside / "stolen.csv")
    return folder


def hostile_roots(settings: Settings, inbox: Path, outside: Path) -> dict[str, str]:
    """Places a caller may try to read, none of them allowed (the test settings allow the test's folder)."""
    return {
        "absolute outside": str(outside),
        "system folder": "/etc",
        "dot-dot": str(inbox / ".." / ".." / outside.name),
        "relative dot-dot": "../..",
        "symlink out": str(inbox / "escape"),
        "Accord's home": str(settings.home),
        "the lake": str(settings.home / "lake"),
        "the catalog": str(settings.home / "catalog.db"),
        "the secret key": str(settings.home / "secret.key"),
    }


def test_connections_to_folders_outside_the_allowed_roots_are_refused_through_the_api(
    api: Api, settings: Settings, inbox: Path, outside: Path
) -> None:
    for label, place in hostile_roots(settings, inbox, outside).items():
        for connector, config in (("local", {"root": place}), ("database", {"dialect": "sqlite", "database": place})):
            name = f"{connector}-{label.replace(' ', '-').replace(chr(39), '')}"
            refused = api.post("/connections", json={"name": name, "connector": connector, "config": config})
            assert refused.status_code == 403, (label, connector, refused.text)
            body = refused.json()
            assert body["code"] == "ACCESS-0410-403" and body["message"].startswith("config."), body
            assert str(settings.home) not in body["message"] or place.startswith(str(settings.home))
    assert api.get("/connections").json() == []  # nothing half-made
    allowed = api.post("/connections", json={"name": "inbox", "connector": "local", "config": {"root": str(inbox)}})
    assert allowed.status_code == 201, allowed.text
    shop = inbox / "shop.sqlite"
    shop.write_bytes(b"")
    database = {"dialect": "sqlite", "database": str(shop)}
    assert (
        api.post("/connections", json={"name": "shop", "connector": "database", "config": database}).status_code == 201
    )
    postgres = {"dialect": "postgresql", "host": "127.0.0.1", "database": "/etc/passwd", "username": "u"}
    assert api.post("/connections", json={"name": "pg", "connector": "database", "config": postgres}).status_code == 201


def test_connections_to_folders_outside_the_allowed_roots_are_refused_through_the_cli(
    cli: Any, settings: Settings, tmp_path: Path, inbox: Path, outside: Path
) -> None:
    assert cli("init").code == 0
    document = tmp_path / "connection.json"
    for label, place in hostile_roots(settings, inbox, outside).items():
        document.write_text(json.dumps({"root": place}))
        refused = cli("connection", "create", "x", "--connector", "local", "--config", str(document), "--json")
        assert refused.code == 6, (label, refused.stdout)
        assert refused.json()["error"]["code"] == "ACCESS-0410-403"
    document.write_text(json.dumps({"root": str(inbox)}))
    assert cli("connection", "create", "inbox", "--connector", "local", "--config", str(document)).code == 0


def test_by_default_only_the_landing_folder_of_the_home_is_allowed(tmp_path: Path, inbox: Path) -> None:
    settings = Settings(home=tmp_path / "home")  # no allowed_roots: home/landing only
    initialise(settings)
    assert settings.landing.is_dir()
    workspace = Workspace.open(settings)
    roots = AllowedRoots.from_settings(settings)
    try:
        with workspace.catalog.session() as session:
            box = sources.SecretBox(settings.home)
            for place in (inbox, settings.home, settings.landing / ".." / "secret.key"):
                with pytest.raises(PathNotAllowedError):
                    sources.create_connection(session, box, "prod", "x", "local", {"root": str(place)}, roots)
            with pytest.raises(PathNotAllowedError):  # a caller that names no roots gets none
                sources.create_connection(session, box, "prod", "x", "local", {"root": str(settings.landing)})
            (settings.landing / "crm").mkdir()
            sources.create_connection(session, box, "prod", "crm", "local", {"root": str(settings.landing / "crm")},
                                      roots)  # fmt: skip
    finally:
        workspace.close()


def test_dataflow_paths_stay_under_the_connection_root(api: Api, inbox: Path) -> None:
    setup_crm(api)
    assert api.post("/connections", json={"name": "inbox", "connector": "local",
                                          "config": {"root": str(inbox)}}).status_code == 201  # fmt: skip
    flow = {"name": "f", "connection": "inbox", "dataset": "crm", "mapping": MAPPING}
    for source, where in (
        ({"path": ".."}, "source.path"),
        ({"path": "a/../../x"}, "source.path"),
        ({"path": "/etc"}, "source.path"),
        ({"glob": "../*.csv"}, "source.glob"),
        ({"glob": "/etc/*"}, "source.glob"),
    ):
        refused = api.post("/dataflows", json={**flow, "source": source})
        assert refused.status_code == 400, (source, refused.text)
        assert [p["path"] for p in refused.json()["details"]["problems"]] == [where]
        assert not any(p["message"].startswith("Value error") for p in refused.json()["details"]["problems"])
    assert api.post("/dataflows", json=flow).status_code == 201
    assert api.patch("/dataflows/f", json={"source": {"path": "../.."}}).status_code == 400

    # a symlink to a file outside is passed over; the file of the allowed folder is taken
    ran = api.post("/dataflows/f/runs").json()
    assert (ran["status"], ran["files"], ran["recordsIngested"]) == ("success", 1, 1), ran
    names = [r["person"]["name"]["firstName"] for r in api.get("/datasets/crm/preview").json()["rows"]]
    assert names == ["Ann"]

    # a symlinked folder that leads outside: the run refuses it and takes nothing
    assert api.post("/dataflows", json={**flow, "name": "g", "source": {"path": "escape"}}).status_code == 201
    escaped = api.post("/dataflows/g/runs").json()
    assert escaped["status"] == "failed" and "outside the connection's root" in escaped["errors"][0]["message"]
    assert escaped["recordsIngested"] == 0
    assert api.post("/dataflows", json={**flow, "name": "h", "source": {"glob": "**/*.csv"}}).status_code == 201
    everywhere = api.post("/dataflows/h/runs").json()
    assert (everywhere["files"], everywhere["recordsIngested"]) == (1, 1)  # a.csv again; nothing through `escape`
    names = [r["person"]["name"]["firstName"] for r in api.get("/datasets/crm/preview").json()["rows"]]
    assert "Mallory" not in names


def test_a_connection_is_checked_again_each_time_it_is_used(
    workspace: Workspace, tmp_path: Path, outside: Path
) -> None:
    """A root that was allowed when it was made, then turned into a way out, is refused when it is used."""
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.csv").write_text("first,email\nAnn,ann@x.io\n")
    link = tmp_path / "landing-link"
    link.symlink_to(tmp_path / "real", target_is_directory=True)
    roots = AllowedRoots.from_settings(workspace.settings)
    box = sources.SecretBox(workspace.settings.home)
    with workspace.catalog.session() as session:
        sources.create_connection(session, box, "prod", "inbox", "local", {"root": str(link)}, roots)
    link.unlink()
    link.symlink_to(outside, target_is_directory=True)  # someone re-points it
    with workspace.catalog.session() as session, pytest.raises(PathNotAllowedError):
        sources.test_connection(session, box, "prod", "inbox", roots)
    narrowed = AllowedRoots.from_settings(workspace.settings.model_copy(update={"allowed_roots": [tmp_path / "x"]}))
    link.unlink()
    link.symlink_to(tmp_path / "real", target_is_directory=True)
    with workspace.catalog.session() as session, pytest.raises(PathNotAllowedError):  # the operator narrowed them
        sources.test_connection(session, box, "prod", "inbox", narrowed)


@pytest.mark.parametrize("filename", ["../../evil.csv", "/etc/evil.csv", "..", ".", ".hidden.csv", "a\\..\\evil.csv"])
def test_uploads_land_only_in_their_own_folder(api: Api, settings: Settings, tmp_path: Path, filename: str) -> None:
    setup_crm(api)
    before = {p for p in tmp_path.rglob("*") if "_uploads" not in p.parts and "_staging" not in p.parts}
    response = api.post(
        "/datasets/crm/batches",
        files={"file": (filename, b"first,email\nAnn,ann@x.io\n")},
        data={"mapping": json.dumps(MAPPING)},
    )
    assert response.status_code == 201, response.text
    assert response.json()["outputRecordCount"] == 1
    created = {p for p in tmp_path.rglob("*") if "_uploads" not in p.parts} - before
    assert not [p for p in created if "evil" in p.name or p.name == ".hidden.csv"]
    assert not Path("/etc/evil.csv").exists()
    assert list((settings.home / "lake" / "_uploads").iterdir()) == []  # cleaned up after the batch


@pytest.mark.parametrize("allowed", ["the home's parent", "the home itself"])
def test_a_root_that_holds_the_home_never_reads_its_key_catalog_or_lake(
    settings: Settings, tmp_path: Path, allowed: str
) -> None:
    """An operator may allow a folder that holds Accord's home, or the home itself: a connection there lists,
    reads and opens none of Accord's own files, whatever the glob, and no database connection opens the catalog."""
    root = tmp_path if allowed == "the home's parent" else settings.home
    settings = settings.model_copy(update={"allowed_roots": [root]})
    initialise(settings)
    (root / "mine.csv").write_text("first,email\nAnn,ann@x.io\n")
    roots, workspace = AllowedRoots.from_settings(settings), Workspace.open(settings)
    try:
        own = [settings.home / "secret.key", settings.home / "catalog.db"]
        assert all(path.is_file() for path in own)
        box = sources.SecretBox(settings.home)
        with workspace.catalog.session() as session:
            record = sources.create_connection(session, box, "prod", "all", "local", {"root": str(root)}, roots)
            for place in own:
                with pytest.raises(PathNotAllowedError):
                    sources.create_connection(session, box, "prod", "db", "database",
                                              {"dialect": "sqlite", "database": str(place)}, roots)  # fmt: skip
        source = sources.connections.open_source(record, box, roots)
        listed = {root / entry["path"] for entry in source.discover()}
        assert root / "mine.csv" in listed
        assert not [path for path in listed if path.resolve().is_relative_to(settings.home.resolve() / "lake")]
        assert not listed & set(own) and not [p for p in listed if p.name.startswith("catalog.db")]
        with pytest.raises(InvalidInputError):  # named directly, as a file listed before would be
            relative = settings.home.relative_to(root) / "secret.key" if root != settings.home else Path("secret.key")
            source.fetch(FileSelection(), RemoteFile(relative.as_posix(), 1, 1), tmp_path)
    finally:
        workspace.close()


def test_a_relative_root_names_the_folder_it_named_when_the_connection_was_made(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`root: inbox` made from one folder still names that folder in a run started from another (the
    scheduler of `accord serve`, another shell): it is kept absolute."""
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.csv").write_text("first,email\nAnn,ann@x.io\n")
    roots, box = AllowedRoots.from_settings(workspace.settings), sources.SecretBox(workspace.settings.home)
    monkeypatch.chdir(tmp_path)
    with workspace.catalog.session() as session:
        record = sources.create_connection(session, box, "prod", "inbox", "local", {"root": "inbox"}, roots)
        assert record.config["root"] == str(tmp_path / "inbox")
    monkeypatch.chdir("/")
    with workspace.catalog.session() as session:
        assert all(step["ok"] for step in sources.test_connection(session, box, "prod", "inbox", roots)["steps"])
    assert [f["path"] for f in sources.connections.open_source(record, box, roots).discover()] == ["a.csv"]

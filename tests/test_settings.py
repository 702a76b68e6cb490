"""Configuration from accord.toml and ACCORD_* variables, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.errors import InvalidInputError
from accord.settings import load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert settings.home == Path(".accord") and settings.sandbox == "prod" and settings.error_threshold == 5.0
    assert settings.catalog_url.startswith("sqlite:///") and settings.catalog_url.endswith(".accord/catalog.db")


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "accord.toml").write_text('home = "/data/accord"\nerror_threshold = 2.5\nsandbox = "dev"\n')
    settings = load_settings()
    assert (settings.home, settings.error_threshold, settings.sandbox) == (Path("/data/accord"), 2.5, "dev")
    monkeypatch.setenv("ACCORD_ERROR_THRESHOLD", "7")
    monkeypatch.setenv("ACCORD_DATABASE_URL", "postgresql://u:p@db/accord")
    settings = load_settings()
    assert settings.error_threshold == 7 and settings.catalog_url == "postgresql+psycopg://u:p@db/accord"
    other = tmp_path / "other.toml"
    other.write_text("api_port = 9000\n")
    monkeypatch.setenv("ACCORD_CONFIG", str(other))
    assert load_settings().api_port == 9000


def test_allowed_roots_from_the_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(home=tmp_path / "h").local_roots == [(tmp_path / "h" / "landing").resolve()]
    (tmp_path / "accord.toml").write_text(f'allowed_roots = ["{tmp_path}/in", "/srv/landing"]\n')
    assert load_settings().local_roots == [tmp_path / "in", Path("/srv/landing")]
    monkeypatch.setenv("ACCORD_ALLOWED_ROOTS", f"{tmp_path}/a:{tmp_path}/b")  # separated like PATH
    assert load_settings().local_roots == [tmp_path / "a", tmp_path / "b"]
    monkeypatch.setenv("ACCORD_ALLOWED_ROOTS", json.dumps([str(tmp_path / "c")]))
    assert load_settings().local_roots == [tmp_path / "c"]
    monkeypatch.setenv("ACCORD_ALLOWED_ROOTS", "")  # none at all: no local connection
    assert load_settings().local_roots == []


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ("error_threshold = 500\n", {}, "error_threshold"),
        ("colour = 'blue'\n", {}, "colour"),
        ("home = [\n", {}, "cannot read the configuration file accord.toml: "),
        ("", {"ACCORD_CONFIG": "no-such.toml"}, "ACCORD_CONFIG names no-such.toml, which is not a file"),
        ("", {"ACCORD_API_PORT": "not-a-port"}, "api_port"),
        ("", {"ACCORD_DATABASE_URL": "mysql://x"}, "only sqlite"),
        ("", {"ACCORD_DUCKDB_MEMORY_LIMIT": "lots"}, "duckdb_memory_limit.*a size such as 4GB"),
        ("duckdb_memory_limit = '1MB'\n", {}, "duckdb_memory_limit.*at least 16MB"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, env: dict[str, str], message: str
) -> None:
    (tmp_path / "accord.toml").write_text(content)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InvalidInputError, match=message):
        load_settings()


def test_sizes_take_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "accord.toml").write_text('max_line_bytes = "512KiB"\nmax_upload_bytes = 1000\n')
    monkeypatch.setenv("ACCORD_MAX_UNCOMPRESSED_BYTES", "1GB")
    settings = load_settings()
    assert (settings.max_uncompressed_bytes, settings.max_line_bytes, settings.max_upload_bytes) == (
        10**9,
        512 * 1024,
        1000,
    )
    monkeypatch.setenv("ACCORD_DUCKDB_MEMORY_LIMIT", "512 MiB")
    assert load_settings().duckdb_memory_limit == "512MiB"  # as the engine reads it
    monkeypatch.setenv("ACCORD_MAX_UNCOMPRESSED_BYTES", "2.5 GiB")
    assert load_settings().max_uncompressed_bytes == int(2.5 * 2**30)
    monkeypatch.setenv("ACCORD_MAX_UNCOMPRESSED_BYTES", "lots")
    with pytest.raises(InvalidInputError, match="max_uncompressed_bytes"):
        load_settings()
    monkeypatch.setenv("ACCORD_MAX_UNCOMPRESSED_BYTES", "0")
    with pytest.raises(InvalidInputError, match="max_uncompressed_bytes"):
        load_settings()

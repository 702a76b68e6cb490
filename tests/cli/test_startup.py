"""The CLI starts without the heavy engines: `accord --help` and catalog-only commands import no Ibis,
DuckDB, Splink or Alembic, and the list commands not even SQLAlchemy on a SQLite catalog that needs
nothing done first (their start-up times are measured in bench/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("ibis", "duckdb", "splink", "alembic", "pyarrow", "pandas")

PROBE = """
import json, sys
watched = set(json.loads(sys.argv[2]))
sys.argv = ["accord", *json.loads(sys.argv[1])]
from accord.cli import main
try:
    main()
except SystemExit as exit_:
    code = exit_.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & watched)
sys.stderr.write("\\nHEAVY " + json.dumps({"code": code, "heavy": heavy}) + "\\n")
"""


def imported_by(args: list[str], cwd: Path, watched: tuple[str, ...] = HEAVY) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(watched)],
        capture_output=True, text=True, cwd=cwd, timeout=120, check=False,
    )  # fmt: skip
    line = next(x for x in result.stderr.splitlines() if x.startswith("HEAVY "))
    return json.loads(line.removeprefix("HEAVY "))  # type: ignore[no-any-return]


def test_help_and_version_import_no_engine(tmp_path: Path) -> None:
    """Nor the settings (pydantic-settings), nor rich's Markdown renderer: --help needs neither."""
    for args in (["--help"], ["--version"], ["segment", "--help"], ["ingest", "--help"], ["activation", "--help"]):
        seen = imported_by(args, tmp_path, (*HEAVY, "pydantic_settings", "markdown_it"))
        assert seen == {"code": 0, "heavy": []}, args


@pytest.mark.parametrize(
    "command", [["dataset", "list"], ["connection", "list"], ["token", "list"], ["sandbox", "list"], ["schema", "list"]]
)
def test_catalog_only_commands_import_no_engine(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home"
    assert imported_by(["--home", str(home), "init", "--json"], tmp_path)["code"] == 0
    seen = imported_by(["--home", str(home), *command, "--json"], tmp_path)
    assert seen == {"code": 0, "heavy": []}


def test_list_commands_read_a_sqlite_catalog_without_the_orm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert imported_by(["--home", str(home), "init", "--json"], tmp_path)["code"] == 0
    for command in (["dataset", "list"], ["connection", "list"], ["token", "list"]):
        seen = imported_by(["--home", str(home), *command, "--json"], tmp_path, (*HEAVY, "sqlalchemy"))
        assert seen == {"code": 0, "heavy": []}, command

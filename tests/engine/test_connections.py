"""Engine connections: each spills into a folder of its own, and every DuckDB connection is made here."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import accord
from accord import engine
from accord.settings import Settings

SPILLS = "SELECT i, md5(i::VARCHAR) AS s FROM range(600000) t(i) ORDER BY s"


def test_each_connection_spills_into_a_folder_of_its_own_removed_when_it_closes(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", duckdb_threads=1, duckdb_memory_limit="20MB", scheduler=False)
    first, second = engine.connect(settings), engine.connect(settings)
    plain = engine.raw_connection(settings, threads=1)
    try:
        for con in (first, second):
            con.raw_sql(f"CREATE TABLE sorted AS {SPILLS}")
        plain.execute(f"CREATE TABLE sorted AS {SPILLS}")
        folders = sorted((settings.home / "tmp").iterdir())
        assert len(folders) == 3 and all(any(f.iterdir()) for f in folders)  # three folders, each with spill files
        assert all(f.name.split("~")[1] == str(os.getpid()) for f in folders)  # each says whose it is
    finally:
        first.disconnect()
        second.disconnect()
        plain.close()
    assert list((settings.home / "tmp").iterdir()) == []


def test_a_connection_without_settings_never_spills_into_the_working_folder(tmp_path: Path) -> None:
    con = engine.raw_connection(threads=1)
    try:
        assert con.execute("SELECT current_setting('temp_directory')").fetchone() == ("",)
    finally:
        con.close()


def _duckdb_connects(tree: ast.AST) -> list[int]:
    """Lines that open a DuckDB connection directly: `duckdb.connect(...)` or `ibis.duckdb.connect(...)`."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "connect":
            target = node.func.value
            if (isinstance(target, ast.Name) and target.id == "duckdb") or (
                isinstance(target, ast.Attribute) and target.attr == "duckdb"
            ):
                lines.append(node.lineno)
    return lines


def test_every_duckdb_connection_of_accord_is_made_by_the_engine() -> None:
    """A connection made elsewhere would spill into the working folder (DuckDB's default), shared by all."""
    package = Path(accord.__file__).parent
    found = {
        str(path.relative_to(package)): lines
        for path in sorted(package.rglob("*.py"))
        if path.parent.name != "engine" and (lines := _duckdb_connects(ast.parse(path.read_text())))
    }
    assert found == {}

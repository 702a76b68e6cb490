"""The home is its owner's alone: every folder 0700 and every file 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.errors import EngineMemoryError, known_failure
from accord.settings import Settings


@pytest.fixture
def wide_umask() -> Iterator[None]:
    """The usual umask of a shell (022): files readable by every local user unless Accord sees to it."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def exposed(home: Path) -> list[str]:
    """Every file or folder under the home (the home included) that another user could read or enter."""
    found = []
    for path in [home, *home.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        expected = 0o700 if stat.S_ISDIR(mode) else 0o600
        if stat.S_IMODE(mode) & 0o077 or (stat.S_ISDIR(mode) and stat.S_IMODE(mode) != expected):
            found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(home.parent)}")
    return found


def test_a_whole_workload_leaves_nothing_readable_by_others(cli: Any, settings: Settings, wide_umask: None) -> None:
    home = settings.home
    # init, a dataflow from a landing folder and one from a SQLite database, an upload, graphs, profiles,
    # audiences and a segment job: the demo's steps, in `home/demo`
    demo = cli("demo", "--rows", "300", "--json")
    assert demo.code == 0, demo.stderr
    demo_home = home / "demo"
    assert cli("--home", str(demo_home), "segment", "run", "--json").code == 0
    assert cli("--home", str(demo_home), "dataset", "preview", "crm", "--json").code == 0
    files = [p for p in home.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"catalog.db", "secret.key"} <= names and any(p.suffix == ".parquet" for p in files)
    assert any("diagnostics" in p.parts for p in files)  # row errors of the CRM export
    assert exposed(home) == []


def test_an_existing_home_made_readable_is_closed_again(cli: Any, settings: Settings, wide_umask: None) -> None:
    """A home left by an older Accord (0644 files in 0755 folders) is tightened by the next command."""
    home = settings.home
    assert cli("init").code == 0
    (home / "landing" / "crm.csv").write_text("id\n1\n")
    for path in [home, *home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert exposed(home)
    assert cli("sandbox", "list", "--json").code == 0
    assert exposed(home) == []
    assert (home / "landing" / "crm.csv").read_text() == "id\n1\n"


def test_a_home_that_cannot_be_one_is_a_clear_error(cli: Any, tmp_path: Path) -> None:
    """A home that is a file, or that cannot be made, is named with what is wrong: no internal error."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a home")
    for args, words in ((["--home", str(a_file), "dataset", "list", "--json"], "is a file, not a folder"),
                        (["--home", str(a_file), "init", "--json"], "is a file, not a folder"),
                        (["--home", "/proc/no-such/home", "init", "--json"], "cannot make Accord's home")):  # fmt: skip
        refused = cli(*args)
        assert refused.code != 0 and refused.json()["error"]["code"] == "ACCORD-0011-400", (args, refused.stdout)
        assert words in refused.json()["error"]["message"] and "internal" not in refused.stdout
    assert a_file.read_text() == "not a home"


def test_the_engine_out_of_memory_is_said_with_what_to_do() -> None:
    """DuckDB's own out-of-memory error (a list it cannot spill, in 16 MB) becomes Accord's, saying which
    settings to change."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": "16MB", "threads": 1, "temp_directory": ""})
    with pytest.raises(duckdb.OutOfMemoryException) as caught:
        con.execute("SELECT list(i) FROM range(50000000) t(i)").fetchall()
    con.close()
    known = known_failure(caught.value)
    assert isinstance(known, EngineMemoryError) and known.code == "ACCORD-0507-500"
    assert "ACCORD_DUCKDB_MEMORY_LIMIT" in known.message and known_failure(ValueError("x")) is None

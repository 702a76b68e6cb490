"""Folder swaps in the lake: readers see the old folder or the new one, and a swap a killed job left half
done is finished by the next job that holds the folder's lock."""

from __future__ import annotations

from pathlib import Path

from accord.lake.store import recover_replacements, replace_folder


def _folder(path: Path, content: str) -> Path:
    path.mkdir(parents=True)
    (path / "part.parquet").write_text(content)
    return path


def test_a_folder_is_replaced_whole(tmp_path: Path) -> None:
    target = _folder(tmp_path / "sandbox" / "profile", "old")
    replace_folder(_folder(tmp_path / "staging" / "new", "new"), target)
    assert (target / "part.parquet").read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["profile"]


def test_a_swap_killed_between_its_renames_is_undone_and_one_killed_after_is_tidied(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    _folder(sandbox / "profile.old", "the store before the killed rebuild")  # moved aside; the new one never came
    _folder(sandbox / "identity", "new graphs")
    _folder(sandbox / "identity.old", "old graphs")  # killed after the new one came, before the old one went
    _folder(sandbox / "segments", "memberships")
    recovered = recover_replacements(sandbox)
    assert recovered == [sandbox / "profile"]
    assert sorted(p.name for p in sandbox.iterdir()) == ["identity", "profile", "segments"]
    assert (sandbox / "profile" / "part.parquet").read_text() == "the store before the killed rebuild"
    assert (sandbox / "identity" / "part.parquet").read_text() == "new graphs"


def test_a_file_replaced_twice_within_one_tick_has_three_versions(tmp_path: Path) -> None:
    """Readers that keep a file open (the profile store, computed values: memory-mapped) tell its versions apart
    even when the file system's clock does not move between two writes: a version they hold open keeps its
    inode, so the next one has another."""
    import os

    from accord.lake import file_version

    target = tmp_path / "values.arrow"
    assert file_version(target) is None
    seen, held = [], []
    for text in ("one", "two", "six"):  # the same size each time
        staged = tmp_path / "values.arrow.new"
        staged.write_text(text)
        os.utime(staged, ns=(1_000_000_000, 1_000_000_000))  # one moment for every write
        os.replace(staged, target)
        seen.append(file_version(target))
        held.append(target.open())  # as a reader keeps it
    for file in held:
        file.close()
    assert len(set(seen)) == 3, seen

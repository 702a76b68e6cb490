"""Scratch folders: each job's own, removed when it ends (also when it fails), swept when its process died."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from accord.jobs import scratch_name, sweep
from accord.lake import Lake

MAKES_STAGING = """
import sys, time
from accord.lake import Lake
folder = Lake(sys.argv[1]).staging("victim")
(folder / "part.parquet").write_bytes(b"half a file")
print(folder, flush=True)
time.sleep(600)
"""


def test_the_sweep_removes_what_dead_processes_of_this_host_left_and_nothing_else(tmp_path: Path) -> None:
    lake_root = tmp_path / "lake"
    victim = subprocess.Popen([sys.executable, "-c", MAKES_STAGING, str(lake_root)], stdout=subprocess.PIPE, text=True)
    assert victim.stdout is not None
    dead = Path(victim.stdout.readline().strip())
    victim.kill()
    victim.communicate()
    root = Lake(str(lake_root)).staging_root
    mine = Lake(str(lake_root)).staging("mine")  # this process is alive
    elsewhere = root / "build~4242~another-host~0a1b2c3d"  # another host's: its pid cannot be looked at
    elsewhere.mkdir()
    old, fresh = root / "profile-legacy", root / "identity-legacy"  # an older Accord's, named for no owner
    old.mkdir()
    fresh.mkdir()
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    # another host's, untouched for an hour: kept while that host's jobs hold live locks, then removed
    idle = root / "build~4343~another-host~1a2b3c4d"
    (idle / "part").mkdir(parents=True)
    busy = root / "build~4444~another-host~2a3b4c5d"  # untouched itself, but a file in it was just written
    busy.mkdir()
    (busy / "spill.tmp").write_bytes(b"x")
    for path in (idle / "part", idle, busy):
        os.utime(path, (an_hour_ago, an_hour_ago))
    # a pid of this host that now belongs to a process started after the folder was last changed
    newcomer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        reused = root / f"build~{newcomer.pid}~{mine.name.split('~')[2]}~3a4b5c6d"
        reused.mkdir()
        os.utime(reused, (an_hour_ago, an_hour_ago))
        removed = sweep(root, stale_seconds=1800, live_hosts=frozenset({"another-host"}))
    finally:
        newcomer.kill()
        newcomer.wait()
    assert sorted(removed) == sorted([dead, old, reused])
    assert sweep(root, stale_seconds=1800) == [idle]  # another host's jobs no longer hold live locks
    assert sorted(p.name for p in root.iterdir()) == sorted([mine.name, elsewhere.name, fresh.name, busy.name])


def test_scratch_names_say_their_owner() -> None:
    from accord.jobs import owner_of

    name = scratch_name("profile-0a1b")
    owner = owner_of(name)
    assert owner is not None and owner.pid == os.getpid() and owner.here and not owner.gone
    assert name.startswith("profile-0a1b~") and owner_of("profile-0a1b") is None

"""HTTP API: the generic streaming destination, declared by the document beside this module."""

from __future__ import annotations

from pathlib import Path

from accord.destinations.streaming.declared import load_declared

HttpApiDestination = load_declared(Path(__file__).with_name("destination.yaml"))

"""The first steps of a connection test: is the endpoint a URL, does its host resolve, does it answer."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from accord.sources.spec import CheckStep


def reach(host: str, port: int, step: str = "endpoint", timeout: float = 5, fix: str = "fix the host") -> CheckStep:
    """Open (and close) a TCP connection; the step says why it failed and what to do."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return CheckStep(step, True, f"{host}:{port} reachable")
    except socket.gaierror:
        return CheckStep(step, False, f"unknown host {host}", fix)
    except ConnectionRefusedError:
        return CheckStep(step, False, f"connection refused by {host}:{port}", "is the service running on that port?")
    except OSError as exc:
        return CheckStep(step, False, f"{host}:{port} unreachable ({exc.strerror or exc})",
                         "check the host, port and firewall")  # fmt: skip


def reach_url(url: str, setting: str) -> CheckStep:
    """`reach` for an http(s) endpoint URL named by the connection setting `setting`."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return CheckStep("endpoint", False, f"{url!r} is not an http(s) URL", f"fix `{setting}`")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return reach(parsed.hostname, port, fix=f"fix `{setting}`")

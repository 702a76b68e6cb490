"""Serving the API: `accord serve`, and `accord campaign serve` for an instance on a machine of its own."""

from __future__ import annotations

from accord.cli.output import err
from accord.cli.state import state
from accord.errors import InvalidInputError


def serve_api(host: str | None, port: int | None, *, campaign_only: bool = False) -> None:
    """Listen on the settings' (or the given) address and serve the API until stopped."""
    import gc
    import socket

    import uvicorn

    from accord.api import create_app

    settings = state.settings
    state.workspace().close()  # fail early, clearly, if not initialised
    host = host or settings.api_host
    # Bound here, so that the line below names the real port, also when the system chose it (--port 0)
    wanted = settings.api_port if port is None else port
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, wanted, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, protocol)
    except OSError as exc:
        raise InvalidInputError(f"cannot listen on {host}: {exc.strerror}", code="ACCORD-0010-400") from None
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(2048)  # from here a client's connection waits for the server rather than being refused
    except OSError as exc:
        listener.close()
        raise InvalidInputError(f"cannot listen on {host}:{wanted}: {exc.strerror}", code="ACCORD-0010-400") from None
    bound = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    what = "Accord campaign engine" if campaign_only else "Accord API"
    pages = "" if campaign_only else f"; web workspace at http://{shown}:{bound}/ui"
    err.print(f"{what} on http://{shown}:{bound} (docs at /docs){pages}", highlight=False)
    app = create_app(settings, campaign_only=campaign_only)
    # What is loaded by now (the libraries, the app) lives as long as the server: kept out of the garbage
    # collector's full passes, which otherwise walk all of it every few thousand requests and hold every
    # answer up for a tenth of a second or more
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[listener])

"""A moto server (S3, IAM) for the tests, run as its own process by `tests.servers.start_moto`.

    INITIAL_NO_AUTH_ACTION_COUNT=N python tests/moto_server.py

It listens on a port of its own choosing on 127.0.0.1 and prints `ready PORT` once it accepts
connections; it runs until it is sent SIGTERM."""

from __future__ import annotations

import signal

from moto.server import ThreadedMotoServer

if __name__ == "__main__":
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # before the server's threads start: they inherit it
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # returns once the socket is bound and listening
    print("ready", server.get_host_and_port()[1], flush=True)
    signal.sigwait(stops)
    server.stop()

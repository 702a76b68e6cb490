"""An SMTP server (aiosmtpd) for the tests and the benchmark, run as its own process by `start_smtp`.

    python tests/smtp_server.py FOLDER [--mode normal|refuse|greylist|drop] [--drop-every N]
                                       [--tls CERT KEY] [--auth USER PASSWORD]

It listens on a port of its own choosing on 127.0.0.1, prints `ready PORT` once it accepts
connections, and runs until it is sent SIGTERM. Each message it accepts is appended to
FOLDER/messages.jsonl (envelope sender, recipients, raw bytes) and flushed before the server answers
250, so that what the file holds is exactly what a client was told was delivered. Modes:
`refuse` answers 550 to recipients whose address starts with `bad`; `greylist` answers 451 the first
time it sees a recipient; `drop` closes the connection in the middle of every Nth DATA, before the
message is stored."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import signal
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STORE = "messages.jsonl"


@dataclass
class Sink:
    """The aiosmtpd handler: answers per mode, stores what it accepts."""

    store: Any
    mode: str = "normal"
    drop_every: int = 0
    seen: set[str] = field(default_factory=set)
    data_count: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.mode == "refuse" and address.lower().startswith("bad"):
            return f"550 5.1.1 <{address}>: recipient address rejected: user unknown"
        if self.mode == "greylist" and address.lower() not in self.seen:
            self.seen.add(address.lower())
            return f"451 4.7.1 <{address}>: greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_count += 1
        if self.mode == "drop" and self.drop_every and self.data_count % self.drop_every == 0:
            server.transport.close()  # the client sent its message and never hears whether it arrived
            return "421 4.4.2 connection dropped"
        user = session.auth_data.login.decode() if session.authenticated and session.auth_data else None
        record = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": session.ssl is not None, "user": user,
                  "data": base64.b64encode(envelope.original_content).decode()}  # fmt: skip
        self.store.write(json.dumps(record) + "\n")
        self.store.flush()
        return "250 2.0.0 OK stored"


def _authenticator(user: str, password: str) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        good = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and \
            auth_data.password.decode() == password  # fmt: skip
        return AuthResult(success=good, handled=False, auth_data=auth_data)

    return check


async def serve(arguments: argparse.Namespace) -> None:
    from aiosmtpd.smtp import SMTP

    folder = Path(arguments.folder)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / STORE).open("a", encoding="ascii") as store:
        sink = Sink(store, arguments.mode, arguments.drop_every)
        tls = None
        if arguments.tls:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(*arguments.tls)
        options: dict[str, Any] = {"hostname": "sink.test", "tls_context": tls, "auth_require_tls": tls is not None}
        if arguments.auth:
            options |= {"authenticator": _authenticator(*arguments.auth), "auth_required": True}
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(sink, **options), "127.0.0.1", 0)
        print("ready", server.sockets[0].getsockname()[1], flush=True)
        stopped = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopped.set)
        await stopped.wait()
        server.close()


# -- for the tests: start one, read what it received --------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    tls: bool = False
    user: str | None = None

    def message(self) -> Any:
        from email import message_from_bytes, policy

        return message_from_bytes(self.data, policy=policy.default)


@dataclass
class SmtpSink:
    """A running SMTP server: its port, and what it stored."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    cert: Path | None = None

    def received(self) -> list[Received]:
        path = self.folder / STORE
        lines = path.read_text(encoding="ascii").splitlines() if path.exists() else []
        return [Received(r["from"], r["to"], base64.b64decode(r["data"]), r["tls"], r["user"])
                for r in map(json.loads, lines)]  # fmt: skip

    def count(self) -> int:
        """How many messages it stored, without decoding them."""
        path = self.folder / STORE
        return path.read_bytes().count(b"\n") if path.exists() else 0

    def clear(self) -> None:
        """Forget what it stored (the server appends, so the file can be emptied under it)."""
        (self.folder / STORE).write_bytes(b"")

    def stop(self) -> None:
        from tests.servers import stop_child

        stop_child(self.process)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files in `folder`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sink.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def start_smtp(folder: Path, *, mode: str = "normal", drop_every: int = 0, tls: bool = False,
               auth: tuple[str, str] | None = None) -> SmtpSink:  # fmt: skip
    """Start a server storing into `folder` (created); stop it with `.stop()`."""
    from tests.servers import spawn_on_its_port

    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(Path(__file__)), str(folder), "--mode", mode, "--drop-every", str(drop_every)]
    cert = None
    if tls:
        cert, key = self_signed_certificate(folder)
        command += ["--tls", str(cert), str(key)]
    if auth:
        command += ["--auth", *auth]
    try:
        process, port = spawn_on_its_port(command, folder, "SMTP server", r"^ready (\d+)$")
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return SmtpSink(port, folder, process, cert)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--mode", choices=["normal", "refuse", "greylist", "drop"], default="normal")
    parser.add_argument("--drop-every", type=int, default=0)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
    asyncio.run(serve(parser.parse_args()))

"""Real servers for integration tests, started on 127.0.0.1 and stopped by process id."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    url: str
    pid: int
    folder: Path

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGINT)  # "fast" shutdown
            for _ in range(100):
                os.kill(self.pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_postgres(command: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        return subprocess.run(
            ["su", "postgres", "-s", "/bin/sh", "-c", command], capture_output=True, text=True, check=False
        )
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=False)


def start_postgres() -> PostgresServer:
    """A throwaway PostgreSQL cluster with an `accord` database, trusting local connections."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        raise RuntimeError("PostgreSQL is not installed: run `make test-servers` (Debian package postgresql)")
    bindir = Path(binaries[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="accord-pg-"))
    os.chmod(folder, 0o777)
    data = folder / "data"
    port = free_port()
    steps = [
        f"{bindir}/initdb -D {data} -U postgres -A trust --no-sync -E UTF8 >/dev/null",
        f"{bindir}/pg_ctl -D {data} -o '-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off' "
        f"-l {folder}/log -w start >/dev/null",
        f"{bindir}/createdb -h 127.0.0.1 -p {port} -U postgres accord",
    ]
    for step in steps:
        result = _as_postgres(step)
        if result.returncode != 0:
            log = (folder / "log").read_text() if (folder / "log").exists() else ""
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr}{log}")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    return PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/accord", pid, folder)


@dataclass
class MotoServer:
    """A moto S3/IAM server enforcing credentials: `admin` may do anything, `limited` nothing."""

    endpoint: str
    process: subprocess.Popen[bytes]
    admin: tuple[str, str]
    limited: tuple[str, str]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)


def start_moto() -> MotoServer:
    import sys
    import urllib.request

    import boto3

    port = free_port()
    setup_calls = 6  # IAM is enforced after these: the users and keys below are made without credentials
    environment = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(setup_calls), "MOTO_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)  # not an AWS action: not counted
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("moto server did not start")
    import json

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")  # fmt: skip
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    try:
        iam.create_user(UserName="admin")
        policy = iam.create_policy(PolicyName="everything", PolicyDocument=json.dumps(everything))["Policy"]["Arn"]
        iam.attach_user_policy(UserName="admin", PolicyArn=policy)
        admin = iam.create_access_key(UserName="admin")["AccessKey"]
        iam.create_user(UserName="limited")
        limited = iam.create_access_key(UserName="limited")["AccessKey"]
    except Exception:
        process.kill()
        process.wait()
        raise
    return MotoServer(
        endpoint, process, (admin["AccessKeyId"], admin["SecretAccessKey"]),
        (limited["AccessKeyId"], limited["SecretAccessKey"]),
    )  # fmt: skip


@dataclass
class SftpServer:
    """An SFTP server on 127.0.0.1 serving `root`; see tests/sftp_server.py for its users."""

    port: int
    process: subprocess.Popen[str]
    root: Path
    fingerprint: str
    key: str
    """An authorised client private key (OpenSSH text)."""
    stranger_key: str
    """A client key the server does not know."""

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.root.parent, ignore_errors=True)


def start_sftp() -> SftpServer:
    import sys

    import asyncssh
    import paramiko

    from accord.sources.connectors.sftp import fingerprint

    folder = Path(tempfile.mkdtemp(prefix="accord-sftp-"))
    root = folder / "root"
    (root / "data").mkdir(parents=True)
    (root / "locked").mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key.write_private_key(str(folder / "host_key"))
    client, stranger = asyncssh.generate_private_key("ssh-ed25519"), asyncssh.generate_private_key("ssh-ed25519")
    client.write_public_key(str(folder / "authorized_keys"))
    port = free_port()
    script = Path(__file__).with_name("sftp_server.py")
    process = subprocess.Popen(
        [sys.executable, str(script), str(root), str(port), str(folder / "host_key"), str(folder / "authorized_keys")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        process.wait()
        raise RuntimeError("the SFTP server did not start")
    seen = fingerprint(paramiko.Ed25519Key.from_private_key_file(str(folder / "host_key")))
    return SftpServer(
        port, process, root, seen, client.export_private_key().decode(), stranger.export_private_key().decode()
    )


AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # well known


@dataclass
class AzuriteServer:
    endpoint: str
    process: subprocess.Popen[bytes]
    folder: Path

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_azurite() -> AzuriteServer:
    binary = Path(__file__).parent / "node" / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        raise RuntimeError("azurite is not installed: run `make test-servers` (npm ci in tests/node)")
    folder = Path(tempfile.mkdtemp(prefix="accord-azurite-"))
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder), "--silent",
         "--skipApiVersionCheck", "--loose"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        process.wait()
        raise RuntimeError("azurite did not start")
    return AzuriteServer(f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}", process, folder)

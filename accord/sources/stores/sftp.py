"""SFTP: logging in to an SSH server with a password or a private key, against a pinned host key.

A login goes step by step as the reference product's troubleshooting guide does: host name, TCP
connection, SSH handshake and host key (unknown or changed), authentication by password or key."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accord.sources.spec import SECRET, SECRET_TEXT, CheckStep


class SftpLogin(BaseModel):
    """A server and an account on it; a connector's configuration adds its folder (`root`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    password: str | None = Field(default=None, json_schema_extra=SECRET)
    private_key: str | None = Field(
        default=None,
        alias="privateKey",
        description="PEM or OpenSSH private key text.",
        json_schema_extra=SECRET_TEXT,
    )
    passphrase: str | None = Field(default=None, json_schema_extra=SECRET)
    host_key: str | None = Field(
        default=None,
        alias="hostKey",
        description="The server's key fingerprint (SHA256:...) as `connection test` shows it.",
    )
    timeout: int = Field(default=10, ge=1, le=300)

    @model_validator(mode="after")
    def _one_credential(self) -> SftpLogin:
        if not self.password and not self.private_key:
            raise ValueError("give a password or a privateKey")
        return self


def host_key_fingerprint(key: Any) -> str:
    """The OpenSSH-style SHA256 fingerprint of a host key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass
class SftpSession:
    """An open SFTP session (paramiko's `SFTPClient`) and the SSH transport under it."""

    transport: Any
    sftp: Any

    def close(self) -> None:
        self.transport.close()


def _load_key(login: SftpLogin) -> Any:
    import paramiko

    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(login.private_key or ""), password=login.passphrase)
        except paramiko.PasswordRequiredException:
            raise ValueError("the private key is encrypted: give its passphrase") from None
        except (paramiko.SSHException, ValueError):
            continue
    raise ValueError("the private key cannot be read (PEM or OpenSSH format expected)")


def open_sftp(login: SftpLogin) -> tuple[list[CheckStep], SftpSession | None]:
    """Log in step by step: the steps that passed, then the one that failed if any; the session when all passed."""
    import paramiko

    try:
        address = socket.getaddrinfo(login.host, login.port, type=socket.SOCK_STREAM)[0][4]
    except socket.gaierror:
        return [CheckStep("resolve host", False, f"unknown host {login.host}", "fix `host`")], None
    steps = [CheckStep("resolve host", True, f"{login.host} is {address[0]}")]
    try:
        sock = socket.create_connection((login.host, login.port), timeout=login.timeout)
    except ConnectionRefusedError:
        return [*steps, CheckStep("connect", False, f"connection refused by {login.host}:{login.port}",
                                  "is the SFTP server running on that port?")], None  # fmt: skip
    except OSError as exc:
        return [*steps, CheckStep("connect", False, f"{login.host}:{login.port} unreachable ({exc})",
                                  "check the host, port and firewall")], None  # fmt: skip
    steps.append(CheckStep("connect", True, f"{login.host}:{login.port} accepts connections"))
    transport = paramiko.Transport(sock)
    transport.banner_timeout = transport.handshake_timeout = login.timeout
    failed = _authenticate(transport, login, steps)
    if failed is not None:
        transport.close()
        return [*steps, failed], None
    return steps, SftpSession(transport, paramiko.SFTPClient.from_transport(transport))


def _authenticate(transport: Any, login: SftpLogin, steps: list[CheckStep]) -> CheckStep | None:
    """Handshake, host key and authentication; appends the steps that pass, returns the one that failed."""
    import paramiko

    try:
        transport.start_client(timeout=login.timeout)
    except (paramiko.SSHException, OSError) as exc:
        return CheckStep("ssh handshake", False, f"not an SSH server, or it hung up ({exc})",
                         "check that this port serves SSH/SFTP")  # fmt: skip
    seen = host_key_fingerprint(transport.get_remote_server_key())
    if not login.host_key:
        return CheckStep("host key", False, f"host key unknown: the server presents {seen}",
                         f"if that is your server's key, set hostKey to {seen}")  # fmt: skip
    if login.host_key.strip() != seen:
        return CheckStep("host key", False, f"host key changed: expected {login.host_key}, got {seen}",
                         "the server was reinstalled, or someone is in between: verify before trusting")  # fmt: skip
    steps.append(CheckStep("host key", True, seen))
    try:
        if login.private_key:
            transport.auth_publickey(login.username, _load_key(login))
        else:
            transport.auth_password(login.username, login.password or "")
    except ValueError as exc:
        return CheckStep("authenticate", False, str(exc), "check privateKey and passphrase")
    except paramiko.AuthenticationException:
        which = "key" if login.private_key else "password"
        return CheckStep("authenticate", False, f"user {login.username!r} was refused ({which})",
                         f"check the username and {which}; is this key authorised on the server?")  # fmt: skip
    method = "private key" if login.private_key else "password"
    steps.append(CheckStep("authenticate", True, f"{login.username} by {method}"))
    return None


def sftp_folder_failure(exc: OSError, root: str, username: str, need: str) -> CheckStep:
    """The `folder` step failed on `exc`: missing, permission denied (`need`: read, write...), or other."""
    if isinstance(exc, FileNotFoundError):
        return CheckStep("folder", False, f"{root} does not exist on the server", "fix `root`")
    if isinstance(exc, PermissionError):
        return CheckStep("folder", False, f"permission denied on {root}", f"let {username} {need} {root}")
    return CheckStep("folder", False, f"cannot use {root}: {exc}", "check `root`")

"""SFTP: files on an SSH server, with a password or a private key, and a pinned host key.

The connection test goes step by step as the reference product's troubleshooting guide does:
host name, TCP connection, SSH handshake and host key (unknown or changed), authentication by
password or key, then the folder (missing, or permission denied)."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accord.sources.exceptions import SourceUnavailableError
from accord.sources.files import FileSelection, FileStoreSource, RemoteFile, matches
from accord.sources.spec import SECRET, Capabilities, CheckStep, ConnectorSpec


class SftpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    password: str | None = Field(default=None, json_schema_extra=SECRET)
    private_key: str | None = Field(
        default=None, alias="privateKey", description="PEM or OpenSSH private key text.", json_schema_extra=SECRET
    )
    passphrase: str | None = Field(default=None, json_schema_extra=SECRET)
    host_key: str | None = Field(
        default=None,
        alias="hostKey",
        description="The server's key fingerprint (SHA256:...) as `connection test` shows it.",
    )
    root: str = Field(default=".", description="Folder on the server that this connection may read.")
    timeout: int = Field(default=10, ge=1, le=300)

    @model_validator(mode="after")
    def _one_credential(self) -> SftpConfig:
        if not self.password and not self.private_key:
            raise ValueError("give a password or a privateKey")
        return self


def fingerprint(key: Any) -> str:
    """The OpenSSH-style SHA256 fingerprint of a host key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class SftpSource(FileStoreSource[SftpConfig]):
    spec = ConnectorSpec(
        id="sftp",
        name="SFTP",
        category="cloud storage",
        description="Files on an SFTP server (password or private key), picked up by last-modified time.",
        config=SftpConfig,
        source=FileSelection,
        capabilities=Capabilities(files=True, supports_incremental=True, supports_reingest_changed=True),
    )
    fetch_threads = 1  # one SSH channel: files come one after another

    _transport: Any = None
    _sftp: Any = None

    def _load_key(self) -> Any:
        import paramiko

        text = self.config.private_key or ""
        errors = []
        for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
            try:
                return kind.from_private_key(io.StringIO(text), password=self.config.passphrase)
            except paramiko.PasswordRequiredException:
                raise ValueError("the private key is encrypted: give its passphrase") from None
            except (paramiko.SSHException, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("the private key cannot be read (PEM or OpenSSH format expected)")

    def _steps(self) -> list[CheckStep]:
        """Connect step by step; on success the session stays open in `self._sftp`."""
        import paramiko

        config = self.config
        try:
            address = socket.getaddrinfo(config.host, config.port, type=socket.SOCK_STREAM)[0][4]
        except socket.gaierror:
            return [CheckStep("resolve host", False, f"unknown host {config.host}", "fix `host`")]
        steps = [CheckStep("resolve host", True, f"{config.host} is {address[0]}")]
        try:
            sock = socket.create_connection((config.host, config.port), timeout=config.timeout)
        except ConnectionRefusedError:
            return [*steps, CheckStep("connect", False, f"connection refused by {config.host}:{config.port}",
                                      "is the SFTP server running on that port?")]  # fmt: skip
        except OSError as exc:
            return [*steps, CheckStep("connect", False, f"{config.host}:{config.port} unreachable ({exc})",
                                      "check the host, port and firewall")]  # fmt: skip
        steps.append(CheckStep("connect", True, f"{config.host}:{config.port} accepts connections"))
        transport = paramiko.Transport(sock)
        transport.banner_timeout = transport.handshake_timeout = config.timeout
        try:
            transport.start_client(timeout=config.timeout)
        except (paramiko.SSHException, OSError) as exc:
            transport.close()
            return [*steps, CheckStep("ssh handshake", False, f"not an SSH server, or it hung up ({exc})",
                                      "check that this port serves SSH/SFTP")]  # fmt: skip
        seen = fingerprint(transport.get_remote_server_key())
        if not config.host_key:
            transport.close()
            return [*steps, CheckStep("host key", False, f"host key unknown: the server presents {seen}",
                                      f"if that is your server's key, set hostKey to {seen}")]  # fmt: skip
        if config.host_key.strip() != seen:
            transport.close()
            return [
                *steps,
                CheckStep(
                    "host key",
                    False,
                    f"host key changed: expected {config.host_key}, got {seen}",
                    "the server was reinstalled, or someone is in between: verify before trusting",
                ),
            ]
        steps.append(CheckStep("host key", True, seen))
        try:
            if config.private_key:
                transport.auth_publickey(config.username, self._load_key())
                method = "private key"
            else:
                transport.auth_password(config.username, config.password or "")
                method = "password"
        except ValueError as exc:
            transport.close()
            return [*steps, CheckStep("authenticate", False, str(exc), "check privateKey and passphrase")]
        except paramiko.AuthenticationException:
            transport.close()
            which = "key" if config.private_key else "password"
            return [
                *steps,
                CheckStep(
                    "authenticate",
                    False,
                    f"user {config.username!r} was refused ({which})",
                    f"check the username and {which}; is this key authorised on the server?",
                ),
            ]
        steps.append(CheckStep("authenticate", True, f"{config.username} by {method}"))
        sftp = paramiko.SFTPClient.from_transport(transport)
        try:
            entries = sftp.listdir(config.root)
        except FileNotFoundError:
            transport.close()
            return [*steps, CheckStep("folder", False, f"{config.root} does not exist on the server", "fix `root`")]
        except PermissionError:
            transport.close()
            return [*steps, CheckStep("folder", False, f"permission denied on {config.root}",
                                      f"let {config.username} read {config.root}")]  # fmt: skip
        except OSError as exc:
            transport.close()
            return [*steps, CheckStep("folder", False, f"cannot list {config.root}: {exc}", "check `root`")]
        self._transport, self._sftp = transport, sftp
        return [*steps, CheckStep("folder", True, f"{config.root}: {len(entries)} entries")]

    def check(self) -> list[CheckStep]:
        try:
            return self._steps()
        finally:
            self.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = self._sftp = None

    def _session(self) -> Any:
        if self._sftp is None:
            steps = self._steps()
            if not steps[-1].ok:
                failed = steps[-1]
                raise SourceUnavailableError(f"SFTP {failed.name} failed: {failed.message}; {failed.hint}")
        return self._sftp

    def _folder(self, selection: FileSelection) -> str:
        from posixpath import join, normpath, relpath

        root = normpath(self.config.root)
        folder = normpath(join(root, selection.path))
        inside = relpath(folder, root)
        if inside == ".." or inside.startswith("../"):
            from accord.errors import InvalidInputError

            raise InvalidInputError(
                f"path {selection.path!r} leads outside the connection's root", code="SOURCE-0400-400"
            )
        return folder

    def list_files(self, selection: FileSelection) -> list[RemoteFile]:
        sftp = self._session()
        folder = self._folder(selection)
        found: list[RemoteFile] = []

        def walk(directory: str, prefix: str) -> None:
            try:
                entries = sftp.listdir_attr(directory)
            except (FileNotFoundError, PermissionError) as exc:
                raise SourceUnavailableError(f"cannot list {directory} on the server: {exc}") from None
            for entry in entries:
                name = f"{prefix}{entry.filename}"
                if stat.S_ISDIR(entry.st_mode or 0):
                    if "**" in selection.glob or "/" in selection.glob:
                        walk(f"{directory}/{entry.filename}", name + "/")
                elif not entry.filename.startswith(".") and matches(name, selection.glob):
                    found.append(RemoteFile(name, int(entry.st_size or 0), int((entry.st_mtime or 0) * 1e9)))

        walk(folder, "")
        return found

    def fetch(self, selection: FileSelection, file: RemoteFile, workdir: Path) -> Path:
        target = self.download_target(workdir, file)
        try:
            self._session().get(f"{self._folder(selection)}/{file.name}", str(target))
        except OSError as exc:
            raise SourceUnavailableError(f"downloading {file.name} failed: {exc}") from None
        return target

    def read(self, source: FileSelection, context: Any) -> Any:
        try:
            yield from super().read(source, context)
        finally:
            self.close()

"""SFTP: files on an SSH server, with a password or a private key, and a pinned host key.

The connection test goes step by step as the reference product's troubleshooting guide does:
host name, TCP connection, SSH handshake and host key (unknown or changed), authentication by
password or key, then the folder (missing, or permission denied)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from pydantic import Field

from accord.sources.exceptions import SourceUnavailableError
from accord.sources.files import FileSelection, FileStoreSource, RemoteFile, matches
from accord.sources.spec import Capabilities, CheckStep, ConnectorSpec
from accord.sources.stores.sftp import SftpLogin, SftpSession, open_sftp, sftp_folder_failure


class SftpConfig(SftpLogin):
    root: str = Field(default=".", description="Folder on the server that this connection may read.")


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

    _session_open: SftpSession | None = None

    def _steps(self) -> list[CheckStep]:
        """Connect step by step; on success the session stays open in `self._session_open`."""
        steps, session = open_sftp(self.config)
        if session is None:
            return steps
        root = self.config.root
        try:
            entries = session.sftp.listdir(root)
        except OSError as exc:
            session.close()
            return [*steps, sftp_folder_failure(exc, root, self.config.username, need="read")]
        self._session_open = session
        return [*steps, CheckStep("folder", True, f"{root}: {len(entries)} entries")]

    def check(self) -> list[CheckStep]:
        try:
            return self._steps()
        finally:
            self.close()

    def close(self) -> None:
        if self._session_open is not None:
            self._session_open.close()
        self._session_open = None

    def _session(self) -> Any:
        if self._session_open is None:
            steps = self._steps()
            if not steps[-1].ok:
                failed = steps[-1]
                raise SourceUnavailableError(f"SFTP {failed.name} failed: {failed.message}; {failed.hint}")
        assert self._session_open is not None
        return self._session_open.sftp

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

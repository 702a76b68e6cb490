"""SFTP: activation files put in a folder of an SSH server, with a password or a private key and a pinned host key.

A file is uploaded under a hidden name of its writer in the target's folder
(`.<name>.<host>-<pid>.accord-partial`), then renamed into place in one step (`posix-rename`,
which replaces a file of that name): a reader never sees part of a file. A writer killed midway
leaves only its hidden file, which `sweep` removes once that writer is known to be dead."""

from __future__ import annotations

import contextlib
import posixpath
import stat
from typing import Any

from pydantic import Field

from accord.destinations.exceptions import DestinationRefusedError, DestinationUnavailableError
from accord.destinations.landing import partial_name, probe_name, relative_name, stale_partial
from accord.destinations.spec import SYNC_MODES, DestinationSpec, ExportFile, FileDestination, FileOptions
from accord.sources import CheckStep, SftpLogin, SftpSession, open_sftp, sftp_folder_failure

UNREACHABLE = {"resolve host", "connect", "ssh handshake"}
"""Steps whose failure may pass by itself (the server is down); the others need the account changed."""


class SftpDestinationConfig(SftpLogin):
    root: str = Field(default=".", description="Folder on the server the files are written to; it must exist "
                      "(sub-folders that file names ask for are made).")  # fmt: skip


class SftpDestination(FileDestination[SftpDestinationConfig]):
    spec = DestinationSpec(
        id="sftp",
        name="SFTP",
        category="cloud storage",
        description="Audience files in a folder of an SFTP server (password or private key).",
        config=SftpDestinationConfig,
        export_type="profile",
        delivery="batch",
        files=FileOptions(),
        sync_modes=SYNC_MODES,
    )

    _open: SftpSession | None = None

    def _steps(self) -> list[CheckStep]:
        """Log in and look at the folder step by step; on success the session stays open in `self._open`."""
        steps, session = open_sftp(self.config)
        if session is None:
            return steps
        root = self.config.root
        try:  # stat, not list: a drop-box folder may be writable and not readable
            is_folder = stat.S_ISDIR(session.sftp.stat(root).st_mode or 0)
        except OSError as exc:
            session.close()
            return [*steps, sftp_folder_failure(exc, root, self.config.username, need="write to")]
        if not is_folder:
            session.close()
            return [*steps, CheckStep("folder", False, f"{root} is not a folder on the server", "fix `root`")]
        self._open = session
        return [*steps, CheckStep("folder", True, f"{root} exists")]

    def check(self) -> list[CheckStep]:
        try:
            steps = self._steps()
            return steps if not steps[-1].ok else [*steps, self._probe()]
        finally:
            self.close()

    def _probe(self) -> CheckStep:
        """Write an empty file in the folder and remove it again."""
        sftp, root = self._sftp(), self.config.root
        path = posixpath.join(root, probe_name())
        try:
            sftp.open(path, "wb").close()
        except PermissionError:
            return CheckStep(
                "write", False, f"permission denied on {root}", f"let {self.config.username} write to {root}"
            )
        except OSError as exc:
            return CheckStep("write", False, f"cannot write to {root}: {exc}", "check `root` and the server's disk")
        try:
            sftp.remove(path)
        except OSError as exc:
            return CheckStep("write", True, f"can write to {root}; the probe {path} could not be removed ({exc}): "
                             "remove it, and let the user delete files there")  # fmt: skip
        return CheckStep("write", True, f"can write to {root}")

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
        self._open = None

    def _sftp(self) -> Any:
        """The open session's SFTP client, logging in first when there is none."""
        if self._open is None:
            steps = self._steps()
            if not steps[-1].ok:
                failed = steps[-1]
                error = DestinationUnavailableError if failed.name in UNREACHABLE else DestinationRefusedError
                raise error(f"SFTP {failed.name} failed: {failed.message}; {failed.hint}")
        assert self._open is not None
        return self._open.sftp

    def _path(self, name: str) -> str:
        return posixpath.join(self.config.root, relative_name(name))

    def write(self, file: ExportFile) -> str:
        import paramiko

        target = self._path(file.name)
        folder, base = posixpath.split(target)
        partial = posixpath.join(folder, partial_name(base))
        sftp = self._sftp()
        try:
            self._make_folders(sftp, relative_name(file.name))
            sftp.put(str(file.path), partial, confirm=True)
            self._replace(sftp, partial, target)
            where = sftp.normalize(target)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                sftp.remove(partial)
            self.close()  # the session may be broken: the next write logs in again
            error = DestinationRefusedError if isinstance(exc, PermissionError) else DestinationUnavailableError
            raise error(f"writing {target} on {self.config.host} failed: {exc}", file=file.name) from None
        port = f":{self.config.port}" if self.config.port != 22 else ""
        return f"sftp://{self.config.host}{port}{where}"

    def _make_folders(self, sftp: Any, relative: str) -> None:
        """Make the sub-folders a file name asks for, under the root (which must exist)."""
        folder = self.config.root
        for part in relative.split("/")[:-1]:
            folder = posixpath.join(folder, part)
            try:
                sftp.stat(folder)
            except FileNotFoundError:
                try:
                    sftp.mkdir(folder)
                except OSError:
                    sftp.stat(folder)  # another writer made it meanwhile; if not, this raises

    @staticmethod
    def _replace(sftp: Any, partial: str, target: str) -> None:
        """Rename `partial` to `target`, replacing a file of that name in one step where the server can."""
        try:
            sftp.posix_rename(partial, target)
            return
        except OSError as exc:
            if "unsupported" not in str(exc).lower():
                raise
        # A server without OpenSSH's posix-rename: a plain rename does not replace a file, so the old one goes
        # first (for a moment the name is absent, but never half written).
        with contextlib.suppress(FileNotFoundError):
            sftp.remove(target)
        sftp.rename(partial, target)

    def exists(self, name: str) -> bool:
        import paramiko

        path = self._path(name)
        try:
            return stat.S_ISREG(self._sftp().stat(path).st_mode or 0)
        except FileNotFoundError:
            return False
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            raise DestinationUnavailableError(f"looking for {path} on {self.config.host} failed: {exc}") from None

    def sweep(self) -> int:
        """Remove the partial files of writers of this host that died (a killed run); returns how many.
        Folders the account may not list are passed over."""
        sftp, removed = self._sftp(), 0
        folders = [self.config.root]
        while folders:
            folder = folders.pop()
            try:
                entries = sftp.listdir_attr(folder)
            except PermissionError:
                continue
            for entry in entries:
                path = posixpath.join(folder, entry.filename)
                if stat.S_ISDIR(entry.st_mode or 0):
                    folders.append(path)
                elif stale_partial(entry.filename):
                    sftp.remove(path)
                    removed += 1
        return removed

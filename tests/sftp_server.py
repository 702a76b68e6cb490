"""A real SFTP server for the tests (asyncssh), run as its own process by `tests.servers.start_sftp`.

    python tests/sftp_server.py ROOT HOST_KEY AUTHORIZED_KEYS

It listens on a port of its own choosing and prints `ready PORT` once it accepts connections.
User `alice` logs in with the password `wonderland` or with an authorised key; user `bob`, with
the password `quota`, may write no more than QUOTA bytes of a file, as a user over quota or a full
disk would. Files are served from ROOT (chrooted); any folder named `locked` refuses to be listed
or written to, as a folder the user may not read or write would (the tests run as root, for whom
file permissions would not say no)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import asyncssh

QUOTA = 2**20


class Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) in (("alice", "wonderland"), ("bob", "quota"))


def guarded(root: str) -> Any:
    class Guarded(asyncssh.SFTPServer):
        def __init__(self, channel: Any) -> None:
            super().__init__(channel, chroot=root.encode())
            self._quota = QUOTA if channel.get_extra_info("username") == "bob" else None

        def _refuse(self, path: bytes) -> None:
            if b"locked" in path:
                raise asyncssh.SFTPPermissionDenied("permission denied")

        def scandir(self, path: bytes) -> Any:
            self._refuse(path)
            return super().scandir(path)

        def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> Any:
            if pflags & asyncssh.FXF_WRITE:
                self._refuse(path)
            return super().open(path, pflags, attrs)

        def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> Any:
            self._refuse(path)
            return super().mkdir(path, attrs)

        def write(self, file_obj: Any, offset: int, data: bytes) -> Any:
            if self._quota is not None and offset + len(data) > self._quota:
                raise asyncssh.SFTPFailure("disk quota exceeded")
            return super().write(file_obj, offset, data)

    return Guarded


async def main(root: str, host_key: str, authorized: str) -> None:
    server = await asyncssh.create_server(
        Server, "127.0.0.1", 0, server_host_keys=[host_key], authorized_client_keys=authorized,
        sftp_factory=guarded(root),
    )  # fmt: skip
    print("ready", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))

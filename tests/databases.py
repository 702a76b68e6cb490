"""Throwaway PostgreSQL and MariaDB servers for the tests, with password authentication.

Each server runs from a temporary folder on 127.0.0.1 and is stopped by its process id. Users log
in with a password (PostgreSQL: scram-sha-256 for every connection; MariaDB: its native password
plugin), so wrong passwords are refused as on a real server. Tests get a database of their own
(`create_database`) owned by the unprivileged user `accord`; the administrator's login is kept for
making and dropping those databases."""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import PortTakenError, on_some_port, stop_child

USER = "accord"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_PORT_TAKEN = ("Address already in use", "could not create any TCP/IP sockets", "Bind on TCP/IP port")


def _checked(name: str) -> str:
    """Database names are made by the tests, never taken from outside; still, only plain ones."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


# -- PostgreSQL ----------------------------------------------------------------------------------------------------


@dataclass
class PostgresServer:
    port: int
    password: str
    """The password of `accord`, owner of the database `accord`."""
    admin_password: str
    """The password of the superuser `postgres`."""
    pid: int
    folder: Path
    host: str = "127.0.0.1"
    user: str = USER
    database: str = "accord"

    @property
    def url(self) -> str:
        return self.url_of(self.database)

    def url_of(self, database: str, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{self.user}:{secret}@{self.host}:{self.port}/{database}"

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user="postgres", password=self.admin_password,
                               dbname="postgres", autocommit=True)  # fmt: skip

    def create_database(self, name: str) -> str:
        """A new empty database owned by `accord`; its URL."""
        from psycopg import sql

        with self._admin() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(_checked(name)), sql.Identifier(USER))
            )
        return self.url_of(name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self._admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(_checked(name)))
            )

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGINT)  # "fast" shutdown; pg_ctl started it, so it is not our child
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                os.kill(self.pid, 0)
                time.sleep(0.05)
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_postgres(command: list[str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        command = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def start_postgres(first_port: int | None = None) -> PostgresServer:
    """A throwaway cluster where every login needs its password (scram-sha-256), and a database
    `accord` owned by the unprivileged user `accord`. It tries `first_port` first, if given."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        raise RuntimeError("PostgreSQL is not installed: run `make test-servers` (Debian package postgresql)")
    bindir = Path(binaries[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="accord-pg-"))
    admin_password, password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    password_file = folder / "pwfile"
    password_file.write_text(admin_password + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(password_file, "postgres", "postgres")
    password_file.chmod(0o600)
    data = folder / "data"
    made = _as_postgres([f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                         f"--pwfile={password_file}", "--no-sync", "-E", "UTF8"])  # fmt: skip
    password_file.unlink()
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL: initdb failed: {made.stderr}")

    def start(port: int) -> int:
        log = folder / f"log-{port}"
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        started = _as_postgres([f"{bindir}/pg_ctl", "-D", str(data), "-o", options, "-l", str(log), "-w", "start"])
        if started.returncode == 0:
            return port
        said = log.read_text() if log.exists() else ""
        if any(words in said for words in _PORT_TAKEN):
            raise PortTakenError(port)
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}{said}")

    try:
        port = on_some_port(start, first_port)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    pid = int((data / "postmaster.pid").read_text().split()[0])
    server = PostgresServer(port, password, admin_password, pid, folder)
    try:
        from psycopg import sql

        with server._admin() as connection:
            connection.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(USER), sql.Literal(password))
            )
        server.create_database(server.database)
    except BaseException:
        server.stop()
        raise
    return server


# -- MariaDB -------------------------------------------------------------------------------------------------------


@dataclass
class MariaDBServer:
    port: int
    password: str
    """The password of `accord`, who may use the databases made by `create_database`."""
    process: subprocess.Popen[bytes]
    folder: Path
    host: str = "127.0.0.1"
    user: str = USER

    @property
    def socket(self) -> Path:
        return self.folder / "mariadb.sock"

    def _admin(self) -> Any:
        import pymysql

        # root logs in on the private socket only: the server skips name resolution, so
        # root@localhost never matches a TCP connection
        return pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True)

    def create_database(self, name: str) -> str:
        """A new empty database that `accord` may use; its name."""
        with self._admin() as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{_checked(name)}`")
            cursor.execute(f"GRANT ALL ON `{name}`.* TO %s@'%%'", (USER,))
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{_checked(name)}`")

    def stop(self) -> None:
        stop_child(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)


def _mariadb_binaries() -> tuple[str, str]:
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin")
    install = shutil.which("mariadb-install-db")
    if not server or not install:
        raise RuntimeError(
            "MariaDB is not installed: run `make test-servers` "
            "(Debian packages mariadb-server-core and mariadb-client-core)"
        )
    return server, install


def start_mariadb(first_port: int | None = None) -> MariaDBServer:
    """A throwaway MariaDB server with a user `accord` who logs in with a password over TCP. It
    tries `first_port` first, if given."""
    server_binary, install = _mariadb_binaries()
    folder = Path(tempfile.mkdtemp(prefix="accord-mariadb-"))
    as_root = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root unless told so
    data = folder / "data"
    made = subprocess.run(
        [install, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal", "--skip-test-db",
         *as_root],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"MariaDB: mariadb-install-db failed: {made.stdout}{made.stderr}")
    password = secrets.token_urlsafe(16)

    def start(port: int) -> MariaDBServer:
        log = folder / f"log-{port}.err"  # without the suffix, mariadbd would add it
        process = subprocess.Popen(
            [server_binary, "--no-defaults", f"--datadir={data}", f"--socket={folder / 'mariadb.sock'}",
             f"--pid-file={folder / 'mariadb.pid'}", f"--log-error={log}", "--bind-address=127.0.0.1",
             f"--port={port}", "--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
             "--innodb-flush-log-at-trx-commit=0", "--skip-innodb-doublewrite", *as_root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        server = MariaDBServer(port, password, process, folder)
        deadline = time.monotonic() + 60
        while not _accepts(server):
            exited = process.poll() is not None
            said = log.read_text() if log.exists() else ""  # read after the exit: all it wrote
            if exited:
                if any(words in said for words in _PORT_TAKEN):
                    raise PortTakenError(port)
                raise RuntimeError(f"MariaDB did not start:\n{said}")
            if time.monotonic() > deadline:
                stop_child(process, signal.SIGKILL)
                raise RuntimeError(f"MariaDB did not start within 60 s:\n{said}")
            time.sleep(0.1)
        return server

    try:
        server = on_some_port(start, first_port)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        with server._admin() as connection, connection.cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (USER, password))
    except BaseException:
        server.stop()
        raise
    return server


def _accepts(server: MariaDBServer) -> bool:
    """Whether the server answers on its socket and on its TCP port."""
    import socket

    import pymysql

    if not server.socket.exists():
        return False
    try:
        with socket.create_connection((server.host, server.port), timeout=1):
            pass
        server._admin().close()
    except (OSError, pymysql.err.OperationalError):
        return False
    return True

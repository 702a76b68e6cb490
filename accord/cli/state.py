"""What every CLI command shares: the settings and sandbox chosen on the command line."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from accord.access import Principal
    from accord.campaign import CampaignEngine
    from accord.catalog import CatalogReader
    from accord.settings import Settings
    from accord.workspace import Workspace

JsonFlag = typer.Option(False, "--json", help="Print machine-readable JSON.")


@dataclass
class CliState:
    home: Path | None = None
    sandbox_name: str | None = None
    command: str | None = None
    """The path of the command that runs (`"dataset create"`), once it touched the home."""
    flags: frozenset[str] = frozenset()
    """Its options that take no value (the activity log hides what follows a secret-named option, not a flag)."""
    _principal: Principal | None = field(default=None, repr=False)
    _checked: bool = field(default=False, repr=False)
    _settings: Settings | None = field(default=None, repr=False)
    _workspace: Workspace | None = field(default=None, repr=False)
    _campaign: CampaignEngine | None = field(default=None, repr=False)

    def reset(self, home: Path | None, sandbox: str | None) -> None:
        """Start a command afresh (the CLI may run several commands in one process)."""
        self.close()
        self.home, self.sandbox_name, self._settings = home, sandbox, None
        self._principal, self._checked, self.command, self.flags = None, False, None, frozenset()

    def record(self, arguments: list[str], exit_code: int) -> None:
        """Put the command that ran in the activity log, if it changes anything (`accord.access.command_activity`).

        Only a command that opened the workspace or the campaign instance is recorded: a change goes through
        one of them."""
        if (self._workspace is None and self._campaign is None) or self.command is None:
            return
        from accord.access import command_activity, record

        entry = command_activity(self.command, arguments, self._principal, self.sandbox, exit_code, self.actor(),
                                 self.flags)  # fmt: skip
        if entry is None:
            return
        if self._workspace is None:  # a campaign command: its change is logged in the home's catalog too
            from accord.errors import AccordError
            from accord.workspace import Workspace

            try:
                self._workspace = Workspace.open(self.settings)
            except AccordError:
                return  # a home with a campaign instance and no catalog (`accord campaign init` alone)
        record(self._workspace.catalog, entry)

    def acting(self) -> Principal | None:
        """The API token the CLI acts as (`ACCORD_TOKEN`), once checked against what the running command needs
        (`accord.access.COMMANDS`) in its sandbox; None: the home's owner, who may do everything.

        Checked before the command first touches the home (its workspace, catalog, campaign instance or
        sandbox), when the command that runs is known."""
        if self._checked:
            return self._principal
        self._checked = True
        self.command = command = _running_command()
        self.flags = _running_flags()
        token = os.environ.get("ACCORD_TOKEN")
        if not token:
            return None
        from accord.access import COMMANDS, LOCAL, authenticate, authorize_sandbox, require
        from accord.errors import PermissionDeniedError

        needed = COMMANDS.get(command)
        if needed is LOCAL:  # the machine's own work (init, serve, worker): the owner's, whatever token is set
            return None
        if needed is None:
            raise PermissionDeniedError(f"`accord {command}` declares no permission in accord/access/requirements.py:"
                                        " refused to every token", code="ACCESS-0406-403")  # fmt: skip
        caller = authenticate(self.workspace().catalog, token)
        self._principal = caller  # the activity log names who was refused, too
        self.sandbox_name = authorize_sandbox(caller, self.sandbox_name, self.settings.sandbox)
        require(caller, needed, self.sandbox_name)
        return caller

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from accord.settings import load_settings  # here, not at the top: `accord --help` stays fast

            overrides: dict[str, Any] = {"home": self.home} if self.home else {}
            self._settings = load_settings(**overrides)
        return self._settings

    @property
    def sandbox(self) -> str:
        self.acting()
        return self.sandbox_name or self.settings.sandbox

    def workspace(self) -> Workspace:
        """The command's workspace, opened once; `close` releases it when the command ends."""
        from accord.workspace import Workspace

        if self._workspace is None:
            self._workspace = Workspace.open(self.settings)
        self.acting()
        return self._workspace

    @contextmanager
    def catalog_reader(self) -> Iterator[CatalogReader]:
        """A reader of the catalog, for commands that only list what belongs to no sandbox.

        Through the standard library when the catalog allows it, which spares the ORM's start-up; else
        through the workspace, which migrates, seals or says what is wrong (`accord.catalog.reading`)."""
        from accord.catalog import quick_reader

        self.acting()
        with quick_reader(self.settings) as quick:
            if quick is not None:
                yield quick
                return
        from accord.catalog import SessionReader

        with self.workspace().catalog.session() as session:
            yield SessionReader(session)

    @contextmanager
    def sandbox_reader(self) -> Iterator[tuple[CatalogReader, str]]:
        """A reader of the catalog and the id of the command's sandbox, for commands that only list (a sandbox
        that does not exist takes the workspace's path, which says so and names those that do)."""
        from accord.catalog import quick_reader, sandbox_id_of

        self.acting()
        with quick_reader(self.settings) as quick:
            found = sandbox_id_of(quick, self.sandbox) if quick is not None else None
            if quick is not None and found is not None:
                yield quick, found
                return
        from accord.catalog import SessionReader, resolve_sandbox

        with self.workspace().catalog.session() as session:
            yield SessionReader(session), resolve_sandbox(session, self.sandbox).id

    def campaign(self) -> CampaignEngine:
        """The home's campaign instance, opened once; `close` releases it when the command ends."""
        from accord.campaign import CampaignEngine
        from accord.home import check_home, protect

        self.acting()
        if self._campaign is None:
            check_home(self.settings)
            protect(self.settings)
            self._campaign = CampaignEngine.open(self.settings)
        return self._campaign

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None
        if self._campaign is not None:
            self._campaign.close()
            self._campaign = None

    @staticmethod
    def actor() -> str:
        """Who runs the command as the home's owner, as what it records says (`cli:<login>`)."""
        try:
            login = getpass.getuser()
        except (OSError, KeyError):  # no login name in the environment nor the password database
            login = "unknown"
        return f"cli:{login}"


def _running_command() -> str:
    """The path of the command that runs (`"campaign list create"`), from click's contexts."""
    from typer._click.globals import get_current_context

    ctx, names = get_current_context(silent=True), []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def _running_flags() -> frozenset[str]:
    """The options of the running command that take no value (`--password`, `--json`)."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    params = ctx.command.params if ctx is not None else []
    return frozenset(o for p in params if getattr(p, "is_flag", False) for o in (*p.opts, *p.secondary_opts))


state = CliState()

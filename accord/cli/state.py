"""What every CLI command shares: the settings and sandbox chosen on the command line."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from accord.settings import Settings
    from accord.workspace import Workspace

JsonFlag = typer.Option(False, "--json", help="Print machine-readable JSON.")


@dataclass
class CliState:
    home: Path | None = None
    sandbox_name: str | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _workspace: Workspace | None = field(default=None, repr=False)

    def reset(self, home: Path | None, sandbox: str | None) -> None:
        """Start a command afresh (the CLI may run several commands in one process)."""
        self.close()
        self.home, self.sandbox_name, self._settings = home, sandbox, None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from accord.settings import load_settings  # here, not at the top: `accord --help` stays fast

            overrides: dict[str, Any] = {"home": self.home} if self.home else {}
            self._settings = load_settings(**overrides)
        return self._settings

    @property
    def sandbox(self) -> str:
        return self.sandbox_name or self.settings.sandbox

    def workspace(self) -> Workspace:
        """The command's workspace, opened once; `close` releases it when the command ends."""
        from accord.workspace import Workspace

        if self._workspace is None:
            self._workspace = Workspace.open(self.settings)
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None

    @staticmethod
    def actor() -> str:
        """Who runs the command, as what it records says (`cli:<login>`; the API records the token's name)."""
        try:
            login = getpass.getuser()
        except (OSError, KeyError):  # no login name in the environment nor the password database
            login = "unknown"
        return f"cli:{login}"


state = CliState()

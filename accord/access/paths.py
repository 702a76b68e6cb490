"""Paths that callers name: they must stay inside the folders the operator allows.

A connection can name files and folders of this machine (a local folder, a SQLite database file),
and a dataflow a folder under them. Whoever names them (an API caller, a CLI user), each is
resolved, symlinks followed, and must land inside one of the allowed roots (setting
`allowed_roots`, default `home/landing`). Accord's own folders (the home with the catalog and the
secret key, and the lake) stay closed to a root that merely contains them: only a root inside them,
such as `home/landing`, opens part of them. The secret key and the catalog's database files stay
closed even to a root that is the home itself."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from accord.errors import PermissionDeniedError
from accord.settings import SECRET_KEY_FILE, Settings

if TYPE_CHECKING:
    from accord.access.principal import Principal


class PathNotAllowedError(PermissionDeniedError):
    code = "ACCESS-0410-403"

    def __init__(self, field: str, path: str) -> None:
        # The allowed roots are not named: they are the server's paths, which callers do not see.
        super().__init__(
            f"{field}: {path!r} is outside the folders this server allows connections and destinations to use "
            "(the operator's setting `allowed_roots`, by default the `landing` folder of Accord's home); "
            "put the files in an allowed folder",
            path=field,
        )


@dataclass(frozen=True)
class AllowedRoots:
    """The folders callers may name, and Accord's own folders that a wider root does not open."""

    roots: tuple[Path, ...]
    private: tuple[Path, ...] = ()
    sealed: tuple[Path, ...] = ()  # files that no root opens

    @classmethod
    def from_settings(cls, settings: Settings) -> AllowedRoots:
        home = settings.home.expanduser().resolve()
        lake = Path(settings.lake_url.removeprefix("file://")).expanduser().resolve()
        sealed = [home / SECRET_KEY_FILE]
        if settings.catalog_url.startswith("sqlite:///"):
            catalog = Path(settings.catalog_url.removeprefix("sqlite:///")).expanduser().resolve()
            sealed += [catalog.with_name(catalog.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
        return cls(tuple(settings.local_roots), (home, lake), tuple(sealed))

    @classmethod
    def for_caller(cls, settings: Settings, caller: Principal | None) -> AllowedRoots:
        """The folders a caller may name: the operator's for a caller of every sandbox (or a local CLI user,
        `None`); for a caller of some sandboxes only, the folders of their names in each of them (`landing/dev`),
        so that a sandbox never reads the files dropped for another."""
        every = cls.from_settings(settings)
        sandboxes = caller.sandboxes if caller is not None else None
        if sandboxes is None:
            return every
        return replace(every, roots=tuple(root / name for root in every.roots for name in sorted(sandboxes)))

    @classmethod
    def nothing(cls) -> AllowedRoots:
        """No folder at all: what a caller gets when it does not say which roots apply."""
        return cls(())

    def resolve(self, path: str | Path, field: str) -> Path:
        """The path resolved (symlinks followed) if it lies inside an allowed root, else `PathNotAllowedError`."""
        try:
            resolved = Path(path).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte...
            raise PathNotAllowedError(field, str(path)) from None
        if resolved in self.sealed:
            raise PathNotAllowedError(field, str(path))
        for root in self.roots:
            if resolved.is_relative_to(root) and not any(
                resolved.is_relative_to(own) and not root.is_relative_to(own) for own in self.private
            ):
                return resolved
        raise PathNotAllowedError(field, str(path))

    def contains(self, path: str | Path) -> bool:
        try:
            self.resolve(path, "")
        except PathNotAllowedError:
            return False
        return True

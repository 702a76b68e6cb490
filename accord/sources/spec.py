"""The connector contract: a declarative spec, and a small class with check / discover / read."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from accord.access import AllowedRoots

Category = Literal["local", "cloud storage", "database", "crm", "streaming", "protocols"]
ConfigT = TypeVar("ConfigT", bound=BaseModel)


SECRET: dict[str, Any] = {"secret": True}
"""`json_schema_extra` of a config field that is a secret: stored encrypted, never logged, never returned."""
SECRET_TEXT: dict[str, Any] = {"secret": True, "multiline": True}
"""A secret of several lines (a private key): kept like any secret, entered in a box that keeps its line breaks."""

LOCAL_PATH: dict[str, Any] = {"localPath": True}
"""`json_schema_extra` of a config field that names a file or folder of this machine: it must lie inside
the folders the operator allows (`allowed_roots`). A configuration whose paths depend on other
fields defines `local_paths()` instead (see `ConnectorSpec.local_paths`)."""


class PluginSpec(Protocol):
    """What connections and destination accounts need of a spec: its name, configuration model and marked fields."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> type[BaseModel]: ...

    def secret_fields(self) -> list[str]: ...

    def local_paths(self, config: BaseModel) -> dict[str, str]: ...


@dataclass(frozen=True)
class Capabilities:
    """What a connector can do; code and tests read these flags, never the connector's class."""

    files: bool = False
    """It delivers files (any format and compression the batch pipeline reads)."""
    tables: bool = False
    """It delivers rows of tables or queries."""
    supports_incremental: bool = False
    """It can pick up only what is new since the last run."""
    supports_reingest_changed: bool = False
    """It can pick up again a file that changed since it was ingested, when asked."""


@dataclass(frozen=True)
class ConnectorSpec:
    """A connector as data: id, name, category, configuration model, capabilities."""

    id: str
    name: str
    category: Category
    description: str
    config: type[BaseModel]
    source: type[BaseModel]
    """What a dataflow chooses within a connection (a path and glob, a table or query...)."""
    capabilities: Capabilities

    def secret_fields(self) -> list[str]:
        """The secret fields by the names a configuration uses (their aliases, as in the JSON Schema)."""
        return marked_fields(self.config, "secret")

    def local_paths(self, config: BaseModel) -> dict[str, str]:
        """The files and folders of this machine that a configuration names, by field alias.

        Fields marked `LOCAL_PATH`, or what the configuration's own `local_paths()` answers when a
        field is a path only in some cases (a SQLite database file, but not a PostgreSQL name)."""
        computed = getattr(config, "local_paths", None)
        if callable(computed):
            return dict(computed())
        values = config.model_dump(by_alias=True)
        return {name: str(values[name]) for name in marked_fields(self.config, "localPath") if values.get(name)}

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "config": self.config.model_json_schema(),
            "source": self.source.model_json_schema(),
            "secretFields": self.secret_fields(),
            "capabilities": {k: v for k, v in self.capabilities.__dict__.items()},
        }


def marked_fields(model: type[BaseModel], marker: str) -> list[str]:
    return [
        info.serialization_alias or info.alias or name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(marker)
    ]


@dataclass(frozen=True)
class CheckStep:
    """One step of a connection test: what was tried, whether it worked, and what to do if not."""

    name: str
    ok: bool
    message: str = ""
    hint: str = ""


@dataclass(frozen=True)
class SourceFile:
    """A file on local disk, ready for the batch pipeline, and the source's key for it."""

    path: Path
    key: str
    size: int
    name: str


@dataclass(frozen=True)
class IngestItem:
    """What becomes one batch: one file, or several that share format and columns."""

    files: tuple[SourceFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def name(self) -> str:
        names = [f.name for f in self.files]
        return names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]} ({len(names)} files)"


@dataclass(frozen=True)
class Checkpoint:
    """State to keep once every item before it has been committed."""

    state: dict[str, Any]


@dataclass
class ReadContext:
    """What a read gets: the state of the last committed run, a work folder, and the run's options."""

    state: dict[str, Any]
    workdir: Path
    backfill: bool = True
    first_run: bool = False
    options: dict[str, Any] = field(default_factory=dict)


class Source(ABC, Generic[ConfigT]):
    """Base of source connectors: `check` a connection, `discover` what it offers, `read` items."""

    spec: ClassVar[ConnectorSpec]

    def __init__(self, config: ConfigT, roots: AllowedRoots | None = None) -> None:
        self.config = config
        # The folders of this machine it may read, for connectors that read them (files are checked one
        # by one: a connection's root may hold Accord's own files, which no root opens).
        self.roots = roots

    @abstractmethod
    def check(self) -> list[CheckStep]:
        """Try the connection step by step; stop at the first step that fails."""

    @abstractmethod
    def discover(self) -> list[dict[str, Any]]:
        """What the connection offers: files, tables..."""

    @abstractmethod
    def read(self, source: Any, context: ReadContext) -> Iterator[IngestItem | Checkpoint]:
        """Items to ingest, each followed by the state to keep once it is committed."""

"""The destination contract: a declarative spec, and a small class with check / write.

A destination is data first: what it is (category), what it takes (profile- or segment-based
exports, the identity namespaces it accepts), how it takes it (batch files or streaming requests),
its configuration as a pydantic model (exported as JSON Schema, secret fields marked as for source
connectors), the schedules it allows, its file options and its limits. The class does the little
that differs: try an account step by step (`check`), and `write` what an activation produced.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel

from accord.sources import CheckStep, marked_fields

if TYPE_CHECKING:
    from accord.access import AllowedRoots

Category = Literal["cloud storage", "email marketing", "advertising", "streaming", "personalisation"]
ExportType = Literal["profile", "segment"]
"""`profile`: members with chosen attributes and identities; `segment`: identities, segment ids and statuses."""
Delivery = Literal["batch", "streaming"]
FileFormat = Literal["csv", "jsonl", "parquet"]
Compression = Literal["none", "gzip"]
ConfigT = TypeVar("ConfigT", bound=BaseModel)

FREQUENCIES = ("once", "daily", "3h", "6h", "8h", "12h", "after-segment-job")
"""Every schedule an activation may run on; a destination allows some of them."""


@dataclass(frozen=True)
class FileOptions:
    """What a batch destination accepts in its files."""

    formats: tuple[FileFormat, ...] = ("csv", "jsonl", "parquet")
    """File formats it can take."""
    compressions: tuple[Compression, ...] = ("none", "gzip")
    """Compressions it can take."""
    split_rows: int = 5_000_000
    """Rows per file by default before a new file starts (`name.csv`, `name_2.csv`...), as the reference product."""


@dataclass(frozen=True)
class Limits:
    """Guardrails, the reference product's by default; an account may raise them (`limits` in its flow)."""

    audiences_per_flow: int = 250
    """Audiences one activation flow may carry."""
    attributes_per_flow: int = 50
    """Attributes and identities one flow may map."""
    destinations_per_sandbox: int = 100
    """Accounts of this destination a sandbox may hold."""
    identifiers_per_request: int | None = None
    """Streaming: the most identifiers one request may carry."""
    requests_per_second: float | None = None
    """Streaming: the default request rate of an account."""


@dataclass(frozen=True)
class DestinationSpec:
    """A destination as data."""

    id: str
    name: str
    category: Category
    description: str
    config: type[BaseModel]
    export_type: ExportType
    delivery: Delivery
    schedules: tuple[str, ...] = FREQUENCIES
    """The frequencies (`FREQUENCIES`) an activation to it may use."""
    namespaces: tuple[str, ...] | None = None
    """Identity namespaces it accepts; None: any."""
    files: FileOptions | None = None
    """File options of a batch destination; None for streaming ones."""
    limits: Limits = field(default_factory=Limits)
    consent_channel: str | None = None
    """The marketing channel whose consent (`consents.marketing.<channel>.val`) a profile must not have refused."""

    def secret_fields(self) -> list[str]:
        """The secret fields by the names a configuration uses (their aliases, as in the JSON Schema)."""
        return marked_fields(self.config, "secret")

    def local_paths(self, config: BaseModel) -> dict[str, str]:
        """The files and folders of this machine that a configuration names, by field alias."""
        values = config.model_dump(by_alias=True)
        return {name: str(values[name]) for name in marked_fields(self.config, "localPath") if values.get(name)}

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "exportType": self.export_type,
            "delivery": self.delivery,
            "config": self.config.model_json_schema(),
            "secretFields": self.secret_fields(),
            "schedules": list(self.schedules),
            "namespaces": list(self.namespaces) if self.namespaces is not None else None,
            "files": _camel(asdict(self.files)) if self.files else None,
            "limits": _camel(asdict(self.limits)),
            "consentChannel": self.consent_channel,
        }


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    def name(snake: str) -> str:
        head, *rest = snake.split("_")
        return head + "".join(part.title() for part in rest)

    return {name(k): list(v) if isinstance(v, tuple) else v for k, v in values.items()}


@dataclass(frozen=True)
class ExportFile:
    """A finished file of an activation run, on local disk, and the name it takes at the destination."""

    path: Path
    name: str
    rows: int
    size: int


class Destination(ABC, Generic[ConfigT]):
    """Base of destinations: `check` an account, `write` what an activation produced."""

    spec: ClassVar[DestinationSpec]

    def __init__(self, config: ConfigT, roots: AllowedRoots | None = None) -> None:
        self.config = config
        self.roots = roots

    @abstractmethod
    def check(self) -> list[CheckStep]:
        """Try the account step by step; stop at the first step that fails."""

    def close(self) -> None:
        """Let go of what the destination holds open (an SFTP session); it opens it again when used next."""


class FileDestination(Destination[ConfigT]):
    """A batch destination: Accord writes each file locally, then the destination puts it in place."""

    @abstractmethod
    def write(self, file: ExportFile) -> str:
        """Put one finished file under its name, atomically (no reader ever sees part of it), and say where.

        Writing a name again replaces that file: a run done again never leaves two copies."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether a file of that name is in place (a run resumed after a crash skips what landed)."""

    def sweep(self) -> int:
        """Remove what writers that died left (hidden partial files); returns how many. A store where a file
        appears in one step (an object store) has nothing to sweep."""
        return 0

"""The destination contract: a declarative spec, and a small class with check / write.

A destination is data first: what it is (category), what it takes (profile- or segment-based
exports, the identity namespaces it accepts), how it takes it (batch files or streaming requests),
its configuration as a pydantic model (exported as JSON Schema, secret fields marked as for source
connectors), the schedules it allows, its file options and its limits. The class does the little
that differs: try an account step by step (`check`), and `write` what an activation produced (a
file destination) or turn profile rows into HTTP requests (a streaming destination, whose requests
the delivery engine of `accord.destinations.streaming` sends, paced, retried and isolated).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, NotRequired, TypedDict, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from accord.destinations.outgoing import OutgoingProfile
from accord.retries import RetryPolicy
from accord.sources import CheckStep, marked_fields

if TYPE_CHECKING:
    import httpx

    from accord.access import AllowedRoots

Category = Literal["cloud storage", "email marketing", "advertising", "streaming", "personalisation"]
ExportType = Literal["profile", "segment"]
"""`profile`: members with chosen attributes and identities; `segment`: identities, segment ids and statuses."""
Delivery = Literal["batch", "streaming"]
FileFormat = Literal["csv", "jsonl", "parquet"]
Compression = Literal["none", "gzip"]
SyncMode = Literal["insert", "update", "upsert", "mirror"]
"""Record-style sync: send records new to the destination, changed ones, both, or both plus deletes."""
Operation = Literal["insert", "update", "delete"]
"""What a destination is asked to do with one record of a sync-mode flow."""
ConfigT = TypeVar("ConfigT", bound=BaseModel)

SYNC_MODES: tuple[SyncMode, ...] = ("insert", "update", "upsert", "mirror")
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
    """Streaming: the default request rate of an account (None: unpaced); an account may set its own."""
    rows_per_second: float | None = None
    """Streaming: the default rate of profiles sent by an account (None: unpaced); an account may set its own."""
    requests_in_flight: int = 4
    """Streaming: requests of one account under way at once (a profile's requests still go one after another)."""
    failures_to_open: int = 5
    """Streaming: failed tries in a row after which the circuit breaker stops sending to the account for a while."""
    open_seconds: float = 30.0
    """Streaming: how long an open circuit breaker sends nothing before it lets one request try again."""


@dataclass(frozen=True)
class Aggregation:
    """How a streaming destination gathers profiles into requests."""

    max_profiles_per_request: int = 1000
    """Profiles in one request, at most."""
    max_batch_age_seconds: float = 30.0
    """The longest a profile waits for others to fill its request before the request leaves part-full."""


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
    aggregation: Aggregation | None = None
    """Streaming: how profiles are gathered into requests; None for batch destinations."""
    retry: RetryPolicy | None = None
    """Streaming: how a request is tried again (network errors, 408, 429, 5xx); None for batch destinations."""
    sync_modes: tuple[SyncMode, ...] = ()
    """Record-style sync modes a flow to it may ask (`syncMode`); it then reads each record's `operation`."""
    marketing_actions: tuple[str, ...] = ()
    """The marketing actions every activation to it performs (`emailTargeting`...), which data usage policies
    may forbid for some data; a flow may add its own (`marketingActions`)."""

    @property
    def takes_deletions(self) -> bool:
        """It can be told to delete a record (a row whose `operation` is `delete`): it takes the `mirror` sync
        mode, whose runs send deletes. A privacy delete sends it a deletion export (`destinations.erasure`)."""
        return "mirror" in self.sync_modes

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
            "marketingActions": list(self.marketing_actions),
            "aggregation": _camel(asdict(self.aggregation)) if self.aggregation else None,
            "retry": _camel(asdict(self.retry)) if self.retry else None,
            "syncModes": list(self.sync_modes),
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


# -- streaming destinations ----------------------------------------------------------------------------------------

SegmentStatus = Literal["realized", "existing", "exited"]


class SegmentMembership(TypedDict):
    name: str
    status: SegmentStatus


class ProfileRow(TypedDict):
    """What an activation hands a streaming destination for one profile (plain JSON-able values)."""

    profileId: str
    attributes: dict[str, Any]
    """Mapped attributes under their target names."""
    identities: dict[str, list[str]]
    """Identity values by namespace: `{"Email": ["a@b.com"], "Phone": ["+4412..."]}`."""
    segments: dict[str, SegmentMembership]
    """The audiences it is sent for, by segment id."""
    operation: NotRequired[Operation]
    """Only in a flow with a sync mode: what to do with the record the row's dedup key names."""


def profile_graphs(profile_ids: set[str]) -> Any:
    """Profile ids as rows name them (`profileId`: the graph's id as text) as the graphs snapshots hold (Arrow)."""
    import pyarrow as pa

    return pa.array(sorted(int(p) for p in profile_ids), pa.int64())


@dataclass(frozen=True)
class RequestContext:
    """What a request is rendered for: the account sending it and the flow it belongs to (templates see both)."""

    destination: str = ""
    """The account's name."""
    flow: dict[str, Any] = field(default_factory=dict)
    """The activation flow: at least `id` and `name` when a flow sends it."""


@dataclass(frozen=True)
class HttpRequest:
    """One request of a streaming destination, before credentials are added.

    Credentials (an `Authorization` header, a token) never live here: the destination's `auth()` adds them
    as the request leaves, so what is kept of a failed request (a dead letter) holds none."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    profile_ids: tuple[str, ...]
    """The profiles it carries, in order (counted as delivered or failed with it)."""
    identifiers: int = 0
    """Identifiers it carries, where the destination counts them (limit `identifiers_per_request`)."""


class StreamingConfig(BaseModel):
    """Settings every streaming account may give; a streaming destination's configuration extends this model."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    requests_per_second: float | None = Field(
        default=None, alias="requestsPerSecond", gt=0, le=100_000,
        description="Most requests a second to this account (default: the destination's).",
    )  # fmt: skip
    rows_per_second: float | None = Field(
        default=None, alias="rowsPerSecond", gt=0, le=10_000_000,
        description="Most profiles a second to this account (default: the destination's).",
    )  # fmt: skip
    timeout_seconds: float = Field(
        default=30, alias="timeoutSeconds", gt=0, le=600,
        description="How long one try may take to connect, send or hear the answer before it counts as failed.",
    )  # fmt: skip


class StreamingDestination(Destination[ConfigT]):
    """A streaming destination: profile rows become HTTP requests, which the delivery engine sends.

    A subclass says how rows become requests (`requests`) and, when the account has credentials, how
    they are added (`auth`); the engine does the gathering (`spec.aggregation`), pacing (`spec.limits`,
    overridden by the account's `StreamingConfig` fields), retries (`spec.retry`), circuit breaking
    and dead letters, the same for every streaming destination."""

    @abstractmethod
    def requests(self, rows: Sequence[ProfileRow], context: RequestContext) -> list[HttpRequest]:
        """The requests that carry `rows` (at most `aggregation.max_profiles_per_request` of them), in order.

        A profile's data must not be split over two requests; rows a request cannot carry (no identity
        the destination accepts) are left out of every request and counted as failed by the engine."""

    def requests_for(self, profiles: Sequence[OutgoingProfile], context: RequestContext) -> list[HttpRequest]:
        """The requests that carry `profiles`, as `requests` makes them: what the delivery engine calls.

        A destination that can use the profiles' JSON text as it is (no dict per profile) overrides this."""
        return self.requests([profile.row for profile in profiles], context)

    def auth(self) -> httpx.Auth | None:
        """What adds the account's credentials to each request as it leaves (None: it has none)."""
        return None

    def credential_headers(self) -> dict[str, str]:
        """Headers that carry credentials (an API key), added to each request as it leaves: never kept with it."""
        return {}

    def secret_values(self) -> list[str]:
        """The account's secret settings, which no record, log line or error may show."""
        values = self.config.model_dump(by_alias=True)
        return [str(values[name]) for name in self.spec.secret_fields() if values.get(name)]

    @property
    def aggregation(self) -> Aggregation:
        return self.spec.aggregation or Aggregation()

    @property
    def retry_policy(self) -> RetryPolicy:
        return self.spec.retry or RetryPolicy()

    @property
    def requests_per_second(self) -> float | None:
        return getattr(self.config, "requests_per_second", None) or self.spec.limits.requests_per_second

    @property
    def rows_per_second(self) -> float | None:
        return getattr(self.config, "rows_per_second", None) or self.spec.limits.rows_per_second

    @property
    def timeout_seconds(self) -> float:
        return float(getattr(self.config, "timeout_seconds", 30))

"""Accord's configuration: one `Settings` model, from `accord.toml` and `ACCORD_*` variables.

Precedence, highest first: explicit arguments, `ACCORD_*` environment variables, the TOML file
(`ACCORD_CONFIG`, else `accord.toml` in the working directory), defaults.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ByteSize, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from accord.errors import InvalidInputError, validation_problems

SECRET_KEY_FILE = "secret.key"  # in the home, unless the key comes from ACCORD_SECRET_KEY


class Settings(BaseSettings):
    """Everything Accord can be configured with."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_", extra="forbid")

    home: Path = Field(default=Path(".accord"), description="Folder for the embedded catalog and lake.")
    database_url: str | None = Field(default=None, description="Catalog database URL; default: SQLite in `home`.")
    lake_root: str | None = Field(default=None, description="Lake root URL or path; default: `home`/lake.")
    sandbox: str = Field(default="prod", description="Sandbox used when a command names none.")
    allowed_roots: Annotated[list[Path] | None, NoDecode] = Field(
        default=None,
        description="Folders of this machine that connections may read (local folders, SQLite files); "
        "default: `home`/landing. In the environment, separated by `" + os.pathsep + "`.",
    )
    error_threshold: float = Field(
        default=5.0, ge=0, le=100, description="Default partial-ingestion threshold, percent of rows."
    )
    # Sizes take units (`1GB`, `512MiB`, `2.5 GB`) or a number of bytes.
    max_uncompressed_bytes: ByteSize = Field(
        default=ByteSize(50 * 2**30), gt=0, description="Stop unpacking an archive once it expands past this."
    )
    max_compression_ratio: float = Field(
        default=100,
        ge=1,
        description="Stop unpacking an archive once it expands past this many times its own size (64 MiB allowed).",
    )
    max_upload_bytes: ByteSize = Field(default=ByteSize(20 * 2**30), gt=0, description="Largest accepted API upload.")
    max_line_bytes: ByteSize = Field(
        default=ByteSize(2_000_000), gt=0, description="Longest line of delimited text, where the class sets no limit."
    )
    duckdb_threads: int | None = Field(default=None, ge=1, description="Threads for DuckDB; default: all cores.")
    duckdb_memory_limit: str = Field(default="4GB", description="DuckDB memory limit; it spills past it.")
    export_memory_limit: str = Field(
        default="448MB",
        description="DuckDB memory limit of activation runs (they spill past it), so that exports stay small "
        "beside the jobs that share the machine; never more than `duckdb_memory_limit`.",
    )
    stale_run_seconds: int = Field(
        default=1800, ge=10, description="A job or run whose heartbeat is silent this long is taken to have died."
    )
    job_wait_seconds: float = Field(
        default=60, ge=0, le=86_400, description="How long a job waits for another that holds its lock."
    )
    scheduler: bool = Field(
        default=True,
        description="`accord serve` starts dataflows, segment jobs and activation flows on their schedules, and "
        "flows to streaming destinations follow their audiences' membership changes.",
    )
    scheduler_tick_seconds: float = Field(default=30, gt=0, le=3600, description="How often schedules are looked at.")
    follow_seconds: float = Field(
        default=2,
        gt=0,
        le=3600,
        description="How often, under `accord serve`, a flow to a streaming destination looks for membership changes.",
    )
    streaming_max_rows: int = Field(
        default=10_000, ge=1, le=1_000_000, description="Messages at most in a micro-batch of the streaming processor."
    )
    streaming_max_age_seconds: float = Field(
        default=0.25, gt=0, le=3600, description="How long a streamed message waits, at most, for its micro-batch."
    )
    streaming_lag_bound: int = Field(
        default=200_000,
        ge=1,
        description="Messages waiting for the processor past which the inlets answer 429 (back-pressure).",
    )
    streaming_body_seconds: float = Field(
        default=10.0, gt=0, le=600, description="A streaming request's body must have come within this (else 408)."
    )
    streaming_inlet_concurrency: int = Field(
        default=4, ge=1, le=1000,
        description="Requests one inlet (one write key) may have in progress at once; its others wait their turn, "
        "holding no worker, so other inlets' requests are not starved.",
    )  # fmt: skip
    streaming_inlet_queue: int = Field(
        default=256,
        ge=0,
        le=100_000,
        description="Requests of one inlet that may wait for their turn; past it, 429 with Retry-After.",
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, le=1440, description="A person's session ends after this long without a request."
    )
    session_hours: int = Field(default=12, ge=1, le=720, description="A person's session ends this long after sign-in.")
    session_cookie_secure: bool = Field(
        default=True,
        description="Session cookies are sent over HTTPS only (browsers make an exception for localhost); turn off "
        "only behind a proxy that talks plain HTTP to browsers on purpose.",
    )
    auth_failures_per_minute: int = Field(
        default=30, ge=1, le=100_000,
        description="Failed authentications (bad tokens, wrong passwords) from one client address in a minute past "
        "which it is answered 429 until the minute has passed.",
    )  # fmt: skip
    alert_retries: int = Field(default=3, ge=0, le=10, description="Further attempts to deliver a webhook.")
    alert_backoff_seconds: float = Field(default=2.0, ge=0, le=600, description="First wait between attempts; doubles.")
    destinations_path: Path | None = Field(
        default=None,
        description="Folder of declared HTTP destinations (`*.yaml`, `*.yml`, `*.json`); default: `home`/destinations.",
    )
    identity_graph_limit: int = Field(default=50, ge=2, le=10_000, description="Identities in one graph, at most.")
    segment_exited_retention_days: int = Field(
        default=30, ge=1, le=3650, description="How long exited audience memberships are kept."
    )
    streaming_log_url: str = Field(
        default="",
        description="The event log of streaming ingestion: empty for the embedded SQLite log (`home`/streaming/"
        "log.db), `nats://host:port` for NATS JetStream (`tls://` too; several servers separated by commas).",
    )
    streaming_log_stream: str = Field(
        default="ACCORD_EVENTS",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The JetStream stream of the event log on NATS (deployments that share a NATS server keep apart "
        "by it).",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)

    # the campaign engine (see docs/campaign.md); one instance per home, as the reference has one
    # organisational unit per instance
    campaign_instance: str = Field(
        default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="This campaign instance's name."
    )
    campaign_database_url: str | None = Field(
        default=None, description="The campaign engine's database URL; default: SQLite `campaign.db` in `home`."
    )
    campaign_landing: Path | None = Field(
        default=None,
        description="Where audiences land for the import workflow; default: `home`/landing/campaign/<instance>/in.",
    )
    campaign_logs: Path | None = Field(
        default=None,
        description="Where the log export writes delivery and tracking logs; "
        "default: `home`/landing/campaign/<instance>/logs.",
    )
    campaign_public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The address recipients reach the tracking endpoint at (opens, clicks, unsubscribes).",
    )
    campaign_unsubscribe_mailto: str | None = Field(
        default=None,
        description="An address that takes unsubscribe requests by mail, listed in `List-Unsubscribe` beside the link.",
    )
    campaign_max_audiences: int = Field(default=25, ge=1, le=100_000, description="Audiences an instance loads.")
    campaign_max_fields: int = Field(default=20, ge=1, le=1000, description="Columns an audience file may carry.")
    campaign_max_active_profiles: int = Field(
        default=10_000_000, ge=1, description="Recipients an instance holds, at most (a contract limit)."
    )
    campaign_max_landing_bytes: ByteSize = Field(
        default=ByteSize(10 * 2**30), gt=0, description="Bytes of audience files waiting in the landing folder."
    )
    # sending (see docs/campaign.md, "Sending"): pacing in the manner of listmonk, connections x rate per connection
    campaign_smtp_host: str = Field(default="127.0.0.1", description="The SMTP server deliveries are sent through.")
    campaign_smtp_port: int = Field(default=25, ge=1, le=65535)
    campaign_smtp_user: str | None = Field(default=None, description="User for SMTP AUTH (PLAIN or LOGIN), if any.")
    campaign_smtp_password: SecretStr | None = Field(default=None, description="Password for SMTP AUTH; never shown.")
    campaign_smtp_starttls: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="`auto`: STARTTLS when the server offers it; `always`: refuse a server without it; `never`.",
    )
    campaign_smtp_verify_tls: bool = Field(
        default=True, description="Check the SMTP server's certificate (off only for a test server's self-signed one)."
    )
    campaign_smtp_timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds an SMTP command may take.")
    campaign_smtp_connections: int = Field(default=4, ge=1, le=64, description="SMTP connections a delivery uses.")
    campaign_smtp_rate: float = Field(
        default=0.0, ge=0, description="Messages per second per connection, at most; 0 for no pacing."
    )
    campaign_messages_per_hour: int | None = Field(
        default=None, ge=1, description="Messages an instance sends in any sliding hour, at most; none for no window."
    )
    campaign_smtp_retries: int = Field(
        default=3, ge=0, le=20, description="Further attempts after a 4xx answer or a dropped connection."
    )
    campaign_smtp_backoff: float = Field(
        default=2.0, ge=0, le=3600, description="Seconds before the first retry; doubled at each further one."
    )
    campaign_sender: str = Field(
        default="Accord <no-reply@accord.invalid>",
        description="The sender of the engine's own messages (subscription confirmations) and of deliveries "
        "that do not name one.",
    )
    campaign_bounce_mailbox: Path | None = Field(
        default=None, description="A Maildir folder where bounces (DSN messages) arrive; inside the allowed roots."
    )

    campaign_log_settle_seconds: float = Field(
        default=10, ge=0, le=3600, description="How old a log row must be before the log export takes it."
    )
    campaign_log_export_minutes: float = Field(
        default=15, gt=0, le=24 * 60, description="How often `accord serve` exports the campaign logs."
    )
    campaign_logs_destination: dict[str, Any] | None = Field(
        default=None,
        description='Where the log export writes, as a file destination: {"destination": "s3", "config": {...}}; '
        "default: the local folder `campaign_logs`.",
    )

    @field_validator("campaign_database_url")
    @classmethod
    def _known_campaign_database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:// and postgresql:// campaign database URLs are supported")
        return value

    @field_validator("duckdb_memory_limit", "export_memory_limit")
    @classmethod
    def _memory_limit(cls, value: str) -> str:
        """A size the engine reads (`4GB`, `512MiB`), at least 16 MB: below that it cannot run a query."""
        found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(B|bytes|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", value, re.IGNORECASE)
        if found is None:
            raise ValueError("a size such as 4GB or 512MiB (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
        unit = found[2].lower()
        scale = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
                 "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}[unit]  # fmt: skip
        if float(found[1]) * scale < 16 * 10**6:
            raise ValueError("at least 16MB: the engine cannot run a query in less")
        return f"{found[1]}{found[2]}"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:// and postgresql:// catalog URLs are supported")
        return value

    @field_validator("streaming_log_url")
    @classmethod
    def _known_event_log(cls, value: str) -> str:
        servers = [server.strip() for server in value.split(",")] if value.strip() else []
        if any(not server.startswith(("nats://", "tls://")) for server in servers):
            raise ValueError("empty (the embedded log) or nats:// and tls:// server URLs, separated by commas")
        return value

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _path_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: a JSON list, or folders separated like PATH
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part for part in text.split(os.pathsep) if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("ACCORD_CONFIG", "accord.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file))

    @property
    def catalog_url(self) -> str:
        if self.database_url:
            if self.database_url.startswith("postgresql://"):
                return "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
            return self.database_url
        return f"sqlite:///{(self.home / 'catalog.db').resolve()}"

    @property
    def campaign_url(self) -> str:
        """The campaign engine's database, as SQLAlchemy names it."""
        if self.campaign_database_url:
            if self.campaign_database_url.startswith("postgresql://"):
                return "postgresql+psycopg://" + self.campaign_database_url.removeprefix("postgresql://")
            return self.campaign_database_url
        return f"sqlite:///{(self.home / 'campaign.db').resolve()}"

    @property
    def campaign_landing_folder(self) -> Path:
        """Where the accord-campaign destination drops audience files for this instance."""
        default = self.landing / "campaign" / self.campaign_instance / "in"
        return (self.campaign_landing or default).expanduser().resolve()

    @property
    def campaign_logs_folder(self) -> Path:
        """Where this instance's log export writes delivery and tracking logs, for the CDP's source."""
        default = self.landing / "campaign" / self.campaign_instance / "logs"
        return (self.campaign_logs or default).expanduser().resolve()

    @property
    def spill_root(self) -> Path:
        """Where engine connections spill past their memory limit, each into a folder of its own."""
        return self.home.resolve() / "tmp"

    @property
    def lake_url(self) -> str:
        return self.lake_root or str((self.home / "lake").resolve())

    @property
    def landing(self) -> Path:
        """The default allowed root: a folder under the home where files are dropped for local connections."""
        return self.home / "landing"

    @property
    def destinations_folder(self) -> Path:
        """Where declared HTTP destinations are read from."""
        return self.destinations_path if self.destinations_path is not None else self.home / "destinations"

    @property
    def local_roots(self) -> list[Path]:
        """The allowed roots, resolved (symlinks followed)."""
        roots = [self.landing] if self.allowed_roots is None else self.allowed_roots
        return [p.expanduser().resolve() for p in roots]


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning a bad file or variable into a clear `InvalidInputError`."""
    from pydantic import ValidationError

    named = os.environ.get("ACCORD_CONFIG")
    config_file = Path(named or "accord.toml")
    if named and not config_file.is_file():  # a file asked for by name is expected to be there
        raise InvalidInputError(f"ACCORD_CONFIG names {named}, which is not a file", code="ACCORD-0001-400",
                                path=named)  # fmt: skip
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = validation_problems(exc.errors())
        text = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise InvalidInputError(
            f"configuration is invalid ({text}); check accord.toml and ACCORD_* variables",
            code="ACCORD-0001-400",
            problems=problems,
        ) from None
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the configuration file {config_file}: {exc}", code="ACCORD-0001-400",
                                path=str(config_file)) from None  # fmt: skip

"""Declared HTTP destinations: the document that describes one, read and checked whole.

A declared destination is a YAML or JSON document in the spirit of the reference product's Destination
SDK: who it is (id, name, category, export type), where requests go (`url`, `method`, `headers`), how
they are signed (`auth`: none, bearer, basic, OAuth2 client credentials; or a choice among them by an
account setting), what they carry (`body`, a Jinja2 template run in the sandbox), how profiles are
gathered (`aggregation`), tried again (`retry`) and paced (`limits`), the identity namespaces it takes,
and the settings an account must give (`config`, secret ones marked). Every problem of a document is
reported at once, each with its path (`auth.options.bearer.token`, `config.2.name`...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from jinja2 import nodes
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from accord.destinations.spec import Category, ExportType, SyncMode
from accord.destinations.streaming.templates import environment, syntax_problem
from accord.errors import DocumentError, InvalidInputError, validation_problems

MAX_DOCUMENT_BYTES = 1_000_000
ENGINE_SETTINGS = {"requestsPerSecond", "rowsPerSecond", "timeoutSeconds"}
"""Settings every streaming account has (`StreamingConfig`); a document may not declare them again."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ConfigField(_Part):
    """A setting the account gives (the Destination SDK's customer data field)."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    title: str | None = None
    description: str = ""
    type: Literal["string", "integer", "number", "boolean"] = "string"
    format: Literal["url"] | None = Field(default=None, description="`url`: an http(s) URL.")
    required: bool = True
    secret: bool = False
    default: str | int | float | bool | None = None
    enum: list[str | int | float] | None = None
    pattern: str | None = None


class NoAuth(_Part):
    type: Literal["none"]


class BearerAuth(_Part):
    type: Literal["bearer"]
    token: str


class BasicAuth(_Part):
    type: Literal["basic"]
    username: str
    password: str


class OAuth2Auth(_Part):
    type: Literal["oauth2-client-credentials"]
    token_url: str = Field(alias="tokenUrl")
    client_id: str = Field(alias="clientId")
    client_secret: str = Field(alias="clientSecret")
    scope: str | None = None
    credentials_in: Literal["body", "header"] = Field(default="body", alias="credentialsIn")


Auth = Annotated[NoAuth | BearerAuth | BasicAuth | OAuth2Auth, Field(discriminator="type")]


class AuthChoice(_Part):
    """Auth chosen by an account setting (an `enum` config field) among named options."""

    by: str
    options: dict[str, Auth]


AUTH_TYPES = ("none", "bearer", "basic", "oauth2-client-credentials")


def _auth_kind(value: Any) -> str:
    keys = value.keys() if isinstance(value, dict) else vars(value) if isinstance(value, BaseModel) else ()
    return "choice" if "by" in keys or "options" in keys else "single"


def _auth_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A problem's place in `auth` as the document writes it, without pydantic's names of union members."""
    path = list(loc)
    if path[:1] == ["auth"] and len(path) > 1 and path[1] in ("single", "choice"):
        kind = path.pop(1)
        at = 1 if kind == "single" else 3 if path[1:2] == ["options"] else -1
        if 0 < at < len(path) and path[at] in AUTH_TYPES:
            path.pop(at)
    return tuple(path)


class AggregationPart(_Part):
    max_profiles_per_request: int = Field(default=1000, ge=1, le=100_000, alias="maxProfilesPerRequest")
    max_batch_age_seconds: float = Field(default=30, ge=0, le=3600, alias="maxBatchAgeSeconds")


class RetryPart(_Part):
    attempts: int = Field(default=4, ge=1, le=20)
    initial_wait_seconds: float = Field(default=1, ge=0, le=600, alias="initialWaitSeconds")
    max_wait_seconds: float = Field(default=30, ge=0, le=3600, alias="maxWaitSeconds")
    max_retry_after_seconds: float = Field(default=300, ge=0, le=3600, alias="maxRetryAfterSeconds")


class LimitsPart(_Part):
    requests_per_second: float | None = Field(default=None, gt=0, alias="requestsPerSecond")
    rows_per_second: float | None = Field(default=None, gt=0, alias="rowsPerSecond")
    identifiers_per_request: int | None = Field(default=None, ge=1, alias="identifiersPerRequest")
    requests_in_flight: int = Field(default=4, ge=1, le=64, alias="requestsInFlight")
    failures_to_open: int = Field(default=5, ge=1, le=1000, alias="failuresToOpen")
    open_seconds: float = Field(default=30, gt=0, le=3600, alias="openSeconds")


class DestinationDocument(_Part):
    """A declared HTTP destination."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")
    name: str = Field(min_length=1, max_length=200)
    category: Category = "streaming"
    description: str = ""
    export_type: ExportType = Field(alias="exportType")
    url: str = Field(
        min_length=1, description="Template; sees `config` (its non-secret settings), `destination`, `flow`."
    )
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict, description="Templates; they see the whole `config`.")
    content_type: str = Field(default="application/json", alias="contentType")
    auth: Annotated[
        Annotated[Auth, Tag("single")] | Annotated[AuthChoice, Tag("choice")], Discriminator(_auth_kind)
    ] = Field(default_factory=lambda: NoAuth(type="none"))
    body: str = Field(min_length=1, description="Template; sees `profiles`, `destination`, `flow`, `config`.")
    aggregation: AggregationPart = Field(default_factory=AggregationPart)
    retry: RetryPart = Field(default_factory=RetryPart)
    limits: LimitsPart = Field(default_factory=LimitsPart)
    namespaces: list[str] | None = None
    sync_modes: list[SyncMode] = Field(
        default_factory=list, alias="syncModes", description="Sync modes it takes; its body reads each `operation`."
    )
    config: list[ConfigField] = Field(default_factory=list)
    marketing_actions: list[str] = Field(
        default_factory=list, alias="marketingActions",
        description="Marketing actions every activation to it performs (`exportToThirdParty`...).",
    )  # fmt: skip

    def secret_fields(self) -> set[str]:
        return {f.name for f in self.config if f.secret}


def read_document(path: Path) -> Any:
    """A YAML or JSON document from a file; a missing file or bad syntax is a clear error saying where."""
    import yaml

    where = str(path)
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise DocumentError(where, [{"path": "", "message": "the document is larger than 1 MB"}],
                                code="DEST-0420-400")  # fmt: skip
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"no file {where}", code="DEST-0419-400", path=where) from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInputError(f"cannot read {where}: {why}", code="DEST-0419-400", path=where) from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        problem = {"path": "", "message": f"not valid JSON: {exc.msg}", "line": exc.lineno, "column": exc.colno}
        raise DocumentError(where, [problem], code="DEST-0420-400") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = {"line": mark.line + 1, "column": mark.column + 1} if mark else {}
        problem = {"path": "", "message": f"not valid YAML: {getattr(exc, 'problem', None) or exc}", **at}
        raise DocumentError(where, [problem], code="DEST-0420-400") from None
    except RecursionError:
        raise DocumentError(where, [{"path": "", "message": "the document is nested too deeply"}],
                            code="DEST-0420-400") from None  # fmt: skip


def parse_document(raw: Any, where: str = "the destination document") -> DestinationDocument:
    """The document, checked whole: every problem (shape, template syntax, settings used but not declared,
    secrets where they would be stored or shown) raised together in one `DocumentError`."""
    if not isinstance(raw, dict):
        raise DocumentError(where, [{"path": "", "message": "must be a mapping (id, name, url, body, ...)"}],
                            code="DEST-0420-400")  # fmt: skip
    problems: list[dict[str, Any]] = []
    document: DestinationDocument | None = None
    try:
        document = DestinationDocument.model_validate(raw)
    except ValidationError as exc:
        problems += validation_problems([{**e, "loc": _auth_path(e["loc"])} for e in exc.errors()])
    problems += _template_problems(raw)
    if document is not None:
        problems += _meaning_problems(document)
    if problems:
        raise DocumentError(where, _unique(problems), code="DEST-0420-400")
    assert document is not None
    return document


def templates_of(raw: dict[str, Any]) -> dict[str, str]:
    """The templates of a document by path: url, headers, body, and the auth's text fields."""
    found: dict[str, str] = {}
    for key in ("url", "body"):
        if isinstance(raw.get(key), str):
            found[key] = raw[key]
    if isinstance(raw.get("headers"), dict):
        found |= {f"headers.{k}": v for k, v in raw["headers"].items() if isinstance(v, str)}
    auth = raw.get("auth")
    options = auth.get("options") if isinstance(auth, dict) and "options" in auth else {"": auth}
    for option, part in (options or {}).items() if isinstance(options, dict) else ():
        if isinstance(part, dict):
            prefix = f"auth.options.{option}." if option else "auth."
            found |= {prefix + k: v for k, v in part.items() if isinstance(v, str) and k != "type"}
    return found


def _template_problems(raw: dict[str, Any]) -> list[dict[str, Any]]:
    problems = []
    for path, source in templates_of(raw).items():
        if (problem := syntax_problem(source)) is not None:
            problems.append({"path": path, "message": problem})
    return problems


def config_references(source: str) -> set[str]:
    """The account settings a template reads (`config.name` or `config['name']`)."""
    try:
        tree = environment().parse(source)
    except Exception:  # syntax problems are reported on their own
        return set()
    names = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        reads_config = isinstance(node.node, nodes.Name) and node.node.name == "config"  # type: ignore[attr-defined]
        if reads_config and isinstance(node, nodes.Getattr):
            names.add(node.attr)
        elif reads_config and isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            names.add(str(node.arg.value))
    return names


def _meaning_problems(document: DestinationDocument) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    declared = [f.name for f in document.config]
    for index, name in enumerate(declared):
        if declared.index(name) != index:
            problems.append({"path": f"config[{index}].name", "message": f"{name!r} is declared twice"})
        if name in ENGINE_SETTINGS:
            problems.append({"path": f"config[{index}].name",
                             "message": f"{name!r} is a setting every streaming account has already"})  # fmt: skip
    for index, item in enumerate(document.config):
        if item.enum is not None and item.default is not None and item.default not in item.enum:
            problems.append({"path": f"config[{index}].default", "message": "the default is not one of `enum`"})
    known, secrets = set(declared) | ENGINE_SETTINGS, document.secret_fields()
    raw = document.model_dump(by_alias=True)
    for path, source in templates_of(raw).items():
        for name in sorted(config_references(source) - known):
            problems.append({"path": path, "message": f"config.{name} is not a declared config field"})
        if path in ("url", "body"):
            for name in sorted(config_references(source) & secrets):
                problems.append({"path": path, "message": f"config.{name} is secret: only headers and auth may "
                                 "use it (a URL or body is kept with a failed request)"})  # fmt: skip
    if isinstance(document.auth, AuthChoice):
        by = next((f for f in document.config if f.name == document.auth.by), None)
        if by is None:
            problems.append({"path": "auth.by", "message": f"{document.auth.by!r} is not a declared config field"})
        elif by.enum is None or {str(v) for v in by.enum} != set(document.auth.options):
            problems.append({"path": "auth.by", "message": f"config field {by.name!r} must have an `enum` that "
                             f"names the options exactly: {', '.join(sorted(document.auth.options))}"})  # fmt: skip
    return problems


def _unique(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, kept = set(), []
    for problem in problems:
        key = (problem.get("path"), problem["message"])
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept

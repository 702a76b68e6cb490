"""Declared HTTP destinations at work: a document becomes a `StreamingDestination` class.

The class's spec comes from the document (its config model built from the declared settings, secret
ones marked `SECRET` so that accounts seal them); its requests are the document's templates rendered
in the sandbox. Headers that read a secret setting, and the auth, are credentials: added as a request
leaves, never kept with it. `render_sample` shows the request a document makes of sample rows, which
`accord destination validate FILE` prints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, Field, create_model, model_validator

from accord.destinations.exceptions import TemplateProblem, TemplateRefusedError
from accord.destinations.outgoing import OutgoingProfile, OutgoingProfiles
from accord.destinations.spec import (
    Aggregation,
    DestinationSpec,
    HttpRequest,
    Limits,
    ProfileRow,
    RequestContext,
    StreamingConfig,
    StreamingDestination,
)
from accord.destinations.streaming.auth import BasicCredentials, BearerToken, OAuth2ClientCredentials
from accord.destinations.streaming.documents import (
    AuthChoice,
    BasicAuth,
    BearerAuth,
    DestinationDocument,
    OAuth2Auth,
    config_references,
    parse_document,
    read_document,
)
from accord.destinations.streaming.templates import WholeProfiles, compile_template, render, writes_profiles_whole
from accord.errors import DocumentError, InvalidInputError
from accord.retries import RetryPolicy
from accord.sources import SECRET, CheckStep
from accord.sources.network import reach_url

SAMPLE_ROWS: list[ProfileRow] = [
    {"profileId": "1001", "attributes": {"firstName": "Ann", "lastName": "Lee", "city": "Leeds"},
     "identities": {"Email": ["Ann.Lee@Example.com "], "Phone": ["+44 (0)113 496-0000"]},
     "segments": {"s-vip": {"name": "VIP customers", "status": "realized"}}},
    {"profileId": "1002", "attributes": {"firstName": "Bo", "lastName": "Chan", "city": "York"},
     "identities": {"Email": ["bo@example.org"]},
     "segments": {"s-vip": {"name": "VIP customers", "status": "exited"}}},
]  # fmt: skip
"""Rows a sample request is rendered from when the caller gives none."""


class DeclaredDestination(StreamingDestination[StreamingConfig]):
    """A destination made from a document: requests are its templates, rendered in the sandbox."""

    document: ClassVar[DestinationDocument]

    def __init__(self, config: StreamingConfig, roots: Any = None) -> None:
        super().__init__(config, roots)
        doc = self.document
        self.values: dict[str, Any] = config.model_dump(by_alias=True)
        secrets = doc.secret_fields()
        self.public = {k: v for k, v in self.values.items() if k not in secrets}
        self.url_template = compile_template(doc.url, "url")
        self.body_template = compile_template(doc.body, "body")
        # a body that writes `profiles` only whole is given their JSON texts to join, no dict per profile
        self.whole_profiles = writes_profiles_whole(doc.body)
        self.header_templates = {name: compile_template(v, f"headers.{name}") for name, v in doc.headers.items()}
        self.credential_names = {name for name, v in doc.headers.items() if config_references(v) & secrets}

    def _context(self, context: RequestContext, config: dict[str, Any]) -> dict[str, Any]:
        return {"destination": context.destination, "flow": dict(context.flow), "config": config}

    def headers(self, context: RequestContext, credentials: bool) -> dict[str, str]:
        chosen = {n: t for n, t in self.header_templates.items() if (n in self.credential_names) == credentials}
        scope = self._context(context, self.values if credentials else self.public)
        return {name: render(template, f"headers.{name}", scope).strip() for name, template in chosen.items()}

    def credential_headers(self) -> dict[str, str]:
        return self.headers(RequestContext(), credentials=True)

    def requests(self, rows: Sequence[ProfileRow], context: RequestContext) -> list[HttpRequest]:
        return self.requests_for([OutgoingProfile.of_row(row) for row in rows], context)

    def requests_for(self, profiles: Sequence[OutgoingProfile], context: RequestContext) -> list[HttpRequest]:
        scope = self._context(context, self.public)
        url = render(self.url_template, "url", scope).strip()
        headers = {"Content-Type": self.document.content_type} | self.headers(context, credentials=False)
        requests = []
        for batch in self._batches(OutgoingProfiles.of(profiles)):
            given: Any = WholeProfiles(batch) if self.whole_profiles else [profile.row for profile in batch]
            body = render(self.body_template, "body", scope | {"profiles": given})
            requests.append(HttpRequest(self.document.method, url, headers, body.encode("utf-8"), tuple(batch.ids),
                                        sum(batch.identifier_counts())))  # fmt: skip
        return requests

    def _batches(self, profiles: OutgoingProfiles) -> list[OutgoingProfiles]:
        """Profiles in requests of at most `identifiers_per_request` identifiers (a profile is never split)."""
        most = self.spec.limits.identifiers_per_request
        if not most:
            return [profiles] if len(profiles) else []
        batches: list[OutgoingProfiles] = []
        start, count = 0, 0
        for index, size in enumerate(profiles.identifier_counts()):
            if count + size > most and index > start:
                batches.append(profiles[start:index])
                start, count = index, 0
            count += size
        if start < len(profiles):
            batches.append(profiles[start:])
        return batches

    def auth(self) -> httpx.Auth | None:
        chosen = self.document.auth
        where = "auth."
        if isinstance(chosen, AuthChoice):
            option = str(self.values.get(chosen.by))
            chosen, where = chosen.options[option], f"auth.options.{option}."
        scope = self._context(RequestContext(), self.values)

        def text(name: str, source: str) -> str:
            return render(compile_template(source, where + name), where + name, scope).strip()

        if isinstance(chosen, BearerAuth):
            return BearerToken(text("token", chosen.token))
        if isinstance(chosen, BasicAuth):
            return BasicCredentials(text("username", chosen.username), text("password", chosen.password))
        if isinstance(chosen, OAuth2Auth):
            scope_text = text("scope", chosen.scope) if chosen.scope else ""
            return OAuth2ClientCredentials(text("tokenUrl", chosen.token_url), text("clientId", chosen.client_id),
                                           text("clientSecret", chosen.client_secret), scope_text or None,
                                           chosen.credentials_in)  # fmt: skip
        return None

    def check(self) -> list[CheckStep]:
        url = render(self.url_template, "url", self._context(RequestContext(), self.public)).strip()
        steps = [reach_url(url, "url")]
        auth = self.auth()
        if not steps[0].ok or not isinstance(auth, OAuth2ClientCredentials):
            return steps
        try:
            with httpx.Client(timeout=self.timeout_seconds) as client:
                client.send(auth._token_request()).raise_for_status()
        except httpx.HTTPError as exc:
            why = f"HTTP {exc.response.status_code}" if isinstance(exc, httpx.HTTPStatusError) else type(exc).__name__
            return [*steps, CheckStep("token", False, f"the token endpoint refused the client ({why})",
                                      "check the token URL, client id and client secret")]  # fmt: skip
        return [*steps, CheckStep("token", True, "the token endpoint gave a token")]


def declared_destination_class(document: DestinationDocument) -> type[DeclaredDestination]:
    """The `StreamingDestination` class of a declared document."""
    limits = document.limits
    spec = DestinationSpec(
        id=document.id, name=document.name, category=document.category, description=document.description,
        config=config_model(document), export_type=document.export_type, delivery="streaming",
        namespaces=tuple(document.namespaces) if document.namespaces is not None else None,
        limits=Limits(identifiers_per_request=limits.identifiers_per_request,
                      requests_per_second=limits.requests_per_second, rows_per_second=limits.rows_per_second,
                      requests_in_flight=limits.requests_in_flight, failures_to_open=limits.failures_to_open,
                      open_seconds=limits.open_seconds),
        aggregation=Aggregation(document.aggregation.max_profiles_per_request,
                                document.aggregation.max_batch_age_seconds),
        retry=RetryPolicy(document.retry.attempts, document.retry.initial_wait_seconds,
                          document.retry.max_wait_seconds, document.retry.max_retry_after_seconds),
        sync_modes=tuple(dict.fromkeys(document.sync_modes)),
        marketing_actions=tuple(dict.fromkeys(document.marketing_actions)),
    )  # fmt: skip
    name = "".join(part.title() for part in document.id.split("-")) + "Destination"
    return type(name, (DeclaredDestination,), {"spec": spec, "document": document})


def config_model(document: DestinationDocument) -> type[StreamingConfig]:
    """The account settings of a declared destination as a pydantic model (secret fields marked)."""
    types: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}
    fields: dict[str, Any] = {}
    for item in document.config:
        kind: Any = Literal[tuple(item.enum)] if item.enum else types[item.type]
        pattern = r"^https?://\S+$" if item.format == "url" else item.pattern
        default = ... if item.required and item.default is None else item.default
        extra = SECRET if item.secret else None
        fields[f"field_{item.name}"] = (
            kind if default is ... else kind | None,
            Field(default, alias=item.name, title=item.title, description=item.description or None,
                  pattern=pattern if kind is str else None, json_schema_extra=extra),
        )  # fmt: skip
    validators: dict[str, Any] = {}
    if isinstance(document.auth, AuthChoice):
        validators["_chosen_auth_complete"] = model_validator(mode="after")(_chosen_auth_check(document.auth))
    model = create_model(  # type: ignore[call-overload]
        "".join(p.title() for p in document.id.split("-")) + "Config",
        __base__=StreamingConfig, __validators__=validators, **fields,
    )  # fmt: skip
    return model  # type: ignore[no-any-return]


def _chosen_auth_check(choice: AuthChoice) -> Any:
    """A check that the settings the chosen auth reads are given (a bearer auth needs its token)."""
    needs = {}
    for option, part in choice.options.items():
        optional = ("type", "scope", "credentialsIn")
        sources = [v for k, v in part.model_dump(by_alias=True).items() if isinstance(v, str) and k not in optional]
        needs[option] = sorted(set().union(*(config_references(s) for s in sources)) if sources else set())

    def check(model: BaseModel) -> BaseModel:
        values = model.model_dump(by_alias=True)
        option = str(values.get(choice.by))
        missing = [name for name in needs.get(option, []) if values.get(name) in (None, "")]
        if missing:
            raise ValueError(f"{choice.by} {option!r} needs {', '.join(missing)}")
        return model

    return check


def load_declared(path: Path) -> type[DeclaredDestination]:
    """The destination class of a declared document file (YAML or JSON), checked whole."""
    return declared_destination_class(parse_document(read_document(path), str(path)))


def sample_rows(document: DestinationDocument) -> list[ProfileRow]:
    """The sample rows, with an `operation` each when the destination takes sync modes (its body reads it)."""
    if not document.sync_modes:
        return SAMPLE_ROWS
    return [{**SAMPLE_ROWS[0], "operation": "update"}, {**SAMPLE_ROWS[1], "operation": "delete"}]


def sample_config(document: DestinationDocument) -> dict[str, Any]:
    """Settings to render a sample with: defaults, the first of an `enum`, else a placeholder of the right type."""
    values: dict[str, Any] = {}
    for item in document.config:
        if item.default is not None:
            values[item.name] = item.default
        elif item.enum:
            values[item.name] = item.enum[0]
        else:
            placeholder: dict[str, Any] = {"integer": 1, "number": 1.0, "boolean": True}
            url = f"https://{document.id}.example.com/{item.name}"
            values[item.name] = placeholder.get(item.type, url if item.format == "url" else f"sample-{item.name}")
    return values


def render_sample(
    destination_class: type[DeclaredDestination],
    rows: Sequence[ProfileRow] | None = None,
    config: dict[str, Any] | None = None,
    context: RequestContext | None = None,
) -> list[dict[str, Any]]:
    """The requests the destination makes of `rows` (sample rows by default), as they would be sent;
    credential headers are shown as `***`. A JSON body that does not parse is an error saying so."""
    document = destination_class.document
    settings = config if config is not None else sample_config(document)
    try:
        model = destination_class.spec.config.model_validate(settings)
    except Exception as exc:
        raise InvalidInputError(f"the sample settings do not fit the document's config: {exc}",
                                code="DEST-0424-400") from None  # fmt: skip
    destination = destination_class(model)  # type: ignore[arg-type]
    context = context or RequestContext("sample-account", {"id": "sample-flow", "name": "Sample flow"})
    requests = destination.requests(list(rows if rows is not None else sample_rows(document)), context)
    shown = []
    for request in requests:
        body = request.body.decode("utf-8")
        if "json" in document.content_type.lower():
            try:
                json.loads(body)
            except json.JSONDecodeError as exc:
                problem = {"path": "body", "message": f"renders to invalid JSON: {exc.msg} (line {exc.lineno}, "
                           f"column {exc.colno} of the rendered body)"}  # fmt: skip
                raise DocumentError(f"destination {document.id!r}", [problem], code="DEST-0420-400") from None
        credentials = dict.fromkeys(destination.credential_names, "***")
        auth = destination.auth()
        if auth is not None:
            credentials["Authorization"] = "***"
        shown.append({"method": request.method, "url": request.url, "headers": request.headers | credentials,
                      "body": body, "profiles": list(request.profile_ids)})  # fmt: skip
    return shown


def validate_declared_file(path: Path, rows: Sequence[ProfileRow] | None = None) -> dict[str, Any]:
    """Check a declared destination's document whole and render a sample request from `rows` (sample rows
    by default): what `accord destination validate FILE` shows. Every problem is raised at once, with its path."""
    destination_class = load_declared(path)
    try:
        sample = render_sample(destination_class, rows)
    except (TemplateProblem, TemplateRefusedError) as exc:
        problem = {"path": exc.details.get("template", ""), "message": exc.message}
        raise DocumentError(str(path), [problem], code="DEST-0420-400") from None
    spec = destination_class.spec
    return {"valid": True, "file": str(path), "destination": {"id": spec.id, "name": spec.name,
            "category": spec.category, "exportType": spec.export_type, "secretFields": spec.secret_fields()},
            "sample": sample}  # fmt: skip

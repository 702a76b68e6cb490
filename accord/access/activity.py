"""The activity log: every change made through the API or the CLI, and every change refused to its caller.

Who (user and token, or the home's owner at the CLI), when, in which sandbox (none: a change of the whole
home), what action on which object, how it ended, what it changed, and from where. The log is
append-only: nothing here updates or deletes a row, and the database's triggers refuse to.

What a change carried is kept as a summary: scalars and lists of scalars, with secret-named fields masked,
and a connector's `config` as its field names only (which of its fields are secrets depends on the
connector). Routes and commands that carry a person's identifiers (an e-mail address, an identity) keep no
values at all (`WITHHELD_ROUTES`, `WITHHELD_COMMANDS`): a privacy delete must find nothing of a person
here. Reads are not logged, nor the events the collection URLs take in (they are data, kept in the event
log, not changes)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select

from accord.access.permissions import HOME_WIDE, Permission
from accord.access.principal import EVERY_SANDBOX, Principal
from accord.access.requirements import COMMANDS, PAGES, ROUTES, Open, changes_nothing
from accord.catalog import ActivityRecord, Catalog, utcnow
from accord.errors import InvalidInputError

NOT_LOGGED = ("/collection/", "/v1/", "/campaign/t/")
"""Paths whose requests are data coming in (events) or a mailbox's clicks, not changes."""

WITHHELD_ROUTES = frozenset({
    ("POST", "/datasets/{name}/records/delete"),
    ("POST", "/identity/removals"),
    ("POST", "/segment/streaming/evaluate"),
    ("POST", "/campaign/recipients/{external_id}/opt-out"),
    ("POST", "/campaign/lists/{name}/subscribe"),
    ("POST", "/campaign/addresses"),
    ("POST", "/campaign/suppressions"),
    ("DELETE", "/campaign/suppressions/{email}"),
    ("POST", "/campaign/deliveries/{name}/proof"),
    ("POST", "/privacy/jobs"),
    ("POST", "/users"),
})  # fmt: skip
"""Routes whose path or body names a person (a customer, or a user's e-mail address): their values are never
logged, only the body's field names (tests/access/test_activity.py walks the OpenAPI document for them)."""

WITHHELD_COMMANDS = frozenset({
    "dataset delete-records", "identity unlink", "identity remove", "campaign opt-out", "campaign list subscribe",
    "campaign address add", "campaign suppression add", "campaign suppression remove", "campaign delivery proof",
    "privacy access", "privacy delete", "user create",
})  # fmt: skip
"""Commands whose arguments name a person: their arguments are never logged."""

_SECRET = ("password", "secret", "token", "key", "credential", "connectionstring", "sas")
_KEYS_ONLY = ("config",)
MAX_BODY = 64 * 1024
"""A request body is summarised up to this size; a larger one is logged by its size."""


@dataclass(frozen=True)
class Activity:
    via: str
    user: str
    token: str | None
    sandbox: str | None
    action: str
    object_type: str
    object_id: str | None
    outcome: str
    status: int
    changes: dict[str, Any] | None
    origin: str


def record(catalog: Catalog, activity: Activity) -> None:
    with catalog.session() as session:
        session.add(ActivityRecord(**asdict(activity)))


def _secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET)


def summary(value: Any, depth: int = 0) -> Any:
    """What a change carried, as the log keeps it (see the module's docstring)."""
    if isinstance(value, dict):
        if depth >= 3:
            return {"fields": sorted(map(str, value))[:100]}
        return {str(k): "***" if _secret(str(k)) and v is not None else
                {"fields": sorted(map(str, v))[:100]} if str(k) in _KEYS_ONLY and isinstance(v, dict) else
                summary(v, depth + 1) for k, v in list(value.items())[:100]}  # fmt: skip
    if isinstance(value, list):
        return [summary(v, depth + 1) for v in value[:50]] + (
            [f"... {len(value) - 50} more"] if len(value) > 50 else []
        )
    if isinstance(value, str) and len(value) > 2000:
        return value[:2000] + f"... ({len(value):,} characters)"
    return value


def route_activity(method: str, path: str, params: dict[str, Any], body: bytes, size: int, content_type: str,
                   status: int, caller: Principal, sandbox: str | None, origin: str,
                   refused: bool = False) -> Activity | None:  # fmt: skip
    """The entry of a request that reached a route, or None when it is not logged (reads, events coming in).

    `body`: what the request carried, if it was no larger than `MAX_BODY`; `size`: how many bytes it was;
    `refused`: the route refused the change though it answered 200 (a workspace form shown again with its
    errors), logged as failed."""
    if method in ("GET", "HEAD", "OPTIONS") or path.startswith(NOT_LOGGED):
        return None
    page = PAGES.get((method, path))
    if page is not None and not isinstance(page, Open) and changes_nothing(page):
        return None  # a workspace form that reads (the audience builder's check as one types)
    withheld = (method, path) in WITHHELD_ROUTES
    document: Any = None
    if body and size <= MAX_BODY and content_type.startswith("application/json"):
        try:
            document = json.loads(body)
        except ValueError:
            document = None
    if document is not None:
        changes: dict[str, Any] | None = {"fields": sorted(document)} if withheld and isinstance(document, dict) else \
            {"body": summary(document)} if not withheld else {"body": "withheld"}  # fmt: skip
    elif size and size <= MAX_BODY and content_type.startswith("application/x-www-form-urlencoded"):
        # a workspace form: the fields it set, never their values (a password, a secret); its CSRF token left out
        named = {key[:64] for key in parse_qs(body.decode("latin-1"), keep_blank_values=True)} - {"csrf_token"}
        changes = {"fields": sorted(named)[:50]}
    elif size:
        changes = {"bodyBytes": size, "contentType": content_type.split(";")[0][:100]}
    else:
        changes = None
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    if parts[:1] == ["ui"]:  # the workspace's forms name the same objects as the API's routes
        parts = parts[1:]
    object_type = "/".join(parts[:2]) if parts and parts[0] == "campaign" and len(parts) > 1 else (parts or ["-"])[0]
    object_id = str(list(params.values())[-1]) if params else None
    if object_id is None and isinstance(document, dict) and isinstance(document.get("name"), str):
        object_id = document["name"]
    needed = ROUTES.get((method, path)) or PAGES.get((method, path))  # a workspace form changes what its route does
    return Activity(
        via="api", user=caller.user, token=caller.name,
        sandbox=None if needed in HOME_WIDE else sandbox, action=f"{method} {path}",
        object_type=object_type[:64], object_id="withheld" if withheld and params else _cut(object_id, 256),
        outcome="failed" if refused and status < 400 else _outcome(status), status=status, changes=changes,
        origin=origin[:256],
    )  # fmt: skip


def command_activity(command: str, args: list[str], caller: Principal | None, sandbox: str, exit_code: int,
                     login: str, flags: frozenset[str] = frozenset()) -> Activity | None:  # fmt: skip
    """The entry of a CLI command, or None for commands that change nothing (those that need a View permission,
    or none). `flags`: the command's options that take no value (a secret-named one hides nothing after it)."""
    needed = COMMANDS.get(command)
    if needed is None or changes_nothing(needed) or command in READS:
        return None
    withheld = command in WITHHELD_COMMANDS
    named = _object_named(command, args, flags)
    person = withheld and command != "user create"  # a user's name is no customer's identifier
    return Activity(
        via="cli", user=caller.user if caller else login, token=caller.name if caller else None,
        sandbox=None if needed in HOME_WIDE else sandbox, action=f"accord {command}",
        object_type=_object_type(command), object_id="withheld" if person and named else _cut(named, 256),
        outcome=_command_outcome(exit_code),
        status=exit_code, changes={"arguments": "withheld" if withheld else shown_arguments(args, flags)},
        origin=login,
    )  # fmt: skip


_CLI_TYPES = {"policy": "policies", "sandbox": "sandboxes", "mergepolicy": "mergepolicies", "activate": "activations",
              "action": "marketing-actions", "identity": "identity", "segment": "segment", "privacy": "privacy",
              "streaming": "streaming", "batch": "batches", "profile": "profiles", "alert": "alerts",
              "label": "datasets", "ingest": "datasets",
              "identity create": "namespaces", "label create": "labels", "campaign address": "campaign/addresses",
              "campaign delivery": "campaign/deliveries", "campaign list": "campaign/lists",
              "campaign suppression": "campaign/suppressions", "campaign workflow": "campaign/workflows",
              "campaign opt-out": "campaign/recipients", "campaign import": "campaign/import",
              "campaign bounces": "campaign/bounces", "campaign connect": "campaign/connect",
              "campaign export-logs": "campaign/logs"}  # fmt: skip
"""A command's object type as the API's paths name it (`accord label add crm` changes `datasets/crm`, as
`POST /datasets/crm/labels` does), by command or by group; else the group's name with an `s`."""

_NAMED_BY_OPTION = {"ingest": ("--dataset", "-d")}
"""Commands whose object is named by an option, not by their first argument."""

READS = frozenset({"user list", "user show", "role list", "token list", "privacy jobs"})
"""Commands that read though they need a Manage permission (the API does not log reads either)."""


def _object_type(command: str) -> str:
    words = command.split(" ")
    for key in (command, " ".join(words[:2]), words[0]):
        if key in _CLI_TYPES:
            return _CLI_TYPES[key]
    return f"{words[0]}s"


def _object_named(command: str, args: list[str], flags: frozenset[str]) -> str | None:
    """The first argument after the command's words that is no option nor an option's value: the object the
    command is about, as the API's path names it (`dataset create crm` -> `crm`)."""
    words, position = command.split(" "), 0
    by_option = _NAMED_BY_OPTION.get(command, ())
    for index, option in enumerate(args):
        named, joined, value = option.partition("=")
        if named in by_option:
            return value if joined else (args[index + 1] if index + 1 < len(args) else None)
    if by_option:
        return None
    for index, arg in enumerate(args):
        position = position + 1 if position < len(words) and arg == words[position] else position
        if position == len(words):
            rest = iter(args[index + 1 :])
            for item in rest:
                if not item.startswith("-"):
                    return item
                if "=" not in item and item not in flags:
                    next(rest, None)  # the option's value
            return None
    return None


def shown_arguments(args: list[str], flags: frozenset[str]) -> list[str]:
    """A command's arguments as the log keeps them: the value of every secret-named option hidden, whether it
    follows the option (`--token X`) or is joined to it (`--token=X`)."""
    shown: list[str] = []
    hide_next = False
    for arg in args[:100]:
        option, joined, _value = arg.partition("=")
        if hide_next:
            shown.append("***")
        elif arg.startswith("--") and joined and _secret(option):
            shown.append(f"{option}=***")
        else:
            shown.append(arg[:500])
        hide_next = not hide_next and arg.startswith("--") and not joined and _secret(arg) and arg not in flags
    return shown


def _command_outcome(exit_code: int) -> str:
    """A command's outcome from its exit code (5: not authenticated, 6: not allowed)."""
    return "success" if exit_code == 0 else "denied" if exit_code in (5, 6) else "failed"


def _outcome(status: int) -> str:
    if status < 400:
        return "success"
    return "denied" if status in (401, 403) else "failed"


def _cut(text: str | None, size: int) -> str | None:
    return text[:size] if text is not None else None


@dataclass(frozen=True)
class ActivityQuery:
    """What to list: entries of one sandbox (and, for a caller of every sandbox, the home's own), newest first."""

    sandbox: str
    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None
    object: str | None = None
    """An object's type (`datasets`), or type and id (`datasets/crm`)."""
    before: int | None = None
    """Entries older than this id (the `next` of the previous page)."""
    limit: int = 100


def list_activity(catalog: Catalog, caller: Principal | None, query: ActivityQuery) -> list[dict[str, Any]]:
    """Entries the caller may read (None: the home's owner, who reads them all)."""
    if not 1 <= query.limit <= 10_000:
        raise InvalidInputError("limit must be 1 to 10,000", code="ACCESS-0430-400", field="limit")
    home_wide = caller is None or (
        caller.sandbox is None and Permission.VIEW_USER_ACTIVITY_LOG in caller.grants.get(EVERY_SANDBOX, frozenset())
    )
    shown = ActivityRecord.sandbox == query.sandbox
    statement = select(ActivityRecord).where(shown | ActivityRecord.sandbox.is_(None) if home_wide else shown)
    if query.since is not None:
        statement = statement.where(ActivityRecord.at >= query.since)
    if query.until is not None:
        statement = statement.where(ActivityRecord.at < query.until)
    if query.user is not None:
        statement = statement.where(ActivityRecord.user == query.user)
    if query.object is not None:
        kind, _, name = query.object.partition("/")
        statement = statement.where(ActivityRecord.object_type == kind)
        if name:
            statement = statement.where(ActivityRecord.object_id == name)
    if query.before is not None:
        statement = statement.where(ActivityRecord.id < query.before)
    statement = statement.order_by(ActivityRecord.id.desc()).limit(query.limit)
    with catalog.session() as session:
        return [_document(r) for r in session.scalars(statement)]


def export_activity(catalog: Catalog, caller: Principal | None, query: ActivityQuery) -> Iterator[dict[str, Any]]:
    """Every entry the query selects, newest first, a page at a time (an export of any size in little memory)."""
    page = ActivityQuery(**{**asdict(query), "limit": 1000})
    while True:
        found = list_activity(catalog, caller, page)
        yield from found
        if len(found) < page.limit:
            return
        page = ActivityQuery(**{**asdict(page), "before": found[-1]["id"]})


SPAN = re.compile(r"^(\d{1,5})([mhdw])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_since(text: str, option: str = "--since") -> datetime:
    """A moment: a span back from now (`30m`, `24h`, `7d`, `2w`) or a date or time (ISO 8601; without an
    offset, UTC)."""
    found = SPAN.match(text.strip())
    if found:
        return utcnow() - int(found[1]) * _UNITS[found[2]]
    try:
        when = datetime.fromisoformat(text.strip())
        return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidInputError(f"{option} {text[:40]!r} is neither a span back from now (24h, 7d) nor a date "
                                "(2026-11-30)", code="ACCESS-0431-400", field=option) from None  # fmt: skip


def _document(record: ActivityRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "at": record.at.isoformat(),
        "via": record.via,
        "user": record.user,
        "token": record.token,
        "sandbox": record.sandbox,
        "action": record.action,
        "object": {"type": record.object_type, "id": record.object_id},
        "outcome": record.outcome,
        "status": record.status,
        "changes": record.changes,
        "origin": record.origin,
    }

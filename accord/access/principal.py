"""Who is calling, what they hold where, and the check every route and command goes through.

A caller is an API token acting for a user. In a sandbox the token holds the permissions of the roles
its user was granted there or in every sandbox, narrowed to the token's own role when it has one, and
nothing at all outside the token's sandbox when it was made for one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from accord.access.permissions import HOME_WIDE, Permission
from accord.access.requirements import DESTINATION_NEEDS, Requirement, permissions_needed
from accord.errors import PermissionDeniedError

EVERY_SANDBOX = "*"
"""The key of what a user holds in every sandbox, in `Principal.grants`."""


@dataclass(frozen=True)
class Principal:
    """A token, its user, and the permissions it holds by sandbox (`EVERY_SANDBOX` for those held in all)."""

    token_id: str
    name: str
    user: str
    sandbox: str | None = None
    """The one sandbox the token was made for (None: every sandbox its user holds a role in)."""
    role: str | None = None
    """The role the token was narrowed to (None: all its user holds)."""
    grants: Mapping[str, frozenset[Permission]] = field(default_factory=dict)
    csrf_hash: str | None = None
    """A person's session: the hash of the CSRF token its changes must carry (None for an API token)."""

    def permissions_in(self, sandbox: str) -> frozenset[Permission]:
        """What this caller may do in `sandbox`; the home-wide permissions only if held in every sandbox (and never
        by a token made for one sandbox)."""
        if self.sandbox is not None and sandbox != self.sandbox:
            return frozenset()
        everywhere = self.grants.get(EVERY_SANDBOX, frozenset())
        if self.sandbox is not None:
            everywhere = everywhere - HOME_WIDE
        here = self.grants.get(sandbox, frozenset()) - HOME_WIDE
        return everywhere | here

    def holds_home_wide(self, permission: Permission) -> bool:
        return self.sandbox is None and permission in self.grants.get(EVERY_SANDBOX, frozenset())

    def may_use(self, sandbox: str) -> bool:
        return bool(self.permissions_in(sandbox))

    def lists(self, sandbox: str) -> bool:
        """Whether the caller's list of sandboxes shows this one: it holds something of its own there (what
        the whole home's permissions give opens no sandbox's data)."""
        usable = self.sandboxes
        return usable is None or sandbox in usable

    @property
    def sandboxes(self) -> frozenset[str] | None:
        """The sandboxes this caller holds anything in (None: every one)."""
        if self.sandbox is not None:
            return frozenset({self.sandbox})
        if self.grants.get(EVERY_SANDBOX, frozenset()) - HOME_WIDE:  # home-wide ones alone open no sandbox's data
            return None
        return frozenset(name for name, held in self.grants.items() if name != EVERY_SANDBOX and held - HOME_WIDE)

    @property
    def described(self) -> str:
        """Who calls, as a record names them: the user, and the token or session they came through."""
        via = "signed in" if self.token_id.startswith("session:") else f"token {self.name}"
        return f"{self.user} ({via})"

    @property
    def is_admin(self) -> bool:
        """Holds every permission in every sandbox."""
        return self.sandbox is None and self.grants.get(EVERY_SANDBOX, frozenset()) == frozenset(Permission)


class SandboxForbiddenError(PermissionDeniedError):
    code = "ACCESS-0403-403"

    def __init__(self, principal: Principal, sandbox: str) -> None:
        usable = principal.sandboxes
        if principal.sandbox is not None:
            hint = f"this API token ({principal.name}) is for sandbox {principal.sandbox!r} only, not {sandbox!r}; " \
                   f"work in {principal.sandbox!r} (`--sandbox` at the CLI, `x-sandbox-name` in the API) or use a " \
                   "token of that sandbox"  # fmt: skip
        else:
            where = ", ".join(sorted(usable)) if usable else "none"
            hint = f"user {principal.user} (token {principal.name}) holds no role in sandbox {sandbox!r}; " \
                   f"the sandboxes it may use: {where}"  # fmt: skip
        super().__init__(hint, sandbox=sandbox, allowedSandbox=principal.sandbox,
                         allowedSandboxes=sorted(usable) if usable is not None else None)  # fmt: skip


class PermissionMissingError(PermissionDeniedError):
    """The caller may use the sandbox but lacks the one permission the call needs."""

    code = "ACCESS-0405-403"

    def __init__(self, principal: Principal, permission: Permission, sandbox: str | None,
                 missing: tuple[Permission, ...] = ()) -> None:  # fmt: skip
        if sandbox is None:
            where = "in every sandbox (it is home-wide)"
            held = principal.grants.get(EVERY_SANDBOX, frozenset()) if principal.sandbox is None else frozenset()
        else:
            where, held = f"in sandbox {sandbox!r}", principal.permissions_in(sandbox)
        shown = ", ".join(p.value for p in Permission if p in held) or "nothing"
        others = [p.value for p in missing if p != permission]
        also = f"; it lacks {', '.join(repr(o) for o in others)} as well" if others else ""
        super().__init__(
            f"this needs the permission {permission.value!r} {where}; user {principal.user} "
            f"(token {principal.name}) holds there: {shown}{also}",
            permission=permission.value,
            sandbox=sandbox,
            user=principal.user,
            missing=[permission.value, *others],
        )
        self.permission = permission


def authorize_sandbox(principal: Principal, requested: str | None, default: str) -> str:
    """The sandbox a request works in: the one it names, else the token's own, else the one sandbox its user
    holds roles in, else `default`. A caller that holds nothing there is refused (`SandboxForbiddenError`),
    whether or not that sandbox exists."""
    usable = principal.sandboxes
    name = requested or principal.sandbox or (next(iter(usable)) if usable and len(usable) == 1 else default)
    if not principal.may_use(name):
        raise SandboxForbiddenError(principal, name)
    return name


def require(principal: Principal, needed: Requirement, sandbox: str) -> None:
    """Refuse a caller that lacks what a route or command needs in `sandbox` (`PermissionMissingError`)."""
    missing = tuple(p for p in permissions_needed(needed) if not (
        principal.holds_home_wide(p) if p in HOME_WIDE else p in principal.permissions_in(sandbox)))  # fmt: skip
    if missing:  # the first named, the others listed: a call needing several says all it lacks at once
        raise PermissionMissingError(principal, missing[0], None if missing[0] in HOME_WIDE else sandbox, missing)


def require_for_account(principal: Principal | None, destination: str, sandbox: str) -> None:
    """Refuse a caller making an account of `destination` without the further permission it needs
    (`DESTINATION_NEEDS`; None: the home's owner, who holds everything)."""
    needed = DESTINATION_NEEDS.get(destination)
    if principal is not None and needed is not None:
        require(principal, needed, sandbox)


def campaign_withheld(principal: Principal | None, changes: bool) -> str | None:
    """Why a privacy job this caller asks for leaves the home's campaign instance alone, or None when it may
    reach it: the instance's recipients came from every sandbox, so reading them (`changes`: erasing them) needs
    View (Manage) Campaign in every sandbox, as the campaign's own routes do. None: the home's owner."""
    needed = Permission.MANAGE_CAMPAIGN if changes else Permission.VIEW_CAMPAIGN
    if principal is None or principal.holds_home_wide(needed):
        return None
    return (
        f"the requester ({principal.user}) does not hold {needed.value!r} in every sandbox: the campaign "
        "instance's recipients came from every sandbox (ask someone who holds it to run the job too)"
    )

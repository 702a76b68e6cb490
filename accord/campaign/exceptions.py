"""Errors of the campaign context (codes `CAMPAIGN-*`)."""

from __future__ import annotations

from typing import Any

from accord.errors import AccordError, ConflictError, InvalidInputError, NotFoundError, TransientError, did_you_mean


class CampaignNotInitialisedError(AccordError):
    code = "CAMPAIGN-0001-400"
    kind = "invalid"

    def __init__(self, where: str) -> None:
        super().__init__(
            f"no campaign database at {where}: run `accord campaign init` (or `accord init`) first", database=where
        )


class UnknownObjectError(NotFoundError):
    """A recipient, list, delivery or workflow that does not exist; `available` names some that do."""

    code = "CAMPAIGN-0404-404"

    def __init__(self, kind: str, name: str, available: list[str] | None = None) -> None:
        hint = did_you_mean(name, available) if available else ""
        super().__init__(f"no {kind} {name!r}{hint}", kind=kind, name=name, available=(available or [])[:20])


class DuplicateObjectError(ConflictError):
    code = "CAMPAIGN-0409-409"

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"a {kind} named {name!r} already exists", kind=kind, name=name)


class CampaignInputError(InvalidInputError):
    """A request the engine cannot take as it is; the message says what and where."""

    code = "CAMPAIGN-0400-400"


class CampaignLimitError(InvalidInputError):
    """Over one of the instance's limits (audiences, fields, active profiles, landing storage): nothing is cut."""

    code = "CAMPAIGN-0413-400"


class MissingFieldError(CampaignInputError):
    """A recipient lacks a field the delivery's templates use: no message goes out with a blank instead."""

    code = "CAMPAIGN-0422-400"

    def __init__(self, field: str, recipient: str | None = None) -> None:
        who = f"recipient {recipient!r} has" if recipient else "the recipient has"
        super().__init__(f"{who} no value of {field!r}, which the delivery's templates use", field=field,
                         recipient=recipient)  # fmt: skip
        self.field = field
        self.reason = f"missing field {field}"
        """What the send log's row says of this recipient."""


class TemplateCheckError(CampaignInputError):
    """A delivery's templates have problems: every one of them, with its part and line, in one error."""

    code = "CAMPAIGN-0423-400"

    def __init__(self, problems: list[str]) -> None:
        listed = "; ".join(problems)
        super().__init__(f"the delivery's templates have {len(problems)} problem(s): {listed}", problems=problems)


class TrackingLinkError(NotFoundError):
    """A tracking or subscription link that is forged, altered, truncated or points at nothing: one answer
    for all of them, so that a prober learns nothing from it."""

    code = "CAMPAIGN-0410-404"

    def __init__(self) -> None:
        super().__init__("no such link")


class ActivityFailedError(AccordError):
    """A workflow activity could not do its work (a peer down, a refusal); the run can be resumed from it."""

    code = "CAMPAIGN-0502-500"
    kind = "transient"

    def __init__(self, activity: str, message: str, **details: Any) -> None:
        super().__init__(f"activity {activity!r}: {message}", activity=activity, **details)


class WorkflowBusyError(ConflictError):
    """A workflow already has a run in progress: two would collect the same files and compete for the same lists."""

    code = "CAMPAIGN-0424-409"

    def __init__(self, workflow: str, run_id: int) -> None:
        super().__init__(f"workflow {workflow!r} has a run in progress (run {run_id}): wait for it to end",
                         workflow=workflow, run=run_id)  # fmt: skip


class SmtpUnavailableError(TransientError):
    """The SMTP server could not be reached, or kept dropping the connection, after every retry: the delivery
    stops as `failed`; rows not sent stay to send, and sending again goes on from there."""

    code = "CAMPAIGN-0503-503"

    def __init__(self, server: str, attempts: int, reason: str, sent: int) -> None:
        super().__init__(
            f"the SMTP server {server} could not be used after {attempts} attempts ({reason}); the delivery "
            f"stopped with {sent} messages sent: send it again when the server is back, no one gets a second copy",
            server=server, attempts=attempts, reason=reason, sent=sent,
        )  # fmt: skip


class SmtpSecurityError(AccordError):
    """The SMTP server does not offer what the settings require (STARTTLS), or refused the credentials."""

    code = "CAMPAIGN-0505-400"
    kind = "invalid"

    def __init__(self, server: str, problem: str) -> None:
        super().__init__(f"the SMTP server {server} {problem}; nothing was sent", server=server)


class BounceMailboxError(CampaignInputError):
    """The bounce mailbox is not a Maildir folder inside the allowed roots."""

    code = "CAMPAIGN-0425-400"

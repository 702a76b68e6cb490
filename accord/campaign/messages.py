"""One recipient's message of a delivery: rendered, tracked, and ready for SMTP.

A `Renderer` compiles a delivery's templates once and then makes messages fast (the benchmark renders
100,000 of them): no template compile and no regular-expression compile per message. Each message is
multipart/alternative (text, then HTML), carries an open pixel, has every http(s) link rewritten to a
signed click URL, an unsubscribe link (where the template put `{{ unsubscribe_url }}`, else a footer), the
`List-Unsubscribe` and `List-Unsubscribe-Post` headers (RFC 2369, RFC 8058), and `X-Accord-Broadlog`, by
which bounces find their send-log row. The Message-ID is derived from the send-log row, so that a message
sent again after a crash is recognisably the same message.

A click URL names the link's index in the message; the URL itself is found again by rendering that
recipient's message once more (`Renderer.links`), so nothing per message is stored and a link personalised
per recipient still resolves to what that recipient was sent.
"""

from __future__ import annotations

import binascii
import html as html_escape
import re
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.policy import Compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import select

from accord.campaign import tokens
from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError, MissingFieldError, UnknownObjectError
from accord.campaign.models import DeliveryRecord
from accord.campaign.templates import CompiledTemplates, compile_templates, lacks

# A link of an anchor (or image-map area) in the rendered HTML; its value is HTML-escaped text
_HTML_LINK = re.compile(r"""(<(?:a|area)\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'<>\s]+)\2""", re.IGNORECASE)
# A bare link of the text part; sentence punctuation after it is not part of it
_TEXT_LINK = re.compile(r"""https?://[^\s<>"'\[\]]*[^\s<>"'\[\].,;:!?)]""")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
RECIPIENT_FIELDS = ("externalId", "email", "firstName", "lastName", "phone")


class PreEncodedHeaders(Compat32):
    """The compat32 policy, writing a header as it is when it is one short ASCII line: the renderer gives
    its headers already encoded (RFC 2047), and folding each again made flattening the slowest step."""

    def fold(self, name: str, value: Any) -> str:
        if isinstance(value, str) and value.isascii() and len(value) < 900 and "\n" not in value:
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if isinstance(value, str) and value.isascii() and len(value) < 900 and "\n" not in value:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


MESSAGE_POLICY = PreEncodedHeaders(linesep="\r\n")
"""The policy of every message: `message.as_bytes()` is its SMTP form (CRLF line ends, 7-bit)."""


@dataclass(frozen=True)
class DeliveryContent:
    """What a message is made of: the delivery's identity, sender and templates (no database needed)."""

    id: int
    sender: str
    subject: str
    html: str
    text: str


class MessageFactory:
    """Messages of one delivery, from templates compiled once; pure (no database), and fast."""

    def __init__(self, delivery: DeliveryContent, key: bytes, public_url: str, instance: str = "default",
                 unsubscribe_mailto: str | None = None, templates: CompiledTemplates | None = None
                 ) -> None:  # fmt: skip
        self.delivery, self.key, self.instance = delivery, key, instance
        self.templates = templates or compile_templates(delivery.subject, delivery.html, delivery.text)
        self.tracking = public_url.rstrip("/") + "/campaign/t/"
        self.mailto = unsubscribe_mailto
        sender_name, sender_address = parseaddr(delivery.sender)
        self.sender = formataddr((" ".join(sender_name.split()), sender_address), charset="utf-8")
        self.domain = sender_address.rpartition("@")[2] or "localhost"
        self.required = self.templates.required
        self.custom_used = tuple(name[7:] for name in self.templates.used if name.startswith("custom."))

    def render(self, recipient: dict[str, Any], broadlog_id: int) -> EmailMessage:
        """The message for this recipient and send-log row; MissingFieldError when it lacks a field."""
        headers, text, html = self._compose(recipient, broadlog_id)
        # Built on a compat32 policy with headers already in their encoded form: the modern policy parses
        # each header it is given, and made rendering ten times slower than everything else together
        message = EmailMessage(policy=MESSAGE_POLICY)
        for name, value in headers:
            message[name] = value
        message.set_payload([_text_part("plain", text), _text_part("html", html)])
        return message

    def render_bytes(self, recipient: dict[str, Any], broadlog_id: int) -> bytes:
        """`render(recipient, broadlog_id).as_bytes()`, the message's SMTP form, written directly: twice as
        fast, for the sending pipeline. Headers that need folding take the email package's way."""
        headers, text, html = self._compose(recipient, broadlog_id)
        if not all(len(value) < 900 and value.isascii() and "\n" not in value for _name, value in headers):
            message = EmailMessage(policy=MESSAGE_POLICY)
            for name, value in headers:
                message[name] = value
            message.set_payload([_text_part("plain", text), _text_part("html", html)])
            return message.as_bytes()
        boundary = _boundary(broadlog_id)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        return (f"{head}\r\n--{boundary}\r\n{_PART_HEAD['plain']}{_quoted_printable(text)}\r\n--{boundary}\r\n"
                f"{_PART_HEAD['html']}{_quoted_printable(html)}\r\n--{boundary}--\r\n").encode("ascii")  # fmt: skip

    def _compose(self, recipient: dict[str, Any], broadlog_id: int) -> tuple[list[tuple[str, str]], str, str]:
        unsubscribe = self.url("u", broadlog_id)
        subject, html, text, _links = self._parts(recipient, broadlog_id, unsubscribe)
        # split() drops line breaks too: a name cannot add a header of its own
        name = " ".join(" ".join(str(v) for v in (recipient.get("firstName"), recipient.get("lastName")) if v).split())
        listed = f"<{unsubscribe}>"
        if self.mailto:
            listed += f", <mailto:{self.mailto}?subject=unsubscribe%20{unsubscribe.rpartition('/')[2]}>"
        headers = [
            ("From", self.sender),
            ("To", formataddr((name, recipient["email"]), charset="utf-8")),
            ("Subject", subject if subject.isascii() else Header(subject, "utf-8").encode()),
            ("Date", formatdate(usegmt=True)),
            ("Message-ID", self.message_id(broadlog_id)),
            ("List-Unsubscribe", listed),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("X-Accord-Broadlog", str(broadlog_id)),
            ("X-Accord-Delivery", str(self.delivery.id)),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/alternative; boundary="{_boundary(broadlog_id)}"'),
        ]
        return headers, text, html

    def links(self, recipient: dict[str, Any], broadlog_id: int) -> list[str]:
        """The links of this recipient's message, in the order of their click indexes."""
        return self._parts(recipient, broadlog_id, self.url("u", broadlog_id))[3]

    def message_id(self, broadlog_id: int) -> str:
        """The message's id, stable for its send-log row: a message sent again is recognisably the same."""
        return f"<{broadlog_id}.{self.delivery.id}.{self.instance}@{self.domain}>"

    def url(self, kind: str, *numbers: int) -> str:
        return self.tracking + kind + "/" + tokens.sign(self.key, kind, *numbers)

    def _parts(self, recipient: dict[str, Any], broadlog_id: int, unsubscribe: str) -> tuple[str, str, str, list[str]]:
        for name in self.required:
            if lacks(recipient, name):
                raise MissingFieldError(name, recipient.get("externalId"))
        context = {"recipient": self._view(recipient), "unsubscribe_url": unsubscribe}
        try:
            subject = " ".join(self.templates.subject.render(context).split())  # one header line
            html = self.templates.html.render(context)
            text = self.templates.text.render(context)
        except TemplateError as exc:  # what the check cannot see: a sandbox refusal through a filter, ...
            raise CampaignInputError(f"the delivery's templates failed for recipient "
                                     f"{recipient.get('externalId')!r}: {exc}", field="templates") from exc  # fmt: skip
        links: dict[str, int] = {}

        def index(url: str) -> int:
            return links.setdefault(url, len(links))

        def tracked_html(match: re.Match[str]) -> str:
            url = html_escape.unescape(match.group(3))
            if url.startswith(self.tracking):
                return match.group(0)
            return f"{match.group(1)}{match.group(2)}{self.url('c', broadlog_id, index(url))}{match.group(2)}"

        def tracked_text(match: re.Match[str]) -> str:
            url = match.group(0)
            return url if url.startswith(self.tracking) else self.url("c", broadlog_id, index(url))

        html = _HTML_LINK.sub(tracked_html, html)
        text = _TEXT_LINK.sub(tracked_text, text)
        if "html" not in self.templates.places_unsubscribe:
            html = _before_body_end(html, f'<p style="font-size:12px;color:#666"><a href="{unsubscribe}">'
                                          "Unsubscribe</a></p>")  # fmt: skip
        if "text" not in self.templates.places_unsubscribe:
            text = text.rstrip("\n") + f"\n\n--\nUnsubscribe: {unsubscribe}\n"
        pixel = f'<img src="{self.url("o", broadlog_id)}" width="1" height="1" alt="" style="border:0">'
        return subject, _before_body_end(html, pixel), text, list(links)

    def _view(self, recipient: dict[str, Any]) -> dict[str, Any]:
        """The recipient as templates see it: a field without a value is absent (false in a test)."""
        view = {name: recipient[name] for name in RECIPIENT_FIELDS if not lacks(recipient, name)}
        custom = recipient.get("custom") or {}
        view["custom"] = {k: v for k, v in custom.items() if not (v is None or (isinstance(v, str) and not v.strip()))}
        return view


def _boundary(broadlog_id: int) -> str:
    # The parts are quoted-printable, which writes `=` as `=3D`: this boundary cannot occur in them
    return f"==_accord_{broadlog_id}_=="


_PART_HEAD = {
    subtype: f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    for subtype in ("plain", "html")
}
_LINE_END = re.compile(r"\r\n|\r|\n")


def _quoted_printable(body: str) -> str:
    return _LINE_END.sub("\r\n", binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"))


def _text_part(subtype: str, body: str) -> EmailMessage:
    part = EmailMessage(policy=MESSAGE_POLICY)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(_quoted_printable(body))
    return part


def _before_body_end(html: str, fragment: str) -> str:
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + fragment
    at = ends[-1].start()
    return html[:at] + fragment + html[at:]


class Renderer(MessageFactory):
    """A delivery's message factory, read from the engine's database: `Renderer(engine, delivery_id)`."""

    def __init__(self, engine: CampaignEngine, delivery_id: int | str) -> None:
        content = load_content(engine, delivery_id)
        settings = engine.settings
        super().__init__(content, engine.tracking_key(), settings.campaign_public_url, settings.campaign_instance,
                         settings.campaign_unsubscribe_mailto)  # fmt: skip


def load_content(engine: CampaignEngine, delivery: int | str) -> DeliveryContent:
    with engine.database.session() as session:
        where = DeliveryRecord.id == delivery if isinstance(delivery, int) else DeliveryRecord.name == delivery
        record = session.scalar(select(DeliveryRecord).where(where))
        if record is None:
            raise UnknownObjectError("delivery", str(delivery))
        return DeliveryContent(record.id, record.sender, record.subject, record.html, record.text)


def render_message(delivery: DeliveryContent, recipient: dict[str, Any], broadlog_id: int, key: bytes,
                   public_url: str) -> EmailMessage:  # fmt: skip
    """One message, compiling the templates for it: for a single message; use a MessageFactory for many."""
    return MessageFactory(delivery, key, public_url).render(recipient, broadlog_id)

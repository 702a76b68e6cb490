"""Identifiers as advertising platforms take them: normalised, then SHA-256 (hex), never in clear.

E-mail: trimmed and lower-cased. Phone: E.164, a `+` and the digits: spaces, dashes, dots and
parentheses removed, a national trunk `(0)` after the country code dropped, a leading `00` read as
`+`. A value that is not an e-mail or phone number after normalising is left out (it would match
no one). The list forms work on whole batches at once with Arrow's string kernels; only the digest
itself is per value, in hashlib.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164 = r"^\+[1-9][0-9]{6,14}$"
_SEPARATORS = re.compile(r"[\s\-().]")


def normalise_email(value: str) -> str:
    return str(value).strip().lower()


def normalise_phone(value: str) -> str:
    text = str(value).strip().replace("(0)", "") if str(value).strip().startswith("+") else str(value)
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits if digits.startswith("+") else f"+{digits}"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hashed_emails(values: Sequence[str]) -> list[str | None]:
    """SHA-256 of each normalised e-mail, None where a value is not an e-mail address."""
    import pyarrow as pa
    import pyarrow.compute as pc

    normalised = pc.utf8_lower(pc.utf8_trim_whitespace(pa.array(values, pa.string())))
    return _digests(normalised, pc.match_substring_regex(normalised, EMAIL))


def hashed_phones(values: Sequence[str]) -> list[str | None]:
    """SHA-256 of each phone number in E.164, None where a value is not a phone number."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_trim_whitespace(pa.array(values, pa.string()))
    international = pc.starts_with(text, "+")
    text = pc.if_else(international, pc.replace_substring(text, "(0)", ""), text)
    digits = pc.replace_substring_regex(text, r"[\s\-().]", "")
    digits = pc.replace_substring_regex(digits, r"^00", "+")
    normalised = pc.if_else(pc.starts_with(digits, "+"), digits, pc.binary_join_element_wise("+", digits, ""))
    return _digests(normalised, pc.match_substring_regex(normalised, E164))


def _digests(normalised: object, valid: object) -> list[str | None]:
    texts = normalised.to_pylist()  # type: ignore[attr-defined]
    flags = valid.to_pylist()  # type: ignore[attr-defined]
    return [sha256_hex(text) if ok else None for text, ok in zip(texts, flags, strict=True)]

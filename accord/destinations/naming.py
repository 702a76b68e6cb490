"""File names of activation exports, from a template with the reference product's macros.

`%DESTINATION%_segment%SEGMENT_ID%_%DATETIME(yyyyMMddHHmmss)%` gives the reference product's default
name (`Local_folder_segment<id>_20261130081500.csv`). Macros: `%DESTINATION%` (the destination's name),
`%DESTINATION_INSTANCE_NAME%` and `%DESTINATION_INSTANCE_ID%` (the account's), `%SEGMENT_ID%`,
`%SEGMENT_NAME%`, `%SANDBOX_NAME%`, `%DATETIME%` (`yyyyMMdd_HHmmss`) or `%DATETIME(format)%` (tokens
yyyy, yy, MM, dd, HH, mm, ss, SSS), `%TIMESTAMP%` (seconds since 1970); any other text is kept as
written. Values are made safe for a file name (characters other than letters, digits, `.`, `_`,
`-` become `_`); a name, its extension included, holds at most 255 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

DEFAULT_TEMPLATE = "%DESTINATION%_segment%SEGMENT_ID%_%DATETIME(yyyyMMddHHmmss)%"
MAX_NAME = 255
MACRO = re.compile(r"%([A-Z_]+)(?:\(([^)%]*)\))?%")
TEXT = re.compile(r"^[A-Za-z0-9._ /-]*$")
UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
TOKENS = re.compile(r"yyyy|yy|MM|dd|HH|mm|ss|SSS")
SEPARATORS = re.compile(r"^[-_. ]*$")
_STRFTIME = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
MACROS = ("DESTINATION", "DESTINATION_INSTANCE_NAME", "DESTINATION_INSTANCE_ID", "SEGMENT_ID", "SEGMENT_NAME",
          "SANDBOX_NAME", "DATETIME", "TIMESTAMP")  # fmt: skip
EXTENSIONS = {"csv": ".csv", "jsonl": ".json", "parquet": ".parquet"}


@dataclass(frozen=True)
class NameValues:
    """What the macros of one audience's files stand for."""

    destination: str
    instance_name: str
    instance_id: str
    segment_id: str
    segment_name: str
    sandbox: str
    moment: datetime


def check_template(template: str) -> list[str]:
    """What is wrong with a template (an empty list when it is fine)."""
    problems = []
    for match in MACRO.finditer(template):
        name, argument = match.group(1), match.group(2)
        if name not in MACROS:
            problems.append(f"unknown macro %{name}%; known: {', '.join('%' + m + '%' for m in MACROS)}")
        elif argument is not None and name != "DATETIME":
            problems.append(f"%{name}% takes no format")
        elif argument is not None and (not TOKENS.search(argument) or not SEPARATORS.match(TOKENS.sub("", argument))):
            problems.append(f"%DATETIME({argument})% may hold only yyyy, yy, MM, dd, HH, mm, ss, SSS and - _ .")
    text = MACRO.sub("", template)
    if not TEXT.match(text):
        problems.append("the text around the macros may hold only letters, digits, spaces and . _ - /")
    if ".." in template.split("/") or template.startswith("/"):
        problems.append("a name may not start with '/' nor hold a '..' folder")
    if len(text) > MAX_NAME:
        problems.append(f"longer than {MAX_NAME} characters")
    return problems


def render(template: str, values: NameValues) -> str:
    """The file name (without extension) that a template gives for these values."""

    def value(match: re.Match[str]) -> str:
        name, argument = match.group(1), match.group(2)
        if name == "DATETIME":
            return _datetime(values.moment, argument or "yyyyMMdd_HHmmss")
        if name == "TIMESTAMP":
            return str(int(values.moment.timestamp()))
        raw = {"DESTINATION": values.destination, "DESTINATION_INSTANCE_NAME": values.instance_name,
               "DESTINATION_INSTANCE_ID": values.instance_id, "SEGMENT_ID": values.segment_id,
               "SEGMENT_NAME": values.segment_name, "SANDBOX_NAME": values.sandbox}[name]  # fmt: skip
        return UNSAFE.sub("_", raw)

    return MACRO.sub(value, template)


def _datetime(moment: datetime, pattern: str) -> str:
    def token(match: re.Match[str]) -> str:
        if match.group(0) == "SSS":
            return f"{moment.microsecond // 1000:03d}"
        return moment.strftime(_STRFTIME[match.group(0)])

    return TOKENS.sub(token, pattern)


def file_names(stem: str, file_format: str, compression: str, parts: int) -> list[str]:
    """The names of a file split in `parts`: `name.csv`, `name_2.csv`, ... (with `.gz` when compressed)."""
    extension = EXTENSIONS[file_format] + (".gz" if compression == "gzip" and file_format != "parquet" else "")
    return [stem + (f"_{n}" if n > 1 else "") + extension for n in range(1, parts + 1)]

"""Finding failing rows' lines again by their text, in parallel byte ranges, against a plain reading."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.ingest.locate import find_lines

line_text = st.text(alphabet="ab,{}\"' é\t", max_size=10).map(lambda t: t.encode())


def plain_reading(data: bytes, skip_first: bool, whitespace_blank: bool) -> list[tuple[bytes, int, int]]:
    """(text, line, blank lines before) for every line that could be a record, in order."""
    found = []
    blanks = 0
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines = lines[:-1]
    for number, raw in enumerate(lines, start=1):
        text = raw[:-1] if raw.endswith(b"\r") else raw
        if number == 1:
            text = text.removeprefix(b"\xef\xbb\xbf")
        blank = not (text.strip(b" \t") if whitespace_blank else text)
        if not (skip_first and number == 1) and not blank:
            found.append((text, number, blanks))
        blanks += blank
    return found


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(line_text, min_size=1, max_size=60),
    crlf=st.booleans(),
    bom=st.booleans(),
    final_newline=st.booleans(),
    skip_first=st.booleans(),
    whitespace_blank=st.booleans(),
    range_bytes=st.integers(min_value=1, max_value=64),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_found_lines_agree_with_a_plain_reading(
    tmp_path_factory: object, lines: list[bytes], crlf: bool, bom: bool, final_newline: bool, skip_first: bool,
    whitespace_blank: bool, range_bytes: int, seed: int,
) -> None:  # fmt: skip
    data = (b"\xef\xbb\xbf" if bom else b"") + (b"\r\n" if crlf else b"\n").join(lines)
    data += (b"\r\n" if crlf else b"\n") if final_newline else b""
    path = Path(str(tmp_path_factory.mktemp("lines"))) / "data.txt"  # type: ignore[attr-defined]
    path.write_bytes(data)
    candidates = plain_reading(data, skip_first, whitespace_blank)
    if not candidates:
        return
    chooser = random.Random(seed)
    wanted = chooser.sample(candidates, k=chooser.randint(1, len(candidates)))
    # every copy of a chosen text is wanted: identical lines fail alike
    texts = [c[0] for c in candidates if c[0] in {w[0] for w in wanted}]
    chooser.shuffle(texts)
    found = find_lines(path, texts, skip_first=skip_first, whitespace_blank=whitespace_blank, threads=3,
                       range_bytes=range_bytes)  # fmt: skip
    assert found is not None
    for text in set(texts):
        expected = [(line, blanks) for t, line, blanks in candidates if t == text]
        got = sorted((int(found.line[i]), int(found.blank_before[i])) for i, t in enumerate(texts) if t == text)
        assert got == expected, text


def test_a_file_holding_the_refused_byte_is_left_to_the_exact_reader(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_bytes(b'id,name\n1,"Ann\nLee"\n2,Bob\n')
    assert find_lines(path, [b"2,Bob"], skip_first=True, whitespace_blank=False, threads=2, refuse=b'"') is None
    found = find_lines(path, [b"2,Bob"], skip_first=True, whitespace_blank=False, threads=2)
    assert found is not None and found.line.tolist() == [4]


def test_many_ranges_and_many_rows(tmp_path: Path) -> None:
    rows = [f"C{i:09d},name{i % 7},{i * 13 % 1000}".encode() for i in range(200_000)]
    path = tmp_path / "big.csv"
    path.write_bytes(b"id,name,points\n" + b"\n".join(rows) + b"\n")
    chosen = np.random.default_rng(3).choice(len(rows), size=500, replace=False)
    found = find_lines(path, [rows[i] for i in chosen], skip_first=True, whitespace_blank=False, threads=4,
                       range_bytes=100_000)  # fmt: skip
    assert found is not None
    assert found.line.tolist() == [int(i) + 2 for i in chosen]
    assert not found.blank_before.any()

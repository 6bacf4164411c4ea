"""Markdown that keeps its shape whatever text goes into it: table cells, tables, quotes and paragraphs.

Every artifact and pause form shows text we did not write: CRM notes, earlier emails, website text, claim
messages, model output. Pasted into markdown as it is, a line break ends a table row, a `|` adds a cell, a
backtick opens a code span, `<script>` or a `## ...` line becomes page structure, and a long URL pushes a
column off the screen. The Prefect UI renders all of it as GitHub-flavoured markdown (marked, with raw HTML
passed through DOMPurify): markdown artifacts, the description above a pause form, and also each string cell
of a table artifact, on its own. So every such text goes through one of these functions:

    md_cell(text, limit=)      one line of inline text: a table cell, a heading's words, a list item
    md_table(headers, rows)    a table whose every row has the header's cell count; long cells are cut and
                               their full text goes into a <details> section below the table
    md_text(text) / md_quote(text)   untrusted paragraphs (line breaks kept) / the same as a blockquote
    md_table_artifact(rows)    the rows of a Prefect table artifact, each string cell made safe
    Markdown, md_code, md_link, Abbrev   our own markup, composed from escaped parts, put into cells as is
    shorten_url, source_cell   long URLs and fact sources made narrow (the full text goes into the notes)

Escaping, not stripping: the reader sees the text exactly as written (`<script>` shows as `<script>`), it
just cannot become structure. HTML special characters become entities, markdown punctuation gets a
backslash (CommonMark lets any ASCII punctuation be escaped), backticks become `&#96;` (no code spans, no
fences), markers that only count at the start of a line (`#`, `-`, `+`, `=`, `1.`) are escaped there,
and leading blanks go (no indented code blocks). The only HTML in the output is ours: `<br>` and the
notes section. No maintained library does this: table writers (tabulate, py-markdown-table) pass `|`,
line breaks and HTML through, and markdown parsers parse rather than escape. tests/test_markdown_artifacts.py
checks the output with a real parser (markdown-it-py, GFM tables).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple
from urllib.parse import quote, urlsplit

ELLIPSIS = "…"

# Markdown punctuation that acts anywhere in a line, and what it becomes (one pass: no double escaping).
_INLINE = str.maketrans(
    {
        "\\": "\\\\",
        "`": "&#96;",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "|": "\\|",
        "~": "\\~",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
    }
)
# What makes a line a heading (`## x`), a list item (`- x`, `+ x`, `1. x`), a thematic break or setext
# underline (`---`, `===`): only then is its first character escaped (`0.50` and `-3 dB` stay as they are).
_LINE_START = re.compile(r"^(?:#{1,6}(?=\s|$)|[-+](?=\s|$)|[-=][-=\s]*$|\d{1,9}(?=[.)](?:\s|$)))")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_URL_SAFE = ":/?#@!$&'*+,;=%~-._"  # everything a URL needs except what ends a link early: spaces, ( ) < >


class Markdown(str):
    """Markdown we composed ourselves from escaped parts: `md_table` puts it into a cell as it is.

    It must be one line without an unescaped `|` (checked when it goes into a table).
    """


class Abbrev(NamedTuple):
    """A table cell shown as `short`; when it differs from `full`, the full text goes into the table's notes.

    For long values that are read whole only now and then, such as a source URL: the column stays narrow.
    """

    short: str
    full: str


def _lines(text: str) -> list[str]:
    """The text's lines, each with its whitespace runs made one space and control characters removed."""
    return [" ".join(_CONTROL.sub(" ", line).split()) for line in str(text).splitlines()]


def _escape_line(line: str) -> str:
    escaped = line.translate(_INLINE)
    match = _LINE_START.match(escaped)
    if match is None:
        return escaped
    if match.group(0).isdigit():  # "1." or "1)": escape the dot or parenthesis after the digits
        end = match.end()
        return f"{escaped[:end]}\\{escaped[end:]}"
    return "\\" + escaped


def _plain(text: str) -> str:
    """The cell text before escaping: non-blank lines, whitespace normalised, joined by newlines."""
    return "\n".join(line for line in _lines(text) if line)


def _cut(plain: str, limit: int | None) -> str:
    if limit is None or len(plain) <= limit:
        return plain
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return plain[: limit - 1].rstrip() + ELLIPSIS


def md_cell(text: str, *, limit: int | None = None) -> str:
    """One line of safe inline markdown: a table cell, the words of a heading, a list item.

    Line breaks become `<br>` (blank lines are dropped), `|` becomes `\\|`, backticks and HTML special
    characters become entities, other markdown punctuation is backslash-escaped, and past `limit`
    characters (of the text as read, a line break counting one) the text is cut and ends with `…`.
    """
    return "<br>".join(_escape_line(line) for line in _cut(_plain(text), limit).split("\n") if line)


def md_code(text: str) -> Markdown:
    """`text` as an inline code span when it can be one (no backtick, `|` or line break), else as `md_cell`.

    For identifiers we show as code (run ids, model names, refs); inside a code span nothing is markup.
    """
    text = str(text)
    if text and not any(c in text for c in "`|\r\n") and text.isprintable():
        return Markdown(f"`{text}`")
    return Markdown(md_cell(text))


def md_link(label: str, url: str) -> Markdown:
    """A link whose label is escaped and whose URL cannot end the link early (spaces, parentheses quoted)."""
    return Markdown(f"[{md_cell(label)}]({quote(url, safe=_URL_SAFE)})")


def md_text(text: str) -> str:
    """Untrusted text as markdown paragraphs: line breaks kept (as hard breaks), nothing else is structure.

    Blank lines separate paragraphs; no line can become a heading, list, quote, code block, table,
    thematic break or HTML, and inline markup (emphasis, links, code) shows as the characters it is made of.
    """
    paragraphs: list[list[str]] = [[]]
    for line in _lines(text):
        if line:
            paragraphs[-1].append(_escape_line(line))
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join("  \n".join(p) for p in paragraphs if p)


def md_quote(text: str) -> str:
    """Untrusted text as a blockquote (an email body, a customer's message): `md_text`, each line quoted."""
    body = md_text(text)
    return "\n".join(f"> {line}" if line else ">" for line in body.split("\n")) if body else ">"


def _details(notes: list[str]) -> str:
    """The full text of the cut cells, as one HTML block (no blank line inside, so no markdown in it)."""
    items = "\n".join(
        f"<p><b>note {n}</b>: " + "<br>".join(html.escape(line) for line in note.split("\n")) + "</p>"
        for n, note in enumerate(notes, start=1)
    )
    label = "note 1" if len(notes) == 1 else f"notes 1-{len(notes)}"
    return f"<details><summary>Full text of the long cells above ({label})</summary>\n{items}\n</details>"


def _table_cell(value: object, limit: int, notes: list[str]) -> str:
    if isinstance(value, Markdown):
        if "\n" in value or "\r" in value or _UNESCAPED_PIPE.search(value):
            raise ValueError(f"a Markdown table cell must be one line without a bare '|': {value!r}")
        return str(value)
    if isinstance(value, Abbrev):
        shown = md_cell(value.short, limit=limit)
        full = _plain(value.full)
        if full == _plain(value.short):
            return shown
        notes.append(full)
        return f"{shown} (full: note {len(notes)} below)"
    plain = _plain("" if value is None else str(value))
    if len(plain) <= limit:
        return md_cell(plain)
    notes.append(plain)
    return f"{md_cell(plain, limit=limit)} (full text: note {len(notes)} below)"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, limit: int = 160) -> str:
    """A GitHub-flavoured table of untrusted values: every row has exactly the header's cell count.

    Each value is made safe with `md_cell` (None is an empty cell, other values their `str`); `Markdown`
    goes in as it is, an `Abbrev` shows its short form. A cell longer than `limit` is cut in the table and
    refers to its note ("… (full text: note 3 below)"); the notes follow the table in a `<details>` section.
    A row of another length than the header is a programming error and raises ValueError.
    """
    headers = list(headers)
    if not headers:
        raise ValueError("a table needs at least one column")
    notes: list[str] = []
    lines = [
        "| " + " | ".join(md_cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    for number, row in enumerate(rows, start=1):
        cells = list(row)
        if len(cells) != len(headers):
            raise ValueError(f"table row {number} has {len(cells)} cells, the header has {len(headers)}: {cells!r}")
        lines.append("| " + " | ".join(_table_cell(c, limit, notes) for c in cells) + " |")
    table = "\n".join(lines)
    return f"{table}\n\n{_details(notes)}" if notes else table


def md_table_artifact(rows: Iterable[Mapping[str, object]], *, limit: int = 300) -> list[dict[str, object]]:
    """Rows for `create_table_artifact`: every row gets every column, every string cell goes through `md_cell`.

    The Prefect UI renders each string cell of a table artifact as markdown of its own, so an error message
    with `## ...` or `<img ...>` in it would otherwise become a heading or an image. Numbers, booleans and
    None are left as they are (the UI shows them as values); a missing column is None.
    """
    rows = [dict(r) for r in rows]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return [{c: md_cell(v, limit=limit) if isinstance(v := r.get(c), str) else v for c in columns} for r in rows]


def shorten_url(url: str, width: int = 40) -> str:
    """A URL short enough for a narrow column: host, then `…/` and the last path segment, at most `width` chars.

    `https://www.acme.example/about/our-team?ref=x` -> `acme.example/…/our-team`. Plain text: escape it
    (md_cell, md_table) like any other.
    """
    parts = urlsplit(url.strip())
    if not parts.netloc:
        return _cut(url.strip(), width)
    host = parts.netloc.removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        short = host
    elif len(segments) == 1:
        short = f"{host}/{segments[0]}"
    else:
        short = f"{host}/{ELLIPSIS}/{segments[-1]}"
    if parts.query or parts.fragment:
        short += ELLIPSIS if not short.endswith(ELLIPSIS) else ""
    return _cut(short, width)


def source_cell(source: str, width: int = 40) -> str | Abbrev:
    """A fact's source (`crm:activity:12`, `web:https://...`) for a narrow column of `md_table`.

    A long `web:` URL is shown shortened (`web: acme.example/…/team`), the whole one in the table's notes:
    unbroken URLs are what pushed the source column off a 1400-pixel window.
    """
    if source.startswith("web:") and len(source) > width:
        return Abbrev(f"web: {shorten_url(source.removeprefix('web:'), width)}", source)
    if len(source) > width:
        return Abbrev(_cut(source, width), source)
    return source

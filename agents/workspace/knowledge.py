"""`knowledge/*.md`: the seller's company knowledge, one citable fact per `##` section.

Each section becomes a fact with the source `kb:<file>#<section-slug>` that the researcher puts in
the brief beside CRM and web facts, so a draft can cite "our case study with a logistics firm" the
same way it cites a CRM note, and the validator can check the citation exists. Only the sections
relevant to the prospect are given (TF-IDF cosine over the section text, capped), so a big
knowledge base does not flood every prompt.

A file whose front matter says `kind: never-claim` lists claims we must never make, one per bullet
(`- guaranteed ROI`); they are never given as facts, and a draft containing one goes back to the
writer with the reason. One file's front matter names the seller: `company` and `offer`.

Why TF-IDF written here and not scikit-learn's (a dependency already, for the fraud signals): a
knowledge base is tens of sections, the ranking is thirty lines of standard arithmetic, and importing
`sklearn.feature_extraction.text` takes 2.7 s, which the real-time landing path would pay.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agents.workspace.files import Problem, WorkspaceInvalid, line_of, slug, split_front_matter

MAX_SECTION_CHARS = 1200
MAX_SECTIONS_PER_PROSPECT = 3
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "that",
        "the",
        "their",
        "this",
        "to",
        "we",
        "with",
        "you",
        "your",
    ]
)


@dataclass(frozen=True)
class Section:
    file: str  # the file's stem
    slug: str
    title: str
    text: str
    line: int

    @property
    def source(self) -> str:
        return f"kb:{self.file}#{self.slug}"


@dataclass(frozen=True)
class Knowledge:
    """Every knowledge file of a workspace, parsed."""

    sections: tuple[Section, ...]
    never_claim: tuple[str, ...]
    company: str
    offer: str

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(s.source for s in self.sections)

    def relevant(self, query: str, limit: int = MAX_SECTIONS_PER_PROSPECT) -> list[Section]:
        """The `limit` sections most similar to `query` (TF-IDF cosine), best first; none below a shared word."""
        return rank(self.sections, query)[:limit]

    def forbidden_in(self, text: str) -> list[str]:
        """The never-claim phrases that appear in `text` (case and spacing ignored)."""
        return forbidden_claims(text, self.never_claim)


def forbidden_claims(text: str, never_claim: Sequence[str]) -> list[str]:
    """The never-claim phrases in `text`, ignoring case and spacing."""
    flat = " ".join(text.lower().split())
    return [phrase for phrase in never_claim if " ".join(phrase.lower().split()) in flat]


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1]


def rank(sections: Sequence[Section], query: str) -> list[Section]:
    docs = [Counter(_terms(f"{s.title} {s.text}")) for s in sections]
    df = Counter(term for doc in docs for term in doc)
    n = len(docs)

    def vector(counts: Counter[str]) -> dict[str, float]:
        return {t: c * (math.log((1 + n) / (1 + df.get(t, 0))) + 1) for t, c in counts.items()}

    q = vector(Counter(_terms(query)))
    q_norm = math.sqrt(sum(v * v for v in q.values())) or 1.0
    scored: list[tuple[float, int]] = []
    for i, doc in enumerate(docs):
        d = vector(doc)
        dot = sum(q.get(t, 0.0) * w for t, w in d.items())
        if dot > 0:
            scored.append((dot / (q_norm * (math.sqrt(sum(w * w for w in d.values())) or 1.0)), -i))
    return [sections[-i] for _, i in sorted(scored, reverse=True)]


def _sections(path: str, stem: str, body: str, first_line: int) -> list[Section]:
    sections: list[Section] = []
    title: str | None = None
    start = first_line
    lines: list[str] = []
    for offset, line in enumerate(body.split("\n")):
        if line.startswith("## "):
            if title is not None:
                sections.append(Section(stem, slug(title), title, "\n".join(lines).strip(), start))
            title, start, lines = line[3:].strip(), first_line + offset, []
        elif title is not None:
            lines.append(line)
    if title is not None:
        sections.append(Section(stem, slug(title), title, "\n".join(lines).strip(), start))
    problems = []
    seen: dict[str, int] = {}
    for s in sections:
        if not s.text:
            problems.append(Problem(path, f"section {s.title!r} is empty", s.line))
        elif len(s.text) > MAX_SECTION_CHARS:
            problems.append(
                Problem(
                    path,
                    f"section {s.title!r} has {len(s.text)} characters; keep one fact per section "
                    f"(at most {MAX_SECTION_CHARS})",
                    s.line,
                )
            )
        if s.slug in seen:
            problems.append(
                Problem(path, f"section {s.title!r} has the same slug as the one on line {seen[s.slug]}", s.line)
            )
        seen[s.slug] = s.line
    if problems:
        raise WorkspaceInvalid(problems)
    return sections


def parse_knowledge(files: Iterable[tuple[str, str]]) -> Knowledge:
    """All knowledge files (path, text) -> `Knowledge`; every problem of every file in one `WorkspaceInvalid`."""
    problems: list[Problem] = []
    sections: list[Section] = []
    never: list[str] = []
    company: tuple[str, str, str] | None = None  # company, offer, path
    for path, text in files:
        stem = path.rsplit("/", 1)[-1].removesuffix(".md")
        try:
            if text.startswith("---"):
                header, body, first = split_front_matter(path, text)
            else:
                header, body, first = {}, text, 1
            unknown = set(header) - {"kind", "company", "offer", "title"}
            if unknown:
                problems.append(
                    Problem(
                        path,
                        f"unknown front matter field(s) {sorted(unknown)}; allowed: kind, company, offer, title",
                        line_of(header, sorted(unknown)[0], 1),
                    )
                )
            kind = header.get("kind", "facts")
            if kind not in ("facts", "never-claim"):
                problems.append(
                    Problem(path, f"kind must be facts or never-claim, got {kind!r}", line_of(header, "kind", 1))
                )
            if "company" in header or "offer" in header:
                if not (isinstance(header.get("company"), str) and isinstance(header.get("offer"), str)):
                    problems.append(
                        Problem(
                            path,
                            "`company` and `offer` go together, each one line of text",
                            line_of(header, "company", 1),
                        )
                    )
                elif company is not None:
                    problems.append(
                        Problem(
                            path,
                            f"the seller is already named in {company[2]}; name it in one file only",
                            line_of(header, "company", 1),
                        )
                    )
                else:
                    company = (header["company"].strip(), " ".join(header["offer"].split()), path)
            if kind == "never-claim":
                phrases = [m[1].strip() for m in re.finditer(r"^\s*[-*]\s+(.+)$", body, re.M)]
                if not phrases:
                    problems.append(
                        Problem(
                            path,
                            "a never-claim file lists one claim per bullet line (- guaranteed ROI); found none",
                            first,
                        )
                    )
                never.extend(p.strip("\"' ") for p in phrases if len(p.strip("\"' ")) >= 3)
                continue
            found = _sections(path, stem, body, first)
            if not found:
                problems.append(
                    Problem(path, "no sections: each fact is a '## Title' heading followed by its text", first)
                )
            sections.extend(found)
        except WorkspaceInvalid as exc:
            problems.extend(exc.problems)
    if company is None and not problems:
        problems.append(
            Problem(
                "knowledge/",
                "no file names the seller: add `company:` and `offer:` to one file's front matter "
                "(e.g. knowledge/company.md)",
            )
        )
    if problems:
        raise WorkspaceInvalid(problems)
    assert company is not None
    return Knowledge(sections=tuple(sections), never_claim=tuple(never), company=company[0], offer=company[1])

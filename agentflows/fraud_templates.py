"""The fraud team's template repository: one Markdown file per fraud tactic, in the workspace.

The team teaches the fraud check a new tactic by adding a file, not by asking engineering: the
conversation signal compares each claim message with the examples in these files. They live in the
workspace (`fraud/templates/*.md`), so a run reads them from its workspace snapshot
(`snapshot_templates`) and they are versioned, checked and approved like every other workspace
file: a template that does not parse makes the whole workspace invalid (`agentflows workspace
check` names the file) and runs keep the last valid snapshot. Every template carries `version`, the
hash of its text, so a verdict records exactly which text it matched.

`AGENTFLOWS_FRAUD_TEMPLATES_DIR` points the check at another folder instead (an operator's switch):
that folder is re-read at every `load_templates()` call, as before the workspace existed, and a bad
file there is skipped with a warning that names it and says why; the other templates still apply.

File format (see `agentflows/data/workspace/fraud/templates/README.md`): a YAML header between
`---` lines with `name`, `tactic` and optional `claim_kinds`, then example messages separated by
blank lines.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from agentflows.settings import get_settings
from agentflows.workspace import Snapshot, workspace_dir

TEMPLATES_FOLDER = "fraud/templates"
"""Where the templates sit in a workspace (drafts under review in `proposed/`, which snapshots leave out)."""
SHIPPED = Path(__file__).parent / "data" / "workspace" / "fraud" / "templates"
REFERENCE_CORPUS = Path(__file__).parent / "data" / "fraud" / "reference_corpus.txt"
"""Ordinary claim messages the conversation signal fits its n-gram weights on, once: never the templates."""
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}$")
CLAIM_KINDS = {"not_received", "arrived_broken", "refund_request"}
log = logging.getLogger(__name__)


class TemplateError(ValueError):
    """A template file or a new template that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class FraudTemplate:
    name: str
    tactic: str
    examples: tuple[str, ...]
    claim_kinds: tuple[str, ...]
    path: Path
    version: str  # sha256 of the file's bytes, first 12 hex digits

    @property
    def ref(self) -> str:
        """How evidence cites this template version: `template:<name>@<version>`."""
        return f"template:{self.name}@{self.version}"


@dataclass(frozen=True)
class TemplateProblem:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path.name}: {self.reason}"


@dataclass(frozen=True)
class TemplateSet:
    folder: Path
    templates: tuple[FraudTemplate, ...]
    problems: tuple[TemplateProblem, ...] = field(default=())

    @property
    def fingerprint(self) -> str:
        """One hash of every template version in use, to tell two runs' template sets apart."""
        joined = ",".join(sorted(t.ref for t in self.templates))
        return hashlib.sha256(joined.encode()).hexdigest()[:12]


def templates_dir() -> Path:
    """The folder templates are read from and written to: `AGENTFLOWS_FRAUD_TEMPLATES_DIR`, else the
    active workspace's `fraud/templates/` (the workspace is filled with the shipped samples on first use)."""
    settings = get_settings()
    if settings.fraud_templates_dir is not None:
        return settings.fraud_templates_dir.expanduser().resolve()
    folder = workspace_dir() / TEMPLATES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    _warn_about_the_old_folder(settings.data_dir / "fraud_templates", folder)
    return folder


_warned: set[Path] = set()


def _warn_about_the_old_folder(old: Path, new: Path) -> None:
    """Before the workspace, templates lived in `data_dir/fraud_templates/`: say once where they go now."""
    if old in _warned or not old.is_dir():
        return
    _warned.add(old)
    missing = sorted(p.name for p in old.glob("*.md") if p.name.lower() != "readme.md" and not (new / p.name).exists())
    if missing:
        log.warning(
            "%s holds fraud templates the check no longer reads (%s); move them to %s",
            old,
            ", ".join(missing),
            new,
        )


def parse_template(path: Path) -> FraudTemplate:
    """One template from one file; `TemplateError` says what is wrong, naming the file."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_template_text(path, text, hashlib.sha256(raw).hexdigest()[:12])


def parse_template_text(path: Path, text: str, version: str) -> FraudTemplate:
    """One template from a file's text (a folder's file or a workspace snapshot's); `path` names it in errors."""
    match = re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", text, re.S)
    if match is None:
        raise TemplateError(f"{path.name}: no YAML header; the file must start with a '---' line, then name/tactic")
    try:
        header = yaml.safe_load(match[1])
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        raise TemplateError(
            f"{path.name}: the YAML header does not parse{line}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(header, dict):
        raise TemplateError(f"{path.name}: the YAML header must be a mapping with name and tactic")
    name = header.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TemplateError(f"{path.name}: `name` must be lowercase letters, digits and dashes, got {name!r}")
    tactic = header.get("tactic")
    if not isinstance(tactic, str) or not tactic.strip():
        raise TemplateError(f"{path.name}: `tactic` (one line describing the tactic) is missing")
    kinds = header.get("claim_kinds") or []
    if not isinstance(kinds, list) or not set(kinds) <= CLAIM_KINDS:
        raise TemplateError(
            f"{path.name}: `claim_kinds` must be a list drawn from {sorted(CLAIM_KINDS)}, got {kinds!r}"
        )
    body = "\n".join(line for line in match[2].splitlines() if not line.lstrip().startswith("#"))
    examples = tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", body) if p.strip())
    if not examples:
        raise TemplateError(f"{path.name}: no example messages after the header")
    return FraudTemplate(
        name=name,
        tactic=" ".join(tactic.split()),
        examples=examples,
        claim_kinds=tuple(kinds),
        path=path,
        version=version,
    )


def _template_set(folder: Path, parsed: list[FraudTemplate | TemplateProblem]) -> TemplateSet:
    """Templates in file-name order; a later file with a name already taken becomes a problem."""
    templates: dict[str, FraudTemplate] = {}
    problems: list[TemplateProblem] = []
    for item in parsed:
        if isinstance(item, TemplateProblem):
            problems.append(item)
        elif item.name in templates:
            first = templates[item.name].path.name
            problems.append(TemplateProblem(item.path, f"duplicate name {item.name!r} (already defined in {first})"))
        else:
            templates[item.name] = item
    return TemplateSet(folder=folder, templates=tuple(templates.values()), problems=tuple(problems))


def _parsed(path: Path, parse: Any) -> FraudTemplate | TemplateProblem:
    try:
        return cast(FraudTemplate, parse())
    except TemplateError as exc:
        return TemplateProblem(path, str(exc).removeprefix(f"{path.name}: "))


def _is_template_name(name: str) -> bool:
    return not name.startswith(("_", ".")) and name.lower() != "readme.md"


def load_templates(folder: Path | None = None) -> TemplateSet:
    """Every usable template in `folder` (default: the configured one), read now, in name order.

    Bad files and duplicate names are skipped and logged as warnings naming the file.
    """
    folder = folder or templates_dir()
    if not folder.is_dir():
        raise TemplateError(f"fraud template folder {folder} does not exist (AGENTFLOWS_FRAUD_TEMPLATES_DIR)")
    found = _template_set(
        folder,
        [
            _parsed(path, lambda path=path: parse_template(path))
            for path in sorted(folder.glob("*.md"))
            if _is_template_name(path.name)
        ],
    )
    for problem in found.problems:
        log.warning("fraud template skipped: %s", problem)
    return found


def snapshot_templates(snapshot: Snapshot) -> TemplateSet:
    """The templates of a workspace snapshot (`fraud/templates/*.md`), versioned by the snapshot's file versions.

    Problems are returned, not logged: the workspace check refuses a snapshot with any (see
    `agents.fraud.config`), so a run never uses a template set with a broken file in it.
    """
    folder = Path(snapshot.source or ".") / TEMPLATES_FOLDER
    return _template_set(
        folder,
        [
            _parsed(
                Path(rel),
                lambda rel=rel: parse_template_text(Path(rel), snapshot.text(rel), snapshot.version(rel)),
            )
            for rel in snapshot.paths(TEMPLATES_FOLDER, (".md",))
            if _is_template_name(rel.rsplit("/", 1)[-1])
        ],
    )


def add_template(name: str, tactic: str, examples: list[str], claim_kinds: list[str] | None = None) -> Path:
    """Write a new template file (refusing to overwrite one); it is validated by the same parser."""
    folder = templates_dir()
    path = folder / f"{name}.md"
    if path.exists():
        raise TemplateError(f"{path.name}: a template with this name exists already; edit the file instead")
    header = yaml.safe_dump(
        {"name": name, "tactic": tactic, **({"claim_kinds": claim_kinds} if claim_kinds else {})},
        sort_keys=False,
        allow_unicode=True,
    )
    body = "\n\n".join(" ".join(e.split()) for e in examples if e.strip())
    text = f"---\n{header}---\n{body}\n"
    tmp = folder / f"_{name}.md.tmp"
    tmp.write_text(text, encoding="utf-8")
    try:
        parse_template(tmp)  # the same checks a run applies, before the file becomes visible
    except TemplateError as exc:
        tmp.unlink()
        raise TemplateError(str(exc).replace(tmp.name, path.name)) from None
    tmp.rename(path)
    return path


PROPOSED_DIR = "proposed"
_ANONYMISE = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    (re.compile(r"https?://\S+"), "[url]"),
    (re.compile(r"\+?\d[\d\s().-]{7,}\d"), "[phone]"),
    (re.compile(r"\b\d{4,}\b"), "[number]"),
]


def anonymise(text: str) -> str:
    """Strip what identifies a person or an order (emails, URLs, phone numbers, long numbers)."""
    for pattern, replacement in _ANONYMISE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def propose_template(claim_id: int, claim_kind: str, message: str, analyst: str, note: str) -> Path:
    """A draft template from a confirmed fraud that matched no template, under `proposed/`: not active.

    The loader reads only the folder's top level and workspace snapshots leave `proposed/` out, so a
    proposal changes nothing until a person moves (and edits) it into the folder: activating a
    tactic stays a human decision.
    """
    folder = templates_dir() / PROPOSED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    header = yaml.safe_dump(
        {
            "name": f"case-{claim_id}",
            "tactic": f"Proposed from case {claim_id}, confirmed as fraud by {analyst}: {note or 'no note'}"[:300],
            "claim_kinds": [claim_kind] if claim_kind in CLAIM_KINDS else [],
            "status": "proposed - move this file up one folder (and edit it) to activate",
        },
        sort_keys=False,
        allow_unicode=True,
    )
    path = folder / f"case-{claim_id}.md"
    path.write_text(f"---\n{header}---\n{anonymise(message)}\n", encoding="utf-8")
    return path

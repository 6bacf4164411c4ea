"""A team's own fraud labels: a CSV of claims and what they turned out to be, checked before anything is scored.

`agentflows eval fraud --labels labels.csv` reads it. Format (header row required, column names
case-insensitive, extra columns ignored):

    claim,label,pattern
    ZD-10442,fraud,drop-address-ring
    ZD-10443,legit,
    1187,not fraud,porch-theft

- `claim` (also accepted: `claim_id`, `external_id`, `claim_external_id`, `id`): the claim's external
  id (what an import or sync stored in `claims.external_id`); when no claim has that external id and
  the value is a whole number, the project's own claim id.
- `label` (also `is_fraud`, `fraud`): fraud, fraudulent, yes, true, 1 / legit, legitimate, benign,
  honest, genuine, not fraud, no, false, 0 (case and spaces do not matter).
- `pattern` (optional): a name for the tactic or the honest look-alike; the evaluation reports the
  flag rate per pattern (empty: `fraud` or `legit`).

Every bad row (unknown claim, unknown label, a claim labelled twice) is reported with its line and
reason, all at once, and nothing is scored until the file is clean: a silently smaller label set
would give figures nobody can trust.

The split into training and held-out claims is a hash of the label's claim reference (the
external id when the claim has one, else its id), so the same claim stays on the same side across
imports into a new database, where its numeric id changes.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select

from agentflows.db import session_scope
from agentflows.db.fraud import Claim, ClaimLabel

Split = Literal["holdout", "train", "all"]
HOLDOUT_PERCENT = 40
CLAIM_COLUMNS = ("claim", "claim_id", "external_id", "claim_external_id", "id")
LABEL_COLUMNS = ("label", "is_fraud", "fraud")
FRAUD_WORDS = frozenset({"fraud", "fraudulent", "yes", "y", "true", "1"})
LEGIT_WORDS = frozenset(
    {"legit", "legitimate", "benign", "honest", "genuine", "not fraud", "not_fraud", "no", "n", "false", "0"}
)
MAX_REPORTED = 50


class LabelsError(ValueError):
    """The labels file cannot be used; the message names the file and every bad line."""


def is_holdout(key: int | str) -> bool:
    """A fixed, seed-independent split: the same claim reference is always on the same side."""
    digest = hashlib.sha256(f"fraud-split:{key}".encode()).hexdigest()
    return int(digest, 16) % 100 < HOLDOUT_PERCENT


@dataclass(frozen=True)
class Labels:
    """Labelled claims: {claim id: (is fraud, pattern)}, the reference each is split by, and where they came from."""

    rows: dict[int, tuple[bool, str]]
    keys: dict[int, str]
    source: str

    def split(self, split: Split) -> dict[int, tuple[bool, str]]:
        keep = {
            "holdout": lambda k: is_holdout(k),
            "train": lambda k: not is_holdout(k),
            "all": lambda k: True,
        }[split]
        return {cid: value for cid, value in self.rows.items() if keep(self.keys[cid])}


def seeded_labels() -> Labels:
    """The labels `agentflows seed` planted (`claim_labels`), split by claim id as before."""
    with session_scope() as session:
        rows = session.execute(select(ClaimLabel.claim_id, ClaimLabel.is_fraud, ClaimLabel.pattern)).all()
    if not rows:
        raise LookupError("no labelled claims: run `agentflows seed` first, or pass your own with --labels FILE")
    return Labels(
        rows={int(cid): (bool(fraud), pattern) for cid, fraud, pattern in rows},
        keys={int(cid): str(cid) for cid, _, _ in rows},
        source="claim_labels (seeded)",
    )


def parse_label(value: str) -> bool | None:
    """True for fraud, False for legit, None for anything else."""
    word = " ".join(value.strip().lower().replace("-", " ").split())
    if word in FRAUD_WORDS:
        return True
    if word in LEGIT_WORDS or word.replace(" ", "_") in LEGIT_WORDS:
        return False
    return None


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def read_labels(path: Path) -> Labels:
    """The labels in a CSV file, matched to claims in the project database; `LabelsError` lists every bad row."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LabelsError(f"{path}: labels file not found") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelsError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise LabelsError(f"{path}: empty file; expected a header row such as `claim,label,pattern`")
    claim_col, label_col = _column(header, CLAIM_COLUMNS), _column(header, LABEL_COLUMNS)
    pattern_col = _column(header, ("pattern",))
    missing = [
        f"a claim column ({' / '.join(CLAIM_COLUMNS)})" if claim_col is None else "",
        f"a label column ({' / '.join(LABEL_COLUMNS)})" if label_col is None else "",
    ]
    if claim_col is None or label_col is None:
        raise LabelsError(
            f"{path}, line 1: the header needs {' and '.join(m for m in missing if m)}; found {', '.join(header)}"
        )
    parsed: list[tuple[int, str, bool, str]] = []  # line, claim ref, fraud, pattern
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        ref = row[claim_col].strip() if claim_col < len(row) else ""
        value = row[label_col] if label_col < len(row) else ""
        pattern = row[pattern_col].strip() if pattern_col is not None and pattern_col < len(row) else ""
        fraud = parse_label(value)
        if not ref:
            problems.append(f"line {line}: the claim is empty")
        elif fraud is None:
            problems.append(
                f"line {line}: label {value.strip()!r} for claim {ref!r} is neither fraud nor legit "
                "(use fraud / legit; yes / no, true / false, 1 / 0 work too)"
            )
        else:
            parsed.append((line, ref, fraud, pattern or ("fraud" if fraud else "legit")))
    if not parsed and not problems:
        raise LabelsError(f"{path}: no labelled rows after the header")
    ids = _claim_ids([ref for _, ref, _, _ in parsed])
    rows: dict[int, tuple[bool, str]] = {}
    keys: dict[int, str] = {}
    first_line: dict[int, int] = {}
    for line, ref, fraud, pattern in parsed:
        found = ids.get(ref)
        if found is None:
            problems.append(f"line {line}: no claim has external id or id {ref!r}")
            continue
        cid, key = found
        if cid in rows:
            problems.append(f"line {line}: claim {ref!r} is labelled twice (first on line {first_line[cid]})")
            continue
        rows[cid], keys[cid], first_line[cid] = (fraud, pattern), key, line
    if problems:
        shown = problems[:MAX_REPORTED]
        more = f"\n… and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        raise LabelsError(
            f"{path}: {len(problems)} bad row(s), nothing was scored; fix them and run again:\n"
            + "\n".join(shown)
            + more
        )
    return Labels(rows=rows, keys=keys, source=str(path))


def _claim_ids(refs: list[str]) -> dict[str, tuple[int, str]]:
    """{reference: (claim id, split key)}: by external id first, then a whole number as the claim id."""
    found: dict[str, tuple[int, str]] = {}
    unique = sorted(set(refs))
    with session_scope() as session:
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            for cid, ext in session.execute(select(Claim.id, Claim.external_id).where(Claim.external_id.in_(chunk))):
                found[ext] = (int(cid), ext)
        numbers = {int(r): r for r in unique if r not in found and r.isdigit()}
        keys = sorted(numbers)
        for start in range(0, len(keys), 500):
            chunk_ids = keys[start : start + 500]
            for cid, ext in session.execute(select(Claim.id, Claim.external_id).where(Claim.id.in_(chunk_ids))):
                found[numbers[int(cid)]] = (int(cid), ext or str(cid))
    return found

"""The workspace: the files a domain team edits instead of Python, read as immutable snapshots.

A workspace is a folder of plain files (`agents/`, `writers/`, `knowledge/`, `fraud/`; see the
README's "Make it yours"). This module knows only files, not what they mean (that is
`agents.workspace`): it reads a folder into a `Snapshot` (every file's text, each versioned by
its content hash, the snapshot by the hash of those versions), stores snapshots in the project
database so a run days later can load exactly the one it started with, and writes an approved
snapshot into the active folder.

Why snapshots: a run reads the workspace once, at its start, and everything it does uses that
snapshot, even if somebody edits the folder meanwhile; and every output records the snapshot id,
so "which instructions wrote this email" has an answer.

Why a lock: activation rewrites several files; a run reading the folder at that moment must see
all of the old files or all of the new, never a mix. Readers take a shared `flock`, activation an
exclusive one (a team editing the folder by hand, e.g. `git pull`, is outside that guarantee;
the next run simply validates what it finds).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from agentflows.settings import get_settings

SHIPPED = Path(__file__).parent / "data" / "workspace"
"""The shipped defaults a new workspace is filled from (and the snapshot used when nothing valid exists)."""

PARTS = ("agents", "writers", "knowledge", "fraud")
"""Top-level folders that belong to the workspace; anything else (`.git`, README.md, notes) is left alone."""

SUFFIXES = (".yaml", ".yml", ".md")
SKIPPED_FOLDERS = ("proposed",)  # fraud template drafts under review: not part of what runs
MAX_FILE_BYTES = 256_000


class WorkspaceFolderError(ValueError):
    """A folder that cannot be read as a workspace: missing, empty, or holding an unreadable file."""


def file_version(text: str) -> str:
    """A file's version: the first 12 hex digits of the sha256 of its UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Snapshot:
    """Every workspace file's text at one moment, keyed by its path relative to the workspace root."""

    files: Mapping[str, str]
    source: str = ""
    manifest: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(sorted(self.files.items()))))
        object.__setattr__(self, "manifest", MappingProxyType({p: file_version(t) for p, t in self.files.items()}))

    @cached_property
    def id(self) -> str:
        """The snapshot's version: a hash of its files' paths and versions (same files, same id)."""
        return hashlib.sha256(json.dumps(dict(self.manifest), sort_keys=True).encode()).hexdigest()[:12]

    def text(self, path: str) -> str:
        return self.files[path]

    def version(self, path: str) -> str:
        return self.manifest[path]

    def ref(self, path: str) -> str:
        """How outputs cite one file: `writers/technical-buyer.md@3f2a9c01b7de`."""
        return f"{path}@{self.manifest[path]}"

    def paths(self, folder: str, suffixes: tuple[str, ...] = SUFFIXES) -> list[str]:
        """The files directly in `folder` (e.g. `writers`) with one of `suffixes`, in name order."""
        prefix = folder.rstrip("/") + "/"
        return [p for p in self.files if p.startswith(prefix) and "/" not in p[len(prefix) :] and p.endswith(suffixes)]

    def changed_from(self, other: Snapshot) -> dict[str, str]:
        """Path -> `added` / `changed` / `removed`, compared with `other`."""
        changes: dict[str, str] = {}
        for path in sorted(set(self.manifest) | set(other.manifest)):
            mine, theirs = self.manifest.get(path), other.manifest.get(path)
            if mine != theirs:
                changes[path] = "added" if theirs is None else "removed" if mine is None else "changed"
        return changes


def _workspace_paths(folder: Path) -> Iterator[Path]:
    for part in PARTS:
        root = folder / part
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(folder)
            if any(p.startswith((".", "_")) or p in SKIPPED_FOLDERS for p in rel.parts[:-1]):
                continue
            if path.is_file() and path.suffix in SUFFIXES and not path.name.startswith((".", "_")):
                if path.name.lower() == "readme.md":
                    continue
                yield path


def read_folder(folder: Path) -> Snapshot:
    """A snapshot of the workspace files in `folder` (under the shared lock when it is the active one).

    Refuses a folder that does not exist or holds no workspace file before anything else looks at it.
    """
    folder = folder.expanduser()
    if not folder.is_dir():
        raise WorkspaceFolderError(f"{folder}: no such folder")
    files: dict[str, str] = {}
    with _locked(folder, fcntl.LOCK_SH):
        for path in _workspace_paths(folder):
            rel = PurePosixPath(path.relative_to(folder)).as_posix()
            raw = path.read_bytes()
            if len(raw) > MAX_FILE_BYTES:
                raise WorkspaceFolderError(
                    f"{rel}: {len(raw)} bytes; a workspace file may have at most {MAX_FILE_BYTES}"
                )
            try:
                files[rel] = raw.decode("utf-8").replace("\r\n", "\n")
            except UnicodeDecodeError as exc:
                raise WorkspaceFolderError(f"{rel}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not files:
        raise WorkspaceFolderError(
            f"{folder}: no workspace files (expected {', '.join(p + '/' for p in PARTS)} with .yaml or .md files)"
        )
    return Snapshot(files, source=str(folder))


def shipped_snapshot() -> Snapshot:
    return read_folder(SHIPPED)


def workspace_dir() -> Path:
    """The active workspace folder (`AGENTFLOWS_WORKSPACE`), filled from the shipped defaults on first use."""
    settings = get_settings()
    folder = (settings.workspace or settings.data_dir / "workspace").expanduser()
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".workspace-", dir=folder.parent))
        shutil.copytree(SHIPPED, staging, dirs_exist_ok=True)
        try:
            staging.rename(folder)  # all of the defaults or none: two first runs at once both end up fine
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _lock_path(folder: Path) -> Path:
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return get_settings().data_dir / "locks" / f"workspace-{digest}.lock"


@contextmanager
def _locked(folder: Path, mode: int) -> Iterator[None]:
    lock = _lock_path(folder)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_snapshot(snapshot: Snapshot, folder: Path) -> dict[str, str]:
    """Make `folder`'s workspace files exactly `snapshot`'s; returns what changed (path -> how).

    Under the exclusive lock, so a run reading the folder sees all old files or all new ones. Each
    file is written to a temporary name and renamed over the old one; files that are not workspace
    files (`.git`, notes) are left alone.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder, fcntl.LOCK_EX):
        current = {PurePosixPath(p.relative_to(folder)).as_posix(): p for p in _workspace_paths(folder)}
        changes: dict[str, str] = {}
        for rel, text in snapshot.files.items():
            target = folder / rel
            if rel in current and target.read_text(encoding="utf-8").replace("\r\n", "\n") == text:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
            changes[rel] = "changed" if rel in current else "added"
        for rel, path in current.items():
            if rel not in snapshot.files:
                path.unlink()
                changes[rel] = "removed"
    return changes

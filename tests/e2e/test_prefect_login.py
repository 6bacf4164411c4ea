"""The Prefect UI behind basic auth, in headless Chromium, the way the README tells an analyst to sign in.

`make test-e2e` runs it (it installs playwright and Debian's chromium); the API side of the auth (401 without
the string, every child of the stack using it) is in tests/triggers/test_up_e2e.py, which runs in `make test`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.test_browser_approval import CHROMIUM_ARGS, chromium  # noqa: F401  (fixture: skips without one)
from tests.helpers import seed_database
from tests.triggers.stack import UpProcess, stack_env, start_up

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    from agentflows.seed.crm import seed_crm

    data_dir = tmp_path_factory.mktemp("up-auth") / "data"
    seed_database(f"sqlite:///{data_dir / 'agentflows.db'}", seed_crm)
    up = start_up(data_dir, stack_env(data_dir), "--host", "0.0.0.0", "--generate-auth")
    yield up
    assert up.stop() == 0, up.text[-3000:]


def test_the_ui_asks_for_the_auth_string_and_lets_the_analyst_in(stack: UpProcess, chromium: str):  # noqa: F811
    """What the README tells an analyst: open the UI, type the whole `user:password` string into its Login."""
    from playwright.sync_api import sync_playwright

    ui = stack.api.removesuffix("/api")
    user, password = stack.auth or ("", "")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{ui}/")  # the default (v2) UI
            login = page.locator("input[type=password]")
            login.wait_for()
            assert login.get_attribute("placeholder") == "admin:pass"
            login.fill(f"{user}:wrong-password")
            login.press("Enter")
            page.get_by_text(re.compile("Invalid credentials|Authentication failed")).first.wait_for()
            login.fill(f"{user}:{password}")
            login.press("Enter")
            login.wait_for(state="detached")
            page.goto(f"{ui}/deployments")
            page.get_by_text("on-demand").first.wait_for()  # the deployments (first page), read through the API
            assert page.locator("input[type=password]").count() == 0
        finally:
            browser.close()

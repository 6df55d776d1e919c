"""One headless Chromium (Debian's, driven by Playwright) shared by the browser tests of a module."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.services import unavailable

CHROMIUM = "/usr/bin/chromium"
# Flags the guide asks for: no sandbox (root in CI), no GPU, no background network chatter.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        unavailable("Debian's chromium at /usr/bin/chromium")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()

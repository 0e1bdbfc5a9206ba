"""What the real-browser tests share (tests/test_browser.py, test_theme.py, test_teacher_page.py): Debian's
Chromium through Playwright, a real ``streamlit run`` on its own data, and signing in on the login page."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from conftest import unavailable

from benchmarks.common import CHROMIUM, StreamlitServer
from core import SETTINGS

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "otter-42-moss"
TIMEOUT_MS = 60_000  # a wait, not a measurement: generous on a loaded 2-core machine


def require_browser() -> None:
    """Skip (fail under CI=true) without Chromium or Playwright."""
    if not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("playwright (python) is not installed")


def server_settings(data: Path, **overrides: str) -> dict[str, str]:
    """Every setting at its default (the machine's env and .env never leak in), the data in ``data``."""
    settings = {s.name: str(s.default) for s in SETTINGS}
    settings.update(TUTOR_DATA_DIR=str(data), **overrides)
    return settings


@contextmanager
def streamlit_running(data: Path, settings: dict[str, str], timeout: float = 60):
    """The app served by ``streamlit run`` with ``settings``; yields its base URL (a failed start raises with the
    server's log)."""
    environ = {k: v for k, v in os.environ.items() if k not in settings} | settings
    server = StreamlitServer(data, environ)
    try:
        server.start(timeout=timeout)
        yield server.url
    finally:
        server.stop()


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def key(name: str) -> str:
    return f".st-key-{name}"


def sign_in(page, base: str, email: str, path: str = "/") -> None:
    page.goto(base + path)
    page.locator(key("login_email") + " input").fill(email)
    page.locator(key("login_password") + " input").fill(PASSWORD)
    page.locator(key("login_submit") + " button").click()
    page.locator(key("logout") + " button").wait_for()


def screenshot(page, name: str, *, full_page: bool = False) -> None:
    """With ``TUTOR_SCREENSHOTS=<folder>``, the page saved there as ``<name>.png`` (the README's pictures)."""
    folder = os.environ.get("TUTOR_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)

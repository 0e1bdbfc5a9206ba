"""The light and dark themes, and Streamlit's own chrome in the user's language.

* ``.streamlit/config.toml`` ships ``[theme.light]`` and ``[theme.dark]`` with one brand colour; every pair of
  colours that carries text has a contrast of at least 4.5:1 (WCAG 2 AA), the brand colour against the background
  (focus rings, the active tab's line) at least 3:1.
* In Chromium, the page follows the browser's colour scheme (the login page and a signed-in page), ``<html lang>``
  is the interface language, and page URLs never open Streamlit's English "Page not found" dialog.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from browser_support import (
    PASSWORD,
    TIMEOUT_MS,
    chromium,
    require_browser,
    server_settings,
    sign_in,
    streamlit_running,
)

from core import create_tutor
from ui.texts import t

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
THEME = CONFIG["theme"]
WHITE = "#ffffff"  # Streamlit writes primary buttons' labels in white in both themes


def luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_is_computed_as_wcag_defines_it():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic "just fails AA" grey


def test_a_light_and_a_dark_theme_share_one_brand():
    assert set(THEME) >= {"light", "dark"}
    assert THEME["primaryColor"].startswith("#")
    for scheme in ("light", "dark"):
        assert "primaryColor" not in THEME[scheme], f"[theme.{scheme}] must keep the brand colour of [theme]"
    assert luminance(THEME["light"]["backgroundColor"]) > 0.8 > 0.05 > luminance(THEME["dark"]["backgroundColor"])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_colour_reads_on_its_background(scheme):
    theme = THEME[scheme]
    pairs = {"text on background": (theme["textColor"], theme["backgroundColor"]),
             "text on widgets and sidebar": (theme["textColor"], theme["secondaryBackgroundColor"]),
             "links": (theme["linkColor"], theme["backgroundColor"]),
             "links in the sidebar": (theme["linkColor"], theme["secondaryBackgroundColor"]),
             "primary buttons": (WHITE, THEME["primaryColor"])}
    for what, (ink, paper) in pairs.items():
        assert contrast(ink, paper) >= 4.5, f"{scheme}: {what} {ink} on {paper} is {contrast(ink, paper):.2f}:1"
    assert contrast(THEME["primaryColor"], theme["backgroundColor"]) >= 3.0


def test_the_app_keeps_its_other_settings():
    assert CONFIG["client"]["showErrorDetails"] == "none" and CONFIG["client"]["toolbarMode"] == "minimal"
    assert CONFIG["server"]["headless"] is True


# --- in a browser -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    data = tmp_path_factory.mktemp("theme")
    settings = server_settings(data, TUTOR_DEFAULT_LANGUAGE="es")
    tutor = create_tutor(settings, environ={}, env_file=None)
    tutor.register("ana@example.org", PASSWORD, name="Ana", language="es")
    tutor.register("bob@example.org", PASSWORD, name="Bob", language="en")
    try:
        with streamlit_running(data, settings, timeout=90) as url:
            yield url
    finally:
        tutor.close()


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


def open_page(browser, scheme: str = "light"):
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="es-ES", color_scheme=scheme)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def background_is_dark(page) -> bool:
    colour = page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor")
    red, green, blue = (int(c) for c in colour[colour.index("(") + 1:].rstrip(")").split(",")[:3])
    return luminance(f"#{red:02x}{green:02x}{blue:02x}") < 0.2


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_follows_the_browsers_colour_scheme(browser, server, scheme):
    context, page = open_page(browser, scheme)
    try:
        page.goto(server + "/")
        page.locator(".st-key-login_email input").wait_for()
        assert background_is_dark(page) == (scheme == "dark")
        sign_in(page, server, "ana@example.org")
        page.goto(server + "/history")
        page.locator(".st-key-logout button").wait_for()
        assert background_is_dark(page) == (scheme == "dark")
        expected = THEME[scheme]["textColor"].lstrip("#")
        shown = page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=stApp]')).color")
        assert shown == "rgb({}, {}, {})".format(*(int(expected[i:i + 2], 16) for i in (0, 2, 4)))
    finally:
        context.close()


def test_html_lang_is_the_interface_language(browser, server):
    context, page = open_page(browser)
    try:
        page.goto(server + "/")
        page.wait_for_function("() => document.documentElement.lang === 'es'")
        sign_in(page, server, "bob@example.org")  # Bob's interface is in English
        page.wait_for_function("() => document.documentElement.lang === 'en'")
        page.get_by_role("radio", name="Español").click()
        page.wait_for_function("() => document.documentElement.lang === 'es'")
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/no-such-page", "/ask"])
def test_a_page_url_never_opens_streamlits_english_dialog(browser, server, path):
    context, page = open_page(browser)
    try:
        sign_in(page, server, "ana@example.org")
        page.goto(server + path)
        page.locator(".st-key-logout button").wait_for()
        if path == "/no-such-page":
            page.get_by_text(t("page_not_found", "es")).wait_for()
            page.get_by_role("link", name=t("go_home_page", "es")).click()
            page.locator(".st-key-question textarea").wait_for()
        else:
            page.locator(".st-key-question textarea").wait_for()
        page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for()
        assert page.get_by_role("dialog").count() == 0
        assert page.get_by_text("Page not found").count() == 0
    finally:
        context.close()

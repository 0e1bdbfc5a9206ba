"""What the AppTest page tests share (tests/test_app.py, test_spanish_ui.py, test_student_pages.py,
test_teacher_page.py): the app's script under ``streamlit.testing.v1.AppTest`` and signing in on its login form."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
PASSWORD = "otter-42-moss"
TIMEOUT_S = 60  # a wait for one script run on a loaded 2-core machine, not a measurement


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT_S)


def sign_in(at: AppTest, email: str, password: str = PASSWORD) -> AppTest:
    """``at`` after submitting the login form (the run must not raise)."""
    at.text_input(key="login_email").input(email)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click().run()
    assert not at.exception, at.exception
    return at


def signed_in(email: str = "ana@example.org", password: str = PASSWORD) -> AppTest:
    """A fresh app, signed in as ``email``."""
    return sign_in(new_app().run(), email, password)

"""The Streamlit pages through ``streamlit.testing.v1.AppTest``: every page and its state machine.

AppTest runs each script run to its end, so it cannot click mid-stream (tests/test_browser.py does that in a real
browser); here the streaming states are set up through the facade and the pages are checked as they render them.
"""
from __future__ import annotations

import json
import time

import jwt
import pytest
from app_support import PASSWORD, new_app, sign_in, signed_in
from streamlit.testing.v1 import AppTest

from core.content.library import load_lessons
from core.errors import AuthError
from core.school.auth import load_or_create_secret

LESSONS = load_lessons()
LESSON_ES = next(l for l in LESSONS if l.question.language == "es" and
                 sum(len(s.canvas_commands) for s in l.answer.steps) >= 5)
LESSON_EN = next(l for l in LESSONS if l.question.language == "en")


# --- fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture
def settings(app_settings):
    return app_settings


@pytest.fixture
def tutor(settings, make_tutor):
    """A tutor on the same data as the app's (for setting things up and checking what the pages did)."""
    tutor = make_tutor(**settings)
    tutor.accounts.register("ana@example.org", PASSWORD, name="Ana", language="es")
    tutor.accounts.register("bob@example.org", PASSWORD, language="en")
    teacher = tutor.accounts.register("teo@example.org", PASSWORD, role="teacher", language="en", name="Teo")
    tutor.accounts.create_class(teacher, "4ºB")
    return tutor


@pytest.fixture
def ai_settings(settings, ai, monkeypatch):
    for name, value in ai.items():
        monkeypatch.setenv(name, value)
    settings.update(ai)
    return settings


def identity(tutor, email):
    return tutor.identity_of(tutor.accounts.by_email(email))


def markdown_in(at: AppTest, key: str) -> list[str]:
    return [m.value for m in at.get_by_key(key).markdown]


def keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button}


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def cookie_scripts(at: AppTest) -> list[str]:
    return [h.value for h in at.get("html") if "document.cookie" in h.value]


def live_view(at: AppTest) -> dict:
    """The data the Ask page hands the live explanation component (what the browser draws first)."""
    return json.loads(at.get_by_key("live").proto.json)


def read_like_the_browser(tutor, me, session_id: str) -> list[dict]:
    """What the component's stream does in a browser (AppTest runs no JavaScript): follow the session to its end."""
    return list(tutor.stream(me, session_id))


def stream_some(tutor, me, session_id: str, chunks: int, *, pause: bool) -> None:
    seen = 0
    for item in tutor.stream(me, session_id):
        if item["event"] == "content_chunk":
            seen += 1
            if seen == chunks:
                if pause:
                    tutor.pause(me, session_id)
                else:
                    return


# --- signing in and out -------------------------------------------------------------------------------------------

def test_signed_out_sees_only_the_sign_in_form(tutor):
    at = new_app().run()
    assert not at.exception
    assert at.text_input(key="login_email") and at.text_input(key="login_password")
    assert "logout" not in keys(at) and "ask" not in keys(at)
    for page in ("app_pages/ask.py", "app_pages/history.py", "app_pages/chat.py", "app_pages/teacher.py"):
        with pytest.raises(ValueError):
            at.switch_page(page)  # not registered for a visitor


def test_wrong_password_is_refused_inline_in_the_interface_language(tutor):
    at = new_app().run()
    sign_in(at, "ana@example.org", "wrong-password1")
    assert errors(at) == ["Correo o contraseña incorrectos."]
    assert at.session_state.get("token") is None
    at.segmented_control(key="ui_lang_visitor").set_value("en").run()
    assert at.text_input(key="login_email").label == "Email"
    sign_in(at, "nobody@example.org", "wrong-password1")
    assert errors(at) == ["Wrong email or password."]


def test_sign_in_opens_the_ask_page_and_sets_the_cookie(tutor):
    at = signed_in()
    assert at.text_area(key="question") and "ask" in keys(at) and "logout" in keys(at)
    token = at.session_state["token"]
    assert tutor.identity(token).email == "ana@example.org"
    [script] = cookie_scripts(at)
    assert f"tutor_token={token}; Max-Age={tutor.settings.jwt_ttl}; Path=/; SameSite=Strict" in script
    assert token not in str(at.query_params)  # never a token in the URL


def test_a_valid_cookie_signs_in_after_a_reload(tutor, monkeypatch):
    token = tutor.token_for(tutor.accounts.by_email("ana@example.org"))
    monkeypatch.setattr("ui.app.request_cookie", lambda: token)
    at = new_app().run()
    assert not at.exception
    assert at.text_area(key="question") and "logout" in keys(at)
    assert cookie_scripts(at) == []  # the browser already has it


def test_an_expired_cookie_signs_out_with_the_reason(tutor, monkeypatch):
    token = tutor.tokens.issue(identity(tutor, "ana@example.org"), ttl=-3600)
    monkeypatch.setattr("ui.app.request_cookie", lambda: token)
    at = new_app().run()
    assert at.text_input(key="login_email")
    assert [w.value for w in at.warning] == ["La sesión ha caducado. Vuelve a iniciar sesión."]
    [script] = cookie_scripts(at)
    assert "Max-Age=0" in script
    monkeypatch.setattr("ui.app.request_cookie", lambda: "not-a-token")
    assert new_app().run().text_input(key="login_email")


def test_sign_out_forgets_the_user_and_drops_the_cookie(tutor, monkeypatch):
    token = tutor.token_for(tutor.accounts.by_email("ana@example.org"))
    monkeypatch.setattr("ui.app.request_cookie", lambda: token)
    at = new_app().run()
    at.button(key="logout").click().run()
    assert at.text_input(key="login_email") and "logout" not in keys(at)
    assert [i.value for i in at.info] == ["Has cerrado la sesión."]
    [script] = cookie_scripts(at)
    assert "tutor_token=; Max-Age=0" in script
    at.run()  # the browser still sends the old cookie until the script ran: it is not taken again
    assert at.text_input(key="login_email")


def test_sign_out_revokes_the_token_everywhere(tutor, monkeypatch):
    token = tutor.token_for(tutor.accounts.by_email("ana@example.org"))
    other_device = tutor.token_for(tutor.accounts.by_email("ana@example.org"))
    monkeypatch.setattr("ui.app.request_cookie", lambda: token)
    at = new_app().run()
    at.button(key="logout").click().run()
    assert at.text_input(key="login_email")
    for old in (token, other_device):  # a copied cookie is worth nothing after the sign-out
        with pytest.raises(AuthError) as refused:
            tutor.identity(old)
        assert refused.value.code == "auth_invalid"
    again = new_app().run()  # a reload that still sends the old cookie
    assert again.text_input(key="login_email") and "logout" not in keys(again)
    assert [w.value for w in again.warning] == ["La sesión no es válida. Vuelve a iniciar sesión."]


def test_an_active_user_gets_a_fresh_token_past_half_its_life(tutor, monkeypatch):
    ana = tutor.accounts.by_email("ana@example.org")
    now = int(time.time())
    claims = {"sub": ana.id, "email": ana.email, "role": ana.role, "name": ana.name, "lang": ana.language,
              "iat": now - 2000, "exp": now + 1600, "aud": "tutor", "iss": "tutor", "ver": ana.token_version}
    old = jwt.encode(claims, load_or_create_secret(tutor.settings), algorithm="HS256")
    monkeypatch.setattr("ui.app.request_cookie", lambda: old)
    at = new_app().run()
    assert at.text_area(key="question")
    fresh = at.session_state["token"]
    assert fresh != old and tutor.identity(fresh).email == "ana@example.org"
    assert jwt.decode(fresh, options={"verify_signature": False})["iat"] >= now
    [script] = cookie_scripts(at)
    assert f"tutor_token={fresh}; Max-Age=3600;" in script
    at.run()
    assert at.session_state["token"] == fresh  # not renewed again while it is young


def test_too_many_sign_ins_are_refused_inline(tutor):
    at = new_app().run()
    for _ in range(10):
        sign_in(at, "ana@example.org", "wrong-password1")
    sign_in(at, "ana@example.org", PASSWORD)
    [message] = errors(at)
    assert message.startswith("Demasiadas peticiones. Espera ") and at.session_state.get("token") is None


def test_register_with_a_class_code_joins_the_class(tutor):
    teacher = tutor.accounts.by_email("teo@example.org")
    [klass] = tutor.accounts.classes_of(teacher)
    at = new_app().run()
    at.text_input(key="register_email").input("new@example.org")
    at.text_input(key="register_password").input("another-pass9")
    at.text_input(key="register_code").input(klass.join_code.lower())
    at.button(key="register_submit").click().run()
    assert not at.exception and at.text_area(key="question")
    user = tutor.accounts.by_email("new@example.org")
    assert [c.id for c in tutor.accounts.classes_of(user)] == [klass.id]


@pytest.mark.parametrize("email, password, code, message", [
    ("x@example.org", "short", "", "Esa contraseña es demasiado fácil de adivinar. Usa al menos 10 caracteres, por "
                                   "ejemplo varias palabras que no sean una frase conocida."),
    ("x@example.org", "Passw0rd12", "", "Esa contraseña es demasiado fácil de adivinar. Usa al menos 10 caracteres, "
                                        "por ejemplo varias palabras que no sean una frase conocida."),
    ("ana@example.org", PASSWORD, "", "No se ha podido crear la cuenta con estos datos. Si ya tienes una, entra con "
                                      "ella."),
    ("y@example.org", PASSWORD, "NOPE99", "No existe ninguna clase con el código NOPE99."),
])
def test_register_errors_are_inline(tutor, email, password, code, message):
    at = new_app().run()
    at.text_input(key="register_email").input(email)
    at.text_input(key="register_password").input(password)
    at.text_input(key="register_code").input(code)
    at.button(key="register_submit").click().run()
    assert errors(at) == [message]
    assert at.session_state.get("token") is None


def test_language_switch_is_saved_for_the_user(tutor):
    at = signed_in()
    me = identity(tutor, "ana@example.org")
    at.segmented_control(key=f"ui_lang_{me.user_id}").set_value("en").run()
    assert at.button(key="ask").label == "Explain it"
    assert tutor.accounts.by_email("ana@example.org").language == "en"


# --- roles --------------------------------------------------------------------------------------------------------

def test_a_student_cannot_reach_the_teacher_page(tutor):
    at = signed_in()
    with pytest.raises(ValueError):
        at.switch_page("app_pages/teacher.py")
    assert "class_create" not in keys(at)


def test_a_teacher_sees_classes_and_join_codes(tutor):
    at = signed_in("teo@example.org")
    at.switch_page("app_pages/teacher.py").run()
    assert not at.exception
    teacher = tutor.accounts.by_email("teo@example.org")
    [klass] = tutor.accounts.classes_of(teacher)
    assert klass.join_code in [c.value for c in at.code]
    at.text_input(key="class_name").input("Física 1")
    at.button(key="class_create").click().run()
    codes = {c.join_code for c in tutor.accounts.classes_of(teacher)}
    assert len(codes) == 2 and codes <= {c.value for c in at.code}
    assert any(s.value.startswith("Class created.") for s in at.success)


# --- the explanation page -----------------------------------------------------------------------------------------

def test_asking_a_library_question_mounts_the_live_view_then_the_rating_form(tutor):
    at = signed_in()
    at.text_area(key="question").input(LESSON_ES.question.text)
    at.button(key="ask").click().run()
    assert not at.exception and not errors(at)
    session_id = at.query_params["session"]
    me = identity(tutor, "ana@example.org")
    data = live_view(at)
    assert data["session"] == session_id and data["status"] == "streaming" and data["cursor"] == "0:0:0"
    assert data["api"] == f"/api/v1/sessions/{session_id}" and data["lang"] == "es"
    assert data["module"].startswith("/tutor-static/explanation.js?v=")
    assert data["texts"]["pause"] == "Pausa" and data["texts"]["step_of"] == "Paso {step} de {total}"
    assert "rate_submit" not in keys(at)  # nothing to rate before the end

    read_like_the_browser(tutor, me, session_id)
    at.run()  # the component's `ended` trigger reruns the page
    data = live_view(at)
    assert data["status"] == "complete" and data["total_steps"] == len(LESSON_ES.answer.steps)
    assert [s["text"] for s in data["steps"]] == [s.content for s in LESSON_ES.answer.steps]
    assert [s["title"] for s in data["steps"]] == [s.title for s in LESSON_ES.answer.steps]
    assert data["board"].startswith("<svg") and "<script" not in data["board"]
    assert data["duration"] == "~4 min" and data["error"] is None
    assert "rate_submit" in keys(at)


def test_the_live_view_speaks_english_to_an_english_user(tutor):
    at = signed_in("bob@example.org")
    at.text_area(key="question").input(LESSON_EN.question.text)
    at.button(key="ask").click().run()
    data = live_view(at)
    assert data["lang"] == "en" and data["texts"]["resume"] == "Resume" and data["texts"]["step_n"] == "Step {step}"


def test_the_rating_is_saved(tutor):
    at = signed_in()
    at.text_area(key="question").input(LESSON_ES.question.text)
    at.button(key="ask").click().run()
    session_id = at.query_params["session"]
    read_like_the_browser(tutor, identity(tutor, "ana@example.org"), session_id)
    at.run()
    at.button(key="rate_submit").click().run()
    assert [w.value for w in at.warning] == ["Elige 👍 o 👎 antes de enviar."]
    at.feedback[0].set_value(1)
    at.text_input(key=f"rating_comment_{session_id}").input("muy claro")
    at.button(key="rate_submit").click().run()
    me = identity(tutor, "ana@example.org")
    assert tutor.history.rating(me, session_id) == {"helpful": True, "comment": "muy claro"}
    assert any(s.value == "¡Gracias por tu valoración!" for s in at.success)


def test_a_paused_session_shows_what_was_reached(tutor):
    me = identity(tutor, "ana@example.org")
    state = tutor.ask(me, LESSON_ES.question.text)
    stream_some(tutor, me, state["id"], 3, pause=True)
    snapshot = tutor.snapshot(me, state["id"])
    assert snapshot["status"] == "paused"
    at = signed_in()
    at.query_params["session"] = state["id"]
    at.run()
    data = live_view(at)
    assert data["status"] == "paused"
    assert [s["text"] for s in data["steps"]] == [s["text"] for s in snapshot["steps"]]
    position = sum(len(s["text"]) for s in snapshot["steps"])
    assert data["cursor"].split(":")[1] == str(position) == str(snapshot["position"])
    assert tutor.snapshot(me, state["id"])["position"] == snapshot["position"]  # a rerun moves nothing
    assert "rate_submit" not in keys(at)


def test_reopening_a_session_mid_stream_hands_the_view_the_saved_position(tutor):
    me = identity(tutor, "ana@example.org")
    state = tutor.ask(me, LESSON_ES.question.text)
    stream_some(tutor, me, state["id"], 2, pause=False)  # a tab closed mid-stream
    at = signed_in()
    at.query_params["session"] = state["id"]
    at.run()
    snapshot = tutor.snapshot(me, state["id"])
    data = live_view(at)
    assert data["status"] == "streaming" == snapshot["status"]
    assert [s["text"] for s in data["steps"]] == [s["text"] for s in snapshot["steps"]]
    read_like_the_browser(tutor, me, state["id"])  # the browser's stream goes on from there
    done = tutor.snapshot(me, state["id"])
    assert [s["text"] for s in done["steps"]] == [s.content for s in LESSON_ES.answer.steps]


@pytest.mark.parametrize("question, message", [
    ("<img src=x onerror=alert(1)>", "El texto no es válido: HTML."),
    ("   ", "Escribe una pregunta."),
])
def test_question_errors_are_inline_and_start_nothing(tutor, question, message):
    at = signed_in()
    at.text_area(key="question").input(question)
    at.button(key="ask").click().run()
    assert not at.exception
    [error] = errors(at)
    assert error.startswith(message)
    assert "session" not in at.query_params
    assert tutor.history.sessions(identity(tutor, "ana@example.org")) == []


def test_a_miss_without_provider_offers_the_nearest_lessons_not_the_configuration(tutor):
    at = signed_in()
    at.text_area(key="question").input("¿Cómo se resuelve una ecuación de tercer grado?")
    at.button(key="ask").click().run()
    assert not at.exception and errors(at) == []
    shown = " ".join(m.value for m in at.info) + " ".join(b.label for b in at.button)
    assert "OPENAI" not in shown and "¿Querías decir…?" in " ".join(m.value for m in at.markdown)
    at.button(key="nearest_0").click().run()  # the nearest lesson opens
    assert at.query_params.get("session")
    assert tutor.history.sessions(identity(tutor, "ana@example.org"))


def test_an_admin_sees_the_configuration_hint_on_a_miss(tutor):
    tutor.accounts.register("root@example.org", PASSWORD, role="admin", language="es")
    at = signed_in("root@example.org")
    at.text_area(key="question").input("¿Cuál es la capital de un número primo imaginario?")
    at.button(key="ask").click().run()
    assert any("OPENAI_API_KEY" in c.value for c in at.caption)


def test_a_reworded_lesson_question_gets_the_lesson(tutor):
    at = signed_in()
    at.text_area(key="question").input("¿Cómo resuelvo una ecuación de segundo grado?")
    at.button(key="ask").click().run()
    assert not at.exception and errors(at) == []
    assert at.query_params.get("session")


def test_the_library_can_be_browsed_by_subject_and_searched_in_the_students_language(tutor):
    at = signed_in()
    at.selectbox(key="library_subject").select("physics").run()
    labels = [b.label for b in at.button if b.key and b.key.startswith("lesson_")]
    assert len(labels) == 7 and "¿Qué es la segunda ley de Newton? (en inglés)" in labels
    at.text_input(key="library_query").input("pitagoras").run()
    at.selectbox(key="library_subject").select("").run()
    labels = [b.label for b in at.button if b.key and b.key.startswith("lesson_")]
    assert labels == ["¿Cómo se calcula la hipotenusa con el teorema de Pitágoras?"]
    at.button(key="lesson_0").click().run()
    assert at.query_params.get("session")


def test_a_near_miss_with_a_provider_offers_the_lesson_before_a_generation(tutor, ai_settings):
    at = signed_in()
    at.text_area(key="question").input("¿Cómo se resuelve una ecuación de tercer grado?")
    at.button(key="ask").click().run()
    assert "generate_anyway" in keys(at) and "session" not in at.query_params
    at.button(key="near_0").click().run()
    assert at.query_params.get("session")


def test_someone_elses_session_is_refused(tutor):
    bob = identity(tutor, "bob@example.org")
    state = tutor.ask(bob, LESSON_EN.question.text)
    at = signed_in()
    at.query_params["session"] = state["id"]
    at.run()
    assert errors(at) == ["No tienes permiso para hacer esto."]
    assert "session" not in at.query_params
    assert live_view(at)["session"] is None  # the component shows nothing of it (it stays, for the next ask)


def test_a_generation_failure_shows_the_error(tutor, ai_settings, fake_ai):
    fake_ai.fail_next("500")
    at = signed_in()
    at.text_area(key="question").input("¿Qué es un número primo?")
    at.button(key="ask").click().run(timeout=60)
    assert not at.exception
    me = identity(tutor, "ana@example.org")
    events = read_like_the_browser(tutor, me, at.query_params["session"])
    assert events[-1]["event"] == "error"
    at.run()
    data = live_view(at)
    assert data["status"] == "error" and "no ha podido generar" in data["error"]


def test_a_generated_answer_streams_in(tutor, ai_settings):
    at = signed_in()
    at.text_area(key="question").input("¿Qué es un número primo?")
    at.button(key="ask").click().run(timeout=60)
    assert not at.exception and not errors(at)
    me = identity(tutor, "ana@example.org")
    session_id = at.query_params["session"]
    read_like_the_browser(tutor, me, session_id)
    at.run()
    snapshot = tutor.snapshot(me, session_id)
    assert snapshot["status"] == "complete" and snapshot["total_steps"] >= 1
    assert [s["text"] for s in live_view(at)["steps"]] == [s["text"] for s in snapshot["steps"]]


def test_a_claim_that_fails_the_maths_check_is_flagged_at_its_step(tutor, ai_settings, fake_ai):
    wrong = {"steps": [{"title": "Paso 1", "type": "text", "content": "Primero multiplicamos.", "canvas_commands": []},
                       {"title": "Paso 2", "type": "math", "content": r"Así $12 \cdot 4 = 46$.", "canvas_commands": []}],
             "total_duration": 10}
    fake_ai.answer_for = lambda text: wrong
    at = signed_in()
    at.text_area(key="question").input("¿Cuánto es doce por cuatro?")
    at.button(key="ask").click().run(timeout=120)
    assert not at.exception and not errors(at)
    events = read_like_the_browser(tutor, identity(tutor, "ana@example.org"), at.query_params["session"])
    assert any(e["event"] == "step_check" for e in events)  # the browser shows it as it comes
    at.run()
    first, second = live_view(at)["steps"]
    assert second["check_failed"] == [r"12 \cdot 4 = 46"] and first["check_failed"] == []
    assert "no se cumple" in live_view(at)["texts"]["step_check_failed"]


# --- chat ---------------------------------------------------------------------------------------------------------

def test_chat_without_a_provider_says_so(tutor):
    at = signed_in()
    at.switch_page("app_pages/chat.py").run()
    assert not at.exception
    assert at.info[0].value.startswith("Ahora mismo solo puedo mostrar explicaciones ya guardadas")
    assert "OPENAI" not in at.info[0].value  # an operator's hint is for admins only
    assert at.chat_input(key="chat_input").disabled


def test_chat_reply_is_streamed_and_kept(tutor, ai_settings):
    at = signed_in()
    at.switch_page("app_pages/chat.py").run()
    at.chat_input(key="chat_input").set_value("¿Cuánto es $2+2$?").run(timeout=60)
    assert not at.exception and not errors(at)
    chat_id = at.query_params["chat"]
    me = identity(tutor, "ana@example.org")
    history = tutor.chats.history(me, chat_id)
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert at.chat_message[1].markdown[0].value == history[1]["content"]
    at.run()  # history kept across runs
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    at.chat_input(key="chat_input").set_value("<script>alert(1)</script>").run(timeout=60)
    assert errors(at) == ["El texto no es válido: HTML."]
    assert len(tutor.chats.history(me, chat_id)) == 2


# --- history ------------------------------------------------------------------------------------------------------

def test_history_lists_searches_opens_and_deletes(tutor):
    me = identity(tutor, "ana@example.org")
    first = tutor.ask(me, LESSON_ES.question.text)
    other = next(l for l in LESSONS if l.question.language == "es" and l is not LESSON_ES)
    second = tutor.ask(me, other.question.text)
    stream_some(tutor, me, second["id"], 2, pause=True)
    at = signed_in()
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    listed = [c.key for c in at.get_by_key("history_list").container if (c.key or "").startswith("session_")]
    assert listed == [f"session_{second['id']}", f"session_{first['id']}"]  # newest first
    assert at.button(key=f"open_{second['id']}").label == "Continuar"
    assert at.get_by_key(f"md_{first['id']}") and at.get_by_key(f"svg_{first['id']}")

    word = max((w.strip("¿?") for w in other.question.text.split()
                if w.lower() not in LESSON_ES.question.text.lower()), key=len)
    at.text_input(key="history_search").input(word.upper()).run()
    listed = [c.key for c in at.get_by_key("history_list").container if (c.key or "").startswith("session_")]
    assert listed == [f"session_{second['id']}"]
    at.text_input(key="history_search").input("zzz-nothing").run()
    assert at.info[0].value == "Ninguna sesión coincide con la búsqueda."
    at.text_input(key="history_search").input("").run()

    at.button(key=f"delete_{first['id']}").click().run()
    assert at.warning[0].value.startswith("¿Borrar")
    at.button(key=f"delete_no_{first['id']}").click().run()
    assert len(tutor.history.sessions(me)) == 2
    at.button(key=f"delete_{first['id']}").click().run()
    at.button(key=f"delete_yes_{first['id']}").click().run()
    assert [r["id"] for r in tutor.history.sessions(me)] == [second["id"]]

    at.button(key=f"open_{second['id']}").click().run()
    assert at.query_params["session"] == second["id"]
    assert live_view(at)["status"] == "paused"  # reopened where it stopped


def test_history_is_empty_for_a_new_user(tutor):
    at = signed_in("bob@example.org")
    at.switch_page("app_pages/history.py").run()
    assert at.info[0].value == "Nothing here yet. Ask your first question."


# --- the error boundary -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("email, words", [("ana@example.org", "Algo ha fallado"),
                                          ("bob@example.org", "Something went wrong")])
def test_an_unexpected_error_in_a_page_is_a_friendly_message_with_a_logged_reference(tutor, monkeypatch, caplog,
                                                                                      email, words):
    def broken(*args, **kwargs):  # a bug in core, injected: what any unexpected exception looks like to a page
        raise RuntimeError("boom")

    at = signed_in(email)
    monkeypatch.setattr("core.school.history.History.sessions", broken)
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    [message] = errors(at)
    assert words in message and "boom" not in message and "Traceback" not in message
    ref = message.rstrip(".").split()[-1]
    [record] = [r for r in caplog.records if f"ref {ref}" in r.getMessage()]
    assert record.exc_info and "boom" in str(record.exc_info[1])


# --- failures -----------------------------------------------------------------------------------------------------

def test_ids_that_are_not_ids_are_not_found(tutor):
    at = signed_in()
    at.query_params["session"] = "not-a-uuid"
    at.run()
    assert not at.exception
    assert errors(at) == ["No se encuentra esa sesión."]
    at.switch_page("app_pages/chat.py")
    at.query_params["chat"] = "abc"
    at.run()
    assert not at.exception
    assert errors(at) == ["No se encuentra ese chat."]


def test_history_search_takes_wildcards_as_text_up_to_the_longest_search(tutor):
    tutor.ask(identity(tutor, "ana@example.org"), LESSON_ES.question.text)
    at = signed_in()
    at.switch_page("app_pages/history.py").run()
    assert at.text_input(key="history_search").max_chars == 200  # what core's history search takes
    at.text_input(key="history_search").input("%_" * 100).run()
    assert not at.exception and not errors(at)
    assert at.info[0].value == "Ninguna sesión coincide con la búsqueda."


def test_the_database_down_shows_a_message_not_a_traceback(settings, monkeypatch):
    import socket

    from core.errors import StoreError
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/tutor")
    try:
        at = new_app().run()
        assert not at.exception
        assert errors(at) in ([StoreError().message_for("es")], [StoreError().message_for("en")])
        assert "127.0.0.1" not in str(errors(at)) and not at.text_input  # no sign-in form on a dead database
    finally:
        monkeypatch.setenv("DATABASE_URL", settings["DATABASE_URL"])  # the fixture closes the app's own tutor

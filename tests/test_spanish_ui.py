"""Every page in Spanish speaks Spanish (and in English, English): an AppTest walk of each page, as a student and as
a teacher, with data (explanations, a chat on a step, ratings, library and generated answers, an edited answer's
versions), collecting every string drawn — labels, buttons, options, tabs, captions, markdown, alerts, metrics,
table headers and cells — and failing on a word of the other language. Labels must be catalogue texts or data.

Also the catalogue itself: both languages complete, no Spanish text left equal to its English one, and every
pluralised text with the CLDR plural forms its language needs (Babel's rules).
"""
from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from app_support import PASSWORD, new_app, signed_in
from streamlit.testing.v1 import AppTest

from core.content.library import load_lessons
from core.platform import db
from core.platform import i18n as core_i18n
from ui import texts
from ui.texts import TEXTS, plural_forms, t

LESSONS = load_lessons()
LESSON = {language: next(lesson for lesson in LESSONS if lesson.question.language == language)
          for language in ("es", "en")}
SAME_IN_BOTH = {"app_name", "page_chat", "kind_chat", "download_md", "about_minutes", "about_seconds",
                "helpful_no", "answer_check_step", "op_vector"}

# Common words of an interface in one language that the other does not use (checked as whole words, any case).
ENGLISH = set("""
the and of to your you is are this that with for from by on it be or not all any new ask asked answer answers library
step steps content canvas title type question questions search sign out class classes join code credit credits left
cost costs use uses rating ratings approved retired edited created generated review needs edit delete cancel open
continue pause resume stop yes history whiteboard teacher student students calculus physics geometry algebra
functions statistics trigonometry topic topics day days dates time average hit cache helpful comment send explain
explanation complete paused failed progress download name password email account create language overview struggles
changes version versions status source added removed duration replaced about back here what which how who when where
why more less first last next please try again select choose pick nothing yet read help save saved today minutes
seconds per library lesson lessons whiteboard shown show hide share rate chart
""".split())
SPANISH = set("""
el la los las una unos unas que tu tus su sus del al es son por para con sin pregunta preguntas paso pasos respuesta
respuestas explicación explicaciones créditos crédito clase clases código unirme buscar borrar cancelar abrir
continuar pausa historial pizarra profesor estudiante estudiantes materia tema temas día fecha fechas tiempo
valoración valoraciones útil comentario enviar completa nombre contraseña correo cuenta idioma cambios versión
estado origen añadido quitado duración sobre volver aquí qué cuál cómo quién cuándo dónde más menos primera última
otra otro editar aprobada retirada biblioteca lección lecciones usos uso
""".split())
WORDS = {"es": ENGLISH, "en": SPANISH}


# --- the catalogue ------------------------------------------------------------------------------------------------

def forms(value) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [value]


def test_both_languages_have_every_key():
    for key, entry in TEXTS.items():
        assert set(entry) == {"es", "en"}, key
        assert all(text.strip() for language in entry for text in forms(entry[language])), key


def test_no_spanish_text_is_left_in_english():
    same = {key for key, entry in TEXTS.items() if entry["es"] == entry["en"]}
    assert same <= SAME_IN_BOTH, same - SAME_IN_BOTH


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_plural_has_the_forms_its_language_needs(language):
    plurals = {key: entry[language] for key, entry in TEXTS.items() if isinstance(entry[language], dict)}
    assert len(plurals) >= 6
    assert plural_forms("es") == {"one", "many", "other"} and plural_forms("en") == {"one", "other"}
    for key, value in plurals.items():
        assert set(value) == plural_forms(language), key
        assert isinstance(TEXTS[key]["en" if language == "es" else "es"], dict), key  # plural in both


def test_plurals_pick_the_form_of_the_count():
    assert [t("n_uses", "es", count=n) for n in (0, 1, 2, 1_000_000)] == [
        "0 usos", "1 uso", "2 usos", "1000000 de usos"]
    assert [t("n_uses", "en", count=n) for n in (0, 1, 2)] == ["0 uses", "1 use", "2 uses"]
    assert t("answer_meta", "es", status="Aprobada", source="Biblioteca", version=1, hits=1, ratings=1) == \
        "Aprobada · Biblioteca · versión 1 · 1 uso · 1 valoración"
    assert t("students_count", "es", n=1) == "1 estudiante"  # counted through {n} as callers always have
    assert t("credits_left", "en", count=1) == "1 credit left"


def test_subjects_and_version_summaries_are_words_of_the_language():
    assert texts.subject_name("calculus", "es") == "Cálculo" and texts.subject_name("unknown", "es") == "unknown"
    assert all(texts.subject_name(lesson.subject, "es") != lesson.subject for lesson in LESSONS)
    assert core_i18n.change_summary("step 1 content, step 2 canvas", "es") == "paso 1: texto, paso 2: pizarra"


# --- the walk -----------------------------------------------------------------------------------------------------

@pytest.fixture
def world(app_settings, ai, monkeypatch, make_tutor):
    """A class with a Spanish (or English) student and teacher, and something on every page."""
    for name, value in ai.items():
        monkeypatch.setenv(name, value)
    app_settings.update(ai)
    tutor = make_tutor(**app_settings)

    def build(language: str):
        teacher = tutor.accounts.register(f"profe-{language}@example.org", PASSWORD, role="teacher", name="Profe",
                                          language=language)
        klass = tutor.accounts.create_class(teacher, "3º B")
        ana = tutor.identity_of(tutor.accounts.register(f"ana-{language}@example.org", PASSWORD, name="Ana",
                                                        language=language, class_code=klass.join_code))
        lesson = tutor.ask(ana, LESSON[language].question.text)
        list(tutor.stream(ana, lesson["id"]))
        tutor.history.rate(ana, lesson["id"], helpful=True, comment="bien")
        generated = tutor.ask(ana, "¿Cuánto es 7 por 8?" if language == "es" else "What is 7 times 8?")
        list(tutor.stream(ana, generated["id"]))
        tutor.generations.wait()
        chat = tutor.chats.create(ana, explanation_id=lesson["id"], step=2)
        for _ in tutor.chats.send(ana, chat["id"], "¿Por qué se hace así este paso?" if language == "es" else "Why is this step done this way?"):
            pass
        staff = tutor.identity_of(teacher)
        answer_id = tutor.cache.lookup(LESSON[language].question.hash).id
        steps = tutor.curation.get(staff, answer_id)["steps"]
        tutor.curation.edit(staff, answer_id, [dict(steps[0], title=steps[0]["title"] + "!")] + steps[1:])
        return {"ana": ana, "lesson": lesson["id"], "generated": generated["id"], "chat": chat["id"],
                "answer": answer_id, "teacher": staff}

    tutor.build = build
    return tutor


def data_texts(tutor) -> list[str]:
    """What users and lessons wrote (shown as it is, in whatever language it was written)."""
    found = set()
    with tutor.engine.connect() as conn:
        for table, columns in ((db.users, ("email", "name")), (db.classes, ("name", "join_code")),
                               (db.tutor_sessions, ("title", "question")), (db.messages, ("content",)),
                               (db.ai_answers, ("question",)), (db.ratings, ("comment",))):
            for row in conn.execute(sa.select(*(table.c[c] for c in columns))):
                found.update(str(v) for v in row if v)
        for row in conn.execute(sa.select(db.ai_answers.c.steps)):
            steps = row.steps if isinstance(row.steps, list) else json.loads(row.steps)
            found.update(text for step in steps for text in (step.get("title"), step.get("content")) if text)
    for lesson in LESSONS:
        found.add(lesson.question.text)
        found.update(text for phrasings in lesson.alternatives.values() for text in phrasings)
    return sorted((text for text in found if len(text) > 2), key=len, reverse=True)


def strings_of(at: AppTest) -> tuple[list[str], list[str]]:
    """(labels, other texts) of every element drawn: labels are what the catalogue must hold."""
    labels, other = [], []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if kind == "popover":
            labels.append(proto.popover.label)
        elif kind in ("expander", "tab"):
            labels.append(node.label)
        elif kind in ("dataframe", "arrow_data_frame"):
            config = json.loads(proto.columns or "{}")
            labels.extend(c["label"] for c in config.values() if isinstance(c, dict) and c.get("label"))
            frame = node.value
            other.extend(v for column in frame.columns for v in frame[column] if isinstance(v, str))
        elif kind not in ("html", "flex_container", "form", "column", "vertical", "horizontal") and proto is not None:
            for name in ("label", "placeholder", "help"):
                value = getattr(node, name, None)
                if isinstance(value, str) and value:
                    labels.append(value)
            value = getattr(node, "value", None)
            if isinstance(value, str) and kind not in INPUTS and value:
                other.append(value)
            if kind == "button_group":
                labels.extend(option.content for option in proto.options)
            else:
                labels.extend(str(option) for option in getattr(node, "options", None) or [])
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return [x for x in labels if x], [x for x in other if x]


INPUTS = ("text_input", "text_area", "chat_input", "selectbox", "radio", "multiselect", "button_group",
          "select_slider", "date_input", "number_input")  # their value is data, not words drawn as such


def catalogue_patterns(language: str) -> list[re.Pattern]:
    values = [text for entry in TEXTS.values() for text in forms(entry[language])]
    values += [entry.get(language, "") for table in (core_i18n.TEXTS, core_i18n.ERRORS) for entry in table.values()]
    return [re.compile(re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(v)), re.S) for v in values if v]


MARKUP = re.compile(r":material/[a-z_]+:|:[a-z]+-badge\[|:[a-z]+\[|\\(?=[^\sA-Za-z0-9])|[*#_`]|\$[^$]*\$")


LANGUAGE_NAMES = ("Español", "English")
ANSWER_LABEL = re.compile(r" · (es|en) · [0-9a-f]{8}$")  # the answer picker's "question · language · id"


def plain(text: str, data: list[str]) -> str:
    text = ANSWER_LABEL.sub(" ", MARKUP.sub(" ", text))
    for piece in (*data, *LANGUAGE_NAMES):
        if piece in text:
            text = text.replace(piece, " ")
    return re.sub(r"\S+@\S+|\b[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\b|\b[0-9a-f]{16,}\b", " ", text)  # emails, ids


def foreign_words(strings: list[str], data: list[str], language: str) -> list[tuple[str, str]]:
    found = []
    for text in (s for s in strings if s not in ("es", "en")):  # a language code in a table is a code
        for word in re.findall(r"[^\W\d_]+", plain(text, data).lower()):
            if word in WORDS[language]:
                found.append((word, text[:80]))
    return found


COORDINATE = re.compile(r"[xy]\d?(_(min|max))?|[rwh]")  # the whiteboard table's coordinate columns: maths symbols


def not_in_catalogue(labels: list[str], data: list[str], language: str) -> list[str]:
    patterns = catalogue_patterns(language)
    odd = []
    for label in labels:
        rest = plain(label, data).strip(" ()·:—-,.«»“”¿?¡!").strip()
        if rest and not any(p.fullmatch(rest) or p.fullmatch(label) for p in patterns) \
                and not re.fullmatch(r"[\d\s:·\-–./%]+", rest) and not COORDINATE.fullmatch(label):
            odd.append(label)
    return odd


def visits(world, language: str):
    """Each page as the users see it: (name, AppTest after the run)."""
    made = world.build(language)
    at = new_app()
    at.session_state["lang"] = language
    yield "login", at.run()
    at = signed_in(f"ana-{language}@example.org")
    yield "ask (home)", at
    for session in ("lesson", "generated"):
        at.switch_page("app_pages/ask.py")
        at.query_params["session"] = made[session]
        yield f"ask ({session})", at.run()
    at.query_params.clear()
    at.switch_page("app_pages/chat.py")
    at.query_params["chat"] = made["chat"]
    yield "chat", at.run()
    at.query_params.clear()
    at.switch_page("app_pages/history.py")
    yield "history", at.run()
    at.button(key=f"delete_{made['lesson']}").click()
    yield "history (deleting)", at.run()
    at = signed_in(f"profe-{language}@example.org")
    at.switch_page("app_pages/teacher.py")
    yield "teacher", at.run()
    at.selectbox(key="teacher_answer").set_value(made["answer"])
    yield "teacher (answer)", at.run()


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_page_speaks_only_the_interface_language(world, language):
    seen_pages = []
    problems = {}
    for page, at in visits(world, language):
        assert not at.exception, (page, at.exception)
        labels, other = strings_of(at)
        data = data_texts(world)
        assert labels and other, page
        wrong = foreign_words(labels + other, data, language)
        odd = not_in_catalogue(labels, data, language)
        if wrong or odd:
            problems[page] = {"foreign words": wrong, "not in the catalogue": odd}
        seen_pages.append(page)
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)
    assert len(seen_pages) == 9


def test_the_walk_catches_english(world):
    """The check itself: an English label or text in the Spanish UI is caught, a Spanish one is not."""
    data = data_texts(world)
    assert foreign_words(["Todas", "Te quedan 2 créditos"], data, "es") == []
    assert foreign_words(["library answer", "Te quedan 2 créditos"], data, "es") == [
        ("library", "library answer"), ("answer", "library answer")]
    assert not_in_catalogue(["Explícamelo", "Paso 2 de 4"], data, "es") == []
    assert not_in_catalogue(["Explain it"], data, "es") == ["Explain it"]

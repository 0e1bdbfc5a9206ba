"""The messages core itself produces, in Spanish and English: error messages, waiting phrases, the pause notice.

``t(key, language, **params)`` looks a key up in ``TEXTS``; error codes live in ``ERRORS``. The interface's own
words (labels, buttons, headings) live beside the pages, in ``ui/texts.py``. A missing language falls back to
English, a missing key to the key itself (tests check both catalogues are complete).
"""
from __future__ import annotations

import itertools
import re
from typing import Any

LANGUAGES = ("es", "en")

ERRORS: dict[str, dict[str, str]] = {
    "error": {"es": "Algo ha fallado.", "en": "Something went wrong."},
    "settings_invalid": {"es": "El ajuste {setting} tiene un valor no válido: {value!r}.",
                         "en": "Setting {setting} has an invalid value: {value!r}."},
    "settings_unknown": {"es": "Ajuste desconocido: {setting}.", "en": "Unknown setting: {setting}."},
    "invalid_input": {"es": "Datos no válidos.", "en": "Invalid input."},
    "question_empty": {"es": "Escribe una pregunta.", "en": "Please type a question."},
    "question_too_long": {"es": "La pregunta es demasiado larga (máximo {limit} caracteres).",
                          "en": "The question is too long (at most {limit} characters)."},
    "question_not_text": {"es": "La pregunta debe ser texto.", "en": "The question must be text."},
    "invalid_text": {"es": "El texto no es válido: {reason}.", "en": "The text is not valid: {reason}."},
    "formula_macro": {"es": "{field}: las fórmulas no pueden usar {macro}.",
                      "en": "{field}: formulas may not use {macro}."},
    "formula_size": {"es": "{field}: {macro} admite solo una longitud de hasta {limit} em, no «{size}».",
                     "en": "{field}: {macro} takes only a length of at most {limit} em, not “{size}”."},
    "formula_color": {"es": "{field}: {macro} necesita un nombre de color o un código #hex.",
                      "en": "{field}: {macro} needs a colour name or a #hex code."},
    "formula_too_long": {"es": "{field}: una fórmula es demasiado larga (máximo {limit} caracteres, 20 líneas).",
                         "en": "{field}: a formula is too long (at most {limit} characters, 20 lines)."},
    "link_not_allowed": {"es": "{field}: el enlace «{url}» no está permitido; solo http(s) y mailto.",
                         "en": "{field}: the link “{url}” is not allowed; only http(s) and mailto."},
    "invalid_email": {"es": "El correo «{email}» no es válido.", "en": "The email address “{email}” is not valid."},
    "weak_password": {"es": "Esa contraseña es demasiado fácil de adivinar. Usa al menos 10 caracteres, por ejemplo "
                            "varias palabras que no sean una frase conocida.",
                      "en": "That password is too easy to guess. Use at least 10 characters, for example several "
                            "words that are not a well-known phrase."},
    "invalid_role": {"es": "Rol desconocido: {role}.", "en": "Unknown role: {role}."},
    "invalid_language": {"es": "Idioma no disponible: {language}.", "en": "Language not available: {language}."},
    "invalid_name": {"es": "El nombre no es válido.", "en": "The name is not valid."},
    "invalid_rating": {"es": "Valoración no válida.", "en": "Invalid rating."},
    "auth_invalid": {"es": "La sesión no es válida. Vuelve a iniciar sesión.",
                     "en": "Your session is not valid. Please sign in again."},
    "auth_expired": {"es": "La sesión ha caducado. Vuelve a iniciar sesión.",
                     "en": "Your session has expired. Please sign in again."},
    "auth_failed": {"es": "Correo o contraseña incorrectos.", "en": "Wrong email or password."},
    "auth_unavailable": {"es": "El servicio de inicio de sesión no responde. Inténtalo de nuevo en un momento.",
                         "en": "The sign-in service is not answering. Please try again in a moment."},
    "forbidden": {"es": "No tienes permiso para hacer esto.", "en": "You are not allowed to do this."},
    "not_found": {"es": "No se ha encontrado.", "en": "Not found."},
    "unknown_user": {"es": "No existe ningún usuario con el correo {email}.", "en": "There is no user with email {email}."},
    "unknown_class": {"es": "No existe ninguna clase con el código {code}.", "en": "There is no class with code {code}."},
    "session_not_found": {"es": "No se encuentra esa sesión.", "en": "That session does not exist."},
    "chat_not_found": {"es": "No se encuentra ese chat.", "en": "That chat does not exist."},
    "step_not_found": {"es": "Esa explicación no tiene paso {step}.", "en": "That explanation has no step {step}."},
    "search_too_long": {"es": "La búsqueda es demasiado larga (máximo {limit} caracteres).",
                        "en": "The search is too long (at most {limit} characters)."},
    "registration_failed": {"es": "No se ha podido crear la cuenta con estos datos. Si ya tienes una, entra con ella.",
                            "en": "The account could not be created with these details. If you already have one, "
                                  "sign in with it."},
    "already_member": {"es": "Ya estás en la clase «{name}».", "en": "You are already in the class “{name}”."},
    "join_students_only": {"es": "Solo los estudiantes se unen a una clase con un código.",
                           "en": "Only students join a class with a code."},
    "fresh_unavailable": {"es": "Para pedir otra explicación hace falta un proveedor de IA, y este tutor no tiene "
                                "ninguno configurado. Puedes seguir con la explicación que ya tienes.",
                          "en": "Asking for another explanation needs an AI provider, and this tutor has none "
                                "configured. You can keep the explanation you have."},
    "not_stored": {"es": "No hay ninguna explicación guardada para esta pregunta.",
                   "en": "There is no stored explanation for this question."},
    "fresh_stored_only": {"es": "No se puede pedir otra explicación y a la vez solo una guardada.",
                          "en": "Another explanation and only a stored one cannot be asked for at once."},
    "conflict": {"es": "Conflicto con datos existentes.", "en": "Conflicts with existing data."},
    "ai_unavailable": {
        "es": "Ahora mismo solo puedo mostrar explicaciones ya guardadas, y todavía no tengo ninguna para esto.",
        "en": "Right now I can only show explanations that are already stored, and I do not have one for this yet."},
    "ai_failed": {"es": "El tutor no ha podido generar la explicación. Inténtalo de nuevo en un momento.",
                  "en": "The tutor could not generate the explanation. Please try again in a moment."},
    "ai_timeout": {"es": "El proveedor de IA ha tardado demasiado. Inténtalo de nuevo.",
                   "en": "The AI provider took too long. Please try again."},
    "ai_rate_limited": {"es": "El proveedor de IA está saturado. Inténtalo de nuevo en un momento.",
                        "en": "The AI provider is busy. Please try again in a moment."},
    "ai_invalid_output": {"es": "La respuesta del modelo no era válida ({reason}).",
                          "en": "The model's answer was not valid ({reason})."},
    "rate_limited": {"es": "Demasiadas peticiones. Espera {retry_after} s.",
                     "en": "Too many requests. Wait {retry_after} s."},
    "insufficient_credits": {"es": "No te quedan créditos para preguntas nuevas ni para el chat. Pide más a tu "
                                   "profesor.",
                             "en": "You have no credits left for new questions or chat. Ask your teacher for more."},
    "invalid_amount": {"es": "La cantidad de créditos debe ser un número entero entre 1 y {limit}.",
                       "en": "The number of credits must be a whole number from 1 to {limit}."},
    "invalid_reason": {"es": "El motivo debe tener como mucho {limit} caracteres.",
                       "en": "The reason must be at most {limit} characters long."},
    "invalid_position": {"es": "Esa posición no pertenece al texto de esta explicación.",
                         "en": "That position is not a place in this explanation's text."},
    "store_unavailable": {"es": "El almacenamiento del tutor no responde. Inténtalo de nuevo en un momento.",
                          "en": "The tutor's storage is not answering. Please try again in a moment."},
    # --- the HTTP API ---
    "invalid_event_id": {"es": "La posición de reanudación (Last-Event-ID) no es válida para esta sesión.",
                         "en": "The resume position (Last-Event-ID) is not valid for this session."},
    "payload_too_large": {"es": "La petición es demasiado grande.", "en": "The request is too large."},
    "method_not_allowed": {"es": "Esa operación no existe en esta dirección.",
                           "en": "That operation does not exist at this address."},
}

WAITING_PHRASES: dict[str, tuple[str, ...]] = {
    "es": ("Pensando en la mejor forma de explicarlo…", "Preparando la pizarra…", "Ordenando los pasos…",
           "Comprobando los cálculos…", "Casi listo…"),
    "en": ("Thinking about the best way to explain it…", "Getting the whiteboard ready…", "Putting the steps in order…",
           "Checking the calculations…", "Almost there…"),
}

TEXTS: dict[str, dict[str, str]] = {
    "ai_setup_hint": {"es": "Sin proveedor de IA solo se sirven respuestas guardadas. Define OPENAI_API_KEY (y "
                            "OPENAI_BASE_URL para un servidor compatible) para generar respuestas nuevas.",
                      "en": "Without an AI provider only stored answers are served. Set OPENAI_API_KEY (and "
                            "OPENAI_BASE_URL for a compatible server) to generate new answers."},
    "paused": {"es": "Explicación en pausa.", "en": "Explanation paused."},
    # the summaries of an answer's versions (core.school.curation), as stored in English, in words
    "change_step": {"es": "paso {step}: {what}", "en": "step {step} {what}"},
    "change_title": {"es": "título", "en": "title"},
    "change_type": {"es": "tipo", "en": "type"},
    "change_content": {"es": "texto", "en": "content"},
    "change_canvas": {"es": "pizarra", "en": "canvas"},
    "change_added": {"es": "añadido", "en": "added"},
    "change_removed": {"es": "quitado", "en": "removed"},
    "change_total_duration": {"es": "duración total", "en": "total duration"},
    "change_created_library": {"es": "lección de la biblioteca", "en": "library answer"},
    "change_created_generated": {"es": "respuesta generada", "en": "generated answer"},
    "change_created_edited": {"es": "respuesta editada", "en": "edited answer"},
    "change_approved": {"es": "aprobada", "en": "approved"},
    "change_retired": {"es": "retirada", "en": "retired"},
    "change_replaced": {"es": "sustituida por la respuesta {answer}", "en": "replaced by answer {answer}"},
    "math_check_failed": {"es": "Comprobación automática: esta afirmación de este paso no se cumple.",
                          "en": "Automatic check: this claim in this step does not hold."},
}


def _lookup(table: dict[str, dict[str, str]], key: str, language: str) -> str | None:
    entry = table.get(key)
    if entry is None:
        return None
    return entry.get(language) or entry["en"]


def t(key: str, language: str = "en", /, **params: Any) -> str:
    text = _lookup(TEXTS, key, language) or key
    return text.format(**params) if params else text


_STEP_CHANGE = re.compile(r"step (\d+) (title|type|content|canvas|added|removed)")
_WHOLE_CHANGES = {"total duration": "change_total_duration", "library answer": "change_created_library",
                  "generated answer": "change_created_generated", "edited answer": "change_created_edited",
                  "approved": "change_approved", "retired": "change_retired"}


def change_summary(summary: str, language: str) -> str:
    """A version summary as ``core.school.curation`` stores it (``"step 2 content, total duration"``), in words of
    ``language``; a part it does not know stays as stored."""
    return ", ".join(_change_part(part.strip(), language) for part in summary.split(",")) if summary else ""


def _change_part(part: str, language: str) -> str:
    if part in _WHOLE_CHANGES:
        return t(_WHOLE_CHANGES[part], language)
    if found := _STEP_CHANGE.fullmatch(part):
        return t("change_step", language, step=found[1], what=t(f"change_{found[2]}", language))
    if part.startswith("replaced by answer "):
        return t("change_replaced", language, answer=part.removeprefix("replaced by answer ")[:8])
    return part


def error_message(code: str, language: str = "en", /, **params: Any) -> str:
    text = _lookup(ERRORS, code, language) or _lookup(ERRORS, "error", language)
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text


def waiting_phrases(language: str):
    """An endless cycle of waiting phrases in the given language."""
    return itertools.cycle(WAITING_PHRASES.get(language, WAITING_PHRASES["en"]))

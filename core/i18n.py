"""User-facing text in Spanish and English.

``t(key, language, **params)`` looks a key up in ``TEXTS``; error codes live in ``ERRORS``. A missing language
falls back to English, a missing key to the key itself (tests check both catalogues are complete).
"""
from __future__ import annotations

import itertools
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
    "invalid_email": {"es": "El correo «{email}» no es válido.", "en": "The email address “{email}” is not valid."},
    "weak_password": {"es": "La contraseña debe tener al menos 8 caracteres, con letras y números o símbolos.",
                      "en": "The password needs at least 8 characters, with letters and digits or symbols."},
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
    "email_taken": {"es": "Ya hay una cuenta con el correo {email}.", "en": "An account with email {email} already exists."},
    "conflict": {"es": "Conflicto con datos existentes.", "en": "Conflicts with existing data."},
    "ai_unavailable": {
        "es": "No hay respuesta guardada para esta pregunta y no hay un proveedor de IA configurado. "
              "Define OPENAI_API_KEY (y OPENAI_BASE_URL para un servidor compatible) para generar respuestas nuevas.",
        "en": "There is no stored answer for this question and no AI provider is configured. "
              "Set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server) to generate new answers."},
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
    "insufficient_credits": {"es": "No te quedan créditos para preguntas nuevas. Pide más a tu profesor.",
                             "en": "You have no credits left for new questions. Ask your teacher for more."},
    "invalid_amount": {"es": "La cantidad de créditos debe ser un número entero entre 1 y {limit}.",
                       "en": "The number of credits must be a whole number from 1 to {limit}."},
    "invalid_reason": {"es": "El motivo debe tener como mucho {limit} caracteres.",
                       "en": "The reason must be at most {limit} characters long."},
    "store_unavailable": {"es": "El almacén de sesiones no responde. Inténtalo de nuevo.",
                          "en": "The session store is not answering. Please try again."},
}

WAITING_PHRASES: dict[str, tuple[str, ...]] = {
    "es": ("Pensando en la mejor forma de explicarlo…", "Preparando la pizarra…", "Ordenando los pasos…",
           "Comprobando los cálculos…", "Casi listo…"),
    "en": ("Thinking about the best way to explain it…", "Getting the whiteboard ready…", "Putting the steps in order…",
           "Checking the calculations…", "Almost there…"),
}

TEXTS: dict[str, dict[str, str]] = {
    "paused": {"es": "Explicación en pausa.", "en": "Explanation paused."},
    # --- the Streamlit pages (streamlit_app.py, pages/) ---
    "app_name": {"es": "Tutor", "en": "Tutor"},
    "page_login": {"es": "Entrar", "en": "Sign in"},
    "page_ask": {"es": "Preguntar", "en": "Ask"},
    "page_chat": {"es": "Chat", "en": "Chat"},
    "page_history": {"es": "Historial", "en": "History"},
    "page_teacher": {"es": "Profesor", "en": "Teacher"},
    "language": {"es": "Idioma", "en": "Language"},
    "signed_in_as": {"es": "Sesión iniciada como {email}", "en": "Signed in as {email}"},
    "role_student": {"es": "Estudiante", "en": "Student"},
    "role_teacher": {"es": "Profesor", "en": "Teacher"},
    "role_admin": {"es": "Administración", "en": "Admin"},
    "sign_out": {"es": "Cerrar sesión", "en": "Sign out"},
    "signed_out": {"es": "Has cerrado la sesión.", "en": "You have signed out."},
    "login_title": {"es": "Tu tutor de matemáticas y ciencias", "en": "Your maths and science tutor"},
    "login_intro": {"es": "Pregunta lo que quieras y te lo explico paso a paso, con pizarra.",
                    "en": "Ask anything and I will explain it step by step, with a whiteboard."},
    "tab_sign_in": {"es": "Entrar", "en": "Sign in"},
    "tab_register": {"es": "Crear cuenta", "en": "Create account"},
    "email": {"es": "Correo electrónico", "en": "Email"},
    "password": {"es": "Contraseña", "en": "Password"},
    "name": {"es": "Nombre (opcional)", "en": "Name (optional)"},
    "class_code": {"es": "Código de clase (opcional)", "en": "Class join code (optional)"},
    "class_code_help": {"es": "Si tu profesor te ha dado un código, escríbelo aquí.",
                        "en": "If your teacher gave you a code, type it here."},
    "sign_in": {"es": "Entrar", "en": "Sign in"},
    "register": {"es": "Crear cuenta", "en": "Create account"},
    "password_rule": {"es": "Al menos 8 caracteres, con letras y números o símbolos.",
                      "en": "At least 8 characters, with letters and digits or symbols."},
    "ask_title": {"es": "¿Qué quieres entender hoy?", "en": "What would you like to understand today?"},
    "question": {"es": "Tu pregunta", "en": "Your question"},
    "question_placeholder": {"es": "Por ejemplo: ¿Cómo se resuelve una ecuación de segundo grado?",
                             "en": "For example: How do I solve a linear equation like 3x + 5 = 20?"},
    "ask": {"es": "Explícamelo", "en": "Explain it"},
    "examples": {"es": "O prueba con una de estas:", "en": "Or try one of these:"},
    "pause": {"es": "Pausa", "en": "Pause"},
    "resume": {"es": "Continuar", "en": "Resume"},
    "step_of": {"es": "Paso {step} de {total}", "en": "Step {step} of {total}"},
    "step_n": {"es": "Paso {step}", "en": "Step {step}"},
    "about_minutes": {"es": "~{n} min", "en": "~{n} min"},
    "about_seconds": {"es": "~{n} s", "en": "~{n} s"},
    "whiteboard": {"es": "Pizarra", "en": "Whiteboard"},
    "whiteboard_empty": {"es": "La pizarra se irá llenando con la explicación.",
                         "en": "The whiteboard fills in as the explanation goes."},
    "preparing": {"es": "Preparando la explicación…", "en": "Preparing the explanation…"},
    "ready": {"es": "Explicación lista", "en": "Explanation ready"},
    "completed": {"es": "Explicación completa.", "en": "Explanation complete."},
    "taken_over": {"es": "Esta explicación sigue en otra pestaña.", "en": "This explanation is continuing in another tab."},
    "continue_here": {"es": "Seguir aquí", "en": "Continue here"},
    "chat_about_step": {"es": "Preguntar sobre este paso", "en": "Ask about this step"},
    "rate_title": {"es": "¿Te ha ayudado esta explicación?", "en": "Did this explanation help you?"},
    "rate_helpful": {"es": "Me ha ayudado", "en": "Helpful"},
    "rate_not_helpful": {"es": "No me ha ayudado", "en": "Not helpful"},
    "rate_comment": {"es": "Comentario (opcional)", "en": "Comment (optional)"},
    "rate_submit": {"es": "Enviar valoración", "en": "Send rating"},
    "rate_pick": {"es": "Elige 👍 o 👎 antes de enviar.", "en": "Pick 👍 or 👎 before sending."},
    "rate_thanks": {"es": "¡Gracias por tu valoración!", "en": "Thanks for your rating!"},
    "rated": {"es": "Tu valoración: {value}", "en": "Your rating: {value}"},
    "chat_title": {"es": "Chat con el tutor", "en": "Chat with the tutor"},
    "chat_new": {"es": "Nueva conversación", "en": "New conversation"},
    "chat_pick": {"es": "Conversación", "en": "Conversation"},
    "chat_placeholder": {"es": "Escribe tu mensaje…", "en": "Type your message…"},
    "chat_stop": {"es": "Detener", "en": "Stop"},
    "chat_stopped": {"es": "Respuesta detenida.", "en": "Reply stopped."},
    "chat_empty": {"es": "Escribe abajo para empezar a hablar con el tutor.",
                   "en": "Type below to start talking with the tutor."},
    "chat_about": {"es": "Sobre: {title}", "en": "About: {title}"},
    "history_title": {"es": "Tu historial", "en": "Your history"},
    "history_search": {"es": "Buscar", "en": "Search"},
    "history_search_placeholder": {"es": "Busca por pregunta o título", "en": "Search by question or title"},
    "history_empty": {"es": "Aún no hay nada aquí. Haz tu primera pregunta.", "en": "Nothing here yet. Ask your first question."},
    "history_no_match": {"es": "Ninguna sesión coincide con la búsqueda.", "en": "No session matches the search."},
    "kind_explanation": {"es": "Explicación", "en": "Explanation"},
    "kind_chat": {"es": "Chat", "en": "Chat"},
    "status_streaming": {"es": "en curso", "en": "in progress"},
    "status_paused": {"es": "en pausa", "en": "paused"},
    "status_complete": {"es": "completa", "en": "complete"},
    "status_error": {"es": "con error", "en": "failed"},
    "status_open": {"es": "abierta", "en": "open"},
    "open": {"es": "Abrir", "en": "Open"},
    "continue": {"es": "Continuar", "en": "Continue"},
    "delete": {"es": "Borrar", "en": "Delete"},
    "delete_confirm": {"es": "¿Borrar «{title}»? No se puede deshacer.", "en": "Delete “{title}”? This cannot be undone."},
    "delete_yes": {"es": "Sí, borrar", "en": "Yes, delete"},
    "cancel": {"es": "Cancelar", "en": "Cancel"},
    "deleted": {"es": "Sesión borrada.", "en": "Session deleted."},
    "download_md": {"es": "Markdown", "en": "Markdown"},
    "download_svg": {"es": "Pizarra (SVG)", "en": "Whiteboard (SVG)"},
    "teacher_title": {"es": "Tus clases", "en": "Your classes"},
    "teacher_soon": {"es": "Aquí verás pronto el progreso de tus estudiantes.",
                     "en": "Your students' progress will appear here soon."},
    "teacher_no_classes": {"es": "Todavía no tienes clases. Crea una y comparte su código.",
                           "en": "You have no classes yet. Create one and share its code."},
    "join_code": {"es": "Código para unirse", "en": "Join code"},
    "students_count": {"es": "{n} estudiantes", "en": "{n} students"},
    "class_name": {"es": "Nombre de la clase", "en": "Class name"},
    "create_class": {"es": "Crear clase", "en": "Create class"},
    "class_created": {"es": "Clase creada. Código: {code}", "en": "Class created. Code: {code}"},
    "page_not_allowed": {"es": "Esta página no está disponible para tu cuenta.",
                         "en": "This page is not available to your account."},
    "go_home": {"es": "Ir a Preguntar", "en": "Go to Ask"},
}


def _lookup(table: dict[str, dict[str, str]], key: str, language: str) -> str | None:
    entry = table.get(key)
    if entry is None:
        return None
    return entry.get(language) or entry["en"]


def t(key: str, language: str = "en", /, **params: Any) -> str:
    text = _lookup(TEXTS, key, language) or key
    return text.format(**params) if params else text


def error_message(code: str, language: str = "en", /, **params: Any) -> str:
    text = _lookup(ERRORS, code, language) or _lookup(ERRORS, "error", language)
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text


def waiting_phrases(language: str):
    """An endless cycle of waiting phrases in the given language."""
    return itertools.cycle(WAITING_PHRASES.get(language, WAITING_PHRASES["en"]))

"""Who may do what: the roles, and the checks every operation calls (each raises ``Forbidden``).

* Something a user owns (an explanation, a chat, a rating, a history entry) is theirs alone: ``require_owner``.
* The answer library and the teacher's views are for staff (teachers and admins): ``require_staff``.
* A class is for its teacher or an admin: ``require_class_teacher``; managing a student (granting credits, reading
  their balance) for an admin or a teacher of one of the student's classes: ``require_student_manager``.

``who`` is anything with a ``role`` and an id: a verified ``Identity`` (``user_id``) or an account's ``User`` (``id``).
"""
from __future__ import annotations

from collections.abc import Callable

from ..errors import Forbidden

ROLES = ("student", "teacher", "admin")
STAFF_ROLES = ("teacher", "admin")


def is_staff(who) -> bool:
    return who.role in STAFF_ROLES


def is_admin(who) -> bool:
    """Runs the deployment: sees operators' hints (how to configure a provider) besides everything staff sees."""
    return who.role == "admin"


def require_staff(who) -> None:
    if not is_staff(who):
        raise Forbidden()


def require_owner(who, owner_id) -> None:
    if str(owner_id) != _id(who):
        raise Forbidden()


def require_class_teacher(who, teacher_id) -> None:
    """The class whose teacher is ``teacher_id`` is theirs, or they are an admin."""
    if not (who.role == "admin" or (who.role == "teacher" and str(teacher_id) == _id(who))):
        raise Forbidden()


def require_student_manager(who, student_id, teaches: Callable[[str, str], bool]) -> None:
    """They are an admin, or a teacher for whom ``teaches(teacher_id, student_id)`` holds."""
    if not (who.role == "admin" or (who.role == "teacher" and teaches(_id(who), str(student_id)))):
        raise Forbidden()


def _id(who) -> str:
    user_id = getattr(who, "user_id", None)
    return str(user_id if user_id is not None else who.id)

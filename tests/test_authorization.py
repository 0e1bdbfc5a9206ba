"""Who may do what: the one home of the roles and the owner/staff/class checks, and that operations call it."""
import ast
from pathlib import Path

import pytest

from core.errors import Forbidden
from core.platform import authorization
from core.school.accounts import User
from core.school.auth import Identity

ROOT = Path(__file__).resolve().parent.parent
ANA = Identity(user_id="u-ana", email="ana@example.org", role="student")
TEO = Identity(user_id="u-teo", email="teo@example.org", role="teacher")
ADA = Identity(user_id="u-ada", email="ada@example.org", role="admin")


def teaches(teacher_id: str, student_id: str) -> bool:
    return (teacher_id, student_id) == ("u-teo", "u-ana")


def test_staff_are_teachers_and_admins():
    assert authorization.STAFF_ROLES == ("teacher", "admin") and set(authorization.STAFF_ROLES) < set(
        authorization.ROLES)
    assert [authorization.is_staff(who) for who in (ANA, TEO, ADA)] == [False, True, True]
    authorization.require_staff(TEO)
    with pytest.raises(Forbidden):
        authorization.require_staff(ANA)


def test_only_the_owner_owns():
    authorization.require_owner(ANA, "u-ana")
    for who in (TEO, ADA):  # not even an admin reads a student's session
        with pytest.raises(Forbidden):
            authorization.require_owner(who, "u-ana")


def test_a_class_is_for_its_teacher_or_an_admin():
    authorization.require_class_teacher(TEO, "u-teo")
    authorization.require_class_teacher(ADA, "u-teo")
    with pytest.raises(Forbidden):
        authorization.require_class_teacher(Identity(user_id="u-eva", email="eva@example.org", role="teacher"), "u-teo")
    with pytest.raises(Forbidden):  # a student whose id happens to match still is not a teacher
        authorization.require_class_teacher(Identity(user_id="u-teo", email="x@example.org", role="student"), "u-teo")


def test_a_student_is_managed_by_an_admin_or_their_teacher_never_by_themselves():
    authorization.require_student_manager(TEO, "u-ana", teaches)
    authorization.require_student_manager(ADA, "u-ana", teaches)
    for who, student in ((TEO, "u-ben"), (ANA, "u-ana")):
        with pytest.raises(Forbidden):
            authorization.require_student_manager(who, student, teaches)


def test_accounts_users_work_like_identities():
    teo = User(id="u-teo", email="teo@example.org", name="Teo", role="teacher", language="es")
    authorization.require_class_teacher(teo, "u-teo")
    authorization.require_owner(teo, "u-teo")


def test_no_operation_writes_its_own_role_check():
    """Outside authorization.py no module of core compares a role with "teacher" or "admin" to decide access."""
    for path in sorted((ROOT / "core").rglob("*.py")):
        if path.name in ("authorization.py",):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn, ast.Eq, ast.NotEq))
                                                     for op in node.ops):
                sides = [node.left, *node.comparators]
                reads_role = any(isinstance(s, ast.Attribute) and s.attr == "role" for s in sides)
                staff = any(isinstance(s, ast.Constant) and s.value == "admin" for s in sides) or any(
                    isinstance(s, ast.Tuple) and {getattr(e, "value", None) for e in s.elts} == {"teacher", "admin"}
                    for s in sides)
                assert not (reads_role and staff), f"{path.relative_to(ROOT)}:{node.lineno}"

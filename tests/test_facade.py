"""The facade's own methods for clients: classes, lessons, language, operators, and what the tutor can do."""
import pytest

from core import LANGUAGES
from core.errors import Forbidden, InvalidInput, NotFound


@pytest.fixture
def school(make_tutor, backend):
    tutor = make_tutor(**backend)
    teo = tutor.identity_of(tutor.register("teo@example.org", "otter-42-moss", role="teacher", name="Teo"))
    eva = tutor.identity_of(tutor.register("eva@example.org", "otter-42-moss", role="teacher", name="Eva"))
    klass = tutor.create_class(teo, "3º ESO B")
    ana = tutor.identity_of(tutor.register("ana@example.org", "otter-42-moss", class_code=klass.join_code))
    return tutor, teo, eva, ana, klass


def test_classes_and_their_students(school):
    tutor, teo, eva, ana, klass = school
    assert [c.id for c in tutor.classes(teo)] == [klass.id] and klass.join_code
    assert tutor.classes(eva) == [] and [c.id for c in tutor.classes(ana)] == [klass.id]
    assert [u.email for u in tutor.students(teo, klass.id)] == ["ana@example.org"]
    with pytest.raises(Forbidden):
        tutor.students(eva, klass.id)  # another teacher's class
    with pytest.raises(Forbidden):
        tutor.create_class(ana, "mine")  # students do not open classes
    with pytest.raises(InvalidInput):
        tutor.create_class(teo, "   ")


def test_operators_act_as_a_user_by_email(school):
    tutor, teo, _, ana, _ = school
    assert tutor.identity_by_email("ANA@example.org") == ana
    with pytest.raises(NotFound):
        tutor.identity_by_email("nobody@example.org")
    assert tutor.is_staff(teo) and not tutor.is_staff(ana)


def test_the_picked_language_is_remembered(school):
    tutor, _, _, ana, _ = school
    other = next(lang for lang in tutor.languages if lang != ana.language)
    tutor.set_language(ana, other)
    assert tutor.identity(tutor.sign_in("ana@example.org", "otter-42-moss")).language == other
    with pytest.raises(InvalidInput):
        tutor.set_language(ana, "fr")


def test_what_this_tutor_offers(make_tutor, ai):
    plain = make_tutor()
    assert not plain.has_provider and plain.languages == LANGUAGES
    assert plain.default_language in LANGUAGES and plain.token_ttl > 0
    assert make_tutor(**ai).has_provider
    spanish = plain.lessons("es")
    assert spanish and {lesson.question.language for lesson in spanish} == {"es"}
    assert len(plain.lessons()) == len(spanish) + len(plain.lessons("en"))

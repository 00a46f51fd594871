"""Writing, correcting (revisions keep the history), ICD-10 codes, break-glass and the log."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from clinical import selectors, services
from clinical.models import EmergencyAccess, Evolution, EvolutionRevision, RecordAccess
from clinical.permissions import emergency_accesses_active, records_readable_by
from clinical.validators import normalize_icd10, validate_icd10
from rooms.tests.factories import RoomFactory

pytestmark = pytest.mark.django_db

BAD_CODES = ["XX", "J4", "J45.99", "45J", "J45-9", "JJ45"]


def write(doctor, patient, **text):
    return services.evolution_write(doctor=doctor, patient=patient, **text)


def amend(evolution, author, reason="Correção de digitação", **text):
    return services.evolution_amend(evolution=evolution, author=author, reason=reason, **text)


def nothing_written():
    return not Evolution.objects.exists() and not EvolutionRevision.objects.exists()


# --- Writing -------------------------------------------------------------------------------


def test_writing_stores_the_evolution_and_its_first_revision(doctor, patient):
    evolution = write(doctor, patient, notes="  Febre.  ", diagnosis_code=" j459 ")

    assert (evolution.notes, evolution.diagnosis_code, evolution.revision) == ("Febre.", "J45.9", 1)
    (revision,) = evolution.revisions.all()
    assert (revision.number, revision.author, revision.reason) == (1, doctor, "")
    assert revision.text() == evolution.text()


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_an_empty_evolution_is_refused_and_nothing_is_written(doctor, patient, blank):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        write(doctor, patient, notes=blank, diagnosis=blank, diagnosis_code=blank, prescription="")

    assert error.value.code == "empty"
    assert "at least the notes, a diagnosis or a prescription" in error.value.messages[0]
    assert nothing_written()


@pytest.mark.parametrize("code", BAD_CODES)
def test_a_bad_icd10_code_is_refused_with_a_clear_message(doctor, patient, code):
    with translation.override("en"):
        with pytest.raises(ValidationError) as error:
            write(doctor, patient, notes="Nota.", diagnosis_code=code)
        # The message is lazy: read it in English, not in whatever language is active after.
        (message,) = error.value.message_dict["diagnosis_code"]
    assert f"“{code}” is not an ICD-10 code" in message
    assert "J45 or J45.9" in message
    assert nothing_written()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [(" j459 ", "J45.9"), ("J45", "J45"), ("j45.9", "J45.9"), ("u07 1", "U07.1"), ("", "")],
)
def test_icd10_codes_are_normalized(doctor, patient, typed, stored):
    assert write(doctor, patient, notes="Nota.", diagnosis_code=typed).diagnosis_code == stored


def test_the_validators_alone():
    assert normalize_icd10(" j459 ") == "J45.9"
    assert normalize_icd10("xx") == "XX"  # not a code: left for the validator to refuse
    validate_icd10("J45")
    validate_icd10("J45.9")
    validate_icd10("")
    for code in BAD_CODES:
        with pytest.raises(ValidationError):
            validate_icd10(code)


def test_only_a_doctor_writes_and_only_for_a_patient(doctor, patient, admin_user, other_doctor):
    with pytest.raises(PermissionDenied):
        write(admin_user, patient, notes="Nota.")
    with pytest.raises(PermissionDenied):
        write(doctor, other_doctor, notes="Nota.")
    assert nothing_written()


def test_a_room_of_other_people_cannot_be_linked(doctor, patient, other_doctor, other_patient):
    foreign = RoomFactory(doctor=other_doctor, patient=other_patient)

    with pytest.raises(ValidationError) as error:
        write(doctor, patient, notes="Nota.", room=foreign)

    assert "room" in error.value.message_dict
    assert nothing_written()


# --- Correcting: revisions keep the history ------------------------------------------------


def test_amending_twice_keeps_all_three_revisions(doctor, patient, evolution):
    original = evolution.text()

    amend(evolution, doctor, reason="Dose errada", notes=original["notes"], prescription="B")
    latest = amend(
        evolution, doctor, reason="CID mais preciso", notes="Nota nova", diagnosis_code="J45"
    )

    revisions = {r.number: r for r in selectors.revisions_of(evolution=evolution)}
    assert sorted(revisions) == [1, 2, 3]
    assert revisions[1].text() == original
    assert revisions[1].reason == ""
    assert (revisions[2].reason, revisions[2].prescription) == ("Dose errada", "B")
    assert revisions[2].notes == original["notes"]
    assert (revisions[3].reason, revisions[3].notes) == ("CID mais preciso", "Nota nova")
    assert {r.author for r in revisions.values()} == {doctor}
    # The evolution shows the latest text, and when it was last amended.
    evolution.refresh_from_db()
    assert evolution.text() == revisions[3].text() == latest.text()
    assert evolution.text() == {
        "notes": "Nota nova",
        "diagnosis": "",
        "diagnosis_code": "J45",
        "prescription": "",
    }
    assert (evolution.revision, evolution.is_amended) == (3, True)
    assert evolution.amended_at == revisions[3].created_at


def test_revision_history_names_the_changed_fields(doctor, patient, evolution):
    text = evolution.text()
    amend(evolution, doctor, **{**text, "prescription": "Outra receita"})
    amend(
        evolution,
        doctor,
        **{**text, "prescription": "Outra receita", "notes": "N", "diagnosis_code": "J45"},
    )

    with translation.override("en"):
        history = [
            (revision.number, [str(name) for name in changed])
            for revision, changed in selectors.revision_history(evolution=evolution)
        ]

    assert history == [(3, ["notes", "ICD-10 code"]), (2, ["prescription"]), (1, [])]


def test_amending_without_a_reason_is_refused(doctor, evolution):
    for reason in ("", "   ", None):
        with pytest.raises(ValidationError) as error:
            amend(evolution, doctor, reason=reason, notes="Outro texto")
        assert "reason" in error.value.message_dict
    assert EvolutionRevision.objects.count() == 1


def test_browser_line_breaks_are_stored_as_newlines(doctor, patient):
    evolution = services.evolution_write(
        doctor=doctor, patient=patient, notes="Linha 1\r\nLinha 2\r\n", prescription="A\r\nB"
    )
    assert (evolution.notes, evolution.prescription) == ("Linha 1\nLinha 2", "A\nB")
    # Resubmitting the same text from a browser form is "no change", not a new revision.
    with pytest.raises(ValidationError) as caught:
        services.evolution_amend(
            evolution=evolution,
            author=doctor,
            reason="Sem mudança",
            notes="Linha 1\r\nLinha 2",
            prescription="A\r\nB",
        )
    assert caught.value.code == "unchanged"


def test_amending_without_a_change_is_refused(doctor, evolution):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        # Whitespace and a loosely typed code are the same text once cleaned.
        amend(
            evolution,
            doctor,
            **{**evolution.text(), "notes": f"  {evolution.notes} ", "diagnosis_code": "j459"},
        )

    assert error.value.code == "unchanged"
    assert error.value.messages == ["Nothing was changed."]
    assert EvolutionRevision.objects.count() == 1
    evolution.refresh_from_db()
    assert evolution.revision == 1


def test_an_amendment_is_checked_like_a_new_evolution(doctor, evolution):
    with pytest.raises(ValidationError) as error:
        amend(evolution, doctor, notes="Nota", diagnosis_code="J45.99")
    assert "diagnosis_code" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        amend(evolution, doctor)
    assert error.value.code == "empty"
    assert EvolutionRevision.objects.count() == 1


def test_only_the_author_amends(room_doctor, admin_user, evolution):
    for someone in (room_doctor, admin_user):
        with pytest.raises(PermissionDenied):
            amend(evolution, someone, notes="Outro texto")
    assert EvolutionRevision.objects.count() == 1


# --- Break-glass ---------------------------------------------------------------------------


def grant_for(admin, patient, reason="Auditoria pedida pela diretoria clínica"):
    return services.emergency_access_grant(
        admin=admin, patient=patient, reason=reason, ip_address="10.1.2.3"
    )


@pytest.mark.parametrize(
    "reason",
    ["", "curto demais", "a" * 19, "  " + "a  " * 9, "a\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\nb"],
)
def test_a_grant_needs_a_reason_of_twenty_characters(admin_user, patient, reason):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        grant_for(admin_user, patient, reason)

    (message,) = error.value.message_dict["reason"]
    assert "at least 20 characters" in message
    assert not EmergencyAccess.objects.exists()


def test_a_grant_lasts_the_configured_minutes(admin_user, patient, settings):
    settings.EMERGENCY_ACCESS_MINUTES = 15
    before = timezone.now()

    grant = grant_for(admin_user, patient, "  Auditoria   pedida  pela diretoria  ")

    assert grant.reason == "Auditoria pedida pela diretoria"
    assert grant.ip_address == "10.1.2.3"
    assert before + dt.timedelta(minutes=15) <= grant.expires_at
    assert grant.expires_at <= timezone.now() + dt.timedelta(minutes=15)
    assert list(records_readable_by(admin_user)) == [patient]


def test_only_an_admin_is_granted_and_only_to_a_patient(admin_user, doctor, patient):
    with pytest.raises(PermissionDenied):
        grant_for(doctor, patient)
    with pytest.raises(PermissionDenied):
        grant_for(admin_user, doctor)
    assert not EmergencyAccess.objects.exists()


def test_a_grant_expires(admin_user, patient):
    past = timezone.now() - dt.timedelta(seconds=1)
    EmergencyAccess.objects.create(
        admin=admin_user, patient=patient, reason="x" * 30, expires_at=past
    )

    assert not emergency_accesses_active(admin_user).exists()
    assert not records_readable_by(admin_user).exists()


# --- The access log -----------------------------------------------------------------------


def log(viewer, patient, section="chart", **kwargs):
    return services.record_access_log(
        viewer=viewer, patient=patient, section=section, ip_address="192.0.2.1", **kwargs
    )


def test_the_patient_reading_their_own_record_is_not_logged(patient):
    assert log(patient, patient) is None
    assert not RecordAccess.objects.exists()


def test_a_doctor_is_logged_with_their_role_and_address(doctor, patient, evolution):
    row = log(doctor, patient, "evolution", evolution=evolution)

    assert (row.viewer, row.viewer_role, row.section) == (doctor, "doctor", "evolution")
    assert (row.evolution, row.emergency, row.ip_address) == (evolution, None, "192.0.2.1")


def test_an_admin_row_carries_the_active_grant_only(admin_user, patient, other_patient):
    EmergencyAccess.objects.create(
        admin=admin_user,
        patient=patient,
        reason="x" * 30,
        expires_at=timezone.now() - dt.timedelta(minutes=1),
    )
    assert log(admin_user, patient).emergency is None  # expired

    grant = grant_for(admin_user, patient)
    assert log(admin_user, patient).emergency == grant
    assert log(admin_user, other_patient).emergency is None  # granted for someone else


def test_a_resend_with_the_same_token_returns_the_evolution_already_written(doctor, patient):
    import uuid

    token = uuid.uuid4()
    first = services.evolution_write(doctor=doctor, patient=patient, notes="Uma vez", token=token)
    again = services.evolution_write(doctor=doctor, patient=patient, notes="Uma vez", token=token)

    assert again.pk == first.pk
    assert Evolution.objects.count() == 1
    assert EvolutionRevision.objects.count() == 1


def test_a_token_cannot_reach_someone_elses_evolution(doctor, patient, other_doctor, other_patient):
    import uuid

    token = uuid.uuid4()
    services.evolution_write(doctor=doctor, patient=patient, notes="Dela", token=token)
    with pytest.raises(PermissionDenied):
        services.evolution_write(
            doctor=other_doctor, patient=other_patient, notes="Outro", token=token
        )
    assert Evolution.objects.count() == 1


# --- An evolution is written once ------------------------------------------------------

SENT = {"notes": "Dor lombar há 2 dias.", "diagnosis": "Lombalgia", "diagnosis_code": "M54.5"}


def test_the_same_text_sent_again_with_a_fresh_token_returns_the_one_written(doctor, patient):
    # Back or a second tab: the form comes with a new token, the text is the same.
    import uuid

    first = write(doctor, patient, token=uuid.uuid4(), **SENT)
    again = write(doctor, patient, token=uuid.uuid4(), **{**SENT, "notes": SENT["notes"] + "\r\n"})

    assert again.pk == first.pk
    assert Evolution.objects.count() == EvolutionRevision.objects.count() == 1


def test_a_different_text_is_another_evolution(doctor, patient):
    write(doctor, patient, **SENT)
    write(doctor, patient, **{**SENT, "notes": "Dor lombar há 3 dias."})

    assert Evolution.objects.count() == 2


def test_the_same_text_from_another_doctor_or_for_another_consultation_is_another_evolution(
    doctor, patient, room_doctor
):
    room = RoomFactory(doctor=doctor, patient=patient)
    write(doctor, patient, **SENT)
    write(doctor, patient, room=room, **SENT)
    write(room_doctor, patient, **SENT)

    assert Evolution.objects.count() == 3


def test_the_same_words_later_are_a_new_entry(doctor, patient):
    earlier = timezone.now() - services.IDENTICAL_RESEND_WINDOW - dt.timedelta(minutes=1)
    write(doctor, patient, at=earlier, notes="Sem queixas.")

    write(doctor, patient, notes="Sem queixas.")

    assert Evolution.objects.count() == 2


def test_a_resend_is_recognised_after_the_first_was_corrected(doctor, patient):
    first = write(doctor, patient, **SENT)
    amend(first, doctor, notes="Dor lombar há 2 dias, sem irradiação.")

    again = write(doctor, patient, **SENT)

    assert again.pk == first.pk
    assert Evolution.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_tabs_sending_the_same_text_at_once_write_one_evolution(doctor, patient):
    import threading
    import uuid

    from django.db import connection

    workers = 4
    barrier = threading.Barrier(workers)
    written, errors = [], []

    def send():
        try:
            barrier.wait(timeout=10)
            written.append(write(doctor, patient, token=uuid.uuid4(), **SENT).pk)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(written) == workers and len(set(written)) == 1
    assert Evolution.objects.count() == EvolutionRevision.objects.count() == 1

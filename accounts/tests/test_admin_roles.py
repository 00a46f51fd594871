"""A role change in the admin keeps the data consistent, or is refused with the reason.

One service, accounts.services.user_change_role, holds the rule; the admin's
user form reports its refusals on the page and changes nothing.
"""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import DoctorProfile, PatientProfile, Role, User
from accounts.permissions import patients_visible_to
from accounts.signals import access_revoked
from accounts.tests.factories import AdminFactory, DoctorFactory, PatientFactory
from clinical import services as clinical_services
from rooms.models import RoomStatus
from rooms.tests.factories import ConsentFactory, RoomFactory

pytestmark = pytest.mark.django_db


def codes(error: ValidationError) -> list:
    return [e.code for errors in error.error_dict.values() for e in errors]


@pytest.fixture
def revoked():
    """The users whose live connections were told to close."""
    seen = []

    def receiver(sender, user, **kwargs):
        seen.append(user.pk)

    access_revoked.connect(receiver)
    yield seen
    access_revoked.disconnect(receiver)


# --- The service ---------------------------------------------------------------


def test_a_patient_with_a_record_cannot_become_a_doctor(admin_user, patient):
    RoomFactory(doctor=patient.patient_profile.doctor, patient=patient)

    with pytest.raises(ValidationError) as error:
        services.user_change_role(
            user=patient, role=Role.DOCTOR, by=admin_user, crm="654321", crm_state="RJ"
        )

    assert codes(error.value) == ["patient-has-records"]
    patient.refresh_from_db()
    assert patient.role == Role.PATIENT
    assert PatientProfile.objects.filter(user=patient).exists()
    assert not DoctorProfile.objects.filter(user=patient).exists()


@pytest.mark.parametrize("record", ["evolution", "consent"])
def test_evolutions_and_consents_count_as_a_record(admin_user, doctor, patient, record):
    if record == "evolution":
        clinical_services.evolution_write(doctor=doctor, patient=patient, notes="Febre.")
    else:
        ConsentFactory(patient=patient)

    with pytest.raises(ValidationError) as error:
        services.user_change_role(user=patient, role=Role.ADMIN, by=admin_user)

    assert codes(error.value) == ["patient-has-records"]


def test_a_patient_without_a_record_becomes_a_doctor_with_a_crm(
    admin_user, doctor, patient, revoked, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.user_change_role(
            user=patient, role=Role.DOCTOR, by=admin_user, crm="654321", crm_state="RJ"
        )

    patient = User.objects.get(pk=patient.pk)
    assert patient.role == Role.DOCTOR
    assert patient.doctor_profile.crm_display == "CRM 654321/RJ"
    # No stale profile keeps them in their old doctor's list and counts.
    assert not PatientProfile.objects.filter(user=patient).exists()
    assert not doctor.patients.exists()
    assert revoked == [patient.pk]


def test_becoming_a_doctor_needs_a_crm_and_its_state(admin_user):
    other_admin = AdminFactory()

    with pytest.raises(ValidationError) as error:
        services.user_change_role(user=other_admin, role=Role.DOCTOR, by=admin_user, crm="1")

    assert codes(error.value) == ["crm-required"]
    assert User.objects.get(pk=other_admin.pk).role == Role.ADMIN


def test_becoming_a_doctor_with_a_crm_already_taken_is_refused(admin_user, doctor):
    other_admin = AdminFactory()
    crm = doctor.doctor_profile

    with pytest.raises(ValidationError) as error:
        services.user_change_role(
            user=other_admin, role=Role.DOCTOR, by=admin_user, crm=crm.crm, crm_state=crm.crm_state
        )

    assert codes(error.value) == ["crm-taken"]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.PATIENT])
def test_a_doctor_responsible_for_patients_keeps_the_role(admin_user, doctor, patient, role):
    PatientFactory(doctor=doctor)
    other = DoctorFactory()

    with pytest.raises(ValidationError) as error:
        services.user_change_role(user=doctor, role=role, by=admin_user, doctor=other)

    assert codes(error.value) == ["doctor-has-patients"]
    assert "2 pacientes" in error.value.error_dict["role"][0].message
    doctor.refresh_from_db()
    assert doctor.role == Role.DOCTOR
    assert patients_visible_to(doctor).count() == 2


def test_a_doctor_with_an_open_consultation_keeps_the_role(admin_user, doctor, patient):
    room = RoomFactory(doctor=doctor, patient=patient)
    services.patient_reassign(patient=patient, doctor=DoctorFactory())
    assert room.status == RoomStatus.OPEN

    with pytest.raises(ValidationError) as error:
        services.user_change_role(user=doctor, role=Role.ADMIN, by=admin_user)

    assert codes(error.value) == ["doctor-has-open-rooms"]


def test_a_doctor_without_patients_becomes_an_admin_and_keeps_their_history(
    admin_user, doctor, patient
):
    room = RoomFactory(
        doctor=doctor, patient=patient, status=RoomStatus.ENDED, ended_at=timezone.now()
    )
    services.patient_reassign(patient=patient, doctor=DoctorFactory())

    services.user_change_role(user=doctor, role=Role.ADMIN, by=admin_user)

    doctor = User.objects.get(pk=doctor.pk)
    assert doctor.role == Role.ADMIN
    assert doctor.is_staff and doctor.is_superuser
    # The CRM their past consultations were held under stays on record.
    assert DoctorProfile.objects.filter(user=doctor).exists()
    room.refresh_from_db()
    assert room.doctor_id == doctor.pk


def test_becoming_a_patient_needs_a_responsible_doctor(admin_user):
    other_admin = AdminFactory()

    with pytest.raises(ValidationError) as error:
        services.user_change_role(user=other_admin, role=Role.PATIENT, by=admin_user)

    assert codes(error.value) == ["doctor-required"]
    assert not PatientProfile.objects.filter(user=other_admin).exists()


def test_the_responsible_doctor_must_be_an_active_doctor(admin_user, doctor):
    other_admin = AdminFactory()
    services.user_set_active(user=doctor, active=False)

    with pytest.raises(ValidationError) as error:
        services.user_change_role(user=other_admin, role=Role.PATIENT, by=admin_user, doctor=doctor)

    assert codes(error.value) == ["invalid-doctor"]


def test_an_admin_becomes_a_patient_of_a_doctor(admin_user, doctor):
    other_admin = AdminFactory()

    services.user_change_role(user=other_admin, role=Role.PATIENT, by=admin_user, doctor=doctor)

    profile = PatientProfile.objects.get(user=other_admin)
    assert (profile.doctor, profile.created_by) == (doctor, admin_user)
    # The Django admin is the admin role's: a demoted admin loses it with the role.
    assert not profile.user.is_staff and not profile.user.has_module_perms("accounts")
    assert patients_visible_to(doctor).filter(pk=other_admin.pk).exists()


def test_nobody_changes_their_own_role(admin_user, doctor):
    with pytest.raises(ValidationError) as error:
        services.user_change_role(user=admin_user, role=Role.PATIENT, by=admin_user, doctor=doctor)

    assert codes(error.value) == ["own-role"]


def test_an_unknown_role_is_refused(admin_user, doctor):
    with pytest.raises(ValidationError) as error:
        services.user_change_role(user=doctor, role="nurse", by=admin_user)

    assert codes(error.value) == ["invalid-role"]


# --- The admin's user page -----------------------------------------------------


def change_url(user):
    return reverse("admin:accounts_user_change", args=[user.pk])


def form_data(response, **changes) -> dict:
    """What the browser would post back from an admin change page, with changes."""
    data = {}

    def put(form, name, value):
        field = form.fields[name]
        if getattr(field, "disabled", False):
            return
        if hasattr(value, "pk"):
            value = value.pk
        if value is True:
            value = "on"
        if value in (None, False):
            return
        data[form.add_prefix(name)] = value

    main = response.context["adminform"].form
    for name in main.fields:
        put(main, name, main.initial.get(name, main.fields[name].initial))
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management.initial.get(name, 0)
        for form in formset.forms:
            for name in form.fields:
                put(form, name, form.initial.get(name, form.fields[name].initial))
    data.update(changes)
    return data


def errors_on(response) -> str:
    html = response.content.decode()
    return " ".join(
        re.sub(r"<[^>]+>", " ", m) for m in re.findall(r'<ul class="errorlist.*?</ul>', html, re.S)
    )


def test_the_admin_refuses_to_make_a_patient_with_a_record_a_doctor(client, admin_user, room):
    patient = room.patient
    client.force_login(admin_user)
    page = client.get(change_url(patient))

    response = client.post(
        change_url(patient), form_data(page, role="doctor", crm="654321", crm_state="RJ")
    )

    assert response.status_code == 200
    assert "já tem prontuário aqui" in errors_on(response)
    patient.refresh_from_db()
    assert patient.role == Role.PATIENT
    assert not DoctorProfile.objects.filter(user=patient).exists()


def test_the_admin_makes_a_patient_without_a_record_a_doctor(client, admin_user, patient):
    client.force_login(admin_user)
    page = client.get(change_url(patient))

    response = client.post(
        change_url(patient), form_data(page, role="doctor", crm="654321", crm_state="RJ")
    )

    assert response.status_code == 302, errors_on(response)
    patient = User.objects.get(pk=patient.pk)
    assert patient.role == Role.DOCTOR
    assert patient.doctor_profile.crm == "654321"
    # The patient inline that was on the page did not bring the profile back.
    assert not PatientProfile.objects.filter(user=patient).exists()


def test_the_admin_asks_for_the_crm_of_a_new_doctor(client, admin_user):
    other_admin = AdminFactory()
    client.force_login(admin_user)
    page = client.get(change_url(other_admin))

    response = client.post(change_url(other_admin), form_data(page, role="doctor"))

    assert response.status_code == 200
    assert "Um médico precisa do CRM e da UF" in errors_on(response)
    assert User.objects.get(pk=other_admin.pk).role == Role.ADMIN


def test_the_admin_refuses_to_demote_a_doctor_with_patients(client, admin_user, doctor, patient):
    client.force_login(admin_user)
    page = client.get(change_url(doctor))

    response = client.post(change_url(doctor), form_data(page, role="admin"))

    assert response.status_code == 200
    assert "é responsável por 1 paciente" in errors_on(response)
    assert User.objects.get(pk=doctor.pk).role == Role.DOCTOR
    assert patients_visible_to(doctor).filter(pk=patient.pk).exists()


def test_a_demoted_admin_gets_their_record_export(client, admin_user, doctor):
    """Section 7 of the issue: after a demotion, /my-record/export/ answered 500."""
    other_admin = AdminFactory(first_name="Otávio")
    client.force_login(admin_user)
    page = client.get(change_url(other_admin))

    refused = client.post(change_url(other_admin), form_data(page, role="patient"))
    assert refused.status_code == 200
    assert "Um paciente precisa de um médico responsável" in errors_on(refused)
    assert User.objects.get(pk=other_admin.pk).role == Role.ADMIN

    done = client.post(change_url(other_admin), form_data(page, role="patient", doctor=doctor.pk))
    assert done.status_code == 302, errors_on(done)

    client.force_login(User.objects.get(pk=other_admin.pk))
    export = client.get(reverse("clinical:my_record_export"))
    assert export.status_code == 200
    assert export.json()["person"]["responsible_doctor"] == doctor.display_name


def test_an_account_left_without_its_role_profile_gets_403_not_500(client, doctor):
    """Accounts an older admin left half-changed: refused plainly, never a traceback."""
    legacy = AdminFactory()
    User.objects.filter(pk=legacy.pk).update(role=Role.PATIENT)
    doctor_without_crm = AdminFactory()
    User.objects.filter(pk=doctor_without_crm.pk).update(role=Role.DOCTOR)

    client.force_login(User.objects.get(pk=legacy.pk))
    assert client.get(reverse("clinical:my_record_export")).status_code == 403
    client.force_login(User.objects.get(pk=doctor_without_crm.pk))
    assert client.get(reverse("accounts:patient_list")).status_code == 403


def test_the_admin_adds_administrators_only(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "nova.admin@example.com",
            "first_name": "Nora",
            "last_name": "Reis",
            "role": "doctor",
            "usable_password": "false",
        },
    )

    assert response.status_code == 302
    created = User.objects.get(email="nova.admin@example.com")
    assert created.role == Role.ADMIN
    assert not DoctorProfile.objects.filter(user=created).exists()

"""The services that change people: each rule, and each refusal with its code."""

import datetime as dt

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import DoctorProfile, PatientProfile, Role, User
from accounts.services import InvitationTokenGenerator, invitation_token_generator
from accounts.tests.factories import DoctorFactory, PatientFactory

NEW_PASSWORD = "Uma-senha-nova-e-longa-7"
VALID_CPF = "52998224725"


# `ValidationError({"field": message}, code=...)` drops the code: Django only keeps
# a code given beside a plain message, so `error_dict[field][0].code` is None.
def field_codes(error: ValidationError) -> dict[str, list]:
    """{field: [code, ...]} of a ValidationError, "__all__" for one without fields."""
    if hasattr(error, "error_dict"):
        return {field: [e.code for e in errors] for field, errors in error.error_dict.items()}
    return {"__all__": [e.code for e in error.error_list]}


def doctor_data(**overrides) -> dict:
    return {
        "email": "nova.medica@example.com",
        "first_name": "Helena",
        "last_name": "Matos",
        "crm": "123456",
        "crm_state": "SP",
        **overrides,
    }


def patient_data(**overrides) -> dict:
    return {
        "email": "novo.paciente@example.com",
        "first_name": "Igor",
        "last_name": "Reis",
        **overrides,
    }


# --- Doctors ------------------------------------------------------------------


@pytest.mark.django_db
def test_doctor_create_stores_the_email_lowercase_and_makes_a_profile():
    user = services.doctor_create(**doctor_data(email="  Helena.Matos@Example.COM "))

    user.refresh_from_db()
    assert user.email == "helena.matos@example.com"
    assert user.role == Role.DOCTOR
    assert user.doctor_profile.crm == "123456"
    assert user.doctor_profile.crm_state == "SP"


def test_doctor_create_refuses_an_email_taken_in_another_case(doctor):
    with pytest.raises(ValidationError) as caught:
        services.doctor_create(**doctor_data(email=doctor.email.upper()))

    assert "email" in caught.value.error_dict
    assert User.objects.filter(role=Role.DOCTOR).count() == 1


def test_doctor_create_refusal_of_a_taken_email_has_code_email_taken(doctor):
    with pytest.raises(ValidationError) as caught:
        services.doctor_create(**doctor_data(email=doctor.email.upper()))

    assert field_codes(caught.value) == {"email": ["email-taken"]}


def test_doctor_update_normalises_the_email_and_keeps_its_own(doctor):
    services.doctor_update(
        doctor=doctor, **doctor_data(email=doctor.email.upper(), crm="777", crm_state="RJ")
    )

    doctor.refresh_from_db()
    assert doctor.email == doctor.email.lower()
    assert (doctor.doctor_profile.crm, doctor.doctor_profile.crm_state) == ("777", "RJ")


def test_doctor_update_refuses_another_persons_email(doctor, other_doctor):
    with pytest.raises(ValidationError) as caught:
        services.doctor_update(doctor=doctor, **doctor_data(email=other_doctor.email.title()))

    assert "email" in caught.value.error_dict
    doctor.refresh_from_db()
    assert doctor.email != other_doctor.email


def test_the_same_crm_number_may_be_registered_in_another_state(doctor):
    crm = doctor.doctor_profile.crm
    other = services.doctor_create(**doctor_data(crm=crm, crm_state="RJ"))

    assert other.doctor_profile.crm == crm


def test_doctor_create_refuses_a_crm_taken_in_the_same_state(doctor):
    profile = doctor.doctor_profile
    with pytest.raises(ValidationError) as caught:
        services.doctor_create(**doctor_data(crm=profile.crm, crm_state=profile.crm_state))

    assert "crm" in caught.value.error_dict


def test_doctor_update_refuses_a_crm_taken_in_the_same_state(doctor, other_doctor):
    taken = other_doctor.doctor_profile
    with pytest.raises(ValidationError) as caught:
        services.doctor_update(
            doctor=doctor,
            **doctor_data(email=doctor.email, crm=taken.crm, crm_state=taken.crm_state),
        )

    assert "crm" in caught.value.error_dict


# --- Patients -----------------------------------------------------------------


def test_patient_create_leaves_an_invitation_pending(doctor):
    patient = services.patient_create(created_by=doctor, doctor=doctor, **patient_data())

    patient.refresh_from_db()
    assert patient.role == Role.PATIENT
    assert not patient.has_usable_password()
    assert services.invitation_pending(user=patient)


def test_patient_create_records_the_doctor_and_who_registered(admin_user, doctor):
    patient = services.patient_create(
        created_by=admin_user, doctor=doctor, cpf=VALID_CPF, **patient_data()
    )

    profile = PatientProfile.objects.get(user=patient)
    assert profile.doctor == doctor
    assert profile.created_by == admin_user
    assert profile.cpf == VALID_CPF


def test_patient_create_stores_a_punctuated_cpf_as_eleven_digits(doctor):
    patient = services.patient_create(
        created_by=doctor, doctor=doctor, cpf="529.982.247-25", **patient_data()
    )

    assert PatientProfile.objects.get(user=patient).cpf == VALID_CPF


def test_patient_create_refuses_a_cpf_already_registered(doctor):
    PatientFactory(doctor=doctor, profile__cpf=VALID_CPF)

    with pytest.raises(ValidationError) as caught:
        services.patient_create(created_by=doctor, doctor=doctor, cpf=VALID_CPF, **patient_data())

    assert "cpf" in caught.value.error_dict
    assert not User.objects.filter(email="novo.paciente@example.com").exists()


def test_patient_create_refusal_of_a_taken_cpf_has_code_cpf_taken(doctor):
    PatientFactory(doctor=doctor, profile__cpf=VALID_CPF)

    with pytest.raises(ValidationError) as caught:
        services.patient_create(created_by=doctor, doctor=doctor, cpf=VALID_CPF, **patient_data())

    assert field_codes(caught.value) == {"cpf": ["cpf-taken"]}


def test_patients_without_cpf_do_not_clash(doctor):
    services.patient_create(created_by=doctor, doctor=doctor, **patient_data())
    services.patient_create(
        created_by=doctor, doctor=doctor, **patient_data(email="outra@example.com")
    )

    assert PatientProfile.objects.filter(cpf="").count() == 2


@pytest.fixture
def inactive_doctor(db):
    return DoctorFactory(is_active=False)


@pytest.mark.parametrize("responsible", ["inactive_doctor", "admin_user", "patient"])
def test_patient_create_refuses_a_responsible_who_is_not_an_active_doctor(
    request, doctor, responsible
):
    responsible = request.getfixturevalue(responsible)

    with pytest.raises(ValidationError) as caught:
        services.patient_create(created_by=doctor, doctor=responsible, **patient_data())

    assert "doctor" in caught.value.error_dict
    assert not User.objects.filter(email="novo.paciente@example.com").exists()


def test_patient_create_refusal_of_a_doctor_has_code_invalid_doctor(doctor, inactive_doctor):
    with pytest.raises(ValidationError) as caught:
        services.patient_create(created_by=doctor, doctor=inactive_doctor, **patient_data())

    assert field_codes(caught.value) == {"doctor": ["invalid-doctor"]}


def test_patient_update_changes_the_details_and_keeps_its_own_cpf(patient):
    PatientProfile.objects.filter(user=patient).update(cpf=VALID_CPF)
    patient.refresh_from_db()

    services.patient_update(
        patient=patient,
        email="Carlos.NOVO@Example.com",
        first_name="Carlos",
        last_name="Novo",
        phone="+5511987654321",
        birth_date=dt.date(1990, 5, 17),
        cpf=VALID_CPF,
    )

    patient.refresh_from_db()
    assert patient.email == "carlos.novo@example.com"
    assert patient.last_name == "Novo"
    assert patient.phone == "+5511987654321"
    assert patient.patient_profile.birth_date == dt.date(1990, 5, 17)
    assert patient.patient_profile.cpf == VALID_CPF


def test_patient_update_refuses_another_patients_cpf_and_email(patient, other_patient):
    PatientProfile.objects.filter(user=other_patient).update(cpf=VALID_CPF)
    base = {"first_name": "Carlos", "last_name": "Pereira"}

    with pytest.raises(ValidationError) as cpf_error:
        services.patient_update(patient=patient, email=patient.email, cpf=VALID_CPF, **base)
    with pytest.raises(ValidationError) as email_error:
        services.patient_update(patient=patient, email=other_patient.email.upper(), **base)

    assert "cpf" in cpf_error.value.error_dict
    assert "email" in email_error.value.error_dict
    assert PatientProfile.objects.get(user=patient).cpf == ""


def test_patient_reassign_makes_another_doctor_responsible(patient, other_doctor):
    services.patient_reassign(patient=patient, doctor=other_doctor)

    assert PatientProfile.objects.get(user=patient).doctor == other_doctor


def test_patient_reassign_refuses_an_inactive_doctor(patient, doctor, inactive_doctor):
    with pytest.raises(ValidationError) as caught:
        services.patient_reassign(patient=patient, doctor=inactive_doctor)

    assert "doctor" in caught.value.error_dict
    assert PatientProfile.objects.get(user=patient).doctor == doctor


# --- Accounts and profiles ----------------------------------------------------


@pytest.mark.parametrize("person", ["doctor", "patient"])
def test_user_set_active_deactivates_without_deleting_anything(request, person):
    person = request.getfixturevalue(person)
    profile_model = DoctorProfile if person.is_doctor else PatientProfile

    services.user_set_active(user=person, active=False)

    assert User.objects.get(pk=person.pk).is_active is False
    assert profile_model.objects.filter(user=person).exists()

    services.user_set_active(user=person, active=True)

    assert User.objects.get(pk=person.pk).is_active is True


def test_user_set_active_refuses_administrators(admin_user):
    with pytest.raises(ValidationError) as caught:
        services.user_set_active(user=admin_user, active=False)

    assert caught.value.code == "admin-account"
    assert User.objects.get(pk=admin_user.pk).is_active is True


def test_profile_update_changes_names_and_phone_but_not_the_email(patient):
    email = patient.email

    services.profile_update(
        user=patient, first_name="Carla", last_name="Prado", phone="+5521912345678"
    )

    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name, patient.phone) == (
        "Carla",
        "Prado",
        "+5521912345678",
    )
    assert patient.email == email


# --- PIX keys -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_type", "typed", "stored"),
    [
        ("cpf", "529.982.247-25", "52998224725"),
        ("cnpj", "11.222.333/0001-81", "11222333000181"),
        ("email", "Ana.Souza@Example.COM", "ana.souza@example.com"),
        ("phone", "(11) 98765-4321", "+5511987654321"),
        (
            "random",
            "123E4567-E89B-12D3-A456-426614174000",
            "123e4567-e89b-12d3-a456-426614174000",
        ),
    ],
)
def test_pix_key_set_stores_each_type_in_canonical_form(doctor, key_type, typed, stored):
    services.pix_key_set(doctor=doctor, key_type=key_type, key=typed)

    profile = DoctorProfile.objects.get(user=doctor)
    assert (profile.pix_key_type, profile.pix_key) == (key_type, stored)


@pytest.mark.parametrize(
    ("key_type", "typed"),
    [
        ("cpf", "529.982.247-26"),
        ("cnpj", "11.222.333/0001-80"),
        ("email", "not-an-email"),
        ("phone", "12345"),
        ("random", "not-a-uuid"),
        ("", "52998224725"),
        ("bitcoin", "52998224725"),
    ],
)
def test_pix_key_set_refuses_a_bad_key_on_the_pix_key_field(doctor, key_type, typed):
    services.pix_key_set(doctor=doctor, key_type="cpf", key=VALID_CPF)

    with pytest.raises(ValidationError) as caught:
        services.pix_key_set(doctor=doctor, key_type=key_type, key=typed)

    assert list(caught.value.error_dict) == ["pix_key"]
    profile = DoctorProfile.objects.get(user=doctor)
    assert (profile.pix_key_type, profile.pix_key) == ("cpf", VALID_CPF)


def test_pix_key_set_with_both_empty_clears_the_key(doctor):
    services.pix_key_set(doctor=doctor, key_type="email", key="ana@example.com")

    services.pix_key_set(doctor=doctor, key_type="", key="")

    profile = DoctorProfile.objects.get(user=doctor)
    assert (profile.pix_key_type, profile.pix_key) == ("", "")


# --- Invitations --------------------------------------------------------------


@pytest.fixture
def invited(doctor):
    return services.patient_create(created_by=doctor, doctor=doctor, **patient_data())


def _token(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def test_an_invitation_link_works_once(client, invited):
    path = services.invitation_path(user=invited)
    assert invitation_token_generator.check_token(invited, _token(path))

    set_password_url = client.get(path).url
    response = client.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert response.status_code == 302
    invited.refresh_from_db()
    assert invited.check_password(NEW_PASSWORD)
    assert not services.invitation_pending(user=invited)
    assert not invitation_token_generator.check_token(invited, _token(path))
    client.logout()
    again = client.get(path, follow=True)
    assert again.context["validlink"] is False


def test_an_invitation_stops_working_when_the_account_is_deactivated(invited):
    token = _token(services.invitation_path(user=invited))

    services.user_set_active(user=invited, active=False)

    assert not invitation_token_generator.check_token(invited, token)


@pytest.fixture
def clock(monkeypatch):
    """Shift the invitation generator's clock: clock(seconds) moves it from now."""
    start = invitation_token_generator._now()

    def shift(seconds: float) -> None:
        moment = start + dt.timedelta(seconds=seconds)
        monkeypatch.setattr(InvitationTokenGenerator, "_now", lambda self: moment)

    shift(0)
    return shift


def test_an_invitation_expires_after_invitation_timeout(settings, clock, invited):
    settings.INVITATION_TIMEOUT = 60
    settings.PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
    token = invitation_token_generator.make_token(invited)

    clock(59)
    assert invitation_token_generator.check_token(invited, token)
    clock(61)
    assert not invitation_token_generator.check_token(invited, token)


def test_an_invitation_outlives_the_password_reset_timeout(settings, clock, invited):
    settings.INVITATION_TIMEOUT = 60 * 60 * 24 * 7
    settings.PASSWORD_RESET_TIMEOUT = 60
    token = invitation_token_generator.make_token(invited)

    clock(60 * 60 * 24 * 6)

    assert invitation_token_generator.check_token(invited, token)


def test_an_expired_invitation_link_shows_no_password_form(settings, clock, client, invited):
    settings.INVITATION_TIMEOUT = 60
    path = services.invitation_path(user=invited)

    clock(120)
    response = client.get(path, follow=True)

    assert response.context["validlink"] is False


def test_a_password_reset_token_is_not_an_invitation_and_vice_versa(invited):
    reset_token = default_token_generator.make_token(invited)
    invitation_token = invitation_token_generator.make_token(invited)

    assert default_token_generator.check_token(invited, reset_token)
    assert not invitation_token_generator.check_token(invited, reset_token)
    assert invitation_token_generator.check_token(invited, invitation_token)
    assert not default_token_generator.check_token(invited, invitation_token)


# `mailoutbox` comes after `invited`: the database fixture starts a TestCase,
# which replaces mail.outbox, so a mailoutbox taken earlier would stay empty.
def test_invitation_send_mails_the_link_only_after_commit(
    invited, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_CONFIGURED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    link = "https://clinic.example" + services.invitation_path(user=invited)

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.invitation_send(user=invited, link=link) is True
        assert mailoutbox == []
    for callback in callbacks:
        callback()

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [invited.email]
    assert link in mailoutbox[0].body


def test_invitation_send_does_nothing_without_email(
    invited, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_CONFIGURED = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    with django_capture_on_commit_callbacks(execute=True):
        sent = services.invitation_send(user=invited, link="https://clinic.example/x/")

    assert sent is False
    assert mailoutbox == []

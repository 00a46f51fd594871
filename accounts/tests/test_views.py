"""The people pages, the profile, photos, invitations and the dashboards, through HTTP."""

import io

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts import services
from accounts.models import DoctorProfile, PatientProfile, Role, User
from accounts.tests.factories import PASSWORD, DoctorFactory, PatientFactory

VALID_CPF = "52998224725"
NEW_PASSWORD = "Uma-senha-nova-e-longa-7"


def login(client, user):
    # django-axes needs a request to authenticate, so client.login() cannot be used.
    client.force_login(user)
    return client


def listed(response) -> set[int]:
    return {person.pk for person in response.context["page_obj"].object_list}


def png_upload(name="me.png", size=(64, 48), colour=(0, 128, 255)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def doctor_post(**overrides) -> dict:
    return {
        "title": "dra",
        "first_name": "Helena",
        "last_name": "Matos",
        "email": "helena.matos@example.com",
        "phone": "(11) 98765-4321",
        "crm": "998877",
        "crm_state": "MG",
        "specialty": "Cardiologia",
        **overrides,
    }


def patient_post(**overrides) -> dict:
    return {
        "first_name": "Eduardo",
        "last_name": "Nunes",
        "email": "eduardo.nunes@example.com",
        "phone": "",
        "birth_date": "1985-03-02",
        "cpf": "529.982.247-25",
        **overrides,
    }


# --- Doctor list --------------------------------------------------------------


@pytest.fixture
def doctors(db):
    """Three doctors to search among (besides none of the role fixtures)."""
    return {
        "cardio": DoctorFactory(
            first_name="Marina",
            last_name="Queiroz",
            profile__crm="445566",
            profile__specialty="Cardiologia",
        ),
        "derma": DoctorFactory(
            first_name="Otávio",
            last_name="Ramos",
            profile__crm="112233",
            profile__specialty="Dermatologia",
        ),
        "retired": DoctorFactory(
            first_name="Paulo",
            last_name="Sales",
            profile__specialty="Cardiologia",
            is_active=False,
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"cardio", "derma", "retired"}),
        ({"q": "marina"}, {"cardio"}),
        ({"q": "Ramos"}, {"derma"}),
        ({"q": "112233"}, {"derma"}),
        ({"specialty": "Cardiologia"}, {"cardio", "retired"}),
        ({"status": "active"}, {"cardio", "derma"}),
        ({"status": "inactive"}, {"retired"}),
        ({"specialty": "Cardiologia", "status": "active"}, {"cardio"}),
    ],
)
def test_admin_searches_and_filters_the_doctor_list(client, admin_user, doctors, params, expected):
    response = login(client, admin_user).get(reverse("accounts:doctor_list"), params)

    assert response.status_code == 200
    assert listed(response) == {doctors[key].pk for key in expected}


@pytest.mark.parametrize("role", ["doctor", "patient"])
def test_only_admins_see_the_doctor_list(request, client, role):
    response = login(client, request.getfixturevalue(role)).get(reverse("accounts:doctor_list"))

    assert response.status_code == 403


# --- Patient list -------------------------------------------------------------


@pytest.fixture
def patients(doctor, other_doctor):
    return {
        "carlos": PatientFactory(
            first_name="Carlos", last_name="Pereira", doctor=doctor, profile__cpf=VALID_CPF
        ),
        "gabriela": PatientFactory(first_name="Gabriela", last_name="Teles", doctor=doctor),
        "heitor": PatientFactory(
            first_name="Heitor", last_name="Vaz", doctor=other_doctor, is_active=False
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"carlos", "gabriela", "heitor"}),
        ({"q": "gabriela"}, {"gabriela"}),
        ({"q": "Vaz"}, {"heitor"}),
        ({"q": "529.982.247-25"}, {"carlos"}),
        ({"q": VALID_CPF}, {"carlos"}),
        ({"status": "active"}, {"carlos", "gabriela"}),
        ({"status": "inactive"}, {"heitor"}),
    ],
)
def test_admin_searches_and_filters_the_patient_list(
    client, admin_user, patients, params, expected
):
    response = login(client, admin_user).get(reverse("accounts:patient_list"), params)

    assert response.status_code == 200
    assert listed(response) == {patients[key].pk for key in expected}


def test_admin_filters_the_patient_list_by_doctor(client, admin_user, other_doctor, patients):
    response = login(client, admin_user).get(
        reverse("accounts:patient_list"), {"doctor": other_doctor.pk}
    )

    assert listed(response) == {patients["heitor"].pk}


def test_a_doctor_lists_only_their_own_patients(client, doctor, patients):
    # The doctor filter cannot widen a doctor's list to someone else's patients.
    heitor_doctor = patients["heitor"].patient_profile.doctor
    response = login(client, doctor).get(
        reverse("accounts:patient_list"), {"doctor": heitor_doctor.pk}
    )
    assert listed(response) == set()

    response = client.get(reverse("accounts:patient_list"))
    assert listed(response) == {patients["carlos"].pk, patients["gabriela"].pk}


def test_the_patient_list_has_pages_of_twenty(client, admin_user, doctor):
    PatientFactory.create_batch(25, doctor=doctor)

    response = login(client, admin_user).get(reverse("accounts:patient_list"), {"page": 2})

    assert len(response.context["page_obj"].object_list) == 5
    assert len(listed(client.get(reverse("accounts:patient_list")))) == 20


# --- Creating people ----------------------------------------------------------


def test_admin_creates_a_doctor_and_gets_the_invitation_link_to_copy(client, admin_user):
    response = login(client, admin_user).post(reverse("accounts:doctor_create"), doctor_post())

    new = User.objects.get(email="helena.matos@example.com")
    assert new.role == Role.DOCTOR
    assert new.phone == "+5511987654321"
    assert (new.doctor_profile.crm, new.doctor_profile.crm_state) == ("998877", "MG")
    assert response.status_code == 302
    assert response.url == reverse("accounts:invitation", args=[new.pk])

    page = client.get(response.url)
    link = page.context["link"]
    assert link.startswith("http://testserver/accounts/invite/")
    html = page.content.decode()
    assert (
        f'id="invitation-link" class="form-control copy-field" type="text" value="{link}"' in html
    )
    assert 'data-copy-target="#invitation-link"' in html

    client.logout()
    assert client.get(link).status_code == 302


def test_a_doctor_with_a_taken_crm_is_refused_on_the_form(client, admin_user, doctor):
    taken = doctor.doctor_profile
    response = login(client, admin_user).post(
        reverse("accounts:doctor_create"),
        doctor_post(crm=taken.crm, crm_state=taken.crm_state),
    )

    assert response.status_code == 200
    assert "crm" in response.context["form"].errors


def test_a_doctor_registers_their_own_patient_whatever_doctor_is_posted(
    client, doctor, other_doctor
):
    response = login(client, doctor).post(
        reverse("accounts:patient_create"), patient_post(doctor=other_doctor.pk)
    )

    new = User.objects.get(email="eduardo.nunes@example.com")
    assert response.status_code == 302
    assert response.url == reverse("accounts:invitation", args=[new.pk])
    profile = new.patient_profile
    assert profile.doctor == doctor
    assert profile.created_by == doctor
    assert profile.cpf == VALID_CPF
    assert not new.has_usable_password()


def test_an_admin_must_pick_the_responsible_doctor(client, admin_user, other_doctor):
    login(client, admin_user)

    missing = client.post(reverse("accounts:patient_create"), patient_post())
    assert missing.status_code == 200
    assert "doctor" in missing.context["form"].errors
    assert not User.objects.filter(email="eduardo.nunes@example.com").exists()

    client.post(reverse("accounts:patient_create"), patient_post(doctor=other_doctor.pk))
    profile = PatientProfile.objects.get(user__email="eduardo.nunes@example.com")
    assert profile.doctor == other_doctor
    assert profile.created_by == admin_user


def test_an_invalid_patient_form_shows_the_error_by_the_field_and_keeps_the_input(client, doctor):
    response = login(client, doctor).post(
        reverse("accounts:patient_create"), patient_post(cpf="111.222.333-44")
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"cpf"}
    html = response.content.decode()
    assert 'id="error_1_id_cpf"' in html
    assert 'value="Eduardo"' in html
    assert 'value="111.222.333-44"' in html
    assert not User.objects.filter(email="eduardo.nunes@example.com").exists()


def test_a_service_refusal_is_shown_next_to_its_field(client, doctor, other_patient):
    response = login(client, doctor).post(
        reverse("accounts:patient_create"), patient_post(email=other_patient.email.upper())
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"email"}
    assert 'id="error_1_id_email"' in response.content.decode()


# --- A doctor's reach ---------------------------------------------------------


@pytest.mark.parametrize("page", ["patient_detail", "patient_update", "invitation"])
def test_a_doctor_gets_404_for_another_doctors_patient(client, doctor, other_patient, page):
    response = login(client, doctor).get(reverse(f"accounts:{page}", args=[other_patient.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize("page", ["patient_detail", "patient_update"])
def test_a_doctor_opens_their_own_patient(client, doctor, patient, page):
    response = login(client, doctor).get(reverse(f"accounts:{page}", args=[patient.pk]))

    assert response.status_code == 200


def test_a_doctor_cannot_edit_another_doctors_patient_by_post(client, doctor, other_patient):
    response = login(client, doctor).post(
        reverse("accounts:patient_update", args=[other_patient.pk]),
        patient_post(email=other_patient.email, first_name="Mudado"),
    )

    assert response.status_code == 404
    assert User.objects.get(pk=other_patient.pk).first_name == "Daniela"


def test_a_doctor_edits_their_patient(client, doctor, patient):
    response = login(client, doctor).post(
        reverse("accounts:patient_update", args=[patient.pk]),
        patient_post(email=patient.email, first_name="Carlos Alberto"),
    )

    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.first_name == "Carlos Alberto"
    assert patient.patient_profile.cpf == VALID_CPF


# --- Admin actions ------------------------------------------------------------


def test_admin_reassigns_a_patient(client, admin_user, patient, other_doctor):
    response = login(client, admin_user).post(
        reverse("accounts:patient_reassign", args=[patient.pk]), {"doctor": other_doctor.pk}
    )

    assert response.status_code == 302
    assert PatientProfile.objects.get(user=patient).doctor == other_doctor


def test_a_doctor_cannot_reassign_patients(client, doctor, patient, other_doctor):
    response = login(client, doctor).post(
        reverse("accounts:patient_reassign", args=[patient.pk]), {"doctor": other_doctor.pk}
    )

    assert response.status_code == 403
    assert PatientProfile.objects.get(user=patient).doctor == doctor


@pytest.mark.parametrize("person", ["doctor", "patient"])
def test_admin_deactivates_and_reactivates_by_post(request, client, admin_user, person):
    person = request.getfixturevalue(person)
    login(client, admin_user)

    response = client.post(reverse("accounts:user_deactivate", args=[person.pk]))
    assert response.status_code == 302
    assert User.objects.get(pk=person.pk).is_active is False
    profile = DoctorProfile if person.is_doctor else PatientProfile
    assert profile.objects.filter(user=person).exists()

    client.post(reverse("accounts:user_reactivate", args=[person.pk]))
    assert User.objects.get(pk=person.pk).is_active is True


@pytest.mark.parametrize("action", ["user_deactivate", "user_reactivate"])
def test_activation_changes_refuse_get(client, admin_user, doctor, action):
    response = login(client, admin_user).get(reverse(f"accounts:{action}", args=[doctor.pk]))

    assert response.status_code == 405
    assert User.objects.get(pk=doctor.pk).is_active is True


def test_an_admin_account_is_out_of_reach_of_deactivation(client, admin_user):
    other_admin = User.objects.create_user(
        email="root@example.com", first_name="Root", role=Role.ADMIN
    )
    response = login(client, admin_user).post(
        reverse("accounts:user_deactivate", args=[other_admin.pk])
    )

    assert response.status_code == 404
    assert User.objects.get(pk=other_admin.pk).is_active is True


def test_a_doctor_cannot_deactivate_anyone(client, doctor, patient):
    response = login(client, doctor).post(reverse("accounts:user_deactivate", args=[patient.pk]))

    assert response.status_code == 403
    assert User.objects.get(pk=patient.pk).is_active is True


def test_a_deactivated_person_cannot_sign_in(client, doctor):
    credentials = {"username": doctor.email, "password": PASSWORD}
    first = client.post(reverse("login"), credentials)
    assert (first.status_code, first.url) == (302, reverse("dashboard"))
    client.logout()
    services.user_set_active(user=doctor, active=False)

    response = client.post(reverse("login"), credentials)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


def test_a_deactivated_persons_open_session_stops_working(client, doctor):
    login(client, doctor)
    services.user_set_active(user=doctor, active=False)

    response = client.get(reverse("accounts:patient_list"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- Profile ------------------------------------------------------------------


def test_everyone_saves_their_details_on_the_profile(client, patient):
    response = login(client, patient).post(
        reverse("accounts:profile"),
        {
            "form": "details",
            "details-first_name": " Carla ",
            "details-last_name": "Prado",
            "details-phone": "(21) 91234-5678",
        },
    )

    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name, patient.phone) == (
        "Carla",
        "Prado",
        "+5521912345678",
    )


def test_a_doctor_saves_a_pix_key_in_canonical_form(client, doctor):
    response = login(client, doctor).post(
        reverse("accounts:profile"),
        {"form": "pix", "pix-pix_key_type": "phone", "pix-pix_key": "(11) 98765-4321"},
    )

    assert response.status_code == 302
    profile = DoctorProfile.objects.get(user=doctor)
    assert (profile.pix_key_type, profile.pix_key) == ("phone", "+5511987654321")


def test_a_wrong_pix_key_is_explained_and_changes_nothing(client, doctor):
    services.pix_key_set(doctor=doctor, key_type="cpf", key=VALID_CPF)

    response = login(client, doctor).post(
        reverse("accounts:profile"),
        {"form": "pix", "pix-pix_key_type": "cpf", "pix-pix_key": "123.456.789-00"},
    )

    assert response.status_code == 200
    assert set(response.context["forms"]["pix"].errors) == {"pix_key"}
    assert 'id="error_1_id_pix-pix_key"' in response.content.decode()
    profile = DoctorProfile.objects.get(user=doctor)
    assert (profile.pix_key_type, profile.pix_key) == ("cpf", VALID_CPF)


def test_a_patient_cannot_post_a_pix_form(client, patient):
    login(client, patient)
    before = User.objects.values().get(pk=patient.pk)

    response = client.post(
        reverse("accounts:profile"),
        {"form": "pix", "pix-pix_key_type": "cpf", "pix-pix_key": VALID_CPF},
    )

    assert response.status_code in (200, 302)
    assert User.objects.values().get(pk=patient.pk) == before
    assert not DoctorProfile.objects.filter(user=patient).exists()
    assert not DoctorProfile.objects.filter(pix_key=VALID_CPF).exists()


# --- Photos -------------------------------------------------------------------


def test_a_photo_uploaded_on_the_profile_is_served_as_webp(client, patient):
    login(client, patient)
    response = client.post(
        reverse("accounts:profile"), {"form": "photo", "photo-photo": png_upload()}
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.photo.name.endswith(".webp")

    served = client.get(reverse("accounts:photo", args=[patient.pk]))

    assert served.status_code == 200
    assert served["Content-Type"] == "image/webp"
    assert served["X-Content-Type-Options"] == "nosniff"
    body = b"".join(served.streaming_content)
    assert Image.open(io.BytesIO(body)).format == "WEBP"


def test_a_file_that_is_not_a_photo_is_refused_on_the_form(client, patient):
    fake = SimpleUploadedFile("me.png", b"not a picture", content_type="image/png")

    response = login(client, patient).post(
        reverse("accounts:profile"), {"form": "photo", "photo-photo": fake}
    )

    assert response.status_code == 200
    assert "photo" in response.context["forms"]["photo"].errors
    patient.refresh_from_db()
    assert not patient.photo


@pytest.fixture
def photographed(patient, other_patient):
    for person in (patient, other_patient):
        services.user_photo_set(user=person, upload=png_upload())
    return patient, other_patient


@pytest.mark.parametrize(
    ("viewer", "status"),
    [
        ("patient", 404),
        ("doctor", 404),
        ("other_patient", 200),
        ("other_doctor", 200),
        ("admin_user", 200),
    ],
)
def test_the_photo_is_served_only_to_those_who_may_see_the_person(
    request, client, photographed, viewer, status
):
    _, other_patient = photographed

    response = login(client, request.getfixturevalue(viewer)).get(
        reverse("accounts:photo", args=[other_patient.pk])
    )

    assert response.status_code == status


def test_the_photo_view_refuses_anonymous_visitors(client, photographed):
    patient, _ = photographed

    response = client.get(reverse("accounts:photo", args=[patient.pk]))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_no_media_url_serves_uploaded_files(client, admin_user, photographed):
    patient, _ = photographed

    response = login(client, admin_user).get(f"/media/{patient.photo.name}")

    assert response.status_code == 404
    assert client.get("/media/").status_code == 404


# --- Invitations --------------------------------------------------------------


@pytest.fixture
def invited(doctor):
    return services.patient_create(
        created_by=doctor,
        doctor=doctor,
        email="convidada@example.com",
        first_name="Irene",
        last_name="Lopes",
    )


def test_the_invitation_page_shows_a_working_link_while_pending(client, doctor, invited):
    response = login(client, doctor).get(reverse("accounts:invitation", args=[invited.pk]))

    assert response.status_code == 200
    assert response.context["pending"] is True
    link = response.context["link"]
    assert link.startswith("http://testserver/accounts/invite/")
    assert link in response.content.decode()


def test_the_invitation_page_shows_no_link_once_a_password_is_set(client, doctor, patient):
    response = login(client, doctor).get(reverse("accounts:invitation", args=[patient.pk]))

    assert response.context["pending"] is False
    assert response.context["link"] == ""
    assert "/accounts/invite/" not in response.content.decode()


# `mailoutbox` comes after the database fixtures: starting the database's TestCase
# replaces mail.outbox, so a mailoutbox taken earlier would stay empty.
def test_the_invitation_page_resends_by_email_when_configured(
    client, doctor, invited, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_CONFIGURED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    with django_capture_on_commit_callbacks(execute=True):
        response = login(client, doctor).post(reverse("accounts:invitation", args=[invited.pk]))

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["convidada@example.com"]
    assert "http://testserver/accounts/invite/" in mailoutbox[0].body


def test_the_invitation_page_sends_nothing_without_email(
    client, doctor, invited, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_CONFIGURED = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    with django_capture_on_commit_callbacks(execute=True):
        response = login(client, doctor).post(reverse("accounts:invitation", args=[invited.pk]))

    assert response.status_code == 302
    assert mailoutbox == []


def test_accepting_an_invitation_sets_the_password_and_signs_in(client, invited):
    path = services.invitation_path(user=invited)

    landing = client.get(path)
    assert landing.status_code == 302
    assert landing.url.endswith("/choose-password/")
    assert client.get(landing.url).context["validlink"] is True

    done = client.post(landing.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done.status_code == 302
    assert done.url == reverse("dashboard")
    assert client.session["_auth_user_id"] == str(invited.pk)
    invited.refresh_from_db()
    assert invited.check_password(NEW_PASSWORD)


def test_a_password_reset_link_does_not_open_the_invitation_form(client, invited):
    path = services.invitation_path(user=invited)
    uidb64 = path.split("/")[-3]
    reset_token = default_token_generator.make_token(invited)

    response = client.get(
        reverse("accounts:invitation_accept", args=[uidb64, reset_token]), follow=True
    )

    assert response.context["validlink"] is False


# --- Dashboards ---------------------------------------------------------------


def test_the_admin_dashboard_counts_active_and_total_people(
    client, admin_user, doctor, other_doctor, patient, other_patient
):
    DoctorFactory(is_active=False)
    PatientFactory.create_batch(2, doctor=doctor)
    PatientFactory(doctor=doctor, is_active=False)

    response = login(client, admin_user).get(reverse("dashboard"))

    assert response.context["counts"] == {
        "doctors_total": 3,
        "doctors_active": 2,
        "patients_total": 5,
        "patients_active": 4,
    }
    html = response.content.decode()
    assert 'data-count="2"' in html
    assert 'data-count="4"' in html


def test_the_doctor_dashboard_counts_their_active_patients(client, doctor, patient, other_patient):
    PatientFactory(doctor=doctor)
    PatientFactory(doctor=doctor, is_active=False)

    response = login(client, doctor).get(reverse("dashboard"))

    assert response.context["patient_count"] == 2
    assert 'data-count="2"' in response.content.decode()


def test_the_patient_dashboard_names_their_doctor(client, patient, other_doctor):
    response = login(client, patient).get(reverse("dashboard"))

    html = response.content.decode()
    assert "Ana Souza" in html
    assert "Bruno Lima" not in html

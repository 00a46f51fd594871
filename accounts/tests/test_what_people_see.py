"""What people read on the pages and in the messages they are sent (issue 4)."""

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import DoctorProfile, PatientProfile, User
from accounts.tests.factories import PASSWORD, DoctorFactory, PatientFactory

pytestmark = pytest.mark.django_db


def login(client, user):
    # django-axes needs a request to authenticate, so client.login() cannot be used.
    client.force_login(user)
    return client


def whatsapp_text(response) -> tuple[str, str]:
    """The (number, message) of the only wa.me link on the page."""
    hrefs = re.findall(r'href="(https://wa\.me/[^"]*)"', response.content.decode())
    assert len(hrefs) == 1, hrefs
    url = urlsplit(hrefs[0].replace("&amp;", "&"))
    return url.path.lstrip("/"), parse_qs(url.query)["text"][0]


# --- WhatsApp ------------------------------------------------------------------------


def test_the_invitation_whatsapp_message_keeps_an_apostrophe_in_the_name(client, doctor):
    invited = PatientFactory(
        first_name="Maria D'Ajuda", last_name="Santos", doctor=doctor, phone="+5511987654321"
    )
    invited.set_unusable_password()
    invited.save()

    response = login(client, doctor).get(reverse("accounts:invitation", args=[invited.pk]))

    number, text = whatsapp_text(response)
    assert number == "5511987654321"
    assert text.startswith("Olá, Maria D'Ajuda! Aqui está seu link para acessar o MedConnect: ")
    assert text.endswith(response.context["link"])
    assert "&#" not in text and "&amp;" not in text


def test_the_consultation_whatsapp_message_keeps_an_apostrophe_in_the_name(client, room):
    room.patient.first_name = "Maria D'Ajuda"
    room.patient.phone = "+5511987654321"
    room.patient.save(update_fields=["first_name", "phone"])

    response = login(client, room.doctor).get(reverse("rooms:join", args=[room.code]))

    number, text = whatsapp_text(response)
    assert number == "5511987654321"
    assert text == (
        "Olá, Maria D'Ajuda! Sua consulta online está pronta. "
        f"Entre aqui: http://testserver/r/{room.code}/"
    )


def test_a_whatsapp_link_without_a_phone_lets_the_sender_pick_the_contact(client, doctor):
    invited = PatientFactory(first_name="Rui", doctor=doctor, phone="")
    invited.set_unusable_password()
    invited.save()

    response = login(client, doctor).get(reverse("accounts:invitation", args=[invited.pk]))

    number, text = whatsapp_text(response)
    assert number == ""
    assert text.startswith("Olá, Rui!")


# --- Messages that say what happened ----------------------------------------------------


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_reassigning_a_patient_to_their_own_doctor_says_nothing_changed(
    client, admin_user, patient, doctor
):
    response = login(client, admin_user).post(
        reverse("accounts:patient_reassign", args=[patient.pk]), {"doctor": doctor.pk}, follow=True
    )

    assert messages_of(response) == [
        "Carlos Pereira continua com Dra. Ana Souza: o médico responsável não mudou."
    ]
    assert PatientProfile.objects.get(user=patient).doctor == doctor


def test_reassigning_a_patient_to_another_doctor_says_they_have_a_new_one(
    client, admin_user, patient, other_doctor
):
    response = login(client, admin_user).post(
        reverse("accounts:patient_reassign", args=[patient.pk]),
        {"doctor": other_doctor.pk},
        follow=True,
    )

    assert messages_of(response) == ["Carlos Pereira tem um novo médico responsável."]
    assert PatientProfile.objects.get(user=patient).doctor == other_doctor


def test_clearing_the_pix_key_says_it_was_removed(client, doctor):
    services.pix_key_set(doctor=doctor, key_type="cpf", key="52998224725")

    response = login(client, doctor).post(
        reverse("accounts:profile"),
        {"form": "pix", "pix-pix_key_type": "", "pix-pix_key": ""},
        follow=True,
    )

    assert messages_of(response) == ["Sua chave PIX foi removida."]
    assert DoctorProfile.objects.get(user=doctor).pix_key == ""


def test_saving_a_pix_key_says_it_was_saved(client, doctor):
    response = login(client, doctor).post(
        reverse("accounts:profile"),
        {"form": "pix", "pix-pix_key_type": "cpf", "pix-pix_key": "529.982.247-25"},
        follow=True,
    )

    assert messages_of(response) == ["Sua chave PIX foi salva."]


@override_settings(CLINIC_NAME="Clínica Boa Saúde")
def test_the_password_reset_email_subject_names_the_clinic_not_the_host(client, doctor, mailoutbox):
    client.post(reverse("password_reset"), {"email": doctor.email}, HTTP_HOST="127.0.0.1")

    assert [m.subject for m in mailoutbox] == ["Escolha uma nova senha para Clínica Boa Saúde"]


def test_the_login_error_says_only_the_password_is_case_sensitive(client, doctor):
    response = client.post(
        reverse("login"), {"username": doctor.email.upper(), "password": "SENHA-ERRADA"}
    )

    errors = response.context["form"].non_field_errors()
    assert errors == [
        "E-mail ou senha incorretos. A senha diferencia letras maiúsculas de minúsculas; "
        "o e-mail, não."
    ]
    assert "ambos" not in response.content.decode()


def test_the_email_really_is_not_case_sensitive_at_login(client, doctor):
    response = client.post(
        reverse("login"), {"username": doctor.email.upper(), "password": PASSWORD}
    )

    assert response.status_code == 302


# --- Validation ----------------------------------------------------------------------------


def test_a_birth_year_of_1800_is_refused_with_a_clear_message(client, doctor, patient):
    response = login(client, doctor).post(
        reverse("accounts:patient_update", args=[patient.pk]),
        {"first_name": "Carlos", "last_name": "Pereira", "email": patient.email,
         "birth_date": "1800-03-02"},
    )  # fmt: skip

    assert response.status_code == 200
    assert response.context["form"].errors["birth_date"] == [
        "Confira a data de nascimento: ela é de mais de 130 anos atrás."
    ]
    assert PatientProfile.objects.get(user=patient).birth_date is None


def test_the_birth_date_picker_offers_only_acceptable_dates(client, doctor):
    response = login(client, doctor).get(reverse("accounts:patient_create"))

    widget = response.context["form"].fields["birth_date"].widget
    today = timezone.localdate()
    assert widget.attrs["max"] == today.isoformat()
    assert widget.attrs["min"] == today.replace(year=today.year - 130).isoformat()


def test_the_patient_services_refuse_a_birth_date_200_years_ago(doctor, patient):
    with pytest.raises(ValidationError) as caught:
        services.patient_update(
            patient=patient, email=patient.email, first_name="C", last_name="P",
            birth_date=dt.date(1826, 1, 1),
        )  # fmt: skip
    assert caught.value.error_dict["birth_date"][0].code == "too_old"


def test_a_crm_of_zero_is_refused_on_the_doctor_form(client, admin_user):
    response = login(client, admin_user).post(
        reverse("accounts:doctor_create"),
        {"first_name": "Zeca", "last_name": "Zero", "email": "zeca@example.com",
         "crm": "0", "crm_state": "SP"},
    )  # fmt: skip

    assert response.status_code == 200
    assert response.context["form"].errors["crm"] == [
        "Informe o número do CRM: só números, de 1 a 7 dígitos, por exemplo 123456."
    ]
    assert not User.objects.filter(email="zeca@example.com").exists()


def test_a_crm_typed_with_a_leading_zero_is_the_same_registration(client, admin_user, doctor):
    taken = doctor.doctor_profile
    response = login(client, admin_user).post(
        reverse("accounts:doctor_create"),
        {"first_name": "Outra", "last_name": "Pessoa", "email": "outra@example.com",
         "crm": "0" + taken.crm, "crm_state": taken.crm_state},
    )  # fmt: skip

    assert response.status_code == 200
    assert [e.code for e in response.context["form"].errors.as_data()["crm"]] == ["crm-taken"]


def test_the_doctor_services_refuse_a_crm_of_zero(doctor):
    with pytest.raises(ValidationError) as caught:
        services.doctor_update(
            doctor=doctor, email=doctor.email, first_name="A", last_name="S", crm="0",
            crm_state="SP",
        )  # fmt: skip
    assert caught.value.error_dict["crm"][0].code == "invalid_crm"


# --- Searching by phone -------------------------------------------------------------------


def listed(response) -> set[int]:
    return {person.pk for person in response.context["page_obj"].object_list}


@pytest.fixture
def phoned(doctor, other_doctor):
    return {
        "rita": PatientFactory(first_name="Rita", doctor=doctor, phone="+5511987654321",
                               profile__cpf="52998224725"),
        "lucas": PatientFactory(first_name="Lucas", doctor=doctor, phone="+552134567890"),
        "nina": PatientFactory(first_name="Nina", doctor=other_doctor, phone="+5511912345678"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("(11) 98765-4321", {"rita"}),
        ("11987654321", {"rita"}),
        ("98765-4321", {"rita"}),
        ("+55 11 98765 4321", {"rita"}),
        ("011 98765-4321", {"rita"}),
        ("(21) 3456-7890", {"lucas"}),
        ("(11) 9", {"rita", "nina"}),
        ("Rita (11) 98765-4321", {"rita"}),
        ("Nina (11) 98765-4321", set()),
        ("529.982.247-25", {"rita"}),
        ("(31) 98765-4321", set()),
    ],
)
def test_the_patient_list_finds_a_patient_by_phone_however_it_is_typed(
    client, admin_user, phoned, q, expected
):
    response = login(client, admin_user).get(reverse("accounts:patient_list"), {"q": q})

    assert listed(response) == {phoned[key].pk for key in expected}


def test_a_doctor_finds_only_their_own_patients_by_phone(client, doctor, phoned):
    response = login(client, doctor).get(reverse("accounts:patient_list"), {"q": "(11) 9"})

    assert listed(response) == {phoned["rita"].pk}


def test_the_doctor_list_finds_a_doctor_by_phone(client, admin_user, doctor):
    doctor.phone = "+5531998877665"
    doctor.save(update_fields=["phone"])

    response = login(client, admin_user).get(
        reverse("accounts:doctor_list"), {"q": "(31) 99887-7665"}
    )

    assert listed(response) == {doctor.pk}


def test_a_phone_search_keeps_the_patient_list_query_count_flat(client, admin_user):
    client.force_login(admin_user)
    url = reverse("accounts:patient_list") + "?q=(11)+98765-4321"

    def count() -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as context:
            assert client.get(url).status_code == 200
        return len(context)

    PatientFactory.create_batch(3, phone="+5511987654321")
    few = count()
    PatientFactory.create_batch(27, phone="+5511987654321")
    assert count() == few


# --- The phone on the forms ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "url"),
    [
        ("patient", lambda p: reverse("accounts:profile")),
        ("doctor", lambda p: reverse("accounts:patient_update", args=[p.pk])),
        ("admin_user", lambda p: reverse("accounts:patient_update", args=[p.pk])),
    ],
)
def test_the_forms_show_the_phone_as_every_page_does(request, client, patient, viewer, url):
    patient.phone = "+5511987654321"
    patient.save(update_fields=["phone"])

    response = login(client, request.getfixturevalue(viewer)).get(url(patient))

    html = response.content.decode()
    assert 'value="(11) 98765-4321"' in html
    assert "+5511987654321" not in html


def test_the_doctor_form_shows_a_landline_as_every_page_does(client, admin_user, doctor):
    doctor.phone = "+551134567890"
    doctor.save(update_fields=["phone"])

    response = login(client, admin_user).get(reverse("accounts:doctor_update", args=[doctor.pk]))

    assert 'value="(11) 3456-7890"' in response.content.decode()


def test_saving_the_profile_with_the_shown_phone_keeps_it(client, patient):
    patient.phone = "+5511987654321"
    patient.save(update_fields=["phone"])

    login(client, patient).post(
        reverse("accounts:profile"),
        {"form": "details", "details-first_name": "Carlos", "details-last_name": "Pereira",
         "details-phone": "(11) 98765-4321"},
    )  # fmt: skip

    patient.refresh_from_db()
    assert patient.phone == "+5511987654321"


# --- Deactivating a doctor who still has patients -----------------------------------------


def test_deactivating_a_doctor_with_active_patients_prompts_to_reassign_them(
    client, admin_user, doctor, patient
):
    PatientFactory(first_name="Bia", doctor=doctor)
    PatientFactory(first_name="Ex", doctor=doctor, is_active=False)  # needs nobody

    response = login(client, admin_user).post(
        reverse("accounts:user_deactivate", args=[doctor.pk]), follow=True
    )

    [message] = response.context["messages"]
    assert message.level_tag == "warning"
    assert str(message) == (
        "O acesso de Dra. Ana Souza foi desativado, mas 2 pacientes ativos ainda têm essa "
        "pessoa como médico responsável. Escolha um novo médico para cada um abaixo."
    )
    assert response.redirect_chain[-1][0] == reverse("accounts:doctor_detail", args=[doctor.pk])
    html = response.content.decode()
    assert "2 pacientes ativos precisam de um novo médico" in html
    for waiting in response.context["waiting_patients"]:
        assert waiting.is_active
        link = reverse("accounts:patient_reassign", args=[waiting.pk])
        assert f'href="{link}?next=/people/doctors/{doctor.pk}/"' in html
    assert len(response.context["waiting_patients"]) == 2


def test_deactivating_a_doctor_without_active_patients_is_a_plain_success(
    client, admin_user, other_doctor
):
    response = login(client, admin_user).post(
        reverse("accounts:user_deactivate", args=[other_doctor.pk]), follow=True
    )

    [message] = response.context["messages"]
    assert message.level_tag == "success"
    assert "waiting-patients" not in response.content.decode()


def test_the_deactivate_button_warns_about_the_doctors_patients_before(
    client, admin_user, doctor, patient
):
    response = login(client, admin_user).get(reverse("accounts:doctor_detail", args=[doctor.pk]))

    assert (
        "1 paciente ativo tem essa pessoa como médico responsável: em seguida, você escolhe "
        "um novo médico para ele." in response.content.decode()
    )


def test_reassigning_from_the_inactive_doctors_page_goes_back_there(
    client, admin_user, doctor, patient, other_doctor
):
    services.user_set_active(user=doctor, active=False)
    back = reverse("accounts:doctor_detail", args=[doctor.pk])
    url = reverse("accounts:patient_reassign", args=[patient.pk]) + f"?next={back}"

    login(client, admin_user)
    assert f'href="{back}"' in client.get(url).content.decode()  # Cancel goes back too
    response = client.post(url, {"doctor": other_doctor.pk})

    assert response.url == back
    assert PatientProfile.objects.get(user=patient).doctor == other_doctor
    page = client.get(back)
    assert page.context["waiting_patients"] == []


def test_the_reassign_page_does_not_redirect_off_site(client, admin_user, patient, other_doctor):
    url = reverse("accounts:patient_reassign", args=[patient.pk]) + "?next=https://evil.example/"

    response = login(client, admin_user).post(url, {"doctor": other_doctor.pk})

    assert response.url == reverse("accounts:patient_detail", args=[patient.pk])


def test_the_patient_list_filter_keeps_inactive_doctors_who_still_have_patients(
    client, admin_user, doctor, patient, other_doctor
):
    services.user_set_active(user=doctor, active=False)
    retired = DoctorFactory(first_name="Zé", last_name="Sem Pacientes", is_active=False)

    response = login(client, admin_user).get(reverse("accounts:patient_list"))

    offered = list(response.context["doctors"])
    assert doctor in offered and other_doctor in offered
    assert retired not in offered
    html = response.content.decode()
    assert f'<option value="{doctor.pk}">Dra. Ana Souza (inativo)</option>' in html
    assert f'<option value="{other_doctor.pk}">Dr. Bruno Lima</option>' in html

    filtered = client.get(reverse("accounts:patient_list"), {"doctor": doctor.pk})
    assert listed(filtered) == {patient.pk}
    assert f'<option value="{doctor.pk}" selected>' in filtered.content.decode()


def test_the_patient_list_filter_adds_no_query_per_doctor(client, admin_user):
    client.force_login(admin_user)
    url = reverse("accounts:patient_list")

    def count() -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as context:
            client.get(url)
        return len(context)

    for _ in range(3):
        services.user_set_active(user=PatientFactory().patient_profile.doctor, active=False)
    few = count()
    for _ in range(20):
        services.user_set_active(user=PatientFactory().patient_profile.doctor, active=False)
    assert count() == few

"""What people read on the pages and in the messages they are sent (issue 4)."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from accounts.tests.factories import PatientFactory

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

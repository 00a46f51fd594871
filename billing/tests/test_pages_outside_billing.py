"""What billing shows on other apps' pages: the room summary and the dashboards."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import BillingSettings
from rooms.models import Room
from rooms.services import room_finalize

pytestmark = pytest.mark.django_db


def held(room, *, seconds=900):
    """The doctor finishes a consultation both were in for `seconds`."""
    Room.objects.filter(pk=room.pk).update(
        call_started_at=timezone.now(), both_present_seconds=seconds
    )
    room.refresh_from_db()
    room_finalize(room=room, by=room.doctor)
    room.refresh_from_db()
    return room


def summary_text(client, user, room) -> str:
    client.force_login(user)
    response = client.get(reverse("rooms:summary", args=[room.code]))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode()).replace("\xa0", " ")


def test_the_summary_tells_the_doctor_what_was_registered_and_their_share(client, room):
    held(room)

    text = summary_text(client, room.doctor, room)

    assert "Consulta registrada: R$ 150,00 (seu repasse R$ 105,00)" in text


def test_the_admin_reads_the_doctors_share_not_their_own(client, room, admin_user):
    held(room)

    assert "(repasse do médico R$ 105,00)" in summary_text(client, admin_user, room)


def test_the_summary_of_a_consultation_never_held_says_it_was_not_held(client, room):
    room_finalize(room=room, by=room.doctor)

    text = summary_text(client, room.doctor, room)

    assert "Não realizada" in text and "Consulta registrada" not in text


def test_the_summary_names_the_clinics_minimum_when_the_call_was_too_short(client, room):
    BillingSettings.load()  # a transactional test before this one may have flushed it
    BillingSettings.objects.filter(pk=1).update(min_billable_seconds=300)
    held(room, seconds=120)

    text = summary_text(client, room.doctor, room)

    assert "Não realizada" in text and "mínimo da clínica de 5 min" in text


def test_a_voided_record_shows_struck_through_with_its_reason(client, room, admin_user):
    room = held(room)
    services.record_void(record=room.billing_record, by=admin_user, reason="Falha técnica.")

    text = summary_text(client, room.doctor, room)

    assert "<s>R$ 150,00</s>" in text and "Falha técnica." in text
    assert "Consulta registrada:" not in text


def test_an_open_room_says_it_is_registered_when_finished(client, room):
    text = summary_text(client, room.doctor, room)

    assert "quando o médico encerra" in text


def _card(html: str, label: str) -> str:
    """The value shown under a dashboard card's label."""
    match = re.search(
        re.escape(label) + r'</div>\s*<div class="stat-value"([^>]*)>([^<]*)</div>', html
    )
    assert match, f"no card {label!r}"
    return match.group(1), match.group(2).replace("\xa0", " ")


def _month_name() -> str:
    from django.utils.formats import date_format

    return date_format(timezone.localdate(), "F").lower()


def test_the_doctors_dashboard_counts_this_months_consultations_and_earnings(
    client, room, doctor, admin_user
):
    held(room)
    client.force_login(doctor)

    html = client.get(reverse("dashboard")).content.decode()

    month = _month_name()
    attrs, value = _card(html, f"Consultas em {month}")
    assert value == "1" and 'data-count="1"' in attrs
    attrs, value = _card(html, f"Meus ganhos em {month}")
    assert value == "R$ 105,00" and "data-count-money" in attrs
    # The animation counts up to the same amount, read by the browser as a plain number.
    assert Decimal(re.search(r'data-count="([^"]+)"', attrs).group(1)) == Decimal("105.00")


def test_voided_records_leave_the_admins_cards(client, room, admin_user, other_doctor):
    held(room)
    client.force_login(admin_user)
    month = _month_name()

    html = client.get(reverse("dashboard")).content.decode()
    assert _card(html, f"Faturado em {month}")[1] == "R$ 150,00"
    # Each card says only its own thing (the people cards' "of N registered" once leaked in).
    billed = html[html.index(f"Faturado em {month}") :].split("stat-icon")[0]
    assert "R$ 105,00 de repasse aos médicos" in billed.replace("\xa0", " ")
    consultations = html[html.index(f"Consultas em {month}") :].split("stat-icon")[0]
    assert "cadastrados" not in consultations
    assert _card(html, f"Receita da clínica em {month}")[1] == "R$ 45,00"
    # Animated like the other cards: each counts up to the amount it shows.
    for label, target in (
        ("Consultas", "1"),
        ("Faturado", "150.00"),
        ("Receita da clínica", "45.00"),
    ):
        attrs = _card(html, f"{label} em {month}")[0]
        assert Decimal(re.search(r'data-count="([^"]+)"', attrs).group(1)) == Decimal(target)
    assert "data-count-money" in _card(html, f"Faturado em {month}")[0]

    services.record_void(record=room.billing_record, by=admin_user, reason="Cortesia.")
    html = client.get(reverse("dashboard")).content.decode()
    assert _card(html, f"Consultas em {month}")[1] == "0"
    assert _card(html, f"Faturado em {month}")[1] == "R$ 0,00"


def test_a_doctor_card_counts_only_their_own_records(client, room, other_doctor):
    held(room)
    client.force_login(other_doctor)

    html = client.get(reverse("dashboard")).content.decode()

    assert _card(html, f"Meus ganhos em {_month_name()}")[1] == "R$ 0,00"


def test_a_patient_sees_nothing_of_billing_on_their_pages(client, room, patient):
    """Not a link in the menu, not a card, not an amount: billing is the clinic's."""
    held(room)
    client.force_login(patient)

    for url in (reverse("dashboard"), reverse("clinical:my_record")):
        html = client.get(url).content.decode()
        assert reverse("billing:doctor_billing") not in html and "/billing/" not in html
        assert "R$" not in html and "Faturamento" not in html and "Meus ganhos" not in html
    # The same look at the doctor's dashboard finds all three: the checks above can fail.
    client.force_login(room.doctor)
    html = client.get(reverse("dashboard")).content.decode()
    assert reverse("billing:doctor_billing") in html and "R$" in html and "Meus ganhos" in html

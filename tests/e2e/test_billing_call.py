"""Money from a real call: two Chromium pages in a consultation, the doctor finishes,
and the registered consultation shows on the summary, the billing page and the dashboard."""

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.tests.factories import PASSWORD, DoctorFactory, PatientFactory
from billing.models import BillingRecord
from rooms.tests.factories import ConsentFactory, RoomFactory

from .helpers import DESKTOP, MEDIA, PHONE, Visit, join, wait_connected, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _card_text(page, label: str) -> str:
    """The dashboard card's value once its count-up animation has ended."""
    card = page.locator(".stat-card", has_text=label)
    value = card.locator(".stat-value")
    page.wait_for_function(
        "el => el.getAnimations().length === 0", arg=value.element_handle(), timeout=5_000
    )
    page.wait_for_timeout(1_000)  # the count-up runs 0.9 s
    return value.inner_text().replace("\xa0", " ")


def test_a_consultation_held_in_the_browser_is_billed_once_and_shows_everywhere(
    browser, daphne_server
):
    ana = DoctorFactory(
        first_name="Ana", last_name="Souza", email="ana@clinica.test", profile__title="dra"
    )
    carlos = PatientFactory(
        first_name="Carlos", last_name="Pereira", email="carlos@clinica.test", doctor=ana
    )
    ConsentFactory(patient=carlos)
    room = RoomFactory(doctor=ana, patient=carlos)
    month = date_format(timezone.localdate(), "F").lower()
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    try:
        doctor.login("ana@clinica.test", PASSWORD)
        assert _card_text(doctor.page, f"Meus ganhos em {month}") == "R$ 0,00"

        call = reverse("rooms:join", args=[room.code])
        doctor.goto(call)
        join(doctor)
        patient.login("carlos@clinica.test", PASSWORD)
        patient.goto(call)
        join(patient)
        wait_connected(doctor)
        wait_connected(patient)
        # Together for a couple of seconds, so the consultation really took place.
        doctor.page.wait_for_timeout(2_000)
        doctor.page.once("dialog", lambda dialog: dialog.accept())
        doctor.page.click("#finish-button")
        doctor.page.wait_for_url(f"**{reverse('rooms:summary', args=[room.code])}")
        summary = doctor.page.inner_text("main").replace("\xa0", " ")
        assert "Consulta registrada: R$ 150,00 (seu repasse R$ 105,00)" in summary

        doctor.goto(reverse("billing:doctor_billing"))
        rows = doctor.page.locator("table tbody tr", has_text="Carlos Pereira")
        assert rows.count() == 1
        row = rows.first.inner_text().replace("\xa0", " ")
        assert "R$ 150,00" in row and "R$ 105,00" in row

        doctor.goto(reverse("dashboard"))
        assert _card_text(doctor.page, f"Consultas em {month}") == "1"
        assert _card_text(doctor.page, f"Meus ganhos em {month}") == "R$ 105,00"
        wait_until(doctor.page, "document.readyState === 'complete'")
    finally:
        doctor.close()
        patient.close()
    record = BillingRecord.objects.get(room=room)
    assert (record.gross, record.doctor_amount, record.doctor) == (150, 105, ana)
    assert record.seconds_together >= 1
    assert not daphne_server.errors(), daphne_server.errors()

"""A whole month in the browser: a consultation held in a real call is billed, the
month is closed, the admin pays it from the PIX code, the doctor confirms receipt,
and the closing's history shows each step. Screenshots of every closings page."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts.tests.factories import PASSWORD, AdminFactory, DoctorFactory, PatientFactory
from billing.models import BillingRecord
from billing.templatetags.billing_tags import month as month_label
from closings.models import MonthlyClosing
from closings.services import last_closable_month
from closings.tests.factories import local, with_pix
from rooms.models import Room
from rooms.tests.factories import ConsentFactory, RoomFactory

from .helpers import DESKTOP, MEDIA, PHONE, Visit, enter_call, shoot_both_widths

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _text(page) -> str:
    return page.inner_text("main").replace("\xa0", " ")


def test_a_month_from_the_call_to_the_doctors_confirmation(browser, daphne_server):
    ana = with_pix(
        DoctorFactory(first_name="Ana", last_name="Souza", email="ana@clinica.test",
                      profile__title="dra")
    )  # fmt: skip
    carlos = PatientFactory(
        first_name="Carlos", last_name="Pereira", email="carlos@clinica.test", doctor=ana
    )
    ConsentFactory(patient=carlos)
    AdminFactory(first_name="Alice", email="alice@clinica.test")
    room = RoomFactory(doctor=ana, patient=carlos)
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    admin = Visit(browser, daphne_server, DESKTOP)
    try:
        enter_call(
            reverse("rooms:join", args=[room.code]),
            (doctor, "ana@clinica.test"),
            (patient, "carlos@clinica.test"),
        )
        doctor.page.wait_for_timeout(1_500)
        doctor.page.once("dialog", lambda dialog: dialog.accept())
        doctor.page.click("#finish-button")
        doctor.page.wait_for_url(f"**{reverse('rooms:summary', args=[room.code])}")
        assert "Consulta registrada: R$ 150,00" in _text(doctor.page)

        # The month ends: the consultation now belongs to the last month that is over.
        month = last_closable_month()
        ended = local(month.year, month.month, 20, 15, 30)
        Room.objects.filter(pk=room.pk).update(ended_at=ended)
        BillingRecord.objects.filter(room=room).update(ended_at=ended)
        label = month_label(month)

        admin.login("alice@clinica.test", PASSWORD)
        admin.goto(f"{reverse('closings:list')}?month={month:%Y-%m}")
        assert f"Pronto para fechar: {label}" in _text(admin.page)
        shoot_both_widths(admin, "closings-before-close")
        admin.page.once("dialog", lambda dialog: dialog.accept())
        admin.page.click(f"button:has-text('Fechar {label}')")
        admin.settle()
        assert "Mês fechado: 1 fechamento aguardando pagamento." in _text(admin.page)
        shoot_both_widths(admin, "closings-list")

        admin.page.click("table a:has-text('Dra. Ana Souza')")
        admin.settle()
        code = admin.page.input_value("#pix-code")
        assert code.startswith("000201") and "br.gov.bcb.pix" in code and "5406105.00" in code
        assert admin.page.locator(".pix-qr svg").count() == 1
        shoot_both_widths(admin, "closing-pix")
        admin.page.fill("#id_payment_reference", "E12345678202611051030abcDEF12345")
        admin.page.click("button:has-text('Confirmar pagamento')")
        admin.settle()
        assert "Pagamento confirmado." in _text(admin.page)

        doctor.goto(reverse("dashboard"))
        assert "Pagamentos a confirmar" in _text(doctor.page)
        doctor.goto(reverse("closings:mine"))
        shoot_both_widths(doctor, "my-payments")
        doctor.page.click("a:has-text('Confirmar o recebimento')")
        doctor.settle()
        shoot_both_widths(doctor, "closing-doctor")
        doctor.page.click("button:has-text('Confirmar que recebi')")
        doctor.settle()
        page = _text(doctor.page)
        assert "Obrigado: recebimento confirmado." in page
        history = doctor.page.inner_text(".closing-history")
        for step in ("Mês fechado", "Pagamento confirmado", "Recebimento confirmado"):
            assert step in history
        assert "E12345678202611051030abcDEF12345" in history
    finally:
        for visit in (doctor, patient, admin):
            visit.close()
    closing = MonthlyClosing.objects.get()
    assert (closing.status, closing.month, closing.net_total) == ("received", month, 105)
    assert list(closing.events.values_list("action", flat=True)) == ["created", "paid", "received"]
    assert closing.received_at - closing.paid_at < dt.timedelta(minutes=5)
    assert not daphne_server.errors(), daphne_server.errors()

"""The billing reports in a real browser: the doctor's month, the clinic's revenue, the
drill-down and the void form, at phone and desktop widths, axe-clean, charts drawn."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import PASSWORD, AdminFactory, DoctorFactory, PatientFactory
from billing import services
from billing.models import BillingRecord
from billing.selectors import clinic_zone
from billing.tests.report_fixtures import ended_room, record

from .helpers import DESKTOP, SCREENSHOTS, Visit, shoot_both_widths, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHART_DRAWN = (
    "window.Chart && document.querySelector('figure[data-chart] canvas')"
    " && Chart.getChart(document.querySelector('figure[data-chart] canvas'))"
    " && document.querySelector('figure[data-chart]').dataset.chartDrawn === 'true'"
)


@pytest.fixture
def clinic():
    admin = AdminFactory(first_name="Helena", last_name="Martins", email="admin@clinica.test")
    ana = DoctorFactory(
        first_name="Ana", last_name="Souza", email="ana@clinica.test", profile__title="dra"
    )
    bruno = DoctorFactory(first_name="Bruno", last_name="Lima", email="bruno@clinica.test")
    marcos = DoctorFactory(
        first_name="Marcos Vinícius", last_name="de Albuquerque Cavalcanti", email="m@clinica.test"
    )
    patients = [
        PatientFactory(first_name="Carlos", last_name="Pereira", doctor=ana),
        PatientFactory(first_name="Maria Eduarda", last_name="Nascimento Figueiredo", doctor=ana),
        PatientFactory(first_name="João", last_name="Santos", doctor=marcos),
    ]
    today = timezone.localdate(timezone.now(), clinic_zone())
    month = today.replace(day=1)
    for back in range(6):
        day = month
        for _ in range(back):
            day = (day - dt.timedelta(days=1)).replace(day=1)
        for i in range(back % 3 + 2):
            at = dt.datetime(day.year, day.month, 1, 9 + i, 15, tzinfo=clinic_zone())
            record(doctor=ana, patient=patients[i % 2], ended_at=at, fee="150.00")
            record(doctor=marcos, patient=patients[2], ended_at=at, fee="1234.56")
    at = dt.datetime(month.year, month.month, 1, 18, 0, tzinfo=clinic_zone())
    voided = record(doctor=ana, patient=patients[1], ended_at=at, fee="180.00")
    services.record_void(record=voided, by=admin, reason="Falha técnica: a chamada caiu")
    ended_room(doctor=ana, patient=patients[0], ended_at=at + dt.timedelta(hours=1), call=False)
    kept = BillingRecord.objects.filter(doctor=ana, voided_at=None).first()
    return {"admin": admin, "ana": ana, "bruno": bruno, "record": kept}


def test_the_doctors_billing_page_draws_the_chart(browser, daphne_server, clinic):
    visit = Visit(browser, daphne_server, DESKTOP)
    try:
        visit.login("ana@clinica.test", PASSWORD)
        response = visit.goto(reverse("billing:doctor_billing"))
        assert response.status == 200
        wait_until(visit.page, CHART_DRAWN)
        text = visit.page.inner_text("main")
        assert "Faturamento" in text and "não realizada" in text
        assert "Falha técnica: a chamada caiu" in text
        shoot_both_widths(visit, "billing-doctor")
        # Previous month through the picker's link: the address changes and Back returns.
        visit.page.click("a[aria-label='Mês anterior']")
        visit.settle()
        assert "month=" in visit.page.url
        visit.page.go_back()
        visit.settle()
        assert "month=" not in visit.page.url
    finally:
        visit.close()
    assert not daphne_server.errors(), daphne_server.errors()


def test_a_doctor_with_nothing_is_told_what_to_do(browser, daphne_server, clinic):
    visit = Visit(browser, daphne_server, DESKTOP)
    try:
        visit.login("bruno@clinica.test", PASSWORD)
        visit.goto(reverse("billing:doctor_billing"))
        assert visit.page.locator("figure canvas").count() == 0
        text = visit.page.inner_text("main")
        assert "Ainda não há ganhos nos últimos 12 meses" in text
        assert "Cada consulta que você finalizar" in text
        shoot_both_widths(visit, "billing-doctor-empty")
    finally:
        visit.close()


def test_the_revenue_drill_down_and_void_form(browser, daphne_server, clinic):
    visit = Visit(browser, daphne_server, DESKTOP)
    ana, kept = clinic["ana"], clinic["record"]
    try:
        visit.login("admin@clinica.test", PASSWORD)
        visit.goto(reverse("billing:revenue"))
        wait_until(visit.page, CHART_DRAWN)
        text = visit.page.inner_text("main")
        assert "Receita" in text and "Baixar planilha" in text and "Imprimir" in text
        shoot_both_widths(visit, "billing-revenue")
        # Printed: no menu and no buttons, the chart's numbers as a table, the footer kept.
        visit.page.emulate_media(media="print")
        visible = visit.page.evaluate(
            """() => Object.fromEntries(Object.entries({
                nav: '.mc-navbar', button: 'main [data-print]', filters: '.billing-filters',
                footer: 'footer.mc-footer', numbers: '.billing-chart-data table',
            }).map(([k, s]) => [k, document.querySelector(s).checkVisibility()
                && document.querySelector(s).getBoundingClientRect().width > 100]))"""
        )
        assert visible == {
            "nav": False,
            "button": False,
            "filters": False,
            "footer": True,
            "numbers": True,
        }, visible
        visit.page.screenshot(path=str(SCREENSHOTS / "billing-revenue-print.png"), full_page=True)
        visit.page.emulate_media(media="screen")

        visit.goto(reverse("billing:revenue") + "?month=2026-13&doctor=abc")
        assert "não é um mês" in visit.page.inner_text("main")
        shoot_both_widths(visit, "billing-revenue-bad-params")

        visit.page.set_viewport_size(DESKTOP)
        visit.goto(reverse("billing:revenue"))
        visit.page.click(f"main a[href^='{reverse('billing:revenue_doctor', args=[ana.pk])}']")
        visit.settle()
        assert "Dra. Ana Souza" in visit.page.inner_text("h1")
        shoot_both_widths(visit, "billing-revenue-doctor")

        visit.page.set_viewport_size(DESKTOP)
        visit.page.click(f"a[href^='{reverse('billing:record_void', args=[kept.pk])}?']")
        visit.settle()
        shoot_both_widths(visit, "billing-record-void")
        visit.page.fill("textarea[name=reason]", "Consulta de cortesia")
        visit.page.click("main button[type=submit]")
        visit.settle()
        assert "Registro anulado" in visit.page.inner_text("main")
        kept.refresh_from_db()
        assert kept.is_voided
        # Struck through by the stylesheet, amounts and all; on a phone the labels stay readable.
        struck = "(el) => getComputedStyle(el).textDecorationLine"
        amount = visit.page.locator(".billing-voided td[data-label]").nth(3)
        assert "line-through" in amount.evaluate(struck)
        reason = visit.page.locator(".billing-voided td.billing-reason").first
        assert "line-through" not in reason.evaluate(struck)
        # Restore from the drill-down, with its CSRF-protected form.
        visit.page.click(
            f"form[action^='{reverse('billing:record_restore', args=[kept.pk])}'] button"
        )
        visit.settle()
        assert "Registro restaurado" in visit.page.inner_text("main")
        kept.refresh_from_db()
        assert not kept.is_voided
    finally:
        visit.close()
    assert not daphne_server.errors(), daphne_server.errors()

"""The admin's rate pages in a real browser, at phone and desktop widths.

Screenshots go to screenshots/rates-*; each page is scanned with axe-core and
checked for console and CSP errors and for sideways scrolling on a phone.
"""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.tests.factories import PASSWORD, AdminFactory, DoctorFactory
from billing.models import BillingSettings, RateChange
from billing.services import billing_settings_update, doctor_rate_update

from .helpers import DESKTOP, PHONE, Visit, check_page, shoot_both_widths

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_EMAIL = "admin@clinica.test"


@pytest.fixture
def clinic():
    admin = AdminFactory(first_name="Helena", last_name="Martins", email=ADMIN_EMAIL)
    ana = DoctorFactory(
        first_name="Ana", last_name="Souza", profile__title="dra", profile__crm="123456"
    )
    bruno = DoctorFactory(first_name="Bruno", last_name="Lima", profile__title="dr")
    DoctorFactory(first_name="Maria Eduarda", last_name="Albuquerque de Vasconcelos")
    BillingSettings.load()
    billing_settings_update(
        by=admin,
        consultation_fee=Decimal("180.00"),
        platform_percentage=Decimal("30.00"),
        min_billable_seconds=90,
    )
    doctor_rate_update(
        by=admin, doctor=ana, consultation_fee=Decimal("1250.00"), platform_percentage=None
    )
    doctor_rate_update(
        by=admin, doctor=bruno, consultation_fee=None, platform_percentage=Decimal("33.33")
    )
    return {"admin": admin, "ana": ana, "bruno": bruno}


@pytest.fixture
def visit(browser, daphne_server, clinic):
    visit = Visit(browser, daphne_server, DESKTOP)
    visit.login(ADMIN_EMAIL, PASSWORD)
    assert "/accounts/login/" not in visit.page.url, "login failed"
    yield visit
    visit.close()
    assert not daphne_server.errors(), daphne_server.errors()


def open_and_shoot(visit, name: str, path: str) -> None:
    response = visit.goto(path)
    assert response.status == 200, f"{name}: {response.status}"
    shoot_both_widths(visit, name)


def test_rate_pages_at_both_widths(visit, clinic):
    ana = clinic["ana"]
    open_and_shoot(visit, "rates-list", reverse("billing:rates"))
    assert "Padrões da clínica" in visit.page.inner_text("main")
    open_and_shoot(visit, "rates-defaults", reverse("billing:rates_defaults"))
    open_and_shoot(visit, "rates-doctor", reverse("billing:doctor_rate", args=[ana.pk]))
    open_and_shoot(visit, "rates-history", reverse("billing:rate_history"))
    open_and_shoot(
        visit, "rates-history-doctor", reverse("billing:rate_history") + f"?doctor={ana.pk}"
    )
    open_and_shoot(visit, "rates-history-bad-filter", reverse("billing:rate_history") + "?doctor=x")
    assert "Não há médico com o número" in visit.page.inner_text("main")


def test_a_refused_value_is_shown_on_its_field(visit, clinic):
    visit.goto(reverse("billing:rates_defaults"))
    visit.page.fill("#id_consultation_fee", "1.234")
    visit.page.click("main button[type=submit]")
    visit.settle()

    assert "pode ser lido de duas formas" in visit.page.inner_text(".invalid-feedback")
    shoot_both_widths(visit, "rates-defaults-error")

    visit.goto(reverse("billing:doctor_rate", args=[clinic["bruno"].pk]))
    visit.page.fill("#id_platform_percentage", "100,01")
    visit.page.click("main button[type=submit]")
    visit.settle()
    assert "no máximo 100" in visit.page.inner_text("main")
    shoot_both_widths(visit, "rates-doctor-error")
    assert RateChange.objects.count() == 4


def test_saving_the_defaults_lands_on_the_rates_with_what_changed(visit, clinic):
    visit.goto(reverse("billing:rates_defaults"))
    visit.page.fill("#id_consultation_fee", "R$ 200,00")
    visit.page.click("main button[type=submit]")
    visit.settle()

    assert visit.page.url.endswith(reverse("billing:rates"))
    message = visit.page.inner_text(".messages").replace("\u00a0", " ")
    assert "Valor da consulta alterado de R$ 180,00 para R$ 200,00." in message
    shoot_both_widths(visit, "rates-list-saved")

    # Reload after the redirect: the form is not sent again.
    visit.page.reload()
    visit.settle()
    assert RateChange.objects.filter(field="consultation_fee", doctor=None).count() == 2


def test_the_empty_rates_page_says_what_to_do(browser, daphne_server):
    AdminFactory(email=ADMIN_EMAIL)
    visit = Visit(browser, daphne_server, PHONE)
    try:
        visit.login(ADMIN_EMAIL, PASSWORD)
        for name, url in [
            ("rates-list-empty", reverse("billing:rates")),
            ("rates-history-empty", reverse("billing:rate_history")),
        ]:
            visit.goto(url)
            check_page(visit, name, "390")
            assert visit.page.locator(".empty-state .btn").count() == 1
    finally:
        visit.close()
    assert not daphne_server.errors(), daphne_server.errors()

"""A tour of every page, as each role, at phone and desktop widths.

Each page is screenshotted to screenshots/, scanned with axe-core (no serious
or critical WCAG violation), and checked for console and CSP errors.
"""

import json
import re

import pytest
from django.urls import reverse

from accounts import services
from accounts.tests.factories import PASSWORD, AdminFactory, DoctorFactory, PatientFactory

from .helpers import WIDTHS, Visit, check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic():
    admin = AdminFactory(first_name="Helena", last_name="Martins", email="admin@clinica.test")
    ana = DoctorFactory(
        first_name="Ana", last_name="Souza", email="ana@clinica.test",
        profile__title="dra", profile__specialty="Clínica médica",
    )  # fmt: skip
    services.pix_key_set(doctor=ana, key_type="cpf", key="529.982.247-25")
    bruno = DoctorFactory(first_name="Bruno", last_name="Lima", email="bruno@clinica.test")
    carlos = PatientFactory(
        first_name="Carlos", last_name="Pereira", email="carlos@clinica.test", doctor=ana,
        phone="+5511987654321",
    )  # fmt: skip
    for first, last in [("Mariana", "Oliveira"), ("João", "Santos"), ("Beatriz", "Ferreira")]:
        PatientFactory(first_name=first, last_name=last, doctor=ana)
    invited = services.patient_create(
        created_by=ana, doctor=ana, email="nova@clinica.test", first_name="Larissa",
        last_name="Carvalho",
    )  # fmt: skip
    return {"admin": admin, "ana": ana, "bruno": bruno, "carlos": carlos, "invited": invited}


def tour(browser, server, email, pages):
    """Visit each (name, path, expected_status) at both widths."""
    for width, viewport in WIDTHS.items():
        visit = Visit(browser, server, viewport)
        try:
            if email:
                visit.login(email, PASSWORD)
                assert "/accounts/login/" not in visit.page.url, "login failed"
            for name, path, status in pages:
                response = visit.goto(path)
                assert response.status == status, f"{name}: {response.status} != {status}"
                check_page(visit, name, width, status)
        finally:
            visit.close()
    assert not server.errors(), server.errors()


def test_anonymous_pages(browser, daphne_server, clinic):
    tour(browser, daphne_server, None, [
        ("login", "/accounts/login/", 200),
        ("password-reset", reverse("password_reset"), 200),
        ("password-reset-sent", reverse("password_reset_done"), 200),
        ("not-found-anonymous", "/accounts/nothing-here/", 404),
    ])  # fmt: skip


def test_admin_pages(browser, daphne_server, clinic):
    carlos, ana = clinic["carlos"], clinic["ana"]
    tour(browser, daphne_server, "admin@clinica.test", [
        ("admin-dashboard", "/", 200),
        ("doctor-list", reverse("accounts:doctor_list"), 200),
        ("doctor-list-empty-search", reverse("accounts:doctor_list") + "?q=zzzz", 200),
        ("doctor-create", reverse("accounts:doctor_create"), 200),
        ("doctor-detail", reverse("accounts:doctor_detail", args=[ana.pk]), 200),
        ("doctor-edit", reverse("accounts:doctor_update", args=[ana.pk]), 200),
        ("patient-list-admin", reverse("accounts:patient_list"), 200),
        ("patient-create-admin", reverse("accounts:patient_create"), 200),
        ("patient-detail-admin", reverse("accounts:patient_detail", args=[carlos.pk]), 200),
        ("patient-edit", reverse("accounts:patient_update", args=[carlos.pk]), 200),
        ("patient-reassign", reverse("accounts:patient_reassign", args=[carlos.pk]), 200),
        ("invitation", reverse("accounts:invitation", args=[clinic["invited"].pk]), 200),
        ("profile-admin", reverse("accounts:profile"), 200),
        ("password-change", reverse("password_change"), 200),
        ("django-admin", "/admin/", 200),
        ("django-admin-users", "/admin/accounts/user/", 200),
    ])  # fmt: skip


def test_doctor_pages(browser, daphne_server, clinic):
    carlos = clinic["carlos"]
    tour(browser, daphne_server, "ana@clinica.test", [
        ("doctor-dashboard", "/", 200),
        ("patient-list-doctor", reverse("accounts:patient_list"), 200),
        ("patient-create-doctor", reverse("accounts:patient_create"), 200),
        ("patient-detail-doctor", reverse("accounts:patient_detail", args=[carlos.pk]), 200),
        ("profile-doctor", reverse("accounts:profile"), 200),
        ("forbidden", reverse("accounts:doctor_list"), 403),
        ("not-found", reverse("accounts:patient_detail", args=[clinic["admin"].pk]), 404),
    ])  # fmt: skip


def test_patient_pages(browser, daphne_server, clinic):
    tour(browser, daphne_server, "carlos@clinica.test", [
        ("patient-dashboard", "/", 200),
        ("profile-patient", reverse("accounts:profile"), 200),
    ])  # fmt: skip


def test_each_role_lands_on_its_dashboard(browser, daphne_server, clinic):
    expected = {
        "admin@clinica.test": "Médicos ativos",
        "ana@clinica.test": "Meus pacientes ativos",
        "carlos@clinica.test": "Seu médico",
    }
    for email, text in expected.items():
        visit = Visit(browser, daphne_server, WIDTHS["1440"])
        try:
            visit.login(email, PASSWORD)
            assert visit.page.url == daphne_server.url + "/"
            assert text in visit.page.inner_text("main")
        finally:
            visit.close()


def test_invited_patient_sets_a_password_and_lands_logged_in(browser, daphne_server, clinic):
    invited = clinic["invited"]
    visit = Visit(browser, daphne_server, WIDTHS["390"])
    try:
        visit.goto(services.invitation_path(user=invited))
        check_page(visit, "invitation-accept", "390")
        visit.page.fill("#id_new_password1", "um-segredo-bem-longo-9")
        visit.page.fill("#id_new_password2", "um-segredo-bem-longo-9")
        visit.page.click("main button[type=submit]")
        visit.settle()
        assert visit.page.url == daphne_server.url + "/"
        assert "Olá, Larissa!" in visit.page.inner_text("main")
        # The link works once.
        visit.context.clear_cookies()
        visit.goto(services.invitation_path(user=invited).replace("x", "x"))
        invited.refresh_from_db()
        assert invited.has_usable_password()
    finally:
        visit.close()


def test_a_form_with_errors_keeps_what_was_typed(browser, daphne_server, clinic):
    visit = Visit(browser, daphne_server, WIDTHS["390"])
    try:
        visit.login("ana@clinica.test", PASSWORD)
        visit.goto(reverse("accounts:patient_create"))
        visit.page.fill("#id_first_name", "Renata")
        visit.page.fill("#id_last_name", "Dias")
        visit.page.fill("#id_email", "renata@clinica.test")
        visit.page.fill("#id_cpf", "123.456.789-00")
        visit.page.click("main button[type=submit]")
        visit.settle()
        check_page(visit, "patient-create-errors", "390")
        assert visit.page.input_value("#id_first_name") == "Renata"
        assert visit.page.input_value("#id_email") == "renata@clinica.test"
        error = visit.page.locator("#id_cpf ~ .invalid-feedback, #error_1_id_cpf").first
        assert re.search("CPF", error.inner_text())
    finally:
        visit.close()


def test_dashboard_counters_count_up_unless_the_user_prefers_less_motion(
    browser, daphne_server, clinic
):
    counter = ".stat-card:has(.bi-heart-pulse) .stat-value[data-count]"  # active doctors
    # Every text the counter shows, recorded in the page as it changes: reading it
    # from the test would race the 0.9 s count-up on a busy machine.
    record = (
        "window.__counterTexts = [];"
        "new MutationObserver(() => {"
        f"  const el = document.querySelector({json.dumps(counter)});"
        "  if (el) window.__counterTexts.push(el.textContent);"
        "}).observe(document, {subtree: true, childList: true, characterData: true});"
    )
    for motion, animates in (("reduce", False), ("no-preference", True)):
        visit = Visit(browser, daphne_server, WIDTHS["1440"], reduced_motion=motion)
        try:
            visit.login("admin@clinica.test", PASSWORD)
            visit.page.add_init_script(record)
            visit.page.goto(daphne_server.url + "/")
            visit.page.wait_for_timeout(1500)
            final = visit.page.inner_text(counter)
            shown = set(visit.page.evaluate("window.__counterTexts")) - {"2"}
            assert final == "2"  # two active doctors
            assert bool(shown) is animates, (motion, shown)
        finally:
            visit.close()

"""The medical record in a real browser: an evolution written during a live call
(the call never drops), a draft that survives a reload, and every clinical page
screenshotted and scanned at phone and desktop widths."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from accounts.tests.factories import PASSWORD, AdminFactory, DoctorFactory, PatientFactory
from clinical import services
from clinical.models import EmergencyAccess, Evolution, RecordAccess, RecordSection
from rooms.models import Room
from rooms.tests.factories import ConsentFactory, RoomFactory

from .helpers import (
    DESKTOP,
    MEDIA,
    PHONE,
    SCREENSHOTS,
    Visit,
    check_page,
    enter_call,
    join,
    settle,
    shoot_both_widths,
    track_requests,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIELD = "#call-evolution-{}"  # the panel's fields: call-evolution-notes, ...
PANEL_FORM = "#call-evolution-form"
CONNECTED = "document.body.dataset.connection === 'connected'"
DRAFT_KEY = "mc-evolution-draft:{}"


@pytest.fixture
def clinic():
    admin = AdminFactory(first_name="Helena", last_name="Martins", email="admin@clinica.test")
    ana = DoctorFactory(
        first_name="Ana", last_name="Souza", email="ana@clinica.test", profile__title="dra",
        profile__specialty="Clínica médica", profile__crm="123456", profile__crm_state="SP",
    )  # fmt: skip
    carlos = PatientFactory(
        first_name="Carlos", last_name="Pereira", email="carlos@clinica.test", doctor=ana,
        phone="+5511987654321", profile__birth_date=dt.date(1985, 3, 14),
        profile__cpf="52998224725",
    )  # fmt: skip
    ConsentFactory(patient=carlos)
    room = RoomFactory(doctor=ana, patient=carlos)
    return {"admin": admin, "ana": ana, "carlos": carlos, "room": room}


def pt_date(value, fmt="SHORT_DATE_FORMAT"):
    """A date as the server renders it for a pt-BR browser."""
    with translation.override("pt-br"):
        return date_format(timezone.localtime(value), fmt)


def call_is_up(visit) -> None:
    """Connected, the remote video still playing, and the page never navigated."""
    page = visit.page
    assert page.evaluate(CONNECTED), page.evaluate("document.body.dataset.connection")
    assert page.evaluate("window.__mcNoNavigation") == "still here", "the call page reloaded"
    before = page.evaluate("document.getElementById('remote-video').currentTime")
    page.wait_for_timeout(400)
    video = page.evaluate(
        """() => { const v = document.getElementById('remote-video');
        return {paused: v.paused, width: v.videoWidth, time: v.currentTime}; }"""
    )
    assert not video["paused"] and video["width"] > 0, video
    assert video["time"] > before, f"the remote video froze: {before} -> {video}"


def fill_panel(page, **values):
    for name, value in values.items():
        page.fill(FIELD.format(name), value)


def panel_values(page) -> dict:
    return page.evaluate(
        """() => Object.fromEntries(['notes', 'diagnosis', 'diagnosis_code', 'prescription']
            .map((n) => [n, document.getElementById('call-evolution-form').elements[n].value]))"""
    )


# --- (a) Writing during a live call ---------------------------------------------------


def test_the_doctor_writes_an_evolution_during_the_call_and_the_call_stays_up(
    browser, daphne_server, clinic
):
    room = clinic["room"]
    path = reverse("rooms:join", args=[room.code])
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    navigations = []
    try:
        enter_call(path, (doctor, "ana@clinica.test"), (patient, "carlos@clinica.test"))
        page = doctor.page
        page.evaluate("window.__mcNoNavigation = 'still here'")
        page.on("framenavigated", lambda f: f == page.main_frame and navigations.append(f.url))

        # On a desktop the panel sits beside the video, the form ready.
        assert page.locator("#patient-panel").is_visible()
        assert page.locator(PANEL_FORM).is_visible()

        # A bad ICD-10 code: the field error shows in the panel, nothing is saved.
        fill_panel(page, notes="Tosse seca há 3 dias.", diagnosis_code="XYZ")
        page.click(f"{PANEL_FORM} button[type=submit]")
        error = page.locator('[data-error-for="diagnosis_code"]')
        error.wait_for(state="visible")
        assert "XYZ" in error.inner_text()
        assert page.get_attribute("#call-evolution-status", "data-kind") == "danger"
        assert page.get_attribute(FIELD.format("diagnosis_code"), "aria-invalid") == "true"
        assert "is-invalid" in page.get_attribute(FIELD.format("diagnosis_code"), "class")
        assert page.input_value(FIELD.format("notes")) == "Tosse seca há 3 dias.", "text was lost"
        assert Evolution.objects.count() == 0
        call_is_up(doctor)
        # The browser logs the 400 answer itself; that one, and only that one, is expected.
        assert all("status of 400" in e for e in doctor.console_errors), doctor.console_errors
        doctor.console_errors.clear()

        # Corrected and saved: the panel lists it, the form is empty for the next one.
        fill_panel(
            page,
            notes="Tosse seca há 3 dias, piora à noite.\nSem febre.",
            diagnosis="Asma não controlada",
            diagnosis_code="j459",  # typed loosely: normalised to J45.9
            prescription="Salbutamol 100 mcg spray: 2 jatos se falta de ar, até 4x ao dia.",
        )
        page.click(f"{PANEL_FORM} button[type=submit]")
        saved = page.locator("#call-evolution-list li")
        saved.first.wait_for()
        evolution = Evolution.objects.get()
        assert evolution.room == Room.objects.get(pk=room.pk)
        assert (evolution.patient, evolution.doctor) == (clinic["carlos"], clinic["ana"])
        assert evolution.diagnosis_code == "J45.9"
        # A form sends a textarea's line breaks as CRLF.
        notes = evolution.notes.replace("\r\n", "\n")
        assert notes == "Tosse seca há 3 dias, piora à noite.\nSem febre."
        assert saved.count() == 1
        assert "Asma não controlada" in saved.first.inner_text()
        link = saved.first.locator("a")
        assert link.get_attribute("href") == reverse("clinical:evolution", args=[evolution.pk])
        assert page.locator('[data-error-for="diagnosis_code"]').is_hidden()
        assert page.get_attribute("#call-evolution-status", "data-kind") == "success"
        assert panel_values(page) == dict.fromkeys(panel_values(page), "")
        assert page.evaluate(f"sessionStorage.getItem('{DRAFT_KEY.format(room.code)}')") is None
        call_is_up(doctor)
        wait_until(patient.page, CONNECTED)
        check_page(doctor, "clinical-call-panel-doctor", "1440")

        # On a phone the panel is an offcanvas: open it, and write from there too.
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(150)
        assert page.locator(PANEL_FORM).is_hidden()
        page.click('[data-bs-target="#patient-panel"]')
        page.locator("#patient-panel.show").wait_for()
        page.wait_for_timeout(400)  # the slide-in
        fill_panel(page, prescription="Prednisolona 20 mg: 1 comprimido por dia, 5 dias.")
        fill_panel(page, diagnosis_code="J4")
        page.click(f"{PANEL_FORM} button[type=submit]")
        page.locator('[data-error-for="diagnosis_code"]').wait_for(state="visible")
        assert page.evaluate("document.activeElement.id") == "call-evolution-diagnosis_code"
        doctor.console_errors.clear()  # the 400, as above
        call_is_up(doctor)
        check_page(doctor, "clinical-call-panel-doctor", "390")
        fill_panel(page, diagnosis_code="")
        page.click(f"{PANEL_FORM} button[type=submit]")
        wait_until(page, "document.querySelectorAll('#call-evolution-list li').length === 2")
        assert "Prednisolona" in saved.first.inner_text()  # the newest first
        assert Evolution.objects.filter(room=room).count() == 2
        call_is_up(doctor)
        assert navigations == [], f"the doctor's page navigated: {navigations}"

        # The chart shows it, with the consultation's badge.
        page.set_viewport_size(DESKTOP)
        doctor.goto(reverse("clinical:chart", args=[clinic["carlos"].pk]))
        article = page.locator(f"#evolution-{evolution.pk}")
        assert "Asma não controlada" in article.inner_text()
        assert "J45.9" in article.locator(".icd-code").inner_text()
        badge = article.locator(".badge", has=page.locator(".bi-camera-video"))
        assert pt_date(room.created_at) in badge.inner_text()
    finally:
        doctor.close()
        patient.close()
    assert not daphne_server.errors(), daphne_server.errors()


# --- (b) The draft survives a reload ------------------------------------------------


def test_an_unsaved_draft_survives_a_reload_and_is_gone_once_saved(browser, daphne_server, clinic):
    room = clinic["room"]
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    notice = "#call-evolution-status"
    draft = {
        "notes": "Paciente relata cansaço.\nDorme mal há uma semana.",
        "diagnosis": "Insônia",
        "diagnosis_code": "G47.0",
    }
    try:
        doctor.login("ana@clinica.test", PASSWORD)
        doctor.goto(reverse("rooms:join", args=[room.code]))
        join(doctor)
        page = doctor.page
        page.locator(PANEL_FORM).wait_for(state="visible")
        assert page.inner_text(notice) == ""
        # An empty form is not saved: the status says why.
        page.click(f"{PANEL_FORM} button[type=submit]")
        wait_until(page, "document.querySelector('#call-evolution-status[data-kind=danger]')")
        assert page.inner_text(notice).strip()
        assert Evolution.objects.count() == 0
        doctor.console_errors.clear()  # the browser logs the 400 answer
        fill_panel(page, **draft)

        # A slip of the finger: the page reloads, the draft is back, with a notice.
        page.reload()
        settle(page)
        join(doctor)
        page.locator(PANEL_FORM).wait_for(state="visible")
        assert panel_values(page) == {**draft, "prescription": ""}
        restored = page.get_attribute(PANEL_FORM, "data-text-restored")
        assert restored and page.inner_text(notice) == restored
        assert page.locator(notice).is_visible()

        # The connection drops after the server saved but before its answer arrived:
        # the doctor sees "not saved" and saves again, which must not write it twice.
        endpoint = f"**{reverse('clinical:call_evolution', args=[room.code])}"

        def lose_the_answer(route):
            route.fetch()  # the server receives it and saves
            route.abort()  # the answer never comes back

        token = page.input_value(f"{PANEL_FORM} [name=token]")
        page.route(endpoint, lose_the_answer)
        page.click(f"{PANEL_FORM} button[type=submit]")
        wait_until(page, "document.querySelector('#call-evolution-status[data-kind=danger]')")
        page.unroute(endpoint)
        doctor.console_errors.clear()  # the aborted request
        assert Evolution.objects.count() == 1
        assert panel_values(page) == {**draft, "prescription": ""}  # the draft is kept
        assert page.input_value(f"{PANEL_FORM} [name=token]") == token

        # Saved: a reload shows an empty form and no notice.
        page.click(f"{PANEL_FORM} button[type=submit]")
        page.locator("#call-evolution-list li").first.wait_for()
        assert Evolution.objects.get().diagnosis == "Insônia"  # still exactly one
        assert page.input_value(f"{PANEL_FORM} [name=token]") != token  # the next is new
        page.reload()
        settle(page)
        join(doctor)
        page.locator(PANEL_FORM).wait_for(state="visible")
        assert panel_values(page) == dict.fromkeys(draft.keys() | {"prescription"}, "")
        assert page.inner_text(notice) == ""
        # What was written in this call is listed from the server after the reload.
        assert page.locator("#call-evolution-list li").count() == 1
    finally:
        doctor.close()
    assert not daphne_server.errors(), daphne_server.errors()


# --- (c) Every clinical page, at both widths ---------------------------------------

LONG_NOTE = (
    "Queixa principal: falta de ar aos esforços há duas semanas, pior ao subir escadas.\n"
    "História: asma desde a infância, sem internações. Usa salbutamol de resgate 3 a 4 vezes "
    "por semana; acorda à noite com tosse duas vezes por semana.\n"
    "\n"
    "Exame (por vídeo): fala frases completas, sem tiragem visível. FR 18 irpm referida.\n"
    "Resultado anterior: https://laboratorio.example.com/resultados/2025/espirometria-carlos-"
    "pereira-0001234567\n"
    "Plano: iniciar corticoide inalatório, revisar técnica inalatória, retorno em 30 dias."
)
SCRIPT_NOTE = "<script>window.__xss = 1</script> Paciente escreveu <b>isto</b> no app."


def write(ana, carlos, *, days_ago=0, room=None, **text):
    when = timezone.now() - dt.timedelta(days=days_ago, hours=2 if days_ago else 0)
    return services.evolution_write(doctor=ana, patient=carlos, room=room, at=when, **text)


@pytest.fixture
def record(clinic):
    """A record with a bit of everything: consultations, codes, a correction, odd text."""
    admin, ana, carlos = clinic["admin"], clinic["ana"], clinic["carlos"]
    now = timezone.now()
    # Created finished: the pair already has a room open (one open room per pair).
    past = RoomFactory(doctor=ana, patient=carlos, status="ended", ended_at=now)
    Room.objects.filter(pk=past.pk).update(
        created_at=now - dt.timedelta(days=20), call_started_at=now - dt.timedelta(days=20),
        both_present_seconds=23 * 60, status="ended", ended_at=now - dt.timedelta(days=20),
        ended_by=ana,
    )  # fmt: skip
    missed = RoomFactory(doctor=ana, patient=carlos, status="ended", ended_at=now)
    Room.objects.filter(pk=missed.pk).update(
        created_at=now - dt.timedelta(days=9), status="ended", ended_at=now - dt.timedelta(days=9)
    )
    past.refresh_from_db()
    first = write(
        ana, carlos, days_ago=20, room=past, notes=LONG_NOTE, diagnosis="Asma não controlada",
        diagnosis_code="J45.9",
        prescription="Budesonida 200 mcg: 1 inalação de 12/12 h, uso contínuo.\n"
        "Salbutamol 100 mcg spray: 2 jatos se falta de ar, até de 4/4 h.",
    )  # fmt: skip
    write(ana, carlos, days_ago=12, diagnosis="Hipertensão essencial", diagnosis_code="I10")
    write(ana, carlos, days_ago=5, notes=SCRIPT_NOTE)
    # Not backdated: its revisions keep the real time of writing.
    amended = write(
        ana, carlos, notes="Retorno: sem crises desde a última consulta.",
        diagnosis="Asma controlada", diagnosis_code="J45.0",
        prescription="Budesonida 200 mcg: 1 inalação de 12/12 h.",
    )  # fmt: skip
    amended = services.evolution_amend(
        evolution=amended, author=ana, reason="Dose e CID corrigidos após rever a receita.",
        notes=amended.notes, diagnosis="Asma controlada", diagnosis_code="J45.9",
        prescription="Budesonida 400 mcg: 1 inalação de 12/12 h, por 3 meses.",
    )  # fmt: skip
    # The log: the doctor opened it; an admin did, weeks ago, with a reason.
    services.record_access_log(
        viewer=ana, patient=carlos, section=RecordSection.CHART, ip_address="10.0.0.7"
    )
    grant = EmergencyAccess.objects.create(
        admin=admin, patient=carlos, ip_address="10.0.0.9", expires_at=now - dt.timedelta(hours=1),
        reason="Auditoria pedida pela diretoria clínica após reclamação formal do paciente.",
    )  # fmt: skip
    RecordAccess.objects.create(
        viewer=admin, viewer_role=admin.role, patient=carlos, section=RecordSection.CHART,
        emergency=grant, ip_address="10.0.0.9",
    )  # fmt: skip
    # A doctor out of scope tried to open it: refused (404), and logged as such.
    bruno = DoctorFactory(first_name="Bruno", last_name="Lima", profile__title="dr")
    services.record_access_log(
        viewer=bruno, patient=carlos, section=RecordSection.CHART, ip_address="10.0.0.8",
        refused=True,
    )  # fmt: skip
    # A second patient of Ana with nothing written yet: the empty state.
    mariana = PatientFactory(first_name="Mariana", last_name="Oliveira", doctor=ana)
    return {**clinic, "first": first, "amended": amended, "mariana": mariana}


def visit_and_shoot(visit, name, path):
    response = visit.goto(path)
    assert response.status == 200, f"{name}: {response.status}"
    shoot_both_widths(visit, name)


def shoot_paper(visit, name) -> int:
    """The page as printed on A4: a screenshot of the print layout, checks that no
    navigation, footer or button is printed, and the number of pages of the real PDF."""
    page = visit.page
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.emulate_media(media="print")
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}-paper.png"), full_page=True)
        for chrome in ("nav", "footer.mc-footer", ".d-print-none", ".skip-link"):
            for element in page.locator(chrome).all():
                assert not element.is_visible(), f"{name}: {chrome} is printed"
        pdf = page.pdf(format="A4", prefer_css_page_size=True)
    finally:
        page.emulate_media(media="screen")
        page.set_viewport_size(DESKTOP)
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def test_the_doctor_s_clinical_pages(browser, daphne_server, record):
    carlos, first, amended = record["carlos"], record["first"], record["amended"]
    visit = Visit(browser, daphne_server, DESKTOP)
    page = visit.page
    try:
        visit.login("ana@clinica.test", PASSWORD)
        visit_and_shoot(visit, "clinical-chart", reverse("clinical:chart", args=[carlos.pk]))
        # Patients' text is text: the script shows as typed, and nothing ran.
        timeline = page.inner_text(".timeline")
        assert "<script>window.__xss = 1</script>" in timeline
        assert "<b>isto</b>" in timeline
        assert page.locator(".timeline script, .timeline b").count() == 0
        assert page.evaluate("window.__xss") is None
        # Line breaks are kept.
        assert page.locator(f"#evolution-{first.pk} br").count() >= 5
        # The correction is flagged, and the video consultation is linked.
        assert page.locator(f"#evolution-{amended.pk} .badge-soft-warning").count() == 1
        assert page.locator(f"#evolution-{first.pk} .bi-camera-video").count() == 1
        assert page.locator(".timeline-item").count() == 4

        visit_and_shoot(
            visit, "clinical-chart-empty", reverse("clinical:chart", args=[record["mariana"].pk])
        )
        visit_and_shoot(
            visit, "clinical-evolution-history", reverse("clinical:evolution", args=[amended.pk])
        )
        assert page.locator(".timeline-item").count() == 2
        assert "Budesonida 200 mcg" in page.inner_text(".revision-old")

        visit_and_shoot(
            visit, "clinical-chart-print", reverse("clinical:chart_print", args=[carlos.pk])
        )
        sheet = page.inner_text(".print-sheet")
        for expected in ("Carlos Pereira", "Dra. Ana Souza", "CRM 123456/SP", "14/03/1985"):
            assert expected in sheet, expected
        assert shoot_paper(visit, "clinical-chart-print") >= 1

        visit_and_shoot(
            visit, "clinical-prescription-print",
            reverse("clinical:prescription_print", args=[first.pk]),
        )  # fmt: skip
        sheet = page.inner_text(".print-sheet")
        for expected in ("Carlos Pereira", "Dra. Ana Souza", "CRM 123456/SP", "Budesonida"):
            assert expected in sheet, expected
        # The date of the prescription is the day it was written, not the day it is printed.
        assert pt_date(first.created_at, "SHORT_DATETIME_FORMAT") in page.inner_text(".print-meta")
        assert LONG_NOTE[:20] not in sheet, "the prescription sheet shows the notes"
        pages = shoot_paper(visit, "clinical-prescription-print")
        assert pages == 1, f"the prescription is printed on {pages} pages, not one"

        # The full-page form, sent with an invalid code and then with nothing.
        visit.goto(reverse("clinical:evolution_create", args=[carlos.pk]))
        page.fill("#id_diagnosis", "Rinite alérgica")
        page.fill("#id_diagnosis_code", "R1")
        page.click("main button[type=submit]")
        settle(page)
        assert page.locator("#id_diagnosis_code.is-invalid").count() == 1
        assert page.input_value("#id_diagnosis") == "Rinite alérgica"
        shoot_both_widths(visit, "clinical-evolution-form-errors")
        page.fill("#id_diagnosis", "")
        page.fill("#id_diagnosis_code", "")
        page.click("main button[type=submit]")
        settle(page)
        assert page.locator("main .alert-danger").count() == 1, "the error is shown twice"
        assert page.locator("main .alert-danger[role=alert]").count() == 1
        assert Evolution.objects.filter(patient=carlos).count() == 4
    finally:
        visit.close()
    assert not daphne_server.errors(), daphne_server.errors()


def test_the_patient_s_own_record(browser, daphne_server, record):
    visit = Visit(browser, daphne_server, PHONE)
    page = visit.page
    try:
        visit.login("carlos@clinica.test", PASSWORD)
        visit_and_shoot(visit, "clinical-my-record", reverse("clinical:my_record"))
        assert page.locator(".timeline-item").count() == 4
        assert "<script>window.__xss = 1</script>" in page.inner_text(".timeline")
        # The patient reads, prints and downloads, but never corrects.
        amend = reverse("clinical:evolution_amend", args=[record["amended"].pk])
        assert page.locator(f"a[href='{amend}']").count() == 0
        assert page.locator("a[href$='/amend/']").count() == 0
        with page.expect_download() as download:
            page.click(f"a[href='{reverse('clinical:my_record_export')}']")
        assert download.value.suggested_filename.endswith(".json")

        visit_and_shoot(visit, "clinical-my-access-log", reverse("clinical:my_access_log"))
        log = page.inner_text("main")
        assert "Dra. Ana Souza" in log and "Helena Martins" in log
        assert "Auditoria pedida" in log
        assert "Bruno Lima" not in log  # a refused try opened nothing
        assert "10.0.0.7" not in log, "the patient sees staff IP addresses"
    finally:
        visit.close()
    assert not daphne_server.errors(), daphne_server.errors()


def test_the_admin_s_break_glass_and_access_log(browser, daphne_server, record):
    carlos = record["carlos"]
    chart = reverse("clinical:chart", args=[carlos.pk])
    visit = Visit(browser, daphne_server, DESKTOP)
    page = visit.page
    try:
        visit.login("admin@clinica.test", PASSWORD)
        # Without a reason, the chart sends the admin to the break-glass form.
        visit.goto(chart)
        assert reverse("clinical:emergency_access", args=[carlos.pk]) in page.url
        assert "Budesonida" not in page.inner_text("main")
        shoot_both_widths(visit, "clinical-emergency-access")
        page.fill("#id_reason", "Auditoria")
        page.click("main button[type=submit]")
        settle(page)
        assert page.locator("#id_reason.is-invalid").count() == 1
        shoot_both_widths(visit, "clinical-emergency-access-errors")
        page.fill("#id_reason", "Paciente pediu por telefone cópia urgente do prontuário.")
        page.click("main button[type=submit]")
        settle(page)
        assert page.url.endswith(chart)
        assert page.locator("main .alert-warning").count() >= 1
        shoot_both_widths(visit, "clinical-chart-emergency-admin")

        visit_and_shoot(
            visit, "clinical-access-log-admin", reverse("clinical:access_log", args=[carlos.pk])
        )
        log = page.inner_text("main")
        assert "10.0.0.7" in log and "Paciente pediu por telefone" in log
        refused = page.locator("tr", has=page.locator(".access-refused"))
        assert refused.count() == 1
        assert "Dr. Bruno Lima" in refused.inner_text()
        assert "Recusado: não foi aberto" in refused.inner_text()
    finally:
        visit.close()
    assert not daphne_server.errors(), daphne_server.errors()


# --- (d) One evolution, whatever the browser does ----------------------------------
# The form page is never cached: Back and reload fetch it again, with a fresh token,
# and Chromium refills what was typed. Each path must still write one evolution.

PAGE_TEXT = {"notes": "Febre há 2 dias.\nSem tosse.", "diagnosis": "Virose", "prescription": ""}
SUBMIT = "main button[type=submit]"


def open_form(visit, patient):
    visit.goto(reverse("clinical:evolution_create", args=[patient.pk]))
    for name, value in PAGE_TEXT.items():
        visit.page.fill(f"#id_{name}", value)


def sent_token(page, action) -> str:
    """Do `action` and return the token the form posted."""
    with page.expect_request(lambda r: r.method == "POST") as request:
        action()
    settle(page)
    return request.value.post_data_json["token"]


def refilled(page) -> bool:
    return all(page.input_value(f"#id_{name}") == value for name, value in PAGE_TEXT.items())


def saved_once(page, evolution) -> None:
    assert Evolution.objects.count() == 1
    assert page.url.endswith(f"#evolution-{evolution.pk}"), page.url
    assert "não foi gravada duas vezes" in page.inner_text("main .alert")


@pytest.fixture
def doctor_visit(browser, daphne_server, clinic):
    visit = Visit(browser, daphne_server, DESKTOP)
    visit.login("ana@clinica.test", PASSWORD)
    yield visit
    visit.close()
    assert not daphne_server.errors(), daphne_server.errors()


def test_back_after_saving_then_saving_again_writes_one_evolution(doctor_visit, clinic):
    page = doctor_visit.page
    open_form(doctor_visit, clinic["carlos"])
    first = sent_token(page, lambda: page.click(SUBMIT))
    evolution = Evolution.objects.get()
    assert str(evolution.client_token) == first

    page.go_back()
    settle(page)
    assert refilled(page), "Chromium did not refill the form: the case is not reproduced"
    assert page.input_value("[name=token]") != first  # the page came with a fresh token

    assert sent_token(page, lambda: page.click(SUBMIT)) == first  # the token survived Back
    saved_once(page, evolution)
    shoot_both_widths(doctor_visit, "clinical-evolution-not-written-twice")


def test_reload_after_an_error_answer_writes_one_evolution(doctor_visit, clinic):
    # Saved, but the answer was lost on the way (a proxy's 502): the doctor
    # reloads, and the browser sends the form again.
    page = doctor_visit.page
    open_form(doctor_visit, clinic["carlos"])
    url = page.url

    def saved_but_the_answer_is_an_error(route):
        route.fetch()  # the server saves it
        route.fulfill(status=502, body="Bad gateway")

    page.route(url, saved_but_the_answer_is_an_error)
    first = sent_token(page, lambda: page.click(SUBMIT))
    page.unroute(url)
    assert Evolution.objects.count() == 1
    doctor_visit.console_errors.clear()  # the 502

    resent = sent_token(page, page.reload)

    assert resent == first
    saved_once(page, Evolution.objects.get())


def test_a_double_click_on_save_writes_one_evolution(doctor_visit, clinic):
    page = doctor_visit.page
    open_form(doctor_visit, clinic["carlos"])

    page.dblclick(SUBMIT)
    page.wait_for_url("**/records/*/#evolution-*")
    settle(page)

    evolution = Evolution.objects.get()
    assert page.url.endswith(f"#evolution-{evolution.pk}")
    assert page.locator(".timeline-item").count() == 1


def test_two_tabs_saving_the_same_text_write_one_evolution(doctor_visit, clinic):
    first_tab = doctor_visit.page
    second_tab = doctor_visit.context.new_page()
    track_requests(second_tab)
    second_tab.set_default_timeout(15_000)
    open_form(doctor_visit, clinic["carlos"])
    second_tab.goto(first_tab.url)
    for name, value in PAGE_TEXT.items():
        second_tab.fill(f"#id_{name}", value)
    assert first_tab.input_value("[name=token]") != second_tab.input_value("[name=token]")

    sent_token(first_tab, lambda: first_tab.click(SUBMIT))
    sent_token(second_tab, lambda: second_tab.click(SUBMIT))

    saved_once(second_tab, Evolution.objects.get())
    assert second_tab.locator(".timeline-item").count() == 1

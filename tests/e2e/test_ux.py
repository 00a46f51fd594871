"""What people see, checked in a real browser: the call's camera-off text,
the colour contrast of every button and badge, and long names on a phone."""

import pytest
from django.urls import reverse

from accounts.tests.factories import PASSWORD, DoctorFactory, PatientFactory
from rooms.tests.factories import ConsentFactory, RoomFactory

from .helpers import (
    DESKTOP,
    MEDIA,
    PHONE,
    Visit,
    enter_call,
    join,
    shoot_both_widths,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLACEHOLDER = "document.getElementById('remote-placeholder-text')"


@pytest.fixture
def room():
    ana = DoctorFactory(
        first_name="Ana", last_name="Souza", email="ana@clinica.test", profile__title="dra"
    )
    carlos = PatientFactory(
        first_name="Carlos", last_name="Pereira", email="carlos@clinica.test", doctor=ana
    )
    ConsentFactory(patient=carlos)
    return RoomFactory(doctor=ana, patient=carlos)


def placeholder(visit) -> tuple[bool, str]:
    """Whether the placeholder over the remote video shows, and what it says."""
    shown, text = visit.page.evaluate(
        f"() => [{PLACEHOLDER}.checkVisibility(), {PLACEHOLDER}.textContent.trim()]"
    )
    return shown, text


def test_the_doctor_reads_that_the_patients_camera_is_off_not_that_they_are_awaited(
    browser, daphne_server, room
):
    path = reverse("rooms:join", args=[room.code])
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    try:
        doctor.login("ana@clinica.test", PASSWORD)
        doctor.goto(path)
        join(doctor)
        wait_until(doctor.page, "document.body.dataset.peerStatus === 'waiting'")
        assert placeholder(doctor) == (True, "Aguardando o paciente entrar…")

        enter_call(path, (patient, "carlos@clinica.test"))
        wait_until(doctor.page, "document.getElementById('remote-video').videoWidth > 0")
        assert placeholder(doctor)[0] is False  # the video shows

        patient.page.click("#toggle-cam")
        wait_until(doctor.page, "document.body.dataset.peerVideo === 'off'")
        assert doctor.page.inner_text("#peer-status") == "Conectado"
        assert placeholder(doctor) == (True, "A câmera do paciente está desligada")
        shoot_both_widths(doctor, "call-doctor-patient-camera-off")

        # And the other way round, in the patient's words.
        doctor.page.click("#toggle-cam")
        wait_until(patient.page, "document.body.dataset.peerVideo === 'off'")
        assert placeholder(patient) == (True, "A câmera do médico está desligada")
        shoot_both_widths(patient, "call-patient-doctor-camera-off")

        # The camera back on: the video again, no placeholder.
        patient.page.click("#toggle-cam")
        wait_until(doctor.page, "document.body.dataset.peerVideo === 'on'")
        assert placeholder(doctor)[0] is False

        # Once the patient has left, the doctor is waiting again.
        patient.page.click("#toggle-cam")
        wait_until(doctor.page, "document.body.dataset.peerVideo === 'off'")
        patient.close()
        wait_until(doctor.page, "document.body.dataset.peerStatus !== 'connected'", 40_000)
        assert placeholder(doctor) == (True, "Aguardando o paciente entrar…")
    finally:
        doctor.close()
    assert not daphne_server.errors(), daphne_server.errors()


def test_a_patient_who_joins_without_a_camera_is_shown_as_camera_off(browser, daphne_server, room):
    path = reverse("rooms:join", args=[room.code])
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    try:
        doctor.login("ana@clinica.test", PASSWORD)
        doctor.goto(path)
        join(doctor)
        patient.login("carlos@clinica.test", PASSWORD)
        patient.goto(path)
        wait_until(patient.page, "!document.getElementById('join-audio-button').disabled")
        patient.page.click("#join-audio-button")
        wait_until(doctor.page, "document.body.dataset.connection === 'connected'", 30_000)
        wait_until(doctor.page, "document.body.dataset.peerVideo === 'off'")
        assert placeholder(doctor) == (True, "A câmera do paciente está desligada")
    finally:
        doctor.close()
        patient.close()

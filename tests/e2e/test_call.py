"""A real call: two Chromium contexts with fake camera and microphone, one real
Daphne server, the WebRTC media flowing peer to peer between them."""

import time

import pytest
from django.urls import reverse

from accounts.tests.factories import PASSWORD, DoctorFactory, PatientFactory
from rooms.models import Room
from rooms.tests.factories import RoomFactory

from ..conftest import DaphneServer
from .helpers import (
    DESKTOP,
    MEDIA,
    PHONE,
    Visit,
    check_page,
    enter_call,
    join,
    shoot_both_widths,
    wait_connected,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def consultation():
    ana = DoctorFactory(
        first_name="Ana", last_name="Souza", email="ana@clinica.test", profile__title="dra"
    )
    carlos = PatientFactory(
        first_name="Carlos", last_name="Pereira", email="carlos@clinica.test", doctor=ana
    )
    return RoomFactory(doctor=ana, patient=carlos)


def test_doctor_and_patient_see_each_other_and_the_doctor_finishes(
    browser, daphne_server, consultation
):
    room = consultation
    path = reverse("rooms:join", args=[room.code])
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    try:
        doctor.login("ana@clinica.test", PASSWORD)
        doctor.goto(path)
        shoot_both_widths(doctor, "call-prejoin-doctor")
        join(doctor)
        wait_until(
            doctor.page, "document.getElementById('peer-status').dataset.status === 'waiting'"
        )
        shoot_both_widths(doctor, "call-waiting-doctor")

        # The patient's first call: the consent term, then the pre-join screen.
        patient.login("carlos@clinica.test", PASSWORD)
        patient.goto(path)
        assert "/consent/" in patient.page.url
        shoot_both_widths(patient, "call-consent-patient")
        patient.page.check("#id_accept")
        patient.page.click("main button[type=submit]")
        patient.page.wait_for_url(f"**{path}")
        shoot_both_widths(patient, "call-prejoin-patient")
        join(patient)

        wait_connected(doctor)
        wait_connected(patient)
        shoot_both_widths(doctor, "call-doctor")
        shoot_both_widths(patient, "call-patient")

        # Muting shows on the other side.
        patient.page.click("#toggle-mic")
        doctor.page.wait_for_selector("#peer-mic-off", state="visible")
        patient.page.click("#toggle-mic")
        doctor.page.wait_for_selector("#peer-mic-off", state="hidden")

        # The patient leaves and comes back: the call reconnects.
        patient.page.click("#leave-button")
        wait_until(doctor.page, "document.getElementById('peer-status').dataset.status === 'left'")
        patient.page.click("#rejoin-button")
        patient.settle()
        join(patient)
        wait_connected(doctor)
        wait_connected(patient)

        # The doctor finishes: the patient is shown the ended page.
        doctor.page.once("dialog", lambda dialog: dialog.accept())
        doctor.page.click("#finish-button")
        doctor.page.wait_for_url(f"**{reverse('rooms:summary', args=[room.code])}")
        shoot_both_widths(doctor, "consultation-summary")
        patient.page.wait_for_url(f"**{path}", timeout=15_000)
        patient.page.wait_for_selector("text=Esta consulta foi encerrada")
        check_page(patient, "call-ended-patient", "390", status=410)
    finally:
        doctor.close()
        patient.close()
    room.refresh_from_db()
    assert room.status == "ended"
    assert room.call_started_at is not None
    assert not daphne_server.errors(), daphne_server.errors()


def test_the_call_recovers_when_the_server_is_killed_and_restarted(
    browser, daphne_server, consultation, tmp_path
):
    room = consultation
    from rooms.tests.factories import ConsentFactory

    ConsentFactory(patient=room.patient)
    path = reverse("rooms:join", args=[room.code])
    server = DaphneServer(tmp_path).start()
    doctor = Visit(browser, server, DESKTOP, **MEDIA)
    patient = Visit(browser, server, PHONE, **MEDIA)
    try:
        enter_call(path, (doctor, "ana@clinica.test"), (patient, "carlos@clinica.test"))

        server.kill()
        wait_until(doctor.page, "!document.getElementById('call-banner').hidden", 15_000)
        server = DaphneServer(tmp_path, port=server.port).start()

        # Both clients reconnect on their own; presence and the call come back.
        for visit in (doctor, patient):
            wait_until(visit.page, "document.getElementById('call-banner').hidden", 30_000)
        wait_connected(doctor, timeout=45_000)
        wait_connected(patient, timeout=45_000)
        for visit in (doctor, patient):
            wait_until(
                visit.page, "document.getElementById('peer-status').dataset.status === 'connected'"
            )
    finally:
        doctor.close()
        patient.close()
        # The restarted server hears both sockets close and clears their presence
        # (it may take a moment on a loaded machine), before it is stopped.
        deadline = time.monotonic() + 15
        while Room.objects.get(pk=room.pk).presences.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        server.stop()
    assert Room.objects.get(pk=room.pk).presences.count() == 0


def test_the_doctor_sees_a_waiting_patient_without_reloading(browser, daphne_server, consultation):
    room = consultation
    from rooms.tests.factories import ConsentFactory

    ConsentFactory(patient=room.patient)
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    try:
        doctor.login("ana@clinica.test", PASSWORD)
        badge = doctor.page.locator(f'[data-room-code="{room.code}"] .waiting-badge')
        assert badge.is_hidden()
        patient.login("carlos@clinica.test", PASSWORD)
        patient.goto(reverse("rooms:join", args=[room.code]))
        join(patient)
        badge.wait_for(state="visible", timeout=15_000)
        toast = doctor.page.locator(".mc-toast-stack")
        toast.wait_for(state="visible")
        assert "Carlos Pereira" in toast.inner_text()
        check_page(doctor, "doctor-dashboard-patient-waiting", "1440")
    finally:
        doctor.close()
        patient.close()


DENY_CAMERA = """
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => c && c.video
    ? Promise.reject(new DOMException('Permission denied', 'NotAllowedError'))
    : real(c);
"""


def test_a_blocked_camera_gets_plain_help_and_the_audio_only_path(
    browser, daphne_server, consultation
):
    room = consultation
    from rooms.tests.factories import ConsentFactory

    ConsentFactory(patient=room.patient)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    try:
        # The browser refuses the camera, as after a user's "Block".
        patient.context.add_init_script(DENY_CAMERA)
        patient.login("carlos@clinica.test", PASSWORD)
        patient.goto(reverse("rooms:join", args=[room.code]))
        help_box = patient.page.locator("#media-help")
        help_box.wait_for(state="visible")
        assert "bloqueou a câmera" in help_box.inner_text()
        assert "Chrome" in patient.page.inner_text("#media-help-steps")
        assert patient.page.is_disabled("#join-button")
        shoot_both_widths(patient, "call-prejoin-camera-blocked")
        patient.page.click("#join-audio-button")
        patient.page.locator("#call").wait_for(state="visible")
        wait_until(patient.page, "document.getElementById('local-tile').dataset.video === 'off'")
        wait_until(
            patient.page, "document.getElementById('peer-status').dataset.status === 'waiting'"
        )
        shoot_both_widths(patient, "call-audio-only-patient")
    finally:
        patient.close()


REMOTE_VIDEO_IS_NEW = (
    "(() => { const v = document.getElementById('remote-video');"
    " return v.srcObject && v.srcObject !== window.__beforeReconnect && v.videoWidth > 0"
    " && document.body.dataset.connection === 'connected'; })()"
)


def test_a_reconnect_mid_call_resumes_video_on_both_sides(browser, daphne_server, consultation):
    room = consultation
    from rooms.models import Presence
    from rooms.tests.factories import ConsentFactory

    ConsentFactory(patient=room.patient)
    path = reverse("rooms:join", args=[room.code])
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    try:
        enter_call(path, (doctor, "ana@clinica.test"), (patient, "carlos@clinica.test"))
        before = Presence.objects.get(room=room, user=room.patient).pk
        for visit in (doctor, patient):
            visit.page.evaluate(
                "window.__beforeReconnect = document.getElementById('remote-video').srcObject"
            )
        # Wi-Fi to 4G: the browser says it is online again while its old socket
        # still looks open; the page opens a new socket, as a reconnect does.
        patient.page.evaluate("window.dispatchEvent(new Event('online'))")
        deadline = time.monotonic() + 15
        while Presence.objects.get(room=room, user=room.patient).pk == before:
            assert time.monotonic() < deadline, "the patient's page opened no new socket"
            time.sleep(0.1)
        for visit in (doctor, patient):
            wait_until(visit.page, REMOTE_VIDEO_IS_NEW, 30_000)
            start = visit.page.evaluate("document.getElementById('remote-video').currentTime")
            wait_until(
                visit.page,
                f"document.getElementById('remote-video').currentTime > {start} + 0.5",
                10_000,
            )
            wait_until(
                visit.page, "document.getElementById('peer-status').dataset.status === 'connected'"
            )
        shoot_both_widths(patient, "call-after-reconnect-patient")
        assert Presence.objects.filter(room=room).count() == 2
    finally:
        doctor.close()
        patient.close()
    assert not daphne_server.errors(), daphne_server.errors()

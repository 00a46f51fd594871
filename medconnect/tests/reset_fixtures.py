"""A clinic with a row in nearly every table, for the reset tests to delete."""

import datetime as dt
import io
from decimal import Decimal

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from accounts import services as accounts_services
from accounts.models import User
from accounts.tests.factories import AdminFactory, DoctorFactory, PatientFactory
from billing import services as billing_services
from billing.tests.factories import EndedRoomFactory
from clinical import services as clinical_services
from closings import services as closings_services
from closings.tests.factories import OCTOBER, billed
from rooms import services as rooms_services
from rooms.models import CallSample, Presence
from rooms.tests.factories import ConsentFactory, RoomFactory

# Tables the clinic below fills: the test that everything goes checks they were not empty.
FILLED = (
    "accounts.user", "accounts.doctorprofile", "accounts.patientprofile", "sessions.session",
    "admin.logentry", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog",
    "rooms.room", "rooms.presence", "rooms.callsample", "rooms.telemedicineconsent",
    "rooms.serverinstance", "clinical.evolution", "clinical.evolutionrevision",
    "clinical.emergencyaccess", "clinical.recordaccess", "billing.billingsettings",
    "billing.doctorrate", "billing.ratechange", "billing.billingrecord",
    "billing.billingrecordevent", "closings.monthlyclosing", "closings.closingevent",
)  # fmt: skip


def photo(colour="teal") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, "PNG")
    return SimpleUploadedFile("foto.png", buffer.getvalue(), content_type="image/png")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def clinic_with_everything() -> dict:
    """Two admins, two doctors, three patients and all they leave behind."""
    admin = AdminFactory(first_name="Helena", last_name="Martins", email="helena@clinica.test")
    second_admin = AdminFactory(first_name="Rui", last_name="Barros", email="rui@clinica.test")
    ana = DoctorFactory(first_name="Ana", last_name="Souza", profile__title="dra")
    bruno = DoctorFactory(first_name="Bruno", last_name="Lima", profile__title="dr")
    carlos = PatientFactory(first_name="Carlos", last_name="Pereira", doctor=ana)
    daniela = PatientFactory(first_name="Daniela", last_name="Costa", doctor=bruno)
    elisa = PatientFactory(first_name="Elisa", last_name="Rocha", doctor=ana, is_active=False)
    for person in (carlos, daniela):
        ConsentFactory(patient=person)
    accounts_services.user_photo_set(user=carlos, upload=photo())
    accounts_services.user_photo_set(user=admin, upload=photo("navy"))
    accounts_services.user_photo_set(user=ana, upload=photo("olive"))

    billing_services.billing_settings_update(
        by=admin,
        consultation_fee=Decimal("200.00"),
        platform_percentage=Decimal("40.00"),
        min_billable_seconds=60,
    )
    billing_services.doctor_rate_update(
        by=admin, doctor=ana, consultation_fee=Decimal("180.00"), platform_percentage=None
    )
    held = EndedRoomFactory(doctor=ana, patient=carlos, ended_by=ana)
    record = billing_services.consultation_register(room=held)
    billing_services.record_void(record=record, by=admin, reason="Falha técnica na chamada.")
    # A closed month, paid: its records are locked and its events refuse any change.
    billed(ana, room__patient=carlos)  # in October, with a patient of the clinic above
    (closing,) = closings_services.month_close(month=OCTOBER).created
    closings_services.closing_confirm_payment(
        closing=closing, by=admin, paid_on=timezone.localdate()
    )
    CallSample.objects.create(room=held, user=carlos, rtt_ms=41.3, loss_pct=0.2, kbps_in=800)
    evolution = clinical_services.evolution_write(
        doctor=ana, patient=carlos, room=held, notes="Tosse seca há 3 dias.", prescription="Mel."
    )
    clinical_services.evolution_amend(
        evolution=evolution, author=ana, reason="Erro de digitação", notes="Tosse seca há 4 dias."
    )
    grant = clinical_services.emergency_access_grant(
        admin=admin, patient=carlos, reason="Auditoria pedida pela diretoria", ip_address="10.0.0.9"
    )
    clinical_services.record_access_log(
        viewer=admin, patient=carlos, section="chart", ip_address="10.0.0.9", evolution=evolution
    )
    assert grant.pk

    rooms_services.server_beat(server_id="web-1")
    waiting = RoomFactory(doctor=bruno, patient=daniela)
    Presence.objects.create(
        room=waiting, user=daniela, channel_name="inmemory!daniela", server_id="web-1",
        connected_at=timezone.now(),
    )  # fmt: skip

    typed = {"ip_address": "10.0.0.7", "user_agent": "Firefox", "http_accept": "*/*",
             "path_info": "/accounts/login/", "username": daniela.email}  # fmt: skip
    AccessAttempt.objects.create(**typed, get_data="", post_data="", failures_since_start=2)
    AccessFailureLog.objects.create(**typed)
    AccessLog.objects.create(**typed, logout_time=timezone.now() - dt.timedelta(hours=1))
    LogEntry.objects.log_actions(
        user_id=admin.pk,
        queryset=User.objects.filter(pk=carlos.pk),
        action_flag=CHANGE,
        change_message="Telefone alterado",
    )
    assert ContentType.objects.exists()

    people = {"admin": admin, "ana": ana, "carlos": carlos, "daniela": daniela}
    clients = {name: signed_in(person) for name, person in people.items()}
    return {
        "admin": admin, "second_admin": second_admin, "ana": ana, "bruno": bruno,
        "carlos": carlos, "daniela": daniela, "elisa": elisa, "evolution": evolution,
        "record": record, "clients": clients,
    }  # fmt: skip

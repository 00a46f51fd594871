"""Fixtures of the clinical tests: an evolution, a doctor who only had a room with
the patient, and admins with and without emergency access (break-glass)."""

import pytest

from accounts.tests.factories import AdminFactory, DoctorFactory
from clinical import services
from rooms.tests.factories import RoomFactory

GRANT_REASON = "Auditoria pedida pela diretoria clínica"


@pytest.fixture
def client(client):
    # The English source strings, whatever the state of the pt-BR catalog.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def room_doctor(db, patient):
    """A doctor who had a consultation with the patient but is not responsible for them."""
    room_doctor = DoctorFactory(first_name="Célia", last_name="Ramos", profile__title="dra")
    RoomFactory(doctor=room_doctor, patient=patient)
    return room_doctor


@pytest.fixture
def evolution(doctor, patient):
    return services.evolution_write(
        doctor=doctor,
        patient=patient,
        notes="Tosse seca há 3 dias.",
        diagnosis="Asma",
        diagnosis_code="J45.9",
        prescription="Salbutamol 100 mcg, 2 jatos se falta de ar.",
    )


@pytest.fixture
def grant_admin(db):
    """An admin who asked for emergency access to the patient (see `grant`)."""
    return AdminFactory(first_name="Gabriela", last_name="Auditora")


@pytest.fixture
def grant(grant_admin, patient):
    return services.emergency_access_grant(
        admin=grant_admin, patient=patient, reason=GRANT_REASON, ip_address="10.0.0.9"
    )

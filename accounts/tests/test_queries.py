"""List pages and dashboards issue the same number of queries for 3 rows as for 30."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services
from accounts.tests.factories import DoctorFactory, PatientFactory

FEW, MANY = 3, 30


def queries_for(client, url: str) -> int:
    client.get(url)  # warm up: the session and anything cached once per process
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context)


def add_doctors(count: int) -> None:
    for doctor in DoctorFactory.create_batch(count):
        PatientFactory(doctor=doctor)
        services.pix_key_set(doctor=doctor, key_type="email", key=f"pix.{doctor.pk}@example.com")


def add_patients(count: int, **kwargs) -> None:
    # Without `doctor`, every patient gets a doctor of their own: the admin's list
    # then names a different doctor on every row.
    PatientFactory.create_batch(count, **kwargs)


@pytest.mark.parametrize(
    ("viewer", "url_name", "add_rows"),
    [
        ("admin_user", "accounts:doctor_list", add_doctors),
        ("admin_user", "accounts:patient_list", add_patients),
        ("admin_user", "dashboard", add_patients),
    ],
)
def test_admin_pages_keep_a_flat_query_count(request, client, viewer, url_name, add_rows):
    client.force_login(request.getfixturevalue(viewer))
    url = reverse(url_name)

    add_rows(FEW)
    few = queries_for(client, url)
    add_rows(MANY - FEW)
    many = queries_for(client, url)

    assert many == few


@pytest.mark.parametrize("url_name", ["accounts:patient_list", "dashboard"])
def test_doctor_pages_keep_a_flat_query_count(client, doctor, url_name):
    client.force_login(doctor)
    url = reverse(url_name)

    add_patients(FEW, doctor=doctor)
    few = queries_for(client, url)
    add_patients(MANY - FEW, doctor=doctor)
    many = queries_for(client, url)

    assert many == few


def test_the_patient_dashboard_keeps_a_flat_query_count(client, doctor, patient):
    client.force_login(patient)
    url = reverse("dashboard")

    add_patients(FEW, doctor=doctor)
    add_doctors(FEW)
    few = queries_for(client, url)
    add_patients(MANY - FEW, doctor=doctor)
    add_doctors(MANY - FEW)
    many = queries_for(client, url)

    assert many == few

"""Billing in the Django admin: read-only, money in reais, people by name, flat query counts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import services
from billing.models import (
    BillingRecord,
    BillingRecordEvent,
    BillingSettings,
    DoctorRate,
    RateChange,
)

from .factories import BillingRecordFactory, DoctorRateFactory, EndedRoomFactory

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"
MODELS = [BillingSettings, DoctorRate, RateChange, BillingRecord, BillingRecordEvent]
REASON = "Falha técnica na chamada"


def admin_url(model, view, *args):
    return reverse(f"admin:billing_{model._meta.model_name}_{view}", args=args)


def add_rows(admin_user, doctor, patient, count):
    """`count` more rows of every kind: records (each voided and restored), rates, changes."""
    from accounts.tests.factories import DoctorFactory, PatientFactory

    for i in range(count):
        someone = DoctorFactory(profile__title="dr") if i else doctor
        person = PatientFactory(doctor=someone) if i else patient
        record = BillingRecordFactory(room=EndedRoomFactory(doctor=someone, patient=person))
        services.record_void(record=record, by=admin_user, reason=REASON)
        services.record_restore(record=record, by=admin_user)
        services.doctor_rate_update(
            by=admin_user,
            doctor=someone,
            consultation_fee=Decimal("200.00") + i,
            platform_percentage=Decimal("25.00"),
        )


@pytest.fixture
def rows(admin_user, doctor, patient):
    add_rows(admin_user, doctor, patient, 1)
    services.billing_settings_update(
        by=admin_user,
        consultation_fee=Decimal("1234.56"),
        platform_percentage=Decimal("33.33"),
        min_billable_seconds=60,
    )
    return {model: model.objects.order_by("pk").first() for model in MODELS}


def queries(client, url):
    """Queries of a page load, once the session and the content types are cached."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.mark.parametrize("model", MODELS)
def test_billing_is_read_only_in_the_admin(admin_user, model):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = admin_user

    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)


@pytest.mark.parametrize("model", MODELS)
def test_every_billing_page_loads_with_as_many_queries_for_many_rows_as_for_one(
    client, admin_user, doctor, patient, rows, model
):
    client.force_login(admin_user)
    obj = rows[model]
    few = queries(client, admin_url(model, "changelist"))
    one = queries(client, admin_url(model, "change", obj.pk))

    add_rows(admin_user, doctor, patient, 8)

    assert queries(client, admin_url(model, "changelist")) == few
    assert queries(client, admin_url(model, "change", obj.pk)) == one
    assert few <= 10 and one <= 10


@pytest.mark.parametrize("model", MODELS)
def test_nothing_is_added_changed_or_deleted_through_the_admin(client, admin_user, rows, model):
    client.force_login(admin_user)
    obj = rows[model]
    before = list(model.objects.values())

    changelist = client.get(admin_url(model, "changelist")).content.decode()
    change = client.get(admin_url(model, "change", obj.pk)).content.decode()

    assert admin_url(model, "add") not in changelist
    assert "delete_selected" not in changelist
    assert admin_url(model, "delete", obj.pk) not in change
    assert client.get(admin_url(model, "add")).status_code == 403
    assert client.post(admin_url(model, "add"), {}).status_code == 403
    assert client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert client.post(admin_url(model, "change", obj.pk), {"reason": "x"}).status_code == 403
    client.post(
        admin_url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert list(model.objects.values()) == before


@pytest.mark.parametrize("who", ["doctor", "patient"])
def test_only_admins_reach_the_billing_admin(request, client, rows, who):
    client.force_login(request.getfixturevalue(who))

    response = client.get(admin_url(BillingRecord, "changelist"))

    assert response.status_code == 302
    assert reverse("admin:login") in response.url


def test_the_records_list_names_people_and_shows_reais(client, admin_user, rows):
    client.force_login(admin_user)

    html = client.get(admin_url(BillingRecord, "changelist")).content.decode()

    assert "Dra. Ana Souza" in html
    assert "Carlos Pereira" in html
    for amount in ("150,00", "45,00", "105,00"):
        assert f"R${NBSP}{amount}" in html


def test_a_records_page_shows_its_money_and_its_corrections(client, admin_user, rows):
    client.force_login(admin_user)
    record = rows[BillingRecord]

    html = client.get(admin_url(BillingRecord, "change", record.pk)).content.decode()

    assert f"R${NBSP}150,00" in html and f"30{NBSP}%" in html
    assert "20 min" in html  # the time together, as the room says it
    assert html.count(REASON) == 1  # the void's reason, in its history (restored since)
    assert "Alice Administradora" in html
    assert "Anulado" in html and "Restaurado" in html


def test_rates_and_their_history_read_in_reais_and_percent(client, admin_user, rows):
    client.force_login(admin_user)

    history = client.get(admin_url(RateChange, "changelist")).content.decode()
    rates = client.get(admin_url(DoctorRate, "changelist")).content.decode()
    clinic = client.get(admin_url(BillingSettings, "change", 1)).content.decode()

    assert f"R${NBSP}1.234,56" in history and f"33,33{NBSP}%" in history
    assert "padrão da clínica" in history  # the doctor's fee before their own rate
    assert "Valores padrão da clínica" in history  # a change to the defaults: nobody's rate
    assert "Dra. Ana Souza" in history and "Alice Administradora" in history
    assert f"R${NBSP}200,00" in rates and "Dra. Ana Souza" in rates
    assert f"R${NBSP}1.234,56" in clinic
    assert reverse("billing:rates_defaults") in clinic


def test_a_doctors_rate_page_links_to_where_it_is_changed(client, admin_user, doctor, rows):
    client.force_login(admin_user)

    html = client.get(admin_url(DoctorRate, "change", rows[DoctorRate].pk)).content.decode()

    assert reverse("billing:doctor_rate", args=[doctor.pk]) in html


def test_a_rate_left_to_the_default_says_so(client, admin_user, other_doctor):
    DoctorRateFactory(doctor=other_doctor, platform_percentage=Decimal("12.50"))
    client.force_login(admin_user)

    html = client.get(admin_url(DoctorRate, "changelist")).content.decode()

    assert "padrão da clínica" in html and f"12,5{NBSP}%" in html


def changelist_records(client, **query):
    response = client.get(admin_url(BillingRecord, "changelist"), query)
    assert response.status_code == 200, query
    return set(response.context["cl"].result_list)


def test_records_are_found_by_name_doctor_situation_and_local_month(
    client, admin_user, doctor, patient, other_doctor, other_patient
):
    late_october = BillingRecordFactory(
        room=EndedRoomFactory(
            doctor=doctor, patient=patient, ended_at=dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC)
        )
    )
    november = BillingRecordFactory(
        room=EndedRoomFactory(
            doctor=other_doctor,
            patient=other_patient,
            ended_at=dt.datetime(2026, 11, 1, 3, 30, tzinfo=dt.UTC),
        )
    )
    services.record_void(record=november, by=admin_user, reason=REASON)
    client.force_login(admin_user)

    assert changelist_records(client, q="Carlos") == {late_october}
    assert changelist_records(client, q="Lima") == {november}  # the doctor's surname
    assert changelist_records(client, q="Ninguém") == set()
    assert changelist_records(client, doctor=other_doctor.pk) == {november}
    assert changelist_records(client, situation="voided") == {november}
    assert changelist_records(client, situation="counted") == {late_october}
    # 23:30 on 31 October in São Paulo is October's, in the admin too.
    assert changelist_records(client, ended_at__year=2026, ended_at__month=10) == {late_october}
    assert changelist_records(client, ended_at__year=2026, ended_at__month=11) == {november}


def test_the_doctor_filter_lists_the_doctors_with_records_by_name(
    client, admin_user, doctor, other_doctor, rows
):
    client.force_login(admin_user)

    response = client.get(admin_url(BillingRecord, "changelist"))

    (doctors,) = [f for f in response.context["cl"].filter_specs if f.parameter_name == "doctor"]
    assert doctors.lookup_choices == [(doctor.pk, "Dra. Ana Souza")]
    assert client.get(admin_url(BillingRecord, "changelist"), {"doctor": "x"}).status_code == 200


def test_billing_is_in_the_admin_index(client, admin_user):
    client.force_login(admin_user)

    html = client.get(reverse("admin:index")).content.decode()

    for model in MODELS:
        assert admin_url(model, "changelist") in html
    assert "Faturamento" in html

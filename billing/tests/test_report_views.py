"""The doctor's billing page, the clinic's revenue, the drill-down, voiding and restoring."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import DoctorFactory, PatientFactory
from billing import services
from billing.models import BillingRecord, BillingRecordEvent, RecordAction
from billing.selectors import clinic_zone
from rooms.models import Room

from .report_fixtures import ended_room, local, many_records, record

pytestmark = pytest.mark.django_db

DOCTOR_PAGE = reverse("billing:doctor_billing")
REVENUE = reverse("billing:revenue")


def _this_month(day=10, hour=10):
    today = timezone.localdate(timezone.now(), clinic_zone())
    return local(today.year, today.month, min(day, today.day), hour)


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def _text(response) -> str:
    return response.content.decode()


# --- The doctor's page -------------------------------------------------------------


def test_the_doctor_sees_their_month_with_totals(client, doctor, patient, other_doctor):
    record(doctor=doctor, patient=patient, ended_at=local(2026, 10, 5, 14, 30))
    record(doctor=doctor, patient=patient, ended_at=local(2026, 10, 20), fee="200.00")
    record(doctor=doctor, patient=patient, ended_at=local(2026, 9, 30, 23))  # September
    other = PatientFactory(doctor=other_doctor, first_name="Zuleica")
    record(doctor=other_doctor, patient=other, ended_at=local(2026, 10, 6))
    client.force_login(doctor)

    response = client.get(DOCTOR_PAGE, {"month": "2026-10"})

    assert response.status_code == 200
    assert [row.ended_at for row in response.context["page_obj"].object_list] == [
        local(2026, 10, 20),
        local(2026, 10, 5, 14, 30),
    ]
    totals = response.context["totals"]
    assert totals == {
        "consultations": 2,
        "gross": Decimal("350.00"),
        "platform": Decimal("105.00"),
        "doctors": Decimal("245.00"),
    }
    page = _text(response)
    assert "outubro de 2026" in page
    assert "05/10/2026 14:30" in page
    assert "32 min" in page
    assert "R$\xa0350,00" in page and "R$\xa0245,00" in page
    assert "Zuleica" not in page


def test_a_consultation_late_on_the_last_day_counts_in_that_local_month(client, doctor, patient):
    # 23:30 on 31 October in São Paulo is 02:30 on 1 November in UTC.
    late = local(2026, 10, 31, 23, 30)
    assert late.astimezone(dt.UTC).month == 11
    record(doctor=doctor, patient=patient, ended_at=late)
    client.force_login(doctor)

    october = client.get(DOCTOR_PAGE, {"month": "2026-10"})
    november = client.get(DOCTOR_PAGE, {"month": "2026-11"})

    assert october.context["totals"]["consultations"] == 1
    assert november.context["totals"]["consultations"] == 0
    assert "31/10/2026 23:30" in _text(october)


def test_the_current_local_month_is_the_default(client, doctor, patient):
    record(doctor=doctor, patient=patient, ended_at=_this_month())
    client.force_login(doctor)
    response = client.get(DOCTOR_PAGE)
    assert response.context["period"].month == _this_month().date().replace(day=1)
    assert response.context["totals"]["consultations"] == 1


def test_voided_records_and_no_shows_are_listed_apart(client, doctor, patient, admin_user):
    kept = record(doctor=doctor, patient=patient, ended_at=local(2026, 10, 5))
    voided = record(doctor=doctor, patient=patient, ended_at=local(2026, 10, 6), fee="99.00")
    services.record_void(record=voided, by=admin_user, reason="Falha técnica na chamada")
    ended_room(doctor=doctor, patient=patient, ended_at=local(2026, 10, 7, 9), call=False)
    # Both were there, but not long enough for a record: also not held.
    ended_room(doctor=doctor, patient=patient, ended_at=local(2026, 10, 8, 9), call=True)
    ended_room(doctor=doctor, patient=patient, ended_at=local(2026, 11, 1, 9), call=False)
    client.force_login(doctor)

    response = client.get(DOCTOR_PAGE, {"month": "2026-10"})

    assert [row.pk for row in response.context["page_obj"].object_list] == [kept.pk]
    assert [row.pk for row in response.context["voided_records"]] == [voided.pk]
    assert response.context["totals"]["gross"] == Decimal("150.00")
    assert response.context["no_show_count"] == 2
    page = _text(response)
    assert "Falha técnica na chamada" in page
    voided_table = page[page.index("billing-voided") :]
    assert (
        "R$\xa099,00" in voided_table and "R$\xa099,00" not in page[: page.index("billing-voided")]
    )
    assert "não realizada" in page
    # A doctor never gets the admin's actions.
    assert reverse("billing:record_void", args=[kept.pk]) not in page


def test_the_month_picker_links_to_the_months_around(client, doctor):
    client.force_login(doctor)
    page = _text(client.get(DOCTOR_PAGE, {"month": "2026-01"}))
    assert '?month=2025-12"' in page and '?month=2026-02"' in page
    assert 'method="get"' in page


def test_the_chart_shows_twelve_months_of_net_earnings(client, doctor, patient):
    now = _this_month()
    record(doctor=doctor, patient=patient, ended_at=now)
    old = now - dt.timedelta(days=400)  # outside the 12 months
    record(doctor=doctor, patient=patient, ended_at=old)
    client.force_login(doctor)

    response = client.get(DOCTOR_PAGE)

    chart = response.context["chart"]
    assert len(chart["labels"]) == 12
    assert chart["datasets"][0]["values"][-1] == "105.00"
    assert sum(Decimal(v) for v in chart["datasets"][0]["values"]) == Decimal("105.00")
    page = _text(response)
    assert 'id="doctor-earnings-data"' in page
    assert "<canvas" in page and 'data-chart="doctor-earnings-data"' in page
    assert "chart.umd.min" in page and "defer" in page


def test_a_doctor_with_nothing_gets_guidance_not_a_blank_chart(client, doctor):
    client.force_login(doctor)
    response = client.get(DOCTOR_PAGE)
    page = _text(response)
    assert response.context["chart"]["empty"]
    assert "<canvas" not in page
    assert "Ainda não há ganhos nos últimos 12 meses" in page
    assert "Cada consulta que você finalizar" in page


def test_the_doctor_sees_their_own_rate(client, doctor):
    client.force_login(doctor)
    response = client.get(DOCTOR_PAGE)
    assert response.context["rate"].consultation_fee == Decimal("150.00")
    assert "R$\xa0105,00" in _text(response)


def test_an_admin_is_sent_to_the_revenue_and_a_patient_refused(client, admin_user, patient):
    client.force_login(admin_user)
    assert client.get(DOCTOR_PAGE).url == REVENUE
    client.force_login(patient)
    assert client.get(DOCTOR_PAGE).status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "month=2026-13",
        "month=../",
        "month=9999-01",
        "month=0000-01",
        "month=2026-01&month=2026-02",
        "month=%00",
    ],
)
def test_a_bad_month_is_a_message_and_the_default_month(client, doctor, query):
    client.force_login(doctor)
    response = client.get(f"{DOCTOR_PAGE}?{query}")
    assert response.status_code == 200
    assert response.context["period"].month == _this_month().date().replace(day=1)
    page = _text(response)
    assert 'class="alert alert-warning' in page
    assert "Mostrando" in page


# --- The clinic's revenue ------------------------------------------------------------


@pytest.fixture
def clinic(doctor, patient, other_doctor, other_patient, admin_user):
    """Two doctors, records over two months, a voided one and no-shows."""
    now = _this_month(day=1, hour=12)
    last_month = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=5)
    earlier = local(last_month.year, last_month.month, last_month.day)
    record(doctor=doctor, patient=patient, ended_at=now)
    record(doctor=doctor, patient=patient, ended_at=now, fee="100.00", percentage="50.00")
    record(doctor=other_doctor, patient=other_patient, ended_at=now, fee="200.00")
    record(doctor=doctor, patient=patient, ended_at=earlier)
    voided = record(doctor=other_doctor, patient=other_patient, ended_at=now, fee="80.00")
    services.record_void(record=voided, by=admin_user, reason="Consulta de cortesia")
    ended_room(doctor=doctor, patient=patient, ended_at=now, call=False)
    ended_room(doctor=other_doctor, patient=other_patient, ended_at=earlier, call=False)
    return {"now": now, "earlier": earlier, "voided": voided}


def test_revenue_by_month_with_no_shows(client, admin_user, clinic):
    client.force_login(admin_user)
    response = client.get(REVENUE)
    assert response.status_code == 200
    months = response.context["months"]
    assert len(months) == 12
    this, last = months[0], months[1]  # newest first
    assert (this.consultations, this.gross, this.platform, this.doctors, this.no_shows) == (
        3,
        Decimal("450.00"),
        Decimal("155.00"),
        Decimal("295.00"),
        1,
    )
    assert (last.consultations, last.gross, last.no_shows) == (1, Decimal("150.00"), 1)
    assert all(m.consultations == 0 for m in months[2:])
    chart = response.context["chart"]
    assert [d["key"] for d in chart["datasets"]] == ["gross", "platform"]
    assert chart["datasets"][0]["values"][-2:] == ["150.00", "450.00"]
    page = _text(response)
    assert 'data-chart="clinic-revenue-data"' in page
    assert "R$\xa0450,00" in page
    # The ten empty months read as one line each on a phone, not a card of zeros.
    assert page.count('class="billing-month-empty"') == 10
    assert page.count("Sem consultas") == 10
    # The no-shows' column, by month and by doctor, and its cells.
    assert page.count('<th scope="col" class="text-md-end">Não realizadas</th>') == 2
    assert '<td data-label="Não realizadas" class="text-md-end">1</td>' in page


def test_a_clinic_with_nothing_billed_gets_guidance_not_a_blank_chart(client, admin_user):
    client.force_login(admin_user)
    response = client.get(REVENUE)
    page = _text(response)

    assert response.context["chart"]["empty"] and "<canvas" not in page
    assert "Ainda nada faturado nos últimos 12 meses." in page
    assert "Quando os médicos finalizarem consultas, o gráfico se preenche mês a mês." in page
    assert "Nenhuma consulta encerrada em" in page


def test_revenue_by_doctor_for_a_month_links_each_to_the_drill_down(
    client, admin_user, clinic, doctor, other_doctor
):
    client.force_login(admin_user)
    month = clinic["now"].strftime("%Y-%m")
    response = client.get(REVENUE, {"month": month})
    rows = {row.doctor: row for row in response.context["doctor_rows"]}
    assert (rows[doctor].consultations, rows[doctor].gross, rows[doctor].no_shows) == (
        2,
        Decimal("250.00"),
        1,
    )
    assert (rows[other_doctor].consultations, rows[other_doctor].gross) == (1, Decimal("200.00"))
    assert response.context["doctor_totals"]["gross"] == Decimal("450.00")
    page = _text(response)
    assert f'{reverse("billing:revenue_doctor", args=[doctor.pk])}?month={month}"' in page
    assert f'{reverse("billing:revenue_export")}?month={month}"' in page
    assert "data-print" in page


def test_revenue_by_doctor_for_a_date_range(client, admin_user, clinic, doctor):
    client.force_login(admin_user)
    day = clinic["earlier"].date()
    response = client.get(REVENUE, {"start": day.isoformat(), "end": day.isoformat()})
    rows = response.context["doctor_rows"]
    assert [(r.doctor, r.consultations, r.no_shows) for r in rows] == [
        (doctor, 1, 0),
        (rows[1].doctor, 0, 1),
    ]
    assert f"start={day.isoformat()}&amp;end={day.isoformat()}" in _text(response)


def test_revenue_for_one_doctor(client, admin_user, clinic, doctor):
    client.force_login(admin_user)
    response = client.get(REVENUE, {"doctor": doctor.pk})
    assert [r.doctor for r in response.context["doctor_rows"]] == [doctor]
    assert f"doctor={doctor.pk}" in response.context["export_query"]
    # The month-by-month table and the chart are that doctor's too, and say so.
    this, last = response.context["months"][:2]
    assert (this.consultations, this.gross, this.no_shows) == (2, Decimal("250.00"), 1)
    assert (last.consultations, last.no_shows) == (1, 0)
    assert response.context["chart"]["datasets"][0]["values"][-1] == "250.00"
    assert f"Mês a mês · {doctor.display_name}" in _text(response)


@pytest.mark.parametrize(
    "query",
    [
        "month=2026-13",
        "month=../",
        "month=9999-01",
        "start=2026-03-01&end=2026-01-01",
        "start=2000-01-01&end=2026-01-01",
        "start=2026-01-01",
        "doctor=abc",
        "doctor=999999",
        "doctor=1&doctor=2",
    ],
)
def test_bad_revenue_params_are_a_message_never_a_500(client, admin_user, clinic, query):
    client.force_login(admin_user)
    response = client.get(f"{REVENUE}?{query}")
    assert response.status_code == 200
    assert response.context["form"].problems
    assert 'class="alert alert-warning' in _text(response)
    assert response.context["doctor_rows"], "falls back to the default period, every doctor"


# --- The drill-down ------------------------------------------------------------------


def test_the_drill_down_lists_the_doctors_records_with_their_actions(
    client, admin_user, clinic, doctor
):
    client.force_login(admin_user)
    month = clinic["now"].strftime("%Y-%m")
    url = reverse("billing:revenue_doctor", args=[doctor.pk])
    response = client.get(url, {"month": month})
    assert response.status_code == 200
    records = list(response.context["page_obj"].object_list)
    assert len(records) == 2
    assert {r.pk for r in records} <= set(doctor.billing_records.values_list("pk", flat=True))
    assert response.context["no_show_count"] == 1
    page = _text(response)
    for r in records:
        assert f'{reverse("billing:record_void", args=[r.pk])}?month={month}"' in page


def test_the_drill_down_offers_restore_for_a_voided_record(
    client, admin_user, clinic, other_doctor
):
    client.force_login(admin_user)
    voided = clinic["voided"]
    url = reverse("billing:revenue_doctor", args=[other_doctor.pk])
    page = _text(client.get(url, {"month": clinic["now"].strftime("%Y-%m")}))
    assert reverse("billing:record_restore", args=[voided.pk]) in page
    assert "csrfmiddlewaretoken" in page
    assert "Consulta de cortesia" in page


def test_the_drill_down_of_an_unknown_or_non_doctor_is_a_404(client, admin_user, patient):
    client.force_login(admin_user)
    for pk in (patient.pk, admin_user.pk, 999999):
        assert client.get(reverse("billing:revenue_doctor", args=[pk])).status_code == 404


def test_the_drill_down_with_a_bad_period_shows_a_message(client, admin_user, doctor):
    client.force_login(admin_user)
    url = reverse("billing:revenue_doctor", args=[doctor.pk])
    response = client.get(url, {"month": "2026-13"})
    assert response.status_code == 200
    assert response.context["form"].problems


# --- Voiding and restoring -----------------------------------------------------------


@pytest.fixture
def a_record(doctor, patient):
    return record(doctor=doctor, patient=patient, ended_at=local(2026, 10, 5, 14, 30))


def _void_url(r, query="month=2026-10"):
    return f"{reverse('billing:record_void', args=[r.pk])}?{query}"


def test_the_void_form_shows_the_record(client, admin_user, a_record):
    client.force_login(admin_user)
    response = client.get(_void_url(a_record))
    page = _text(response)
    assert response.status_code == 200
    assert "Carlos Pereira" in page and "05/10/2026 14:30" in page
    assert "<textarea" in page and "required" in page
    back = f"{reverse('billing:revenue_doctor', args=[a_record.doctor_id])}?month=2026-10"
    assert f'href="{back}"' in page


def test_voiding_redirects_to_the_drill_down_with_a_message(client, admin_user, a_record):
    client.force_login(admin_user)
    response = client.post(_void_url(a_record), {"reason": "Falha técnica no vídeo"})
    assert response.status_code == 302
    assert response.url == (
        f"{reverse('billing:revenue_doctor', args=[a_record.doctor_id])}?month=2026-10"
    )
    assert "anulado" in " ".join(_messages(response)).lower()
    a_record.refresh_from_db()
    assert a_record.is_voided and a_record.void_reason == "Falha técnica no vídeo"
    assert a_record.voided_by == admin_user


def test_without_a_period_the_redirect_goes_to_the_records_own_month(client, admin_user, a_record):
    client.force_login(admin_user)
    url = reverse("billing:record_void", args=[a_record.pk])
    response = client.post(url, {"reason": "Falha técnica no vídeo"})
    assert response.url.endswith("?month=2026-10")


@pytest.mark.parametrize("reason", ["", "   ", "abc", "x" * 1001])
def test_an_invalid_reason_changes_nothing(client, admin_user, a_record, reason):
    client.force_login(admin_user)
    response = client.post(_void_url(a_record), {"reason": reason})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "is-invalid" in _text(response) or "alert-danger" in _text(response)
    a_record.refresh_from_db()
    assert not a_record.is_voided
    assert not BillingRecordEvent.objects.exists()


def test_double_submit_back_and_reload_void_once(client, admin_user, a_record):
    client.force_login(admin_user)
    first = client.post(_void_url(a_record), {"reason": "Falha técnica no vídeo"})
    again = client.post(_void_url(a_record), {"reason": "Outro motivo qualquer"})
    assert first.status_code == again.status_code == 302
    assert "nada mudou" in " ".join(_messages(again))
    a_record.refresh_from_db()
    assert a_record.void_reason == "Falha técnica no vídeo"
    assert BillingRecordEvent.objects.filter(action=RecordAction.VOID).count() == 1


def test_the_form_of_an_already_voided_record_says_so(client, admin_user, a_record):
    services.record_void(record=a_record, by=admin_user, reason="Consulta de cortesia")
    client.force_login(admin_user)
    page = _text(client.get(_void_url(a_record)))
    assert "já está anulado" in page
    assert reverse("billing:record_restore", args=[a_record.pk]) in page


def test_a_locked_record_shows_the_services_message(client, admin_user, a_record, monkeypatch):
    monkeypatch.setattr(services, "record_is_locked", lambda record: True)
    client.force_login(admin_user)
    response = client.post(_void_url(a_record), {"reason": "Falha técnica no vídeo"})
    assert response.status_code == 200
    assert "fechamento mensal pago" in _text(response)
    a_record.refresh_from_db()
    assert not a_record.is_voided


def test_restoring_redirects_with_a_message_and_writes_once(client, admin_user, a_record):
    services.record_void(record=a_record, by=admin_user, reason="Consulta de cortesia")
    client.force_login(admin_user)
    url = f"{reverse('billing:record_restore', args=[a_record.pk])}?month=2026-10"
    first = client.post(url)
    assert first.status_code == 302
    assert first.url.endswith(f"/doctors/{a_record.doctor_id}/?month=2026-10")
    assert "restaurado" in " ".join(_messages(first)).lower()
    again = client.post(url)
    assert "nada mudou" in " ".join(_messages(again))
    a_record.refresh_from_db()
    assert not a_record.is_voided
    assert BillingRecordEvent.objects.filter(action=RecordAction.RESTORE).count() == 1


def test_restore_is_post_only(client, admin_user, a_record):
    client.force_login(admin_user)
    assert client.get(reverse("billing:record_restore", args=[a_record.pk])).status_code == 405


def test_voiding_another_page_is_refused_to_doctors(client, doctor, a_record):
    client.force_login(doctor)
    response = client.post(_void_url(a_record), {"reason": "Falha técnica no vídeo"})
    assert response.status_code == 403
    a_record.refresh_from_db()
    assert not a_record.is_voided


def test_an_unknown_record_is_a_404(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("billing:record_void", args=[999999])).status_code == 404
    assert client.post(reverse("billing:record_restore", args=[999999])).status_code == 404


# --- Query counts stay flat ----------------------------------------------------------


def _pages(doctor, record_pk):
    month = _this_month().strftime("%Y-%m")
    return {
        "doctor": (doctor, DOCTOR_PAGE),
        "revenue": (None, f"{REVENUE}?month={month}"),
        "drill-down": (
            None,
            f"{reverse('billing:revenue_doctor', args=[doctor.pk])}?month={month}",
        ),
        "export": (None, f"{reverse('billing:revenue_export')}?month={month}"),
        "void": (None, reverse("billing:record_void", args=[record_pk])),
    }


def _count_queries(client, admin_user, doctor, path_owner, path, django_assert_max_num_queries):
    client.force_login(path_owner or admin_user)
    client.get(path)  # the session's first touch is a write of its own: not the page's
    with django_assert_max_num_queries(1000) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("page", ["doctor", "revenue", "drill-down", "export", "void"])
def test_query_counts_stay_flat_from_10_to_10000_records(
    client, admin_user, doctor, patient, page, django_assert_max_num_queries
):
    ended_at = _this_month(day=1, hour=8)
    many_records(doctor=doctor, patient=patient, count=10, ended_at=ended_at, voided_by=admin_user)
    for i in range(3):
        ended_room(
            doctor=doctor, patient=patient, ended_at=ended_at + dt.timedelta(hours=i), call=False
        )
    other = DoctorFactory()
    many_records(doctor=other, patient=PatientFactory(doctor=other), count=10, ended_at=ended_at)
    first = doctor.billing_records.first().pk
    owner, path = _pages(doctor, first)[page]
    small = _count_queries(client, admin_user, doctor, owner, path, django_assert_max_num_queries)

    many_records(
        doctor=doctor,
        patient=patient,
        count=9_990,
        ended_at=ended_at + dt.timedelta(days=1),
        voided_by=admin_user,
    )
    for i in range(20):
        ended_room(
            doctor=doctor,
            patient=patient,
            ended_at=ended_at + dt.timedelta(hours=5 + i),
            call=False,
        )
    for _ in range(5):
        extra = DoctorFactory()
        many_records(doctor=extra, patient=PatientFactory(doctor=extra), count=3, ended_at=ended_at)

    # A month on one page reads its voided records with its counted ones; a month
    # of many pages reads them apart, and counts them when there are more than are
    # shown: two queries more, however many records.
    apart = 2 if page in ("doctor", "drill-down") else 0
    with django_assert_max_num_queries(small + apart):
        client.get(path)


@pytest.mark.parametrize("page_size", [50, 2])
def test_a_month_on_one_page_is_read_in_one_query_fewer(
    client, doctor, patient, admin_user, monkeypatch, page_size, django_assert_max_num_queries
):
    monkeypatch.setattr("billing.views.reports.RECORDS_PAGE_SIZE", page_size)
    now = _this_month(day=1, hour=12)
    voided = [record(doctor=doctor, patient=patient, ended_at=now) for _ in range(2)]
    for row in voided:
        services.record_void(record=row, by=admin_user, reason="Falha técnica")
    counted = [
        record(doctor=doctor, patient=patient, ended_at=now + dt.timedelta(hours=i))
        for i in range(3)
    ]
    client.force_login(doctor)
    client.get(DOCTOR_PAGE)

    with django_assert_max_num_queries(1000) as captured:
        response = client.get(DOCTOR_PAGE)

    context = response.context
    shown = counted[::-1][:page_size]
    assert [row.pk for row in context["page_obj"].object_list] == [r.pk for r in shown]
    assert sorted(row.pk for row in context["voided_records"]) == sorted(r.pk for r in voided)
    assert context["voided_count"] == 2
    listing = [
        q["sql"] for q in captured.captured_queries if '"billing_billingrecord"."id" AS' in q["sql"]
    ]
    assert len(listing) == (1 if page_size == 50 else 2)


def test_long_lists_apart_show_the_latest_and_count_them_all(
    client, doctor, patient, admin_user, monkeypatch
):
    monkeypatch.setattr("billing.views.reports.APART_SHOWN", 2)
    now = _this_month(day=1, hour=12)
    for _ in range(3):
        voided = record(doctor=doctor, patient=patient, ended_at=now)
        services.record_void(record=voided, by=admin_user, reason="Falha técnica")
    for _ in range(2):
        ended_room(doctor=doctor, patient=patient, ended_at=now, call=False)
    counted = [record(doctor=doctor, patient=patient, ended_at=now) for _ in range(3)]
    client.force_login(doctor)

    response = client.get(DOCTOR_PAGE)

    context = response.context
    assert (len(context["voided_records"]), context["voided_count"]) == (2, 3)
    assert (len(context["no_shows"]), context["no_show_count"]) == (2, 2)
    # The pages' count is the month's totals, not a query of its own.
    assert context["page_obj"].paginator.count == len(counted) == context["totals"]["consultations"]
    assert len(context["page_obj"].object_list) == 3
    assert "Mostrando os 2 mais recentes de 3." in _text(response)


def test_each_consultation_not_held_says_why(client, doctor, patient):
    now = _this_month(day=1, hour=12)
    ended_room(doctor=doctor, patient=patient, ended_at=now, call=False)
    short = ended_room(doctor=doctor, patient=patient, ended_at=now)
    Room.objects.filter(pk=short.pk).update(both_present_seconds=90)
    client.force_login(doctor)

    page = _text(client.get(DOCTOR_PAGE)).replace("\xa0", " ")

    assert "médico e paciente não estiveram juntos na chamada" in page
    assert "juntos só 2 min, menos que o mínimo da clínica" in page


def test_a_page_whose_count_is_out_of_date_reads_its_records_apart(doctor, patient, admin_user):
    """The totals are an earlier query: a record added or voided since, and the one
    query's rows no longer match the page's count."""
    from billing.views.reports import CountedPaginator, _all_on_one_page

    now = _this_month(day=1, hour=12)
    counted = [record(doctor=doctor, patient=patient, ended_at=now) for _ in range(3)]
    services.record_void(
        record=record(doctor=doctor, patient=patient, ended_at=now),
        by=admin_user,
        reason="Falha técnica",
    )
    in_period = BillingRecord.objects.filter(doctor=doctor)

    def split(count):
        page = CountedPaginator(in_period, 50, count=count).get_page(1)
        return _all_on_one_page(in_period, page)

    assert split(2) is None and split(4) is None
    rows, voided = split(3)
    assert sorted(r.pk for r in rows) == sorted(r.pk for r in counted) and len(voided) == 1

"""The records table's rows, written in Python (billing.tables): what the template
loop printed, escaped the same way."""

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import _strftime_pattern, short_datetime_writer
from accounts.tests.factories import PatientFactory
from billing import services, tables
from billing.models import BillingRecord
from billing.selectors import listed

from .factories import BillingRecordFactory, EndedRoomFactory

pytestmark = pytest.mark.django_db
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def _rows(**kwargs) -> list[str]:
    records = listed(BillingRecord.objects.all(), voided=kwargs.get("voided", False))
    with translation.override("pt-br"), timezone.override(SAO_PAULO):
        return [str(row) for row in tables.records_table(records, **kwargs).rows]


def test_a_row_shows_the_consultation_as_people_read_it(doctor, patient):
    ended = dt.datetime(2026, 10, 31, 23, 30, tzinfo=SAO_PAULO)
    BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, patient=patient, ended_at=ended))

    (row,) = _rows()

    assert '<td data-label="Data e hora">31/10/2026 23:30</td>' in row
    assert '<td data-label="Paciente">Carlos Pereira</td>' in row
    assert '<td data-label="Duração">20 min</td>' in row
    assert '<td data-label="Valor bruto" class="text-md-end text-nowrap">R$\xa0150,00</td>' in row
    assert "R$\xa045,00" in row and "R$\xa0105,00" in row
    assert "billing-actions" not in row and "billing-reason" not in row


def test_every_value_is_escaped(doctor):
    patient = PatientFactory(first_name='<script>alert("x")</script>', last_name="", doctor=doctor)
    BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, patient=patient))

    (row,) = _rows(actions=True, query='month=2026-10&"><b>')

    assert "<script>" not in row and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in row
    assert '"><b>' not in row and "&amp;&quot;&gt;&lt;b&gt;" in row


def test_a_patient_without_a_name_is_their_email(doctor):
    patient = PatientFactory(
        first_name="", last_name="", email="sem.nome@example.com", doctor=doctor
    )
    BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, patient=patient))

    (row,) = _rows()

    assert '<td data-label="Paciente">sem.nome@example.com</td>' in row


def test_a_voided_row_says_why_who_and_when_and_offers_restore(doctor, patient, admin_user):
    record = BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, patient=patient))
    services.record_void(record=record, by=admin_user, reason="Falha <técnica>")
    record.refresh_from_db()
    voided_at = timezone.localtime(record.voided_at, SAO_PAULO).strftime("%d/%m/%Y %H:%M")

    (row,) = _rows(voided=True, actions=True, query="month=2026-10", csrf_token="tok&en")

    assert "Falha &lt;técnica&gt;" in row
    assert f"por Alice Administradora em {voided_at}" in row
    restore = reverse("billing:record_restore", args=[record.pk])
    assert f'<form method="post" action="{restore}?month=2026-10"' in row
    assert '<input type="hidden" name="csrfmiddlewaretoken" value="tok&amp;en">' in row
    assert reverse("billing:record_void", args=[record.pk]) not in row


def test_a_counted_row_links_to_voiding_it(doctor, patient):
    records = [
        BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, patient=patient))
        for _ in range(3)
    ]

    rows = _rows(actions=True, query="start=2026-10-01&end=2026-10-31")

    links = {re.search(r'href="([^"]+)"', row).group(1) for row in rows}
    assert links == {
        f"{reverse('billing:record_void', args=[r.pk])}?start=2026-10-01&amp;end=2026-10-31"
        for r in records
    }


def test_the_table_tag_passes_the_pages_csrf_token(doctor, patient, admin_user):
    record = BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, patient=patient))
    services.record_void(record=record, by=admin_user, reason="Teste")
    template = Template(
        "{% load billing_tags %}{% records_table records voided=True actions=True as t %}"
        "{% for row in t.rows %}{{ row }}{% endfor %}"
    )

    html = template.render(
        Context({"records": listed(BillingRecord.objects.all(), voided=True), "csrf_token": "abc"})
    )

    assert 'name="csrfmiddlewaretoken" value="abc"' in html
    assert "<form" in html  # the row was printed as markup, not escaped text


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_dates_are_written_as_djangos_date_filter_writes_them(language):
    value = dt.datetime(2026, 3, 7, 4, 5, tzinfo=dt.UTC)
    template = Template('{{ value|date:"SHORT_DATETIME_FORMAT" }}')
    with translation.override(language), timezone.override(SAO_PAULO):
        assert short_datetime_writer()(value) == template.render(Context({"value": value}))


def test_formats_strftime_cannot_write_go_to_django():
    assert _strftime_pattern("d/m/Y H:i") == "%d/%m/%Y %H:%M"
    assert _strftime_pattern("100% d") == "100%% %d"
    # A month's name, a 12-hour clock, an escaped letter: Django's own formatter.
    for django_format in ("j \\d\\e F", "m/d/Y P", "N j, Y"):
        assert _strftime_pattern(django_format) is None
    value = dt.datetime(2026, 3, 7, 16, 5, tzinfo=dt.UTC)
    with translation.override("en"), timezone.override(dt.UTC):
        assert short_datetime_writer()(value) == "03/07/2026 4:05 p.m."


def test_a_rows_url_is_the_reversed_one():
    void_url = tables._url_of("billing:record_void")
    for pk in (1, 9, 10, 2147483647, 98765):
        assert void_url(pk) == reverse("billing:record_void", args=[pk])


def test_month_options_are_escaped_and_mark_the_chosen_one():
    html = tables.month_options([("2026-10", "outubro de 2026", True), ('x"><i>', "<b>", False)])

    assert html == (
        '<option value="2026-10" selected>outubro de 2026</option>'
        '<option value="x&quot;&gt;&lt;i&gt;">&lt;b&gt;</option>'
    )


def test_a_no_show_says_why_nothing_was_billed(doctor):
    from billing.selectors import listed_no_shows, no_shows
    from rooms.models import Room

    patient = PatientFactory(first_name="<i>Ana</i>", last_name="", doctor=doctor)
    ended = dt.datetime(2026, 10, 8, 9, 15, tzinfo=SAO_PAULO)
    EndedRoomFactory(doctor=doctor, patient=patient, ended_at=ended, call_started_at=None)
    short = EndedRoomFactory(
        doctor=doctor, patient=patient, ended_at=ended, both_present_seconds=150
    )
    start, end = ended - dt.timedelta(days=1), ended + dt.timedelta(days=1)

    with translation.override("pt-br"), timezone.override(SAO_PAULO):
        html = str(tables.no_show_items(listed_no_shows(no_shows(start=start, end=end))))

    together, never = html.split("\n")  # the latest first: the same time, a higher pk
    assert never.startswith('<li><span class="text-nowrap">08/10/2026 09:15</span> · &lt;i&gt;Ana')
    assert "<i>" not in html and "não realizada" in never
    assert never.endswith("médico e paciente não estiveram juntos na chamada</span></li>")
    assert "juntos só 2 min, menos que o mínimo da clínica" in together
    assert short.pk > Room.objects.filter(call_started_at=None).get().pk


def test_a_charts_table_has_a_row_a_month_with_its_amounts():
    chart = {"rows": [{"label": "<b>out</b>", "values": [Decimal("1234.5"), Decimal("0")]}]}

    assert str(tables.chart_rows(chart)) == (
        '<tr><th scope="row" class="fw-normal">&lt;b&gt;out&lt;/b&gt;</th>'
        '<td class="text-end">R$\xa01.234,50</td><td class="text-end">R$\xa00,00</td></tr>'
    )

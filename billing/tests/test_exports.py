"""The revenue spreadsheet: the table shown, money as numbers, nothing that runs as a formula."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts.tests.factories import DoctorFactory, PatientFactory
from billing.exports import MONEY_FORMAT

from .report_fixtures import ended_room, local, record

pytestmark = pytest.mark.django_db

EXPORT = reverse("billing:revenue_export")


def _sheet(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return load_workbook(io.BytesIO(response.content)).active


@pytest.fixture
def october(doctor, patient, other_doctor, other_patient):
    record(doctor=doctor, patient=patient, ended_at=local(2026, 10, 5))
    record(doctor=doctor, patient=patient, ended_at=local(2026, 10, 31, 23, 30), fee="1234.56")
    record(doctor=other_doctor, patient=other_patient, ended_at=local(2026, 10, 9), fee="200.00")
    record(doctor=other_doctor, patient=other_patient, ended_at=local(2026, 11, 1, 0, 30))
    ended_room(doctor=other_doctor, patient=other_patient, ended_at=local(2026, 10, 9), call=False)


def test_the_export_is_the_per_doctor_table_with_money_as_numbers(
    client, admin_user, october, doctor, other_doctor, settings
):
    settings.CLINIC_NAME = "Clínica Boa Saúde"
    client.force_login(admin_user)
    response = client.get(EXPORT, {"month": "2026-10"})

    assert response["Content-Disposition"] == 'attachment; filename="receita-2026-10.xlsx"'
    sheet = _sheet(response)
    assert sheet["A1"].value == "Clínica Boa Saúde · Receita · outubro de 2026"
    headers = [cell.value for cell in sheet[4]]
    assert headers == [
        "Médico",
        "Consultas",
        "Valor bruto",
        "Taxa da clínica",
        "Repasse dos médicos",
        "Não realizadas",
    ]
    assert sheet["A4"].font.bold
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=5, max_row=6)]
    assert rows == [
        [doctor.display_name, 2, 1384.56, 415.37, 969.19, 0],
        [other_doctor.display_name, 1, 200, 60, 140, 1],
    ]
    for column in "CDE":
        cell = sheet[f"{column}5"]
        assert cell.data_type == "n", "money is a number, never text"
        assert cell.number_format == MONEY_FORMAT
    # The totals row adds the rows up in the spreadsheet itself.
    assert [sheet[f"{c}7"].value for c in "ABCDEF"] == [
        "Total",
        "=SUM(B5:B6)",
        "=SUM(C5:C6)",
        "=SUM(D5:D6)",
        "=SUM(E5:E6)",
        "=SUM(F5:F6)",
    ]
    assert sheet["C7"].number_format == MONEY_FORMAT
    assert sheet.freeze_panes == "A5"
    assert sheet.column_dimensions["A"].width >= len(doctor.display_name)
    assert sheet.column_dimensions["C"].width >= len("R$ 1.384,56")


def test_the_money_format_reads_the_brazilian_way():
    # In a format code "," groups and "." marks the decimals; the reader's locale
    # (pt-BR) draws them as "." and ",": R$ 1.234,56. The currency is a quoted literal.
    assert MONEY_FORMAT == '"R$" #,##0.00'


def test_the_money_is_exact_to_the_cent(client, admin_user, doctor, patient):
    for _ in range(3):
        record(doctor=doctor, patient=patient, ended_at=local(2026, 10, 5), fee="0.10")
    client.force_login(admin_user)
    sheet = _sheet(client.get(EXPORT, {"month": "2026-10"}))
    assert Decimal(str(sheet["C5"].value)) == Decimal("0.30")
    assert Decimal(str(sheet["D5"].value)) == Decimal("0.09")


def test_a_date_range_names_the_file_and_the_title(client, admin_user, october):
    client.force_login(admin_user)
    response = client.get(EXPORT, {"start": "2026-10-01", "end": "2026-11-30"})
    assert response["Content-Disposition"] == (
        'attachment; filename="receita-2026-10-01_2026-11-30.xlsx"'
    )
    sheet = _sheet(response)
    assert "01/10/2026 a 30/11/2026" in sheet["A1"].value
    assert sheet["B5"].value + sheet["B6"].value == 4


def test_the_export_follows_the_doctor_filter(client, admin_user, october, doctor):
    client.force_login(admin_user)
    sheet = _sheet(client.get(EXPORT, {"month": "2026-10", "doctor": doctor.pk}))
    assert sheet["A5"].value == doctor.display_name
    assert sheet["A6"].value == "Total"


def test_an_empty_period_is_a_sheet_with_a_zero_total(client, admin_user):
    client.force_login(admin_user)
    sheet = _sheet(client.get(EXPORT, {"month": "2020-01"}))
    assert sheet["A5"].value == "Total"
    assert sheet["C5"].value == 0


@pytest.mark.parametrize("query", ["month=2026-13", "month=../", "doctor=abc", "start=2026-02-01"])
def test_bad_params_export_the_default_period(client, admin_user, query):
    client.force_login(admin_user)
    response = client.get(f"{EXPORT}?{query}")
    assert response.status_code == 200
    assert "receita-" in response["Content-Disposition"]


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("http://x","y")', "+5511999", "-2+3", "@SUM(A1)"],
)
def test_a_name_never_becomes_a_formula(client, admin_user, name):
    doctor = DoctorFactory(first_name=name, last_name="")
    patient = PatientFactory(doctor=doctor)
    record(doctor=doctor, patient=patient, ended_at=local(2026, 10, 5))
    client.force_login(admin_user)
    sheet = _sheet(client.get(EXPORT, {"month": "2026-10"}))
    cell = sheet["A5"]
    assert cell.data_type == "s"
    assert cell.value.strip() == doctor.display_name.strip()
    assert cell.quotePrefix


@pytest.mark.parametrize("name", ["\tTab", "\rCR", "=1+1", "Ana Souza"])
def test_text_cells_are_strings_and_formula_starts_are_quoted(name):
    from billing.exports import revenue_workbook
    from billing.selectors import DoctorRevenue

    class Person:
        display_name = name

    rows = [DoctorRevenue(Person(), 1, Decimal("150.00"), Decimal("45.00"), Decimal("105.00"), 0)]
    content = revenue_workbook(rows=rows, period_label="=evil()", clinic_name="@clinic")
    sheet = load_workbook(io.BytesIO(content)).active
    # XML reads a lone CR back as a line feed; either way it is text.
    assert sheet["A5"].value == name.replace("\r", "\n") and sheet["A5"].data_type == "s"
    assert sheet["A5"].quotePrefix == (name[0] in "=\t\r")
    assert sheet["A1"].data_type == "s" and sheet["A1"].quotePrefix


def test_the_month_by_month_table_is_its_own_sheet(client, admin_user, october, monkeypatch):
    # The last 12 months up to "today", pinned so the fixture's October stays among them.
    monkeypatch.setattr("billing.views.reports.local_today", lambda: dt.date(2027, 3, 10))
    client.force_login(admin_user)
    response = client.get(EXPORT, {"month": "2026-10"})
    book = load_workbook(io.BytesIO(response.content))

    assert book.sheetnames == ["Receita", "Mês a mês"]
    sheet = book["Mês a mês"]
    assert [cell.value for cell in sheet[4]][0] == "Mês"
    rows = {
        row[0].value: [c.value for c in row[1:]] for row in sheet.iter_rows(min_row=5, max_row=16)
    }
    assert (
        len(rows) == 12 and list(rows)[0] == "março de 2027" and list(rows)[-1] == "abril de 2026"
    )
    # Late on 31 October in São Paulo counts in October, here as on the page.
    assert rows["outubro de 2026"] == [3, 1584.56, 475.37, 1109.19, 1]
    assert rows["novembro de 2026"][0] == 1
    assert sheet["C5"].number_format == MONEY_FORMAT and sheet["A17"].value == "Total"

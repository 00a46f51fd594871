"""The closings spreadsheets: the admin's month and a doctor's statement, read back
with openpyxl. The closings come from month_close and the payment steps, never
built by hand, so every total checked is one the database holds."""

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone, translation
from openpyxl import load_workbook

from accounts.tests.factories import AdminFactory, DoctorFactory
from billing.exports import MONEY_FORMAT
from billing.models import BillingRecord
from billing.tests.factories import BillingRecordFactory
from billing.tests.report_fixtures import local
from closings import services
from closings.exports import (
    closing_statement_workbook,
    month_filename,
    month_workbook,
    statement_filename,
)
from closings.models import ClosingStatus, MonthlyClosing

pytestmark = pytest.mark.django_db

NOVEMBER = dt.date(2025, 11, 1)
SHOWN = [ClosingStatus.PENDING, ClosingStatus.PAID, ClosingStatus.RECEIVED]
PAYMENT_HEADERS = [
    "Médico",
    "CRM/UF",
    "E-mail",
    "Consultas",
    "Valor bruto",
    "Taxa da clínica",
    "Valor líquido",
    "Tipo de chave",
    "Chave PIX",
    "Status",
    "Pago em",
    "Recebido em",
]
RECORD_HEADERS = [
    "Médico",
    "Data e hora",
    "Paciente",
    "Duração (min)",
    "Valor bruto",
    "Taxa da clínica",
    "Valor líquido",
]


def wall(*moment) -> dt.datetime:
    """A local moment as a spreadsheet cell holds it: the clinic's clock, no zone."""
    return local(*moment).replace(tzinfo=None)


def consultation(doctor, ended, fee="150.00", patient_name="Paciente", seconds=1920):
    return BillingRecordFactory(
        ended=ended,
        room__doctor=doctor,
        room__patient__first_name=patient_name,
        room__patient__last_name="Teste",
        room__both_present_seconds=seconds,
        consultation_fee=Decimal(fee),
    )


@pytest.fixture
def november(settings):
    """Ana: a received closing (2 consultations) and an additional pending one (1);
    Bruno, with no PIX key: a pending one; Carla: a cancelled one. Around them,
    consultations of October and of December that belong to no November closing."""
    settings.CLINIC_NAME = "Clínica Boa Saúde"
    admin = AdminFactory()
    ana = DoctorFactory(
        first_name="Ana",
        last_name="Souza",
        profile__title="dra",
        profile__crm="123456",
        profile__pix_key="12345678909",
        profile__pix_key_type="cpf",
    )
    bruno = DoctorFactory(first_name="Bruno", last_name="Lima", profile__crm="654321")
    carla = DoctorFactory(first_name="Carla", last_name="Dias")
    consultation(ana, local(2025, 11, 5, 10, 0), patient_name="Beatriz")
    # 23:30 in São Paulo on the 30th is 02:30 UTC on 1 December: still November.
    consultation(ana, local(2025, 11, 30, 23, 30), fee="1234.56", patient_name="Caio")
    consultation(ana, local(2025, 12, 1, 0, 30))
    consultation(bruno, local(2025, 11, 10, 9, 15), seconds=600, patient_name="Davi")
    consultation(bruno, local(2025, 10, 31, 12, 0))
    consultation(carla, local(2025, 11, 12, 14, 0))
    services.month_close(month=NOVEMBER)
    first = MonthlyClosing.objects.get(doctor=ana, month=NOVEMBER)
    services.closing_confirm_payment(closing=first, by=admin, paid_on=dt.date(2025, 12, 2))
    services.closing_confirm_receipt(closing=first, by=ana)
    # A consultation registered after the month's closing was paid: an additional closing.
    consultation(ana, local(2025, 11, 20, 16, 45), fee="200.00", patient_name="Elisa")
    services.month_close(month=NOVEMBER)
    services.closing_cancel(
        closing=MonthlyClosing.objects.get(doctor=carla), by=admin, reason="Duplicado por engano"
    )
    return {"admin": admin, "ana": ana, "bruno": bruno, "carla": carla}


def _book(content: bytes):
    return load_workbook(io.BytesIO(content))


def _values(sheet, row: int) -> list:
    return [cell.value for cell in sheet[row]]


def _summed(sheet, formula: str) -> Decimal:
    """What a `=SUM(X5:X9)` adds up, from the cells it names."""
    match = re.fullmatch(r"=SUM\(([A-Z]+)(\d+):\1(\d+)\)", formula)
    assert match, formula
    column, first, last = match.group(1), int(match.group(2)), int(match.group(3))
    return sum(
        (Decimal(str(sheet[f"{column}{row}"].value)) for row in range(first, last + 1)),
        Decimal("0"),
    )


def _is_red(cell) -> bool:
    color = cell.font.color
    return color is not None and isinstance(color.rgb, str) and color.rgb.endswith("B91C1C")


def _database_totals(**filters) -> dict:
    return MonthlyClosing.objects.filter(status__in=SHOWN, **filters).aggregate(
        count=Sum("consultation_count"),
        gross=Sum("gross_total"),
        platform=Sum("platform_total"),
        net=Sum("net_total"),
    )


def test_the_payments_sheet_has_one_row_per_closing_to_pay(november):
    ana, bruno = november["ana"], november["bruno"]
    received = MonthlyClosing.objects.get(doctor=ana, sequence=1)
    book = _book(month_workbook(month=NOVEMBER))

    assert book.sheetnames == ["Pagamentos", "Consultas"]
    sheet = book["Pagamentos"]
    assert sheet["A1"].value == "Clínica Boa Saúde · Pagamentos · novembro de 2025"
    assert sheet["A2"].value.startswith("Gerado em ")
    assert _values(sheet, 4) == PAYMENT_HEADERS
    assert sheet["A4"].font.bold and sheet["A4"].fill.fgColor.rgb.endswith("1D4ED8")
    # Cancelled (Carla) is left out; the additional closing says so.
    assert _values(sheet, 5)[:10] == [
        "Dra. Ana Souza", "123456/SP", ana.email, 2, 1384.56, 415.37, 969.19,
        "CPF", "123.456.789-09", "Recebido",
    ]  # fmt: skip
    assert _values(sheet, 6)[:10] == [
        "Dra. Ana Souza (adicional 2)", "123456/SP", ana.email, 1, 200, 60, 140,
        "CPF", "123.456.789-09", "Aguardando pagamento",
    ]  # fmt: skip
    assert _values(sheet, 7)[:10] == [
        "Bruno Lima", "654321/SP", bruno.email, 1, 150, 45, 105,
        None, "sem chave PIX", "Aguardando pagamento",
    ]  # fmt: skip
    assert _is_red(sheet["I7"]), "a missing key stands out"
    assert not _is_red(sheet["I5"])
    assert not any("Carla" in str(cell.value) for row in sheet.iter_rows() for cell in row)

    for column in "EFG":
        cell = sheet[f"{column}5"]
        assert cell.data_type == "n", "money is a number, never text"
        assert cell.number_format == MONEY_FORMAT
    assert sheet["K5"].value == wall(2025, 12, 2, 0, 0)  # a date cell (read back as midnight)
    assert sheet["K5"].number_format == "dd/mm/yyyy"
    received_here = timezone.localtime(received.received_at).replace(tzinfo=None)
    assert abs(sheet["L5"].value - received_here) < dt.timedelta(seconds=1)
    assert sheet["L5"].number_format == "dd/mm/yyyy hh:mm"
    assert sheet["K6"].value is None and sheet["L6"].value is None


def test_the_payments_totals_are_sums_that_add_up_to_the_closings(november):
    sheet = _book(month_workbook(month=NOVEMBER))["Pagamentos"]
    assert _values(sheet, 8)[:7] == [
        "Total", None, None, "=SUM(D5:D7)", "=SUM(E5:E7)", "=SUM(F5:F7)", "=SUM(G5:G7)",
    ]  # fmt: skip
    totals = _database_totals(month=NOVEMBER)
    assert _summed(sheet, sheet["D8"].value) == totals["count"] == 4
    assert _summed(sheet, sheet["E8"].value) == totals["gross"] == Decimal("1734.56")
    assert _summed(sheet, sheet["F8"].value) == totals["platform"]
    assert _summed(sheet, sheet["G8"].value) == totals["net"]
    assert sheet["E8"].number_format == MONEY_FORMAT and sheet["A8"].font.bold


def test_the_payments_sheet_is_a_filtered_table_printed_on_the_page_width(november):
    content = month_workbook(month=NOVEMBER)
    for sheet, last in ((_book(content)["Pagamentos"], "L7"), (_book(content)["Consultas"], "G8")):
        assert sheet.freeze_panes == "A5", "the header stays in view"
        assert sheet.auto_filter.ref == f"A4:{last}", "the table, not the totals row"
        assert sheet.page_setup.orientation == "landscape"
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
        assert sheet.print_title_rows == "$4:$4"
    payments = _book(content)["Pagamentos"]
    assert payments.column_dimensions["A"].width >= len("Dra. Ana Souza (adicional 2)")
    assert payments.column_dimensions["E"].width >= len("R$ 1.734,56")
    # openpyxl leaves formulas without a result: the file asks to be recalculated on open.
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert 'fullCalcOnLoad="1"' in archive.read("xl/workbook.xml").decode()


def test_the_consultations_sheet_lists_the_records_of_those_closings(november):
    sheet = _book(month_workbook(month=NOVEMBER))["Consultas"]

    assert sheet["A1"].value == "Clínica Boa Saúde · Consultas · novembro de 2025"
    assert _values(sheet, 4) == RECORD_HEADERS
    rows = [_values(sheet, row) for row in range(5, 9)]
    # By doctor (as on Pagamentos), each closing's from the earliest; local time.
    assert rows == [
        ["Dra. Ana Souza", wall(2025, 11, 5, 10, 0), "Beatriz Teste", 32, 150, 45, 105],
        ["Dra. Ana Souza", wall(2025, 11, 30, 23, 30), "Caio Teste", 32,
         1234.56, 370.37, 864.19],
        ["Dra. Ana Souza (adicional 2)", wall(2025, 11, 20, 16, 45), "Elisa Teste", 32,
         200, 60, 140],
        ["Bruno Lima", wall(2025, 11, 10, 9, 15), "Davi Teste", 10, 150, 45, 105],
    ]  # fmt: skip
    assert sheet["B5"].number_format == "dd/mm/yyyy hh:mm"
    assert sheet["D5"].data_type == "n", "minutes are a number: they sort and add up"
    assert all(sheet[f"{c}5"].number_format == MONEY_FORMAT for c in "EFG")
    assert _values(sheet, 9) == [
        "Total", None, None, "=SUM(D5:D8)", "=SUM(E5:E8)", "=SUM(F5:F8)", "=SUM(G5:G8)",
    ]  # fmt: skip
    in_closings = BillingRecord.objects.filter(
        closing__month=NOVEMBER, closing__status__in=SHOWN
    ).aggregate(gross=Sum("gross"), platform=Sum("platform_amount"), net=Sum("doctor_amount"))
    totals = _database_totals(month=NOVEMBER)
    assert _summed(sheet, sheet["E9"].value) == in_closings["gross"] == totals["gross"]
    assert _summed(sheet, sheet["F9"].value) == in_closings["platform"] == totals["platform"]
    assert _summed(sheet, sheet["G9"].value) == in_closings["net"] == totals["net"]
    assert _summed(sheet, sheet["D9"].value) == 32 * 3 + 10


def test_the_sheets_speak_the_readers_language(november):
    with translation.override("en"):
        book = _book(month_workbook(month=NOVEMBER))
    assert book.sheetnames == ["Payments", "Consultations"]
    assert _values(book["Payments"], 4)[:2] == ["Doctor", "CRM/State"]
    assert book["Payments"]["I7"].value == "no PIX key"


@pytest.mark.parametrize(
    "name", ["=1+2", '=HYPERLINK("http://x","y")', "+5511999", "-2", "@SUM(A1)"]
)
def test_a_typed_name_is_text_never_a_formula(name):
    doctor = DoctorFactory(first_name=name, last_name="")
    consultation(doctor, local(2025, 11, 5), patient_name=name)
    services.month_close(month=NOVEMBER)
    book = _book(month_workbook(month=NOVEMBER))

    for cell in (book["Pagamentos"]["A5"], book["Consultas"]["A5"], book["Consultas"]["C5"]):
        assert cell.data_type == "s", "a string, not a formula"
        assert cell.value.startswith(name)
        assert cell.quotePrefix
    closing = MonthlyClosing.objects.get(doctor=doctor)
    statement = _book(closing_statement_workbook(closing=closing))
    assert statement["Extrato"]["B4"].data_type == "s" and statement["Extrato"]["B4"].quotePrefix
    assert statement["Consultas"]["B5"].data_type == "s"
    assert statement_filename(closing).startswith("extrato-2025-11-")


def test_an_empty_month_is_the_header_and_a_zero_total():
    book = _book(month_workbook(month=NOVEMBER))
    sheet = book["Pagamentos"]
    assert sheet["A5"].value == "Total" and sheet["D5"].value == 0 and sheet["E5"].value == 0
    assert sheet.auto_filter.ref == "A4:L4"
    assert book["Consultas"]["A5"].value == "Total"


def _month_of(doctors: int, each: int) -> None:
    for i in range(doctors):
        doctor = DoctorFactory(
            profile__pix_key=f"medico{i}@example.com", profile__pix_key_type="email"
        )
        for day in range(each):
            consultation(doctor, local(2025, 11, day + 1))
    services.month_close(month=NOVEMBER)


@pytest.mark.parametrize("doctors, each", [(1, 1), (6, 3)])
def test_the_exports_take_two_queries_whatever_their_size(
    django_assert_max_num_queries, doctors, each
):
    _month_of(doctors, each)
    with django_assert_max_num_queries(2):
        sheet = _book(month_workbook(month=NOVEMBER))["Consultas"]
    assert sheet[f"A{5 + doctors * each}"].value == "Total"
    closing = MonthlyClosing.objects.order_by("pk").last()
    with django_assert_max_num_queries(2):
        statement = _book(closing_statement_workbook(closing=closing))["Consultas"]
    assert statement[f"A{5 + each}"].value == "Total"


def test_the_statement_is_one_closing_as_its_doctor_sees_it(november):
    ana = november["ana"]
    closing = MonthlyClosing.objects.get(doctor=ana, sequence=1)
    book = _book(closing_statement_workbook(closing=closing))

    assert book.sheetnames == ["Extrato", "Consultas"]
    summary = book["Extrato"]
    assert summary["A1"].value == (
        "Clínica Boa Saúde · Extrato · novembro de 2025 · Dra. Ana Souza"
    )
    assert summary["A2"].value.startswith("Gerado em ")
    block = {summary[f"A{row}"].value: summary[f"B{row}"] for row in range(4, 15)}
    assert {label: cell.value for label, cell in block.items()} == {
        "Médico": "Dra. Ana Souza",
        "CRM/UF": "123456/SP",
        "Status": "Recebido",
        "Consultas": 2,
        "Valor bruto": 1384.56,
        "Taxa da clínica": 415.37,
        "Valor líquido": 969.19,
        "Tipo de chave": "CPF",
        "Chave PIX": "123.456.789-09",
        "Pago em": wall(2025, 12, 2, 0, 0),
        "Recebido em": block["Recebido em"].value,
    }
    assert isinstance(block["Recebido em"].value, dt.datetime)
    assert block["Valor líquido"].number_format == MONEY_FORMAT
    assert block["Valor líquido"].data_type == "n"
    assert block["Pago em"].number_format == "dd/mm/yyyy"

    records = book["Consultas"]
    assert _values(records, 4) == RECORD_HEADERS[1:]
    assert [_values(records, row)[1] for row in (5, 6)] == ["Beatriz Teste", "Caio Teste"]
    assert _values(records, 7)[0] == "Total" and records["D7"].value == "=SUM(D5:D6)"
    assert _summed(records, records["D7"].value) == closing.gross_total
    assert _summed(records, records["F7"].value) == closing.net_total
    assert records.freeze_panes == "A5" and records.auto_filter.ref == "A4:F6"
    assert records.page_setup.orientation == "landscape"
    assert records.page_setup.fitToWidth == 1


def test_a_statement_without_a_key_says_so_and_an_additional_one_says_which(november):
    bruno = MonthlyClosing.objects.get(doctor=november["bruno"])
    summary = _book(closing_statement_workbook(closing=bruno))["Extrato"]
    assert summary["B12"].value == "sem chave PIX" and _is_red(summary["B12"])
    assert summary["B6"].value == "Aguardando pagamento"
    additional = MonthlyClosing.objects.get(doctor=november["ana"], sequence=2)
    summary = _book(closing_statement_workbook(closing=additional))["Extrato"]
    assert summary["B4"].value == "Dra. Ana Souza (adicional 2)"
    assert summary["B7"].value == 1 and summary["B8"].value == 200


def test_a_contested_closing_says_so(november):
    closing = MonthlyClosing.objects.get(doctor=november["ana"], sequence=2)
    closing = services.closing_confirm_payment(
        closing=closing, by=november["admin"], paid_on=dt.date(2025, 12, 3)
    )
    services.closing_report_problem(closing=closing, by=november["ana"], problem="Não recebi o PIX")
    sheet = _book(month_workbook(month=NOVEMBER))["Pagamentos"]
    assert sheet["J6"].value == "Aguardando pagamento, problema relatado"


def test_the_file_names():
    ana = DoctorFactory(first_name="Ana", last_name="Souza", profile__title="dra")
    consultation(ana, local(2025, 11, 5))
    services.month_close(month=NOVEMBER)
    closing = MonthlyClosing.objects.get(doctor=ana)
    assert month_filename(dt.date(2026, 11, 1)) == "fechamento-2026-11.xlsx"
    assert statement_filename(closing) == "extrato-2025-11-dra-ana-souza.xlsx"
    closing.sequence = 2
    assert statement_filename(closing) == "extrato-2025-11-dra-ana-souza-adicional-2.xlsx"
    accented = DoctorFactory(first_name="Iaçanã", last_name="Muñoz Ângelo")
    consultation(accented, local(2025, 11, 6))
    services.month_close(month=NOVEMBER)
    closing = MonthlyClosing.objects.get(doctor=accented)
    assert statement_filename(closing) == "extrato-2025-11-iacana-munoz-angelo.xlsx"
    closing.doctor.first_name, closing.doctor.last_name = "===", ""
    closing.doctor.email = "@@@"
    assert statement_filename(closing) == f"extrato-2025-11-medico-{accented.pk}.xlsx"

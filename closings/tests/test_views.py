import datetime as dt

import pytest
from django.urls import reverse

from accounts.tests.factories import DoctorFactory
from billing.selectors import local_today
from closings import services
from closings.models import ClosingEvent, MonthlyClosing

from .factories import billed, closing_of, local, with_pix

pytestmark = pytest.mark.django_db
LIST = reverse("closings:list")


def page(response) -> str:
    return response.content.decode()


@pytest.fixture
def as_admin(client, admin_user):
    client.force_login(admin_user)
    return client


def test_before_closing_the_page_shows_who_will_be_paid_and_who_has_no_key(
    as_admin, doctor, other_doctor
):
    with_pix(doctor)
    billed(doctor)
    billed(other_doctor)

    html = page(as_admin.get(LIST, {"month": "2026-10"}))

    assert "Pronto para fechar: outubro de 2026" in html
    assert "Dra. Ana Souza" in html and "Dr. Bruno Lima" in html
    no_key = reverse("accounts:doctor_detail", args=[other_doctor.pk])
    assert f'<a class="text-danger fw-semibold" href="{no_key}">' in html
    assert html.count("sem chave PIX") == 1
    assert not MonthlyClosing.objects.exists()


def test_closing_from_the_page_twice_closes_once(as_admin, doctor):
    billed(doctor)

    first = as_admin.post(reverse("closings:close"), {"month": "2026-10"}, follow=True)
    second = as_admin.post(reverse("closings:close"), {"month": "2026-10"}, follow=True)

    assert "Mês fechado: 1 fechamento aguardando pagamento." in page(first)
    assert "Nada de novo para fechar neste mês" in page(second)
    assert MonthlyClosing.objects.count() == 1
    assert ClosingEvent.objects.count() == 1


@pytest.mark.parametrize("month", ["", "2026-13", "../../etc", "9999-01"])
def test_closing_a_bad_month_is_a_message_and_changes_nothing(as_admin, doctor, month):
    billed(doctor)

    response = as_admin.post(reverse("closings:close"), {"month": month}, follow=True)

    assert response.status_code == 200
    assert response.context["messages"] and not MonthlyClosing.objects.exists()


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"month": "2026-13"}, "não é um mês"),
        ({"month": "0000-01"}, "Escolha um mês entre"),
        ({"status": "pago-duas-vezes"}, "não é uma situação de fechamento"),
        ({"status": ["paid", "pending"]}, ""),
    ],
)
def test_bad_filters_get_a_message_not_an_error(as_admin, doctor, query, says):
    closing_of(doctor)

    response = as_admin.get(LIST, query)

    assert response.status_code == 200
    assert says in page(response)


def test_bulk_payment_confirms_each_selected_closing_as_its_own_step(as_admin, admin_user):
    closings = [closing_of(with_pix(DoctorFactory())) for _ in range(3)]
    services.closing_confirm_payment(closing=closings[0], by=admin_user, paid_on=local_today())

    response = as_admin.post(
        reverse("closings:bulk_pay"),
        {"closings": [c.pk for c in closings], "paid_on": local_today().isoformat(),
         "back": f"{LIST}?month=2026-10"},
        follow=True,
    )  # fmt: skip

    html = page(response)
    assert "2 pagamentos confirmados." in html
    assert "1 fechamento marcado já não aguardava pagamento" in html
    assert response.redirect_chain[-1][0] == f"{LIST}?month=2026-10"
    for closing in closings:
        closing.refresh_from_db()
        assert closing.status == "paid"
        assert closing.events.filter(action="paid").count() == 1


def test_bulk_payment_with_nothing_ticked_or_a_bad_date_changes_nothing(as_admin, doctor):
    closing = closing_of(with_pix(doctor))
    tomorrow = (local_today() + dt.timedelta(days=1)).isoformat()
    for data in (
        {"paid_on": local_today().isoformat()},
        {"closings": [closing.pk], "paid_on": "31/02/2026"},
        {"closings": [closing.pk], "paid_on": tomorrow},
        {"closings": ["abc", closing.pk], "paid_on": local_today().isoformat()},
    ):
        response = as_admin.post(reverse("closings:bulk_pay"), data, follow=True)
        assert response.status_code == 200 and response.context["messages"]
    closing.refresh_from_db()
    assert closing.status == "pending"


def test_the_detail_shows_the_key_with_a_copy_button_and_the_pix_code(as_admin, doctor, settings):
    settings.CLINIC_CITY = "São Paulo"
    closing = closing_of(with_pix(doctor))

    html = page(as_admin.get(reverse("closings:detail", args=[closing.pk])))

    assert 'data-copy-target="#pix-key"' in html and 'value="52998224725"' in html
    code = page_code(html)
    assert code.startswith("000201") and "br.gov.bcb.pix" in code
    assert "5406210.00" in code and "6009Sao Paulo" in code
    assert "<svg" in html and 'role="img"' in html


def page_code(html: str) -> str:
    start = html.index('id="pix-code"')
    start = html.index(">", start) + 1
    return html[start : html.index("</textarea>", start)]


def test_a_doctor_without_a_key_gets_no_code_and_is_told_why(client, doctor):
    closing = closing_of(doctor)
    client.force_login(doctor)

    html = page(client.get(reverse("closings:detail", args=[closing.pk])))

    assert 'id="pix-code"' not in html
    assert "Sem chave PIX válida" in html and reverse("accounts:profile") in html


def test_a_payment_with_a_future_date_or_a_bad_reference_shows_why(as_admin, doctor):
    closing = closing_of(doctor)
    url = reverse("closings:pay", args=[closing.pk])
    tomorrow = (local_today() + dt.timedelta(days=1)).isoformat()

    future = page(as_admin.post(url, {"paid_on": tomorrow}))
    bad = page(as_admin.post(url, {"paid_on": local_today().isoformat(),
                                   "payment_reference": "E123"}))  # fmt: skip

    assert "não pode estar no futuro" in future
    assert "32 caracteres" in bad
    closing.refresh_from_db()
    assert closing.status == "pending" and not closing.events.filter(action="paid").exists()


def test_paying_twice_from_two_tabs_pays_once_and_says_so(as_admin, doctor):
    closing = closing_of(doctor)
    url = reverse("closings:pay", args=[closing.pk])
    data = {"paid_on": local_today().isoformat()}

    as_admin.post(url, data)
    again = as_admin.post(url, data, follow=True)

    assert "Este pagamento já foi confirmado." in page(again)
    assert closing.events.filter(action="paid").count() == 1


def test_the_doctor_confirms_receipt_or_reports_a_problem(client, doctor, admin_user):
    closing = closing_of(doctor)
    services.closing_confirm_payment(closing=closing, by=admin_user, paid_on=local_today())
    client.force_login(doctor)
    detail = reverse("closings:detail", args=[closing.pk])

    html = page(client.get(detail))
    assert "Confirmar que recebi" in html and "Relatar o problema" in html
    empty = page(client.post(reverse("closings:problem", args=[closing.pk]), {"problem": ""}))
    assert "Diga o que está errado." in empty
    client.post(reverse("closings:problem", args=[closing.pk]), {"problem": "Não caiu na conta"})

    closing.refresh_from_db()
    assert (closing.status, closing.contested) == ("pending", True)
    receive = client.post(reverse("closings:receive", args=[closing.pk]), follow=True)
    assert "ainda não confirmou este pagamento" in page(receive)


def test_my_payments_lists_the_doctors_closings_but_not_cancelled_ones(client, doctor, admin_user):
    kept = closing_of(doctor)
    services.closing_confirm_payment(closing=kept, by=admin_user, paid_on=local_today())
    cancelled = closing_of(doctor, month=dt.date(2026, 9, 1))
    services.closing_cancel(closing=cancelled, by=admin_user, reason="Refeito depois")
    client.force_login(doctor)

    html = page(client.get(reverse("closings:mine")))

    assert "outubro de 2026" in html and "setembro de 2026" not in html
    assert "Confirmar o recebimento" in html


def test_the_dashboards_count_closings_to_pay_contested_and_to_confirm(client, admin_user, doctor):
    paid = closing_of(doctor)
    services.closing_confirm_payment(closing=paid, by=admin_user, paid_on=local_today())
    closing_of(DoctorFactory())

    client.force_login(admin_user)
    admin_cards = client.get("/").context["closings"]
    client.force_login(doctor)
    doctor_cards = client.get("/").context["payments"]

    assert (admin_cards["awaiting_count"], str(admin_cards["awaiting_net"])) == (1, "210.00")
    assert admin_cards["contested_count"] == 0
    assert (doctor_cards["to_confirm_count"], str(doctor_cards["to_confirm_net"])) == (1, "210.00")


def test_the_list_keeps_a_flat_query_count_as_closings_grow(
    as_admin, django_assert_max_num_queries
):
    def doctors(n):
        for _ in range(n):
            doctor = with_pix(DoctorFactory())
            billed(doctor, local(2026, 10, 3))
        services.month_close(month=dt.date(2026, 10, 1))

    doctors(3)
    with django_assert_max_num_queries(1000) as few:
        as_admin.get(LIST, {"month": "2026-10"})
    doctors(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_admin.get(LIST, {"month": "2026-10"})
    assert len(response.context["closings"]) == 23


def test_the_month_sheet_and_the_statement_download(as_admin, doctor):
    closing = closing_of(with_pix(doctor))

    sheet = as_admin.get(reverse("closings:export"), {"month": "2026-10"})
    statement = as_admin.get(reverse("closings:statement", args=[closing.pk]))

    assert sheet["Content-Disposition"] == 'attachment; filename="fechamento-2026-10.xlsx"'
    assert sheet.content[:2] == b"PK" and statement.content[:2] == b"PK"
    assert statement["Content-Disposition"].endswith('.xlsx"')


def test_the_contested_card_opens_the_month_of_the_contested_closing(client, admin_user, doctor):
    closing = closing_of(doctor)
    services.closing_confirm_payment(closing=closing, by=admin_user, paid_on=local_today())
    services.closing_report_problem(closing=closing, by=doctor, problem="Não caiu na conta")
    client.force_login(admin_user)

    response = client.get("/")

    assert response.context["closings"]["contested_count"] == 1
    assert f"{LIST}?status=pending&amp;month=2026-10" in page(response)


def test_the_doctor_sees_the_key_the_clinic_pays_to_not_a_code_to_pay(client, doctor, admin_user):
    closing = closing_of(with_pix(doctor))
    client.force_login(doctor)
    url = reverse("closings:detail", args=[closing.pk])

    html = page(client.get(url))
    assert 'id="pix-code"' not in html and "Pague no app do banco" not in html
    assert 'value="52998224725"' in html
    assert "A clínica vai pagar este fechamento nesta chave" in html

    services.closing_confirm_payment(closing=closing, by=admin_user, paid_on=local_today())
    html = page(client.get(url))
    assert "A clínica pagou este fechamento nesta chave" in html
    assert "O código PIX aparece enquanto" not in html


def test_the_list_filters_by_status_and_totals_each_status(as_admin, admin_user):
    paid, waiting, other = (closing_of(with_pix(DoctorFactory())) for _ in range(3))
    services.closing_confirm_payment(closing=paid, by=admin_user, paid_on=local_today())
    services.closing_cancel(closing=other, by=admin_user, reason="Refeito depois")

    everything = as_admin.get(LIST, {"month": "2026-10"})
    only_paid = as_admin.get(LIST, {"month": "2026-10", "status": "paid"})

    totals = {row["status"]: (row["count"], row["net"]) for row in everything.context["by_status"]}
    assert totals == {
        "pending": (1, waiting.net_total),
        "paid": (1, paid.net_total),
        "received": (0, 0),
        "cancelled": (1, other.net_total),
    }
    assert {c.pk for c in everything.context["closings"]} == {paid.pk, waiting.pk, other.pk}
    assert [c.pk for c in only_paid.context["closings"]] == [paid.pk]
    assert 'aria-current="true"' in page(only_paid)  # the paid card is the active filter


def test_the_admin_reads_the_problem_the_doctor_reported(as_admin, client, doctor, admin_user):
    closing = closing_of(doctor)
    services.closing_confirm_payment(closing=closing, by=admin_user, paid_on=local_today())
    services.closing_report_problem(
        closing=closing, by=doctor, problem="O PIX não caiu na minha conta."
    )

    html = page(as_admin.get(reverse("closings:detail", args=[closing.pk])))

    alert = html.split('class="alert alert-danger', 1)[1].split("</div></div>", 1)[0]
    assert "O médico relatou um problema com o pagamento" in alert
    assert "O PIX não caiu na minha conta." in alert


def test_the_django_admin_actions_take_the_same_steps_as_the_pages(as_admin, admin_user):
    to_pay, to_cancel = (closing_of(with_pix(DoctorFactory())) for _ in range(2))
    changelist = reverse("admin:closings_monthlyclosing_changelist")

    for action, closing in (("confirm_payment_today", to_pay), ("cancel_closings", to_cancel)):
        response = as_admin.post(
            changelist, {"action": action, "_selected_action": [closing.pk]}, follow=True
        )
        assert response.status_code == 200

    to_pay.refresh_from_db()
    to_cancel.refresh_from_db()
    assert (to_pay.status, to_pay.paid_on, to_pay.paid_by) == ("paid", local_today(), admin_user)
    assert to_cancel.status == "cancelled" and not to_cancel.records.exists()
    for closing, action in ((to_pay, "paid"), (to_cancel, "cancelled")):
        event = closing.events.order_by("pk").last()
        assert (event.action, event.actor, event.actor_role) == (action, admin_user, "admin")

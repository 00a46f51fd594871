"""The admin's rate pages: what they show, what a POST changes and logs, and what they refuse."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.tests.factories import DoctorFactory
from billing.models import BillingSettings, DoctorRate, RateChange, RateField
from billing.services import billing_settings_update, doctor_rate_update
from billing.views.rates import HISTORY_PAGE_SIZE

pytestmark = pytest.mark.django_db

RATES = reverse("billing:rates")
DEFAULTS = reverse("billing:rates_defaults")
HISTORY = reverse("billing:rate_history")
NBSP = "\u00a0"

DEFAULTS_FORM = {
    "consultation_fee": "150,00",
    "platform_percentage": "30",
    "min_billable_seconds": "0",
}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def doctor_rate_url(doctor) -> str:
    return reverse("billing:doctor_rate", args=[doctor.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def queries_for(client, url: str) -> int:
    client.get(url)  # warm up: the session and anything cached once per process
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context)


# --- The rates page -----------------------------------------------------------


def test_the_rates_page_lists_every_active_doctor_with_their_effective_rate(
    admin_client, admin_user, doctor, other_doctor
):
    doctor_rate_update(
        by=admin_user, doctor=doctor, consultation_fee=Decimal("200.00"), platform_percentage=None
    )
    gone = DoctorFactory(first_name="Zé", last_name="Inativo", is_active=False)

    response = admin_client.get(RATES)

    assert response.status_code == 200
    rows = {row.doctor: row.rate for row in response.context["rows"]}
    assert set(rows) == {doctor, other_doctor}
    assert gone not in rows
    assert (rows[doctor].consultation_fee, rows[doctor].fee_is_default) == (
        Decimal("200.00"),
        False,
    )
    assert rows[doctor].percentage_is_default
    assert rows[other_doctor].fee_is_default and rows[other_doctor].percentage_is_default
    html = response.content.decode()
    assert f"R${NBSP}200,00" in html
    assert f"R${NBSP}140,00" in html  # Ana's net: 200 - 30 %
    assert f"R${NBSP}105,00" in html  # Bruno's net at the defaults
    assert "padrão da clínica" in html
    assert reverse("accounts:doctor_detail", args=[doctor.pk]) in html
    assert doctor_rate_url(other_doctor) in html
    assert DEFAULTS in html and HISTORY in html
    assert doctor.doctor_profile.crm in html


def test_the_rates_page_without_doctors_says_what_to_do(admin_client):
    response = admin_client.get(RATES)

    assert response.status_code == 200
    assert "Cadastre um médico" in response.content.decode()
    assert reverse("accounts:doctor_create") in response.content.decode()


def add_doctors_with_rates(count: int, admin) -> None:
    for i, doctor in enumerate(DoctorFactory.create_batch(count)):
        if i % 2:
            doctor_rate_update(
                by=admin,
                doctor=doctor,
                consultation_fee=Decimal("180.00"),
                platform_percentage=None,
            )


@pytest.mark.parametrize("url", [RATES, HISTORY, DEFAULTS, "doctor"])
def test_each_page_keeps_a_flat_query_count(admin_client, admin_user, doctor, url):
    url = doctor_rate_url(doctor) if url == "doctor" else url
    add_doctors_with_rates(10, admin_user)
    few = queries_for(admin_client, url)
    add_doctors_with_rates(50, admin_user)
    many = queries_for(admin_client, url)

    assert many == few
    assert few <= 8


# --- The defaults -------------------------------------------------------------


def test_the_defaults_form_shows_the_current_values_the_brazilian_way(admin_client):
    BillingSettings.load()  # a transactional test before this one may have flushed it
    BillingSettings.objects.filter(pk=1).update(
        consultation_fee=Decimal("1234.50"), platform_percentage=Decimal("33.33")
    )

    html = admin_client.get(DEFAULTS).content.decode()

    assert 'value="1.234,50"' in html
    assert 'value="33,33"' in html
    assert 'inputmode="decimal"' in html


def test_saving_the_defaults_changes_them_logs_each_field_and_names_the_change(
    admin_client, admin_user
):
    response = admin_client.post(
        DEFAULTS,
        {
            "consultation_fee": "R$ 180,00",
            "platform_percentage": "25 %",
            "min_billable_seconds": "90",
        },
        follow=True,
    )

    assert response.redirect_chain == [(RATES, 302)]
    clinic = BillingSettings.load()
    assert (clinic.consultation_fee, clinic.platform_percentage, clinic.min_billable_seconds) == (
        Decimal("180.00"),
        Decimal("25.00"),
        90,
    )
    changes = {
        c.field: (c.old_value, c.new_value, c.changed_by, c.doctor)
        for c in RateChange.objects.all()
    }
    assert changes == {
        RateField.FEE: (Decimal("150.00"), Decimal("180.00"), admin_user, None),
        RateField.PERCENTAGE: (Decimal("30.00"), Decimal("25.00"), admin_user, None),
        RateField.MIN_SECONDS: (Decimal("0.00"), Decimal("90.00"), admin_user, None),
    }
    assert messages_of(response) == [
        f"Valor da consulta alterado de R${NBSP}150,00 para R${NBSP}180,00."
        f" Taxa da clínica alterada de 30{NBSP}% para 25{NBSP}%."
        " Tempo mínimo para cobrar alterado de 0 s para 1 min 30 s."
    ]


def test_one_changed_field_is_the_only_one_named_and_logged(admin_client):
    response = admin_client.post(DEFAULTS, {**DEFAULTS_FORM, "consultation_fee": "180"})

    assert response.status_code == 302
    assert messages_of(response) == [
        f"Valor da consulta alterado de R${NBSP}150,00 para R${NBSP}180,00."
    ]
    assert list(RateChange.objects.values_list("field", flat=True)) == [RateField.FEE]


def test_sending_the_same_defaults_again_changes_nothing(admin_client):
    form = {**DEFAULTS_FORM, "consultation_fee": "180,00"}
    admin_client.post(DEFAULTS, form, follow=True)
    assert RateChange.objects.count() == 1

    # Back and submit again, or a double click: the same values a second time.
    response = admin_client.post(DEFAULTS, form)

    assert response.status_code == 302
    assert messages_of(response) == ["Nada mudou."]
    assert RateChange.objects.count() == 1


def test_unchanged_defaults_say_nothing_changed(admin_client):
    response = admin_client.post(DEFAULTS, {**DEFAULTS_FORM, "consultation_fee": "R$ 150"})

    assert messages_of(response) == ["Nada mudou."]
    assert not RateChange.objects.exists()


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("consultation_fee", "0", "O valor da consulta precisa ser maior que R$ 0,00."),
        ("consultation_fee", "1.234", "pode ser lido de duas formas"),
        ("consultation_fee", "NaN", "Digite o valor da consulta só com números"),
        ("consultation_fee", "", "Digite o valor da consulta."),
        ("consultation_fee", "100000,01", "no máximo R$ 100.000,00"),
        ("consultation_fee", "150,555", "Use a vírgula só para os centavos"),
        ("platform_percentage", "100,01", "A taxa da clínica pode ser no máximo 100 %."),
        ("platform_percentage", "-1", "O valor não pode ser negativo."),
        ("min_billable_seconds", "1,5", "Digite um número inteiro de segundos"),
        ("min_billable_seconds", "99999", "no máximo 3600 segundos"),
    ],
)
def test_refused_defaults_show_the_message_and_save_nothing(admin_client, field, text, message):
    response = admin_client.post(
        DEFAULTS, {**DEFAULTS_FORM, "consultation_fee": "180", field: text}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["form"].errors[field]
    assert not RateChange.objects.exists()
    assert BillingSettings.load().consultation_fee == Decimal("150.00")


# --- A doctor's rate ----------------------------------------------------------


def test_the_doctor_form_shows_the_clinic_default_for_empty_fields(admin_client, doctor):
    html = admin_client.get(doctor_rate_url(doctor)).content.decode()

    assert "Padrão da clínica: R$" in html
    assert 'placeholder="Padrão: 150,00"' in html
    assert doctor.display_name in html


def test_setting_a_doctors_own_fee_creates_their_rate_and_logs_it(admin_client, admin_user, doctor):
    response = admin_client.post(
        doctor_rate_url(doctor), {"consultation_fee": "200", "platform_percentage": ""}
    )

    assert response.status_code == 302
    assert response.url == RATES
    rate = DoctorRate.objects.get(doctor=doctor)
    assert (rate.consultation_fee, rate.platform_percentage) == (Decimal("200.00"), None)
    change = RateChange.objects.get()
    assert (change.doctor, change.field, change.old_value, change.new_value) == (
        doctor,
        RateField.FEE,
        None,
        Decimal("200.00"),
    )
    assert messages_of(response) == [
        f"{doctor.display_name}: Valor da consulta alterado de"
        f" R${NBSP}150,00 (padrão da clínica) para R${NBSP}200,00."
    ]


def test_emptying_a_doctors_field_returns_them_to_the_default(admin_client, admin_user, doctor):
    doctor_rate_update(
        by=admin_user, doctor=doctor, consultation_fee=None, platform_percentage=Decimal("20.00")
    )

    response = admin_client.post(doctor_rate_url(doctor), {"platform_percentage": " "})

    assert DoctorRate.objects.get(doctor=doctor).platform_percentage is None
    assert messages_of(response) == [
        f"{doctor.display_name}: Taxa da clínica alterada de 20{NBSP}%"
        f" para 30{NBSP}% (padrão da clínica)."
    ]
    assert RateChange.objects.count() == 2


def test_sending_a_doctors_rate_twice_logs_it_once(admin_client, doctor):
    form = {"consultation_fee": "200,00", "platform_percentage": "25"}
    admin_client.post(doctor_rate_url(doctor), form, follow=True)

    response = admin_client.post(doctor_rate_url(doctor), form)

    assert messages_of(response) == ["Nada mudou."]
    assert RateChange.objects.count() == 2


def test_an_untouched_doctor_form_creates_no_rate_row(admin_client, doctor):
    response = admin_client.post(
        doctor_rate_url(doctor), {"consultation_fee": "", "platform_percentage": ""}
    )

    assert messages_of(response) == ["Nada mudou."]
    assert not DoctorRate.objects.exists()


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"consultation_fee": "0"}, "consultation_fee", "maior que R$ 0,00"),
        ({"consultation_fee": "1e3"}, "consultation_fee", "só com números"),
        (
            {"consultation_fee": "200", "platform_percentage": "100,01"},
            "platform_percentage",
            "no máximo 100 %",
        ),
        ({"platform_percentage": "12,3456"}, "platform_percentage", "duas casas decimais"),
    ],
)
def test_a_refused_doctor_rate_saves_nothing(admin_client, doctor, form, field, message):
    response = admin_client.post(doctor_rate_url(doctor), form)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["form"].errors[field]
    assert not DoctorRate.objects.exists()
    assert not RateChange.objects.exists()


@pytest.mark.parametrize("who", ["patient", "admin_user", "inactive", "unknown"])
def test_only_an_active_doctor_has_a_rate_page(request, admin_client, who):
    if who == "inactive":
        pk = DoctorFactory(is_active=False).pk
    elif who == "unknown":
        pk = 999_999
    else:
        pk = request.getfixturevalue(who).pk
    url = reverse("billing:doctor_rate", args=[pk])

    assert admin_client.get(url).status_code == 404
    assert admin_client.post(url, {"consultation_fee": "200"}).status_code == 404
    assert not DoctorRate.objects.exists()


@pytest.mark.parametrize("url", [RATES, DEFAULTS, HISTORY])
def test_a_doctor_cannot_open_or_post_the_rate_pages(client, doctor, url):
    client.force_login(doctor)

    assert client.get(url).status_code == 403
    assert client.post(url, DEFAULTS_FORM).status_code == 403
    assert client.post(doctor_rate_url(doctor), {"consultation_fee": "500"}).status_code == 403
    assert not RateChange.objects.exists()


# --- The history --------------------------------------------------------------


@pytest.fixture
def history(admin_user, doctor, other_doctor):
    billing_settings_update(
        by=admin_user,
        consultation_fee=Decimal("180.00"),
        platform_percentage=Decimal("30.00"),
        min_billable_seconds=90,
    )
    doctor_rate_update(
        by=admin_user, doctor=doctor, consultation_fee=Decimal("200.00"), platform_percentage=None
    )
    doctor_rate_update(
        by=admin_user,
        doctor=other_doctor,
        consultation_fee=None,
        platform_percentage=Decimal("12.50"),
    )


def test_the_history_shows_every_change_newest_first_in_words(admin_client, history, doctor):
    response = admin_client.get(HISTORY)

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r["change"].field, r["old"], r["new"]) for r in rows] == [
        (RateField.PERCENTAGE, "Padrão da clínica", f"12,5{NBSP}%"),
        (RateField.FEE, "Padrão da clínica", f"R${NBSP}200,00"),
        (RateField.MIN_SECONDS, "0 s", "1 min 30 s"),
        (RateField.FEE, f"R${NBSP}150,00", f"R${NBSP}180,00"),
    ]
    html = response.content.decode()
    assert "Alice Administradora" in html
    assert doctor.display_name in html
    assert "Padrão da clínica" in html


def test_the_history_shows_local_time(admin_client, history):
    change = RateChange.objects.order_by("pk").first()
    # São Paulo is UTC-3: the page shows the local hour, not the UTC one.
    local = timezone.localtime(change.changed_at).strftime("%H:%M")
    assert local in admin_client.get(HISTORY).content.decode()


def test_the_history_filters_by_doctor(admin_client, history, doctor):
    response = admin_client.get(HISTORY, {"doctor": doctor.pk})

    assert [r["change"].doctor for r in response.context["rows"]] == [doctor]
    assert response.context["doctor"] == doctor
    assert f'<option value="{doctor.pk}" selected>' in response.content.decode()


def test_an_inactive_doctor_with_history_can_still_be_chosen(admin_client, history, other_doctor):
    account_services.user_set_active(user=other_doctor, active=False)

    response = admin_client.get(HISTORY, {"doctor": other_doctor.pk})

    assert other_doctor in response.context["doctors"]
    assert [r["change"].doctor for r in response.context["rows"]] == [other_doctor]
    assert "inativo" in response.content.decode()


def test_an_inactive_doctor_without_history_is_not_offered(admin_client, history):
    gone = DoctorFactory(is_active=False)

    response = admin_client.get(HISTORY)

    assert gone not in response.context["doctors"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("doctor=abc", "Não há médico com o número “abc”"),
        ("doctor=999999", "Não há médico com o número “999999”"),
        ("doctor=-1", "Não há médico com o número “-1”"),
        ("doctor=" + "9" * 40, "Não há médico com o número"),
        ("doctor=1&doctor=2", "Escolha um médico por vez"),
        ("doctor=patient", "Não há médico com o número"),
    ],
)
def test_a_bad_doctor_filter_is_explained_and_the_whole_history_shown(
    admin_client, history, patient, query, message
):
    query = query.replace("patient", str(patient.pk))

    response = admin_client.get(HISTORY + "?" + query)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["doctor"] is None
    assert len(response.context["rows"]) == RateChange.objects.count()


@pytest.mark.parametrize("page", ["2", "abc", "-1", "999"])
def test_the_history_is_paginated_and_a_bad_page_is_not_an_error(admin_client, admin_user, page):
    for fee in range(151, 151 + HISTORY_PAGE_SIZE + 5):
        billing_settings_update(
            by=admin_user,
            consultation_fee=Decimal(fee),
            platform_percentage=Decimal("30.00"),
            min_billable_seconds=0,
        )

    response = admin_client.get(HISTORY, {"page": page})

    assert response.status_code == 200
    assert response.context["page_obj"].paginator.num_pages == 2
    assert "Página" in response.content.decode()


def test_the_history_without_changes_says_where_they_come_from(admin_client):
    response = admin_client.get(HISTORY)

    assert "Nenhum valor foi alterado ainda" in response.content.decode()


def test_the_filtered_history_of_a_doctor_without_changes_offers_to_set_their_rate(
    admin_client, doctor
):
    html = admin_client.get(HISTORY, {"doctor": doctor.pk}).content.decode()

    assert "Nenhuma mudança nos valores de" in html
    assert doctor_rate_url(doctor) in html


# --- The doctor's own rate, for their billing page ----------------------------


def test_the_my_rate_include_shows_fee_share_and_net(admin_user, doctor):
    from django.template.loader import render_to_string

    from billing.selectors import rate_for

    doctor_rate_update(
        by=admin_user, doctor=doctor, consultation_fee=Decimal("10.05"), platform_percentage=None
    )

    html = render_to_string("billing/_my_rate.html", {"rate": rate_for(doctor)})

    assert f"R${NBSP}10,05" in html
    assert f"R${NBSP}3,02" in html and f"30{NBSP}%" in html
    assert f"R${NBSP}7,03" in html
    assert "Seus valores por consulta" in html
    assert "Seu repasse por consulta" in html
    assert "EffectiveRate" not in html  # the template's comment stays a comment
    assert html.count("padrão da clínica") == 1  # the share only

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from accounts.tests.factories import AdminFactory, DoctorFactory, PatientFactory
from billing.models import BillingRecord
from billing.selectors import local_today
from billing.services import record_restore, record_void
from closings import services
from closings.models import ClosingAction, ClosingEvent, ClosingStatus, MonthlyClosing
from rooms.models import Room, RoomStatus
from rooms.tests.factories import RoomFactory

from .factories import OCTOBER, VALID_CPF, billed, closing_of, local, with_pix

pytestmark = pytest.mark.django_db
TODAY = local_today()
E2E = "E12345678202611051030abcDEF12345"


def pay(closing, admin, **kwargs):
    return services.closing_confirm_payment(
        closing=closing, by=admin, paid_on=kwargs.pop("paid_on", TODAY), **kwargs
    )


def totals_of(closing) -> tuple:
    records = BillingRecord.objects.filter(closing=closing)
    return (
        records.count(),
        sum((r.gross for r in records), Decimal("0")),
        sum((r.platform_amount for r in records), Decimal("0")),
        sum((r.doctor_amount for r in records), Decimal("0")),
    )


def figures(closing) -> tuple:
    closing.refresh_from_db()
    return (
        closing.consultation_count,
        closing.gross_total,
        closing.platform_total,
        closing.net_total,
    )


# --- Closing a month -------------------------------------------------------------


def test_closing_a_month_makes_one_pending_closing_per_doctor_with_its_records(
    doctor, other_doctor
):
    with_pix(doctor)
    mine = [billed(doctor), billed(doctor, consultation_fee=Decimal("200.00")), billed(doctor)]
    theirs = billed(other_doctor)

    result = services.month_close(month=OCTOBER)

    assert len(result.created) == 2 and result.recalculated == []
    closing = MonthlyClosing.objects.get(doctor=doctor)
    assert (closing.month, closing.sequence, closing.status) == (OCTOBER, 1, "pending")
    assert set(closing.records.all()) == set(mine)
    assert figures(closing) == totals_of(closing) == (
        3, Decimal("500.00"), Decimal("150.00"), Decimal("350.00"))  # fmt: skip
    assert (closing.pix_key, closing.pix_key_type) == (VALID_CPF, "cpf")
    other = MonthlyClosing.objects.get(doctor=other_doctor)
    assert list(other.records.all()) == [theirs]
    assert (other.pix_key, other.pix_key_type) == ("", "")
    assert list(closing.events.values_list("action", "from_status", "to_status", "actor_role")) == [
        ("created", "", "pending", "system")
    ]


def test_a_closing_counts_the_clinics_local_month(doctor):
    late_october = billed(doctor, local(2026, 10, 31, 23, 30))  # 02:30 on 1 November UTC
    early_november = billed(doctor, local(2026, 11, 1, 0, 30))
    assert late_october.ended_at.astimezone(dt.UTC).month == 11

    services.month_close(month=OCTOBER)

    closing = MonthlyClosing.objects.get()
    assert list(closing.records.all()) == [late_october]
    early_november.refresh_from_db()
    assert early_november.closing is None


def test_voided_records_and_other_months_stay_out(doctor, admin_user):
    kept = billed(doctor)
    voided = billed(doctor)
    record_void(record=voided, by=admin_user, reason="Falha técnica na chamada")
    billed(doctor, local(2026, 9, 30))

    services.month_close(month=OCTOBER)

    assert list(MonthlyClosing.objects.get().records.all()) == [kept]


def test_closing_a_month_twice_changes_nothing(doctor):
    billed(doctor)
    services.month_close(month=OCTOBER)
    before = list(MonthlyClosing.objects.values())
    events = ClosingEvent.objects.count()

    again = services.month_close(month=OCTOBER)

    assert not again.changed
    assert list(MonthlyClosing.objects.values()) == before
    assert ClosingEvent.objects.count() == events


def test_a_month_with_no_consultations_closes_nothing(doctor):
    assert not services.month_close(month=OCTOBER).changed
    assert not MonthlyClosing.objects.exists()


@pytest.mark.parametrize("month", [TODAY.replace(day=1), dt.date(TODAY.year + 1, 1, 1)])
def test_a_month_that_is_not_over_cannot_be_closed(doctor, month):
    billed(doctor, local(TODAY.year, TODAY.month, 1, 0, 1))

    with pytest.raises(ValidationError) as refused:
        services.month_close(month=month)

    assert refused.value.code == "month_not_over"
    assert not MonthlyClosing.objects.exists()


def test_late_records_join_the_pending_closing_which_is_recalculated(doctor):
    closing = closing_of(doctor, records=2)
    late = billed(doctor, local(2026, 10, 30))

    result = services.month_close(month=OCTOBER)

    assert result.created == [] and result.recalculated == [closing]
    late.refresh_from_db()
    assert late.closing == closing
    assert figures(closing) == totals_of(closing)
    assert figures(closing)[0] == 3
    assert closing.events.last().action == ClosingAction.RECALCULATED


def test_late_records_of_a_paid_month_go_into_an_additional_closing(doctor, admin_user):
    closing = pay(closing_of(doctor, records=2), admin_user)
    paid_figures = figures(closing)
    late = billed(doctor, local(2026, 10, 30))

    result = services.month_close(month=OCTOBER)

    (additional,) = result.created
    assert (additional.sequence, additional.status) == (2, "pending")
    assert additional.is_additional
    assert list(additional.records.all()) == [late]
    assert figures(closing) == paid_figures == totals_of(closing)
    assert figures(additional) == totals_of(additional)


def test_a_cancelled_closing_frees_its_records_for_the_next_run(doctor, admin_user):
    closing = closing_of(doctor, records=2)

    services.closing_cancel(closing=closing, by=admin_user, reason="Valores revistos")

    assert not BillingRecord.objects.filter(closing__isnull=False).exists()
    closing.refresh_from_db()
    assert (closing.status, closing.cancel_reason) == ("cancelled", "Valores revistos")
    assert closing.consultation_count == 2  # what it had when cancelled, for the record
    again = services.month_close(month=OCTOBER)
    (fresh,) = again.created
    assert (fresh.sequence, figures(fresh)) == (2, totals_of(fresh))
    assert fresh.consultation_count == 2


def test_a_doctor_who_registers_a_key_after_the_close_gets_it_on_the_pending_closing(doctor):
    closing = closing_of(doctor)
    assert closing.pix_key == ""
    with_pix(doctor, "ana@example.com", "email")

    services.month_close(month=OCTOBER)

    closing.refresh_from_db()
    assert (closing.pix_key, closing.pix_key_type) == ("ana@example.com", "email")
    assert closing.events.last().action == ClosingAction.KEY_UPDATED


def test_a_paid_closing_keeps_the_key_it_was_paid_to(doctor, admin_user):
    closing = pay(closing_of(with_pix(doctor)), admin_user)
    with_pix(doctor, "ana@example.com", "email")

    services.month_close(month=OCTOBER)

    closing.refresh_from_db()
    assert closing.pix_key == VALID_CPF


def test_stale_rooms_of_the_month_are_finalized_and_billed_before_closing(doctor, patient):
    room = RoomFactory(doctor=doctor, patient=patient)
    last_seen = local(2026, 10, 31, 22, 0)
    Room.objects.filter(pk=room.pk).update(
        call_started_at=last_seen - dt.timedelta(minutes=20),
        both_present_seconds=1200,
        last_activity_at=last_seen,
    )

    result = services.month_close(month=OCTOBER)

    room.refresh_from_db()
    assert (room.status, room.ended_at) == (RoomStatus.ENDED, last_seen)
    assert result.stale_rooms == 1
    assert MonthlyClosing.objects.get().records.get().room == room


# --- Voiding inside closings ----------------------------------------------------------


def test_voiding_a_record_of_a_pending_closing_recalculates_it(doctor, admin_user):
    closing = closing_of(doctor, records=2)
    record = closing.records.first()

    record_void(record=record, by=admin_user, reason="Consulta de cortesia")

    record.refresh_from_db()
    assert record.closing is None
    assert figures(closing) == totals_of(closing)
    assert figures(closing)[0] == 1


def test_voiding_every_record_of_a_pending_closing_cancels_it(doctor, admin_user):
    closing = closing_of(doctor, records=1)

    record_void(record=closing.records.get(), by=admin_user, reason="Falha técnica")

    closing.refresh_from_db()
    assert closing.status == ClosingStatus.CANCELLED
    assert closing.events.last().actor_role == "system"


@pytest.mark.parametrize("step", ["paid", "received"])
def test_a_record_of_a_paid_closing_cannot_be_voided(doctor, admin_user, step):
    closing = pay(closing_of(doctor), admin_user)
    if step == "received":
        services.closing_confirm_receipt(closing=closing, by=doctor)
    record = closing.records.first()

    with pytest.raises(ValidationError) as refused:
        record_void(record=record, by=admin_user, reason="Falha técnica")

    assert refused.value.code == "locked"
    record.refresh_from_db()
    assert (record.voided_at, record.closing) == (None, closing)


def test_a_restored_record_is_closed_by_the_next_run(doctor, admin_user):
    closing = closing_of(doctor, records=2)
    record = closing.records.first()
    record_void(record=record, by=admin_user, reason="Consulta de cortesia")
    record_restore(record=record, by=admin_user)

    services.month_close(month=OCTOBER)

    record.refresh_from_db()
    assert record.closing == closing
    assert figures(closing)[0] == 2


# --- The steps, as a table -------------------------------------------------------------

STEPS = {
    "pay": lambda closing, user: pay(closing, user),
    "receive": lambda closing, user: services.closing_confirm_receipt(closing=closing, by=user),
    "contest": lambda closing, user: services.closing_report_problem(
        closing=closing, by=user, problem="O valor não chegou"
    ),
    "cancel": lambda closing, user: services.closing_cancel(
        closing=closing, by=user, reason="Fechamento refeito"
    ),
}
# (step, status) -> status after, for the one role allowed the step
ALLOWED = {
    ("pay", "pending"): "paid",
    ("cancel", "pending"): "cancelled",
    ("receive", "paid"): "received",
    ("contest", "paid"): "pending",
}
WHO = {"pay": "admin", "cancel": "admin", "receive": "doctor", "contest": "doctor"}
REFUSED_CODE = {
    ("pay", "paid"): "already_paid",
    ("pay", "received"): "already_paid",
    ("pay", "cancelled"): "cancelled",
    ("cancel", "paid"): "locked",
    ("cancel", "received"): "already_received",
    ("cancel", "cancelled"): "cancelled",
    ("receive", "pending"): "not_paid",
    ("receive", "received"): "already_received",
    ("receive", "cancelled"): "cancelled",
    ("contest", "pending"): "not_paid",
    ("contest", "received"): "already_received",
    ("contest", "cancelled"): "cancelled",
}


def closing_in(status: str, doctor, admin):
    closing = closing_of(doctor)
    if status in ("paid", "received"):
        pay(closing, admin)
    if status == "received":
        services.closing_confirm_receipt(closing=closing, by=doctor)
    if status == "cancelled":
        services.closing_cancel(closing=closing, by=admin, reason="Fechamento refeito")
    closing.refresh_from_db()
    assert closing.status == status
    return closing


@pytest.mark.parametrize("status", ["pending", "paid", "received", "cancelled"])
@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("role", ["admin", "doctor", "other_doctor", "patient"])
def test_every_step_from_every_status_by_every_role(step, status, role):
    doctor, admin = DoctorFactory(), AdminFactory()
    user = {
        "admin": admin, "doctor": doctor, "other_doctor": DoctorFactory(),
        "patient": PatientFactory(doctor=doctor),
    }[role]  # fmt: skip
    closing = closing_in(status, doctor, admin)
    events = closing.events.count()
    before = MonthlyClosing.objects.filter(pk=closing.pk).values().get()

    if role != WHO[step]:
        with pytest.raises(PermissionDenied):
            STEPS[step](closing, user)
    elif (step, status) in ALLOWED:
        moved = STEPS[step](closing, user)
        assert moved.status == ALLOWED[(step, status)]
        event = closing.events.last()
        assert closing.events.count() == events + 1
        assert (event.from_status, event.to_status, event.actor, event.actor_role) == (
            status, moved.status, user, role)  # fmt: skip
        return
    else:
        with pytest.raises(ValidationError) as refused:
            STEPS[step](closing, user)
        assert refused.value.code == REFUSED_CODE[(step, status)]
    assert MonthlyClosing.objects.filter(pk=closing.pk).values().get() == before
    assert closing.events.count() == events


def test_a_reported_problem_sends_the_closing_back_to_pending_flagged(doctor, admin_user):
    closing = pay(closing_of(doctor), admin_user, reference=E2E, note="Pago pelo banco")

    services.closing_report_problem(
        closing=closing, by=doctor, problem="O valor não caiu na conta", ip="10.0.0.7"
    )

    closing.refresh_from_db()
    assert (closing.status, closing.contested, closing.problem) == (
        "pending", True, "O valor não caiu na conta")  # fmt: skip
    assert (closing.paid_on, closing.paid_by, closing.payment_reference) == (None, None, "")
    paid, contested = closing.events.filter(action__in=["paid", "contested"])
    assert E2E in paid.note and "Pago pelo banco" in paid.note
    assert (contested.note, contested.ip, contested.actor_role) == (
        "O valor não caiu na conta", "10.0.0.7", "doctor")  # fmt: skip
    again = pay(closing, admin_user)
    assert (again.status, again.contested) == ("paid", False)


def test_the_payment_records_its_date_reference_and_who(doctor, admin_user):
    pasted = " e1234567820261105 1030abcDEF12345 "
    closing = pay(closing_of(doctor), admin_user, reference=pasted)

    assert (closing.paid_on, closing.paid_by, closing.payment_reference) == (
        TODAY, admin_user, E2E)  # fmt: skip
    assert closing.paid_at is not None


@pytest.mark.parametrize(
    ("paid_on", "code"),
    [(TODAY + dt.timedelta(days=1), "future"), (dt.date(2026, 9, 30), "before_month")],
)
def test_a_payment_date_in_the_future_or_before_the_month_is_refused(
    doctor, admin_user, paid_on, code
):
    closing = closing_of(doctor)

    with pytest.raises(ValidationError) as refused:
        pay(closing, admin_user, paid_on=paid_on)

    assert refused.value.error_dict["paid_on"][0].code == code
    closing.refresh_from_db()
    assert closing.status == "pending"


@pytest.mark.parametrize(
    "reference",
    [
        "E123",
        "X12345678202611051030abcDEF12345",  # not E
        "E12345678202613051030abcDEF12345",  # month 13
        "E12345678202611051030abcDEF1234",  # 31 characters
        "E12345678202611051030abc-EF12345",
        "'; DROP TABLE closings;--",
    ],
)
def test_a_bank_reference_that_is_not_an_e2e_id_is_refused(doctor, admin_user, reference):
    closing = closing_of(doctor)

    with pytest.raises(ValidationError) as refused:
        pay(closing, admin_user, reference=reference)

    assert refused.value.error_dict["payment_reference"][0].code == "invalid_e2e_id"


@pytest.mark.parametrize("text", ["", "   ", "ruim"])
def test_a_problem_and_a_cancel_reason_must_say_something(doctor, admin_user, text):
    closing = closing_of(doctor)
    with pytest.raises(ValidationError):
        services.closing_cancel(closing=closing, by=admin_user, reason=text)
    pay(closing, admin_user)
    with pytest.raises(ValidationError):
        services.closing_report_problem(closing=closing, by=doctor, problem=text)
    closing.refresh_from_db()
    assert closing.status == "paid"


# --- Notifications ------------------------------------------------------------------


def test_the_doctor_is_emailed_when_paid_and_admins_when_a_problem_is_reported(
    settings, doctor, admin_user, django_capture_on_commit_callbacks
):
    settings.EMAIL_CONFIGURED = True
    closing = closing_of(doctor)
    with django_capture_on_commit_callbacks(execute=True):
        pay(closing, admin_user, link="http://clinic.test/my-payments/")
    (paid,) = mail.outbox
    assert paid.to == [doctor.email]
    assert "R$\xa0210,00" in paid.body and "http://clinic.test/my-payments/" in paid.body

    with django_capture_on_commit_callbacks(execute=True):
        services.closing_report_problem(closing=closing, by=doctor, problem="Não recebi o PIX")
    assert mail.outbox[1].to == [admin_user.email]
    assert "Não recebi o PIX" in mail.outbox[1].body


def test_no_email_is_attempted_when_email_is_not_configured(
    settings, doctor, admin_user, django_capture_on_commit_callbacks
):
    settings.EMAIL_CONFIGURED = False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        pay(closing_of(doctor), admin_user)
    assert mail.outbox == [] and callbacks == []


# --- The command -------------------------------------------------------------------------


def test_close_month_closes_the_month_given_and_says_what_it_did(doctor, capsys):
    billed(doctor)

    call_command("close_month", "2026-10")
    call_command("close_month", "2026-10")

    out = capsys.readouterr().out
    assert "2026-10: closed" in out and "nothing new to close" in out
    assert MonthlyClosing.objects.count() == 1


def test_close_month_defaults_to_the_last_month(doctor, capsys):
    last = services.last_closable_month()
    billed(doctor, local(last.year, last.month, 10))
    billed(doctor, local(2026, 10, 10) if last != OCTOBER else local(2026, 9, 10))

    call_command("close_month")

    assert list(MonthlyClosing.objects.values_list("month", flat=True)) == [last]


@pytest.mark.parametrize(
    ("argument", "says"),
    [
        ("2026-13", "is not a month"),
        ("outubro", "is not a month"),
        ("../etc", "is not a month"),
        ("1999-12", "before 2000"),
        ("9999-01", "Só é possível fechar um mês que já terminou"),
    ],
)
def test_close_month_refuses_a_bad_month_clearly(doctor, argument, says):
    billed(doctor)
    with pytest.raises(CommandError, match=says):
        call_command("close_month", argument)
    assert not MonthlyClosing.objects.exists()

"""Closing a month and every step of its payout. The only code that changes closings.

Each step is one conditional UPDATE (`status` must still be what the step
starts from): of two admins confirming one payment at once, the one whose
UPDATE moves the row wins and writes the event; the other is told it was
already done. No row lock is needed for that, so it holds on SQLite too.
"""

import datetime as dt
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import DoctorProfile, Role, User
from accounts.permissions import has_role
from billing.models import BillingRecord
from billing.selectors import local_today, money_totals, month_bounds
from rooms.services import rooms_finalize_stale

from .models import ActorRole, ClosingAction, ClosingEvent, ClosingStatus, MonthlyClosing

logger = logging.getLogger(__name__)

REASON_MIN_LENGTH = 5
NOTE_MAX_LENGTH = 2000
# The PIX end-to-end id: E, the payer bank's 8-digit ISPB, the UTC minute
# (yyyyMMddHHmm) and 11 letters or digits; 32 characters in all.
E2E_ID = re.compile(r"E(\d{8})(\d{12})([A-Za-z0-9]{11})")


@dataclass
class CloseResult:
    month: dt.date
    created: list[MonthlyClosing]
    recalculated: list[MonthlyClosing]
    stale_rooms: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.recalculated)


def _require_admin(user: User | None) -> None:
    if user is not None and not has_role(user, Role.ADMIN):
        raise PermissionDenied


def _role_of(user: User | None) -> str:
    if user is None:
        return ActorRole.SYSTEM
    return ActorRole.ADMIN if user.role == Role.ADMIN else ActorRole.DOCTOR


def _event(closing, *, by, action, from_status, note="", ip=None) -> ClosingEvent:
    return ClosingEvent(
        closing=closing,
        actor=by,
        actor_role=_role_of(by),
        action=action,
        from_status=from_status,
        to_status=closing.status,
        note=note,
        ip=ip,
    )


def last_closable_month() -> dt.date:
    """The month before the clinic's current one: the default of close_month."""
    this_month = local_today().replace(day=1)
    return (this_month - dt.timedelta(days=1)).replace(day=1)


def unclosed_records(month: dt.date):
    """Counted records of the local `month` that are in no closing yet."""
    start, end = month_bounds(month)
    return BillingRecord.objects.filter(
        ended_at__gte=start, ended_at__lt=end, voided_at=None, closing=None
    )


def _lock_month(month: dt.date) -> None:
    # SQLite takes the write lock when the (IMMEDIATE) transaction begins, so
    # two runs are already one after the other; PostgreSQL needs telling.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [4242, month.toordinal()])


def _recalculate(closings: list[MonthlyClosing]) -> None:
    """Set each closing's totals to the sums of its records: one query to sum them
    all, one prepared UPDATE run for each closing."""
    sums = {
        row["closing"]: row
        for row in BillingRecord.objects.filter(closing__in=closings)
        .values("closing")
        .order_by("closing")
        .annotate(**money_totals())
    }
    zero = {"consultations": 0, "gross": 0, "platform": 0, "doctors": 0}
    for closing in closings:
        row = sums.get(closing.pk, zero)
        closing.consultation_count = row["consultations"]
        closing.gross_total = row["gross"]
        closing.platform_total = row["platform"]
        closing.net_total = row["doctors"]
    # bulk_update would build a CASE WHEN per closing and field in Python: 1,000
    # closings took it most of a second. The statement is the same for every row.
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(MonthlyClosing._meta.db_table)} SET consultation_count = %s, "  # noqa: S608 - the model's own table name
            "gross_total = %s, platform_total = %s, net_total = %s WHERE id = %s",
            [
                (c.consultation_count, c.gross_total, c.platform_total, c.net_total, c.pk)
                for c in closings
            ],
        )


def _pix_of(profiles: dict[int, DoctorProfile], doctor_id: int) -> tuple[str, str]:
    profile = profiles.get(doctor_id)
    return (profile.pix_key, profile.pix_key_type) if profile else ("", "")


def month_close(*, month: dt.date, by: User | None = None, ip: str | None = None) -> CloseResult:
    """Close a past local month: one pending closing per doctor with counted records
    in no closing yet.

    Records that came in after the month was closed join the doctor's pending
    closing (recalculated), or a new additional closing when that one was
    already paid. Running it again with nothing new changes nothing; two runs
    at once end as one. Stale rooms are finalized first, so a consultation
    that happened is not left out. `by` is None from the command line.
    """
    _require_admin(by)
    month = month.replace(day=1)
    if month > last_closable_month():
        raise ValidationError(
            _("Only a month that is over can be closed. The last one is %(month)s.")
            % {"month": last_closable_month().strftime("%m/%Y")},
            code="month_not_over",
        )
    stale = rooms_finalize_stale(idle_for=dt.timedelta(hours=settings.STALE_ROOM_HOURS))
    with transaction.atomic():
        _lock_month(month)
        loose = unclosed_records(month)
        doctor_ids = set(loose.values_list("doctor", flat=True).distinct())
        pending = {
            c.doctor_id: c
            for c in MonthlyClosing.objects.filter(
                month=month, status=ClosingStatus.PENDING, doctor__in=doctor_ids
            )
        }
        last_number = dict(
            MonthlyClosing.objects.filter(month=month, doctor__in=doctor_ids)
            .values("doctor")
            .order_by("doctor")
            .annotate(last=Max("sequence"))
            .values_list("doctor", "last")
        )
        profiles = {p.user_id: p for p in DoctorProfile.objects.filter(user__in=doctor_ids)}
        created = MonthlyClosing.objects.bulk_create(
            [
                MonthlyClosing(
                    doctor_id=doctor_id,
                    month=month,
                    sequence=last_number.get(doctor_id, 0) + 1,
                    pix_key=_pix_of(profiles, doctor_id)[0],
                    pix_key_type=_pix_of(profiles, doctor_id)[1],
                    created_by=by,
                )
                for doctor_id in sorted(doctor_ids - pending.keys())
            ]
        )
        if doctor_ids:
            loose.update(
                closing=Subquery(
                    MonthlyClosing.objects.filter(
                        doctor=OuterRef("doctor"), month=month, status=ClosingStatus.PENDING
                    ).values("pk")[:1]
                )
            )
        recalculated = list(pending.values())
        _recalculate(created + recalculated)
        events = [
            _event(c, by=by, action=ClosingAction.CREATED, from_status="", ip=ip) for c in created
        ]
        events += [
            _event(c, by=by, action=ClosingAction.RECALCULATED, from_status=c.status, ip=ip,
                   note=_("Late consultations joined this closing."))
            for c in recalculated
        ]  # fmt: skip
        events += _refresh_keys(month, by=by, ip=ip)
        ClosingEvent.objects.bulk_create(events)
    return CloseResult(month=month, created=created, recalculated=recalculated, stale_rooms=stale)


def _refresh_keys(month: dt.date, *, by, ip) -> list[ClosingEvent]:
    """A pending closing pays to the doctor's key as it is now: a doctor who
    registers (or corrects) their key after the month closed can be paid."""
    # Only the closings whose key differs are loaded (doctors always have a profile).
    profile = "doctor__doctor_profile__"
    closings = list(
        MonthlyClosing.objects.filter(month=month, status=ClosingStatus.PENDING)
        .filter(~Q(pix_key=F(f"{profile}pix_key")) | ~Q(pix_key_type=F(f"{profile}pix_key_type")))
        .select_related("doctor__doctor_profile")
    )
    changed = []
    for closing in closings:
        profile = getattr(closing.doctor, "doctor_profile", None)
        key = (profile.pix_key, profile.pix_key_type) if profile else ("", "")
        if key != (closing.pix_key, closing.pix_key_type):
            closing.pix_key, closing.pix_key_type = key
            changed.append(closing)
    MonthlyClosing.objects.bulk_update(changed, ["pix_key", "pix_key_type"])
    return [
        _event(c, by=by, action=ClosingAction.KEY_UPDATED, from_status=c.status, ip=ip)
        for c in changed
    ]


# --- The steps -----------------------------------------------------------------

_ALREADY_PAID = gettext_lazy("This payment was already confirmed.")
_CANCELLED = gettext_lazy("This closing was cancelled.")
_NOT_PAID = gettext_lazy("The clinic has not confirmed this payment yet.")
_RECEIVED = gettext_lazy("Receipt was already confirmed; a received payment no longer changes.")
_LOCKED = gettext_lazy("A paid closing cannot be cancelled.")

# (step, the status the closing is in instead) -> why the step is refused
_REFUSALS = {
    ("pay", ClosingStatus.PAID): (_ALREADY_PAID, "already_paid"),
    ("pay", ClosingStatus.RECEIVED): (_ALREADY_PAID, "already_paid"),
    ("pay", ClosingStatus.CANCELLED): (_CANCELLED, "cancelled"),
    ("receive", ClosingStatus.PENDING): (_NOT_PAID, "not_paid"),
    ("receive", ClosingStatus.RECEIVED): (_RECEIVED, "already_received"),
    ("receive", ClosingStatus.CANCELLED): (_CANCELLED, "cancelled"),
    ("contest", ClosingStatus.PENDING): (_NOT_PAID, "not_paid"),
    ("contest", ClosingStatus.RECEIVED): (_RECEIVED, "already_received"),
    ("contest", ClosingStatus.CANCELLED): (_CANCELLED, "cancelled"),
    ("cancel", ClosingStatus.PAID): (_LOCKED, "locked"),
    ("cancel", ClosingStatus.RECEIVED): (_RECEIVED, "already_received"),
    ("cancel", ClosingStatus.CANCELLED): (_CANCELLED, "cancelled"),
}


STARTS = {"pay": ClosingStatus.PENDING, "cancel": ClosingStatus.PENDING,
          "receive": ClosingStatus.PAID, "contest": ClosingStatus.PAID}  # fmt: skip


def step_refusal(step: str, status: str) -> ValidationError | None:
    """Why `step` cannot be taken on a closing in `status` (None when it can)."""
    if status == STARTS[step]:
        return None
    message, code = _REFUSALS[(step, status)]
    return ValidationError(message, code=code)


def _move(*, closing, step: str, start: str, changes: dict, action, by, note, ip):
    """Move `closing` from `start` with `changes` in one conditional UPDATE, and
    log it; or raise why it cannot move. Returns the closing as it now is."""
    with transaction.atomic():
        moved = MonthlyClosing.objects.filter(pk=closing.pk, status=start).update(**changes)
        current = MonthlyClosing.objects.select_related("doctor").get(pk=closing.pk)
        if not moved:
            raise step_refusal(step, current.status)
        _event(current, by=by, action=action, from_status=start, note=note, ip=ip).save()
    return current


def _clean_text(value: str, *, field: str, required: bool, what=None) -> str:
    value = (value or "").strip()
    if required and len(value) < REASON_MIN_LENGTH:
        raise ValidationError(
            {field: ValidationError(what % {"n": REASON_MIN_LENGTH}, code="required")}
        )
    if len(value) > NOTE_MAX_LENGTH:
        raise ValidationError(
            {field: ValidationError(
                _("Keep it under %(n)d characters.") % {"n": NOTE_MAX_LENGTH}, code="too_long"
            )}
        )  # fmt: skip
    return value


def clean_e2e_id(value: str) -> str:
    """The PIX end-to-end id of a payment, as the bank shows it (32 characters)."""
    value = "".join((value or "").split())
    if not value:
        return ""
    value = value[0].upper() + value[1:]  # the 11 last characters keep their case
    match = E2E_ID.fullmatch(value)
    valid = bool(match)
    if match:
        try:
            # The minute is UTC: the id says when the bank settled the payment.
            dt.datetime.strptime(match.group(2) + "+0000", "%Y%m%d%H%M%z")
        except ValueError:
            valid = False
    if not valid:
        raise ValidationError(
            {"payment_reference": ValidationError(
                _("A PIX end-to-end id has 32 characters: E, the bank's 8 digits, the date "
                  "and time (yyyymmddhhmm) and 11 letters or digits, as on the receipt."),
                code="invalid_e2e_id",
            )}
        )  # fmt: skip
    return value


def _clean_paid_on(closing: MonthlyClosing, paid_on: dt.date) -> dt.date:
    if paid_on > local_today():
        raise ValidationError(
            {"paid_on": ValidationError(_("The payment date cannot be in the future."),
                                        code="future")}
        )  # fmt: skip
    if paid_on < closing.month:
        raise ValidationError(
            {"paid_on": ValidationError(
                _("The payment date is before the month it pays (%(month)s).")
                % {"month": closing.month.strftime("%m/%Y")},
                code="before_month",
            )}
        )  # fmt: skip
    return paid_on


def closing_confirm_payment(
    *,
    closing: MonthlyClosing,
    by: User,
    paid_on: dt.date,
    reference: str = "",
    note: str = "",
    ip: str | None = None,
    link: str = "",
) -> MonthlyClosing:
    """pending → paid: an admin says the doctor was paid. E-mails the doctor."""
    _require_admin(by)
    paid_on = _clean_paid_on(closing, paid_on)
    reference = clean_e2e_id(reference)
    note = _clean_text(note, field="note", required=False)
    closing = _move(
        closing=closing,
        step="pay",
        start=ClosingStatus.PENDING,
        changes={
            "status": ClosingStatus.PAID,
            "paid_on": paid_on,
            "paid_at": timezone.now(),
            "paid_by": by,
            "payment_reference": reference,
            "payment_note": note,
            "contested": False,
        },
        action=ClosingAction.PAID,
        by=by,
        note=" · ".join(part for part in (reference, note) if part),
        ip=ip,
    )
    _notify(closing, "paid", [closing.doctor.email], link)
    return closing


def _is_the_doctor(closing: MonthlyClosing, user: User) -> None:
    if not (has_role(user, Role.DOCTOR) and closing.doctor_id == user.pk):
        raise PermissionDenied


def closing_confirm_receipt(
    *, closing: MonthlyClosing, by: User, note: str = "", ip: str | None = None
) -> MonthlyClosing:
    """paid → received: the doctor says the money arrived. Nothing changes it afterwards."""
    _is_the_doctor(closing, by)
    note = _clean_text(note, field="note", required=False)
    return _move(
        closing=closing,
        step="receive",
        start=ClosingStatus.PAID,
        changes={"status": ClosingStatus.RECEIVED, "received_at": timezone.now(),
                 "received_note": note},
        action=ClosingAction.RECEIVED,
        by=by,
        note=note,
        ip=ip,
    )  # fmt: skip


def closing_report_problem(
    *, closing: MonthlyClosing, by: User, problem: str, ip: str | None = None, link: str = ""
) -> MonthlyClosing:
    """paid → pending, flagged: the doctor did not get what the clinic says it paid.

    The payment's details stay in the event history; the closing can be paid again.
    """
    _is_the_doctor(closing, by)
    problem = _clean_text(
        problem, field="problem", required=True,
        what=_("Say what is wrong (at least %(n)d characters)."),
    )  # fmt: skip
    closing = _move(
        closing=closing,
        step="contest",
        start=ClosingStatus.PAID,
        changes={
            "status": ClosingStatus.PENDING,
            "contested": True,
            "problem": problem,
            "paid_on": None,
            "paid_at": None,
            "paid_by": None,
            "payment_reference": "",
            "payment_note": "",
        },
        action=ClosingAction.CONTESTED,
        by=by,
        note=problem,
        ip=ip,
    )
    admins = User.objects.filter(role=Role.ADMIN, is_active=True).values_list("email", flat=True)
    _notify(closing, "contested", list(admins), link)
    return closing


def closing_cancel(
    *, closing: MonthlyClosing, by: User | None, reason: str, ip: str | None = None
) -> MonthlyClosing:
    """pending → cancelled: its records are free again for the next close_month."""
    _require_admin(by)
    reason = _clean_text(
        reason, field="reason", required=True,
        what=_("Say why the closing is cancelled (at least %(n)d characters)."),
    )  # fmt: skip
    with transaction.atomic():
        closing = _move(
            closing=closing,
            step="cancel",
            start=ClosingStatus.PENDING,
            changes={"status": ClosingStatus.CANCELLED, "cancelled_at": timezone.now(),
                     "cancelled_by": by, "cancel_reason": reason},
            action=ClosingAction.CANCELLED,
            by=by,
            note=reason,
            ip=ip,
        )  # fmt: skip
        # The cancelled closing keeps the totals it had, for the record.
        BillingRecord.objects.filter(closing=closing).update(closing=None)
    return closing


def closing_record_left(*, closing_id: int) -> None:
    """A record of this pending closing was voided: recalculate it, and cancel it
    when nothing is left to pay. Runs inside the void's transaction."""
    closing = MonthlyClosing.objects.select_for_update().get(pk=closing_id)
    _recalculate([closing])
    _event(
        closing, by=None, action=ClosingAction.RECALCULATED, from_status=closing.status,
        note=_("A consultation of this closing was voided."),
    ).save()  # fmt: skip
    if closing.consultation_count == 0:
        closing_cancel(
            closing=closing, by=None,
            reason=_("Every consultation of this closing was voided."),
        )  # fmt: skip


def _notify(closing: MonthlyClosing, what: str, recipients: list[str], link: str) -> None:
    """E-mail about `closing` once the step is committed, when e-mail is configured."""
    recipients = [address for address in recipients if address]
    if not settings.EMAIL_CONFIGURED or not recipients:
        return
    context = {"closing": closing, "clinic": settings.CLINIC_NAME, "link": link}
    subject = {
        "paid": _("%(clinic)s: your payment for %(month)s was sent"),
        "contested": _("%(clinic)s: a doctor reported a problem with a payment"),
    }[what] % {"clinic": settings.CLINIC_NAME, "month": closing.month.strftime("%m/%Y")}
    body = render_to_string(f"closings/email/{what}.txt", context)

    def send():
        try:
            send_mail(subject, body, None, recipients)
        except OSError:
            # The step is done and on screen; a mail outage must not undo it.
            logger.exception("Could not e-mail about closing %s", closing.pk)

    transaction.on_commit(send)

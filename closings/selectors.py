"""Reads for the closings pages, the dashboards and the PIX code."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.validators import clean_pix_key, format_pix_key
from billing.money import format_brl
from billing.selectors import listed, money_sum, money_totals

from . import pix
from .models import ClosingEvent, ClosingStatus, MonthlyClosing
from .services import unclosed_records


def pix_key_problem(key_type: str, key: str) -> str | None:
    """Why a PIX key cannot be paid to, or None when it can."""
    if not key or not key_type:
        return _("No PIX key registered.")
    try:
        canonical = clean_pix_key(key_type, key)
    except ValidationError as error:
        return " ".join(error.messages)
    if canonical != key:
        return _("The PIX key is not in its canonical form.")
    if not key.isascii():
        # The BR Code carries plain ASCII: an e-mail key with an accented domain cannot go in.
        return _("A PIX key with accents cannot go into a PIX code; register another key.")
    return None


def key_display(key_type: str, key: str) -> str:
    return format_pix_key(key_type, key) if key else ""


@dataclass
class PreviewRow:
    """A doctor the month's close would pay, before it runs."""

    doctor: User
    consultations: int
    gross: Decimal
    platform: Decimal
    net: Decimal
    key_problem: str | None

    @property
    def key_type_label(self) -> str:
        profile = getattr(self.doctor, "doctor_profile", None)
        return profile.get_pix_key_type_display() if profile and profile.pix_key else ""

    @property
    def key_text(self) -> str:
        profile = getattr(self.doctor, "doctor_profile", None)
        return key_display(profile.pix_key_type, profile.pix_key) if profile else ""


def close_preview(month: dt.date) -> list[PreviewRow]:
    """Who `month_close(month=...)` would pay now, and whether each has a valid PIX key.

    Two queries: the month's records in no closing, summed per doctor; their doctors.
    """
    sums = list(
        unclosed_records(month).values("doctor").order_by("doctor").annotate(**money_totals())
    )
    doctors = User.objects.select_related("doctor_profile").in_bulk([row["doctor"] for row in sums])
    rows = []
    for row in sums:
        doctor = doctors[row["doctor"]]
        profile = getattr(doctor, "doctor_profile", None)
        rows.append(
            PreviewRow(
                doctor=doctor,
                consultations=row["consultations"],
                gross=row["gross"],
                platform=row["platform"],
                net=row["doctors"],
                key_problem=pix_key_problem(profile.pix_key_type, profile.pix_key)
                if profile
                else _("No PIX key registered."),
            )
        )
    return sorted(rows, key=lambda r: (r.doctor.first_name, r.doctor.last_name, r.doctor.pk))


def closings_filtered(closings: QuerySet, *, month: dt.date | None, status: str | None):
    if month:
        closings = closings.filter(month=month)
    if status:
        closings = closings.filter(status=status)
    return closings.select_related("doctor__doctor_profile")


def totals_by_status(closings: QuerySet) -> list[dict]:
    """Every status in order with its count and net total (zero when none), in one query."""
    found = {
        row["status"]: row
        for row in closings.order_by()
        .values("status")
        .annotate(count=Count("pk"), net=money_sum("net_total"))
    }
    return [
        {
            "status": status,
            "label": label,
            "count": found.get(status, {}).get("count", 0),
            "net": found.get(status, {}).get("net") or Decimal("0.00"),
        }
        for status, label in ClosingStatus.choices
    ]


def closing_records(closing: MonthlyClosing) -> QuerySet:
    """The closing's records as the records table shows them, oldest first."""
    return listed(closing.records.order_by("ended_at", "pk"))


def closing_events(closing: MonthlyClosing) -> QuerySet[ClosingEvent]:
    return closing.events.select_related("actor").order_by("at", "pk")


def admin_cards() -> dict:
    """The admin dashboard's closings cards: awaiting payment (and how much), contested."""
    pending = MonthlyClosing.objects.filter(status=ClosingStatus.PENDING)
    row = pending.aggregate(count=Count("pk"), net=money_sum("net_total"))
    contested = pending.filter(contested=True)
    return {
        "awaiting_count": row["count"],
        "awaiting_net": row["net"],
        "contested_count": contested.count(),
        # The card opens the month of the latest contested closing.
        "contested_month": contested.order_by("-month").values_list("month", flat=True).first(),
    }


def doctor_cards(doctor: User) -> dict:
    """The doctor's: payments the clinic sent that they have not confirmed yet."""
    paid = MonthlyClosing.objects.filter(doctor=doctor, status=ClosingStatus.PAID)
    row = paid.aggregate(count=Count("pk"), net=money_sum("net_total"))
    return {"to_confirm_count": row["count"], "to_confirm_net": row["net"]}


@dataclass
class PixCode:
    payload: str
    svg: str


def merchant_name(doctor: User) -> str:
    return f"{doctor.first_name} {doctor.last_name}".strip() or doctor.email


def pix_code_for(closing: MonthlyClosing) -> PixCode | None:
    """The closing's "Pix Copia e Cola" for its exact net amount, or None without a valid key."""
    if pix_key_problem(closing.pix_key_type, closing.pix_key) or closing.net_total <= 0:
        return None
    payload = pix.br_code(
        key=closing.pix_key,
        name=merchant_name(closing.doctor),
        city=settings.CLINIC_CITY,
        amount=closing.net_total,
        txid=pix.txid_for(closing_id=closing.pk, month=closing.month),
    )
    title = _("PIX QR code for %(amount)s to %(name)s") % {
        "amount": format_brl(closing.net_total),
        "name": closing.doctor.display_name,
    }
    return PixCode(payload=payload, svg=pix.qr_svg(payload, title=title))

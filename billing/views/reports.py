"""Earnings and revenue: the doctor's month, the clinic's months and doctors, voiding.

Every page is a GET whose period lives in the address (?month=, ?start=&end=),
parsed by billing.filters; a bad parameter is a message on the page and the
default period, never an error page.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from accounts.forms import apply_service_errors
from accounts.models import Role, User
from accounts.permissions import RoleRequiredMixin, has_role

from .. import charts, selectors, services
from ..exports import revenue_workbook
from ..filters import MonthForm, PeriodForm, RevenueForm, VoidForm, month_choices
from ..permissions import records_visible_to
from ..selectors import local_today

RECORDS_PAGE_SIZE = 50
# Voided records and no-shows are the exceptions of a month; a list this long says enough.
APART_SHOWN = 100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _month_of(record) -> str:
    local = timezone.localtime(record.ended_at, selectors.clinic_zone())
    return f"month={local:%Y-%m}"


def _records_of(records, period, request, *, totals=None) -> dict:
    """One period's records of one doctor: counted (paged), voided and no-shows apart.
    `totals`, the period's, when the caller has them already."""
    start, end = period.bounds
    in_period = selectors.records_between(records, start, end)
    totals = selectors.totals(in_period) if totals is None else totals
    counted = selectors.listed(selectors.counted(in_period))
    paginator = CountedPaginator(counted, RECORDS_PAGE_SIZE, count=totals["consultations"])
    page = paginator.get_page(request.GET.get("page"))
    together = _all_on_one_page(in_period, page)
    if together is not None:
        page.object_list, voided = together
        voided_count = len(voided)
    else:
        voided, voided_count = _apart(selectors.listed(selectors.voided(in_period), voided=True))
    return {
        "page_obj": page,
        "totals": totals,
        "voided_records": voided,
        "voided_count": voided_count,
    }


class CountedPaginator(Paginator):
    """A paginator told its count: the month's totals already counted the records."""

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self._known_count = count

    @property
    def count(self) -> int:
        return self._known_count


def _all_on_one_page(in_period, page) -> tuple[list, list] | None:
    """(counted, voided): a period whose counted records fit on one page, as most of a
    doctor's months do, read in one query with its voided ones. None when there are
    more pages, or more voided records than are shown: then they are read apart."""
    if page.has_other_pages():
        return None
    limit = page.paginator.count + APART_SHOWN
    rows = list(selectors.listed(in_period, voided=True)[: limit + 1])
    counted = [r for r in rows if r.voided_at is None]
    # The count came of an earlier query: a record added or voided since, and the
    # rows no longer say what the page says. Then they are read apart.
    if len(rows) > limit or len(counted) != page.paginator.count:
        return None
    return counted, [r for r in rows if r.voided_at is not None]


def _apart(queryset) -> tuple[list, int]:
    """The first APART_SHOWN rows and how many there are, counting only when there are more."""
    rows = list(queryset[: APART_SHOWN + 1])
    if len(rows) <= APART_SHOWN:
        return rows, len(rows)
    return rows[:APART_SHOWN], queryset.count()


def _no_shows_of(doctor, period) -> dict:
    start, end = period.bounds
    rooms = selectors.no_shows(start=start, end=end, doctor=doctor)
    rooms, count = _apart(selectors.listed_no_shows(rooms))
    return {"no_shows": rooms, "no_show_count": count}


@method_decorator(never_cache, name="dispatch")
class BillingMixin(RoleRequiredMixin):
    allowed_roles = (Role.ADMIN,)


class DoctorBillingView(BillingMixin, TemplateView):
    """The doctor's "Faturamento": one month of their consultations, and the last 12."""

    allowed_roles = (Role.DOCTOR, Role.ADMIN)
    template_name = "billing/doctor_billing.html"

    def get(self, request, *args, **kwargs):
        if has_role(request.user, Role.ADMIN):
            return redirect("billing:revenue")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        doctor = self.request.user
        form = MonthForm(self.request.GET)
        period = form.period
        records = records_visible_to(doctor)
        months = charts.last_months(local_today())
        by_month = selectors.totals_by_month(records, months=months)
        # A month of the chart has its totals there already: one query fewer.
        shown = selectors.month_in(by_month, period.month) if period.month in months else None
        return super().get_context_data(
            form=form,
            period=period,
            month_choices=month_choices(today=form.today, selected=period.month),
            filters=period.params,
            **_records_of(records, period, self.request, totals=shown),
            **_no_shows_of(doctor, period),
            chart=charts.monthly_chart(
                by_month,
                series={"doctors": gettext_lazy("Your net earnings")},
                end=months[-1],
                chart_id="doctor-earnings",
            ),
            rate=selectors.rate_for(doctor),
            **kwargs,
        )


class RevenueView(BillingMixin, TemplateView):
    """The clinic's "Receita": the last 12 months, and each doctor in a chosen period."""

    template_name = "billing/revenue.html"

    def get_context_data(self, **kwargs):
        form = RevenueForm(self.request.GET)
        period = form.period
        start, end = period.bounds
        rows = selectors.revenue_by_doctor(start=start, end=end, doctor=form.doctor_choice)
        months = charts.last_months(local_today())
        by_month = selectors.revenue_by_month(months=months, doctor=form.doctor_choice)
        params = dict(period.params)
        if form.doctor_choice:
            params["doctor"] = str(form.doctor_choice.pk)
        return super().get_context_data(
            form=form,
            period=period,
            month_choices=month_choices(today=form.today, selected=period.month),
            doctor_rows=rows,
            doctor_totals=selectors.revenue_totals(rows),
            months=by_month[::-1],
            export_query=urlencode(params),
            chart=charts.monthly_chart(
                # Only months with consultations: a chart of twelve zeros is empty, and
                # says what to do instead of drawing a blank box.
                [
                    {"month": m.month, "gross": m.gross, "platform": m.platform}
                    for m in by_month
                    if m.consultations
                ],
                series={
                    "gross": gettext_lazy("Gross"),
                    "platform": gettext_lazy("Clinic share"),
                },
                end=months[-1],
                chart_id="clinic-revenue",
            ),
            **kwargs,
        )


class RevenueExportView(BillingMixin, View):
    """The revenue page's tables, same filters, as a spreadsheet: per doctor, and month
    by month."""

    def get(self, request):
        form = RevenueForm(request.GET)
        period = form.period
        start, end = period.bounds
        rows = selectors.revenue_by_doctor(start=start, end=end, doctor=form.doctor_choice)
        months = selectors.revenue_by_month(
            months=charts.last_months(local_today()), doctor=form.doctor_choice
        )
        content = revenue_workbook(
            rows=rows,
            period_label=str(period.label),
            clinic_name=getattr(settings, "CLINIC_NAME", "") or "MedConnect",
            months=months[::-1],
        )
        response = HttpResponse(content, content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="receita-{period.slug}.xlsx"'
        return response


def _doctor_or_404(pk) -> User:
    return get_object_or_404(User.objects.select_related("doctor_profile"), pk=pk, role=Role.DOCTOR)


class RevenueDoctorView(BillingMixin, TemplateView):
    """One doctor's records in a period, each with its void or restore action."""

    template_name = "billing/revenue_doctor.html"

    def get_context_data(self, **kwargs):
        doctor = _doctor_or_404(self.kwargs["pk"])
        form = PeriodForm(self.request.GET)
        period = form.period
        records = records_visible_to(self.request.user).filter(doctor=doctor)
        return super().get_context_data(
            doctor=doctor,
            form=form,
            period=period,
            month_choices=month_choices(today=form.today, selected=period.month),
            filters=period.params,
            **_records_of(records, period, self.request),
            **_no_shows_of(doctor, period),
            **kwargs,
        )


def _back_to_doctor(record, request) -> str:
    """The drill-down the action came from: its period, or the record's own month."""
    form = PeriodForm(request.GET)
    query = form.period.query if request.GET and form.is_valid() else _month_of(record)
    return f"{reverse('billing:revenue_doctor', args=[record.doctor_id])}?{query}"


class RecordVoidView(BillingMixin, TemplateView):
    """Leave a record out of every total, with a reason (admins)."""

    template_name = "billing/record_void.html"

    def dispatch(self, request, *args, **kwargs):
        self.record = None
        if has_role(request.user, Role.ADMIN):
            records = records_visible_to(request.user).select_related(
                "doctor__doctor_profile", "patient"
            )
            self.record = get_object_or_404(records, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", VoidForm())
        return super().get_context_data(
            record=self.record, back_url=_back_to_doctor(self.record, self.request), **kwargs
        )

    def post(self, request, *args, **kwargs):
        form = VoidForm(request.POST)
        record = self.record
        if record.is_voided:
            messages.info(request, _("This record was already voided: nothing changed."))
            return redirect(_back_to_doctor(record, request))
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        asked_at = timezone.now()
        try:
            record = services.record_void(
                record=record, by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.render_to_response(self.get_context_data(form=form))
        if record.voided_at and record.voided_at >= asked_at:
            messages.success(
                request,
                _("Record voided: it is left out of every total. You can restore it."),
            )
        else:
            messages.info(request, _("This record was already voided: nothing changed."))
        return redirect(_back_to_doctor(record, request))


class RecordRestoreView(BillingMixin, View):
    """Count a voided record again (admins, POST)."""

    def post(self, request, pk):
        record = get_object_or_404(records_visible_to(request.user), pk=pk)
        was_voided = record.is_voided
        services.record_restore(record=record, by=request.user)
        if was_voided:
            messages.success(request, _("Record restored: it counts in the totals again."))
        else:
            messages.info(request, _("This record was not voided: nothing changed."))
        return redirect(_back_to_doctor(record, request))

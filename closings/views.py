"""The closings pages: the admin's "Fechamentos", each closing's detail, the doctor's
"Meus pagamentos", and the steps (close a month, pay, cancel, confirm, report).

Every step is a POST that calls one service and redirects (so Back and reload
never repeat it); a step already taken by someone else is a message, not an error.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from accounts.backends import client_ip
from accounts.forms import apply_service_errors
from accounts.models import Role
from accounts.permissions import RoleRequiredMixin, has_role
from billing.filters import month_choices
from billing.selectors import local_today

from . import exports, selectors, services
from .forms import (
    BulkPaymentForm,
    CancelForm,
    ClosingFilterForm,
    MonthCloseForm,
    PaymentForm,
    ProblemForm,
    ReceiptForm,
)
from .models import ClosingStatus
from .permissions import can_confirm_receipt, can_manage_closings, closings_visible_to

FORMS = {
    "payment_form": PaymentForm,
    "cancel_form": CancelForm,
    "receipt_form": ReceiptForm,
    "problem_form": ProblemForm,
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@method_decorator(never_cache, name="dispatch")
class AdminMixin(RoleRequiredMixin):
    allowed_roles = (Role.ADMIN,)


@method_decorator(never_cache, name="dispatch")
class ClosingMixin(RoleRequiredMixin):
    """A closing the user may see (admins any, a doctor their own), else 404."""

    allowed_roles = (Role.ADMIN, Role.DOCTOR)

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.role in self.allowed_roles:
            self.closing = get_object_or_404(closings_visible_to(request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)


def _list_url(month, status: str = "") -> str:
    query = {"month": f"{month:%Y-%m}"}
    if status:
        query["status"] = status
    return f"{reverse('closings:list')}?{urlencode(query)}"


class ClosingListView(AdminMixin, TemplateView):
    """The month's closings by status, and who the close would pay before it runs."""

    template_name = "closings/closing_list.html"

    def get_context_data(self, **kwargs):
        form = ClosingFilterForm(self.request.GET)
        month = form.period.month
        status = form.status_choice
        of_month = closings_visible_to(self.request.user).filter(month=month)
        closable = month <= services.last_closable_month()
        closings = list(selectors.closings_filtered(of_month, month=None, status=status))
        return super().get_context_data(
            form=form,
            period=form.period,
            month=month,
            status=status,
            month_choices=month_choices(today=local_today(), selected=month),
            closings=closings,
            by_status=selectors.totals_by_status(of_month),
            preview=selectors.close_preview(month) if closable else [],
            closable=closable,
            already_closed=of_month.exists(),
            bulk_form=kwargs.pop("bulk_form", None) or BulkPaymentForm(),
            pending_ids=[c.pk for c in closings if c.status == ClosingStatus.PENDING],
            **kwargs,
        )


class MonthCloseView(AdminMixin, View):
    def post(self, request):
        form = MonthCloseForm(request.POST)
        if not form.is_valid():
            for problem in form.problems:
                messages.error(request, problem)
            return redirect("closings:list")
        month = form.cleaned_data["month"]
        try:
            result = services.month_close(month=month, by=request.user, ip=client_ip(request))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(_list_url(month))
        if not result.changed:
            messages.info(request, _("Nothing new to close in this month: nothing changed."))
        if result.created:
            messages.success(
                request,
                ngettext(
                    "Month closed: %(n)d closing awaiting payment.",
                    "Month closed: %(n)d closings awaiting payment.",
                    len(result.created),
                )
                % {"n": len(result.created)},
            )
        if result.recalculated:
            messages.success(
                request,
                ngettext(
                    "Late consultations joined %(n)d closing, recalculated.",
                    "Late consultations joined %(n)d closings, recalculated.",
                    len(result.recalculated),
                )
                % {"n": len(result.recalculated)},
            )
        return redirect(_list_url(month))


class BulkPayView(AdminMixin, View):
    """Confirm the ticked payments: each is its own service call and event."""

    def post(self, request):
        visible = closings_visible_to(request.user)
        pending = visible.filter(status=ClosingStatus.PENDING)
        asked = [value for value in request.POST.getlist("closings") if value.isdigit()]
        choices = visible.filter(pk__in=asked[:500]).values_list("pk", flat=True)
        form = BulkPaymentForm(request.POST, choices=choices)
        back = request.POST.get("back", "")
        back = back if back.startswith(reverse("closings:list")) else reverse("closings:list")
        if not form.is_valid():
            for errors in form.errors.values():
                for message in errors:
                    messages.error(request, message)
            return redirect(back)
        paid, refused = 0, []
        for closing in pending.filter(pk__in=form.cleaned_data["closings"]):
            try:
                services.closing_confirm_payment(
                    closing=closing,
                    by=request.user,
                    paid_on=form.cleaned_data["paid_on"],
                    ip=client_ip(request),
                    link=request.build_absolute_uri(reverse("closings:mine")),
                )
                paid += 1
            except ValidationError as error:
                refused.append(f"{closing.doctor.display_name}: {' '.join(error.messages)}")
        skipped = len(form.cleaned_data["closings"]) - paid - len(refused)
        if paid:
            messages.success(
                request,
                ngettext("%(n)d payment confirmed.", "%(n)d payments confirmed.", paid)
                % {"n": paid},
            )
        if skipped:
            messages.info(
                request,
                ngettext(
                    "%(n)d ticked closing was no longer awaiting payment: it was left as it was.",
                    "%(n)d ticked closings were no longer awaiting payment: left as they were.",
                    skipped,
                )
                % {"n": skipped},
            )
        for message in refused:
            messages.error(request, message)
        return redirect(back)


class ClosingDetailView(ClosingMixin, TemplateView):
    """One closing: its figures, PIX key and code, records, history and the next step."""

    template_name = "closings/closing_detail.html"

    def get_context_data(self, **kwargs):
        closing = self.closing
        user = self.request.user
        is_admin = can_manage_closings(user)
        pending = closing.status == ClosingStatus.PENDING
        answerable = can_confirm_receipt(user, closing)
        given = {name: kwargs.pop(name, None) for name in FORMS}
        forms = {
            "payment_form": is_admin and pending,
            "cancel_form": is_admin and pending,
            "receipt_form": answerable,
            "problem_form": answerable,
        }
        return super().get_context_data(
            closing=closing,
            is_admin=is_admin,
            records=selectors.closing_records(closing),
            events=selectors.closing_events(closing),
            key_problem=selectors.pix_key_problem(closing.pix_key_type, closing.pix_key),
            key_text=selectors.key_display(closing.pix_key_type, closing.pix_key),
            # The code is for paying: the admin's. The doctor sees the key it goes to.
            pix_code=selectors.pix_code_for(closing) if pending and is_admin else None,
            **{
                name: (given[name] or FORMS[name]()) if shown else None
                for name, shown in forms.items()
            },
            back_url=_list_url(closing.month) if is_admin else reverse("closings:mine"),
            **kwargs,
        )


class _StepView(ClosingMixin, View):
    """POST one step on the closing; field errors re-render the detail, a step that
    can no longer be taken is a message."""

    form_class = None
    form_name = ""
    step_name = ""
    roles = ()
    done_message = ""

    @property
    def detail_link(self) -> str:
        """The closing's page as a full address, for the e-mail the step sends."""
        return self.request.build_absolute_uri(reverse("closings:detail", args=[self.closing.pk]))

    def post(self, request, pk):
        if request.user.role not in self.roles:
            raise PermissionDenied
        refusal = services.step_refusal(self.step_name, self.closing.status)
        if refusal:
            # Already taken (another tab, a second click, someone else): say so.
            messages.error(request, " ".join(refusal.messages))
            return redirect("closings:detail", pk=pk)
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                self.step(form.cleaned_data)
            except ValidationError as error:
                if not hasattr(error, "error_dict"):
                    messages.error(request, " ".join(error.messages))
                    return redirect("closings:detail", pk=pk)
                apply_service_errors(form, error)
            else:
                messages.success(request, self.done_message)
                return redirect("closings:detail", pk=pk)
        view = ClosingDetailView(request=request, kwargs=self.kwargs, closing=self.closing)
        context = view.get_context_data(**{self.form_name: form})
        return view.render_to_response(context)

    def step(self, data):
        raise NotImplementedError


class ClosingPayView(_StepView):
    form_class, form_name, roles = PaymentForm, "payment_form", (Role.ADMIN,)
    step_name = "pay"

    @property
    def done_message(self):
        return _("Payment confirmed. The doctor is asked to confirm receipt.")

    def step(self, data):
        services.closing_confirm_payment(
            closing=self.closing,
            by=self.request.user,
            paid_on=data["paid_on"],
            reference=data["payment_reference"],
            note=data["note"],
            ip=client_ip(self.request),
            link=self.detail_link,
        )


class ClosingCancelView(_StepView):
    form_class, form_name, roles = CancelForm, "cancel_form", (Role.ADMIN,)
    step_name = "cancel"

    @property
    def done_message(self):
        return _("Closing cancelled. Its consultations go into the next close of the month.")

    def step(self, data):
        services.closing_cancel(
            closing=self.closing, by=self.request.user, reason=data["reason"],
            ip=client_ip(self.request),
        )  # fmt: skip


class ClosingReceiveView(_StepView):
    form_class, form_name, roles = ReceiptForm, "receipt_form", (Role.DOCTOR,)
    step_name = "receive"

    @property
    def done_message(self):
        return _("Thank you: receipt confirmed.")

    def step(self, data):
        services.closing_confirm_receipt(
            closing=self.closing, by=self.request.user, note=data["note"],
            ip=client_ip(self.request),
        )  # fmt: skip


class ClosingProblemView(_StepView):
    form_class, form_name, roles = ProblemForm, "problem_form", (Role.DOCTOR,)
    step_name = "contest"

    @property
    def done_message(self):
        return _("Problem reported. The clinic was told and will check the payment.")

    def step(self, data):
        services.closing_report_problem(
            closing=self.closing,
            by=self.request.user,
            problem=data["problem"],
            ip=client_ip(self.request),
            link=self.detail_link,
        )


@method_decorator(never_cache, name="dispatch")
class MyPaymentsView(RoleRequiredMixin, TemplateView):
    """The doctor's "Meus pagamentos": every closing of theirs, newest month first."""

    allowed_roles = (Role.DOCTOR, Role.ADMIN)
    template_name = "closings/my_payments.html"

    def get(self, request, *args, **kwargs):
        if has_role(request.user, Role.ADMIN):
            return redirect("closings:list")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        closings = list(closings_visible_to(self.request.user))
        return super().get_context_data(
            closings=closings,
            to_confirm=[c for c in closings if c.status == ClosingStatus.PAID],
            **kwargs,
        )


class MonthExportView(AdminMixin, View):
    """The month's payouts as a spreadsheet, with the PIX keys."""

    def get(self, request):
        form = ClosingFilterForm(request.GET)
        month = form.period.month
        return _xlsx(exports.month_workbook(month=month), exports.month_filename(month))


class StatementView(ClosingMixin, View):
    """One closing's statement as a spreadsheet (its doctor, or an admin)."""

    def get(self, request, pk):
        closing = self.closing
        return _xlsx(
            exports.closing_statement_workbook(closing=closing),
            exports.statement_filename(closing),
        )

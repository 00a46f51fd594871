"""Closings in the Django admin: read here, changed only through the services.

The two actions (confirm payment today, cancel) call the same services as the
product's pages, so each is one step with its event; anything more (a bank
reference, a note) is on the closing's own page, linked from here.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import DoctorFilter, ReadOnlyAdmin, ReadOnlyInline
from accounts.backends import client_ip
from accounts.models import short_local_datetime
from billing.money import format_brl
from billing.selectors import local_today

from . import services
from .models import ClosingEvent, ClosingStatus, MonthlyClosing

PERSON = "doctor_profile"


class ClosingDoctorFilter(DoctorFilter):
    related_name = "closings"


class ClosingEventInline(ReadOnlyInline):
    model = ClosingEvent
    fields = ("when", "action", "from_status", "to_status", "actor_name", "note", "ip")
    ordering = ("at", "pk")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(f"actor__{PERSON}")

    @admin.display(description=_("when"))
    def when(self, obj):
        return short_local_datetime(obj.at)

    @admin.display(description=_("by"))
    def actor_name(self, obj):
        return obj.actor.display_name if obj.actor else gettext("the system")


@admin.register(MonthlyClosing)
class MonthlyClosingAdmin(ReadOnlyAdmin):
    list_display = ("doctor", "month_label", "sequence", "consultation_count", "net", "status",
                    "contested", "paid_on", "has_key")  # fmt: skip
    list_select_related = (f"doctor__{PERSON}",)
    list_filter = ("status", "contested", "month", ClosingDoctorFilter)
    search_fields = ("doctor__first_name", "doctor__last_name", "doctor__email")
    fields = ("doctor", "month_label", "sequence", "status", "consultation_count", "gross",
              "platform", "net", "pix_key_type", "pix_key", "contested", "problem", "paid_on",
              "paid_by", "payment_reference", "payment_note", "received", "received_note",
              "cancel_reason", "product_page")  # fmt: skip
    readonly_fields = fields
    inlines = (ClosingEventInline,)
    actions = ("confirm_payment_today", "cancel_closings")

    @admin.display(description=_("month"), ordering="month")
    def month_label(self, obj):
        return obj.month.strftime("%m/%Y")

    @admin.display(description=_("gross"))
    def gross(self, obj):
        return format_brl(obj.gross_total)

    @admin.display(description=_("clinic share"))
    def platform(self, obj):
        return format_brl(obj.platform_total)

    @admin.display(description=_("net to the doctor"), ordering="net_total")
    def net(self, obj):
        return format_brl(obj.net_total)

    @admin.display(description=_("PIX key"), boolean=True)
    def has_key(self, obj):
        return bool(obj.pix_key)

    @admin.display(description=_("receipt confirmed at"))
    def received(self, obj):
        return short_local_datetime(obj.received_at) if obj.received_at else "-"

    @admin.display(description=_("page"))
    def product_page(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("closings:detail", args=[obj.pk]),
            gettext("Open the closing's page (PIX code, payment with bank reference)"),
        )

    def _each(self, request, queryset, step, done_message):
        done = 0
        for closing in queryset.select_related("doctor"):
            try:
                step(closing)
                done += 1
            except ValidationError as error:
                self.message_user(
                    request, f"{closing}: {' '.join(error.messages)}", messages.WARNING
                )
        if done:
            self.message_user(request, done_message(done), messages.SUCCESS)

    @admin.action(description=_("Confirm payment (paid today)"))
    def confirm_payment_today(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda closing: services.closing_confirm_payment(
                closing=closing, by=request.user, paid_on=local_today(), ip=client_ip(request)
            ),
            lambda n: (
                ngettext("%(n)d payment confirmed.", "%(n)d payments confirmed.", n) % {"n": n}
            ),
        )

    @admin.action(description=_("Cancel (closed again at the next close of the month)"))
    def cancel_closings(self, request, queryset):
        self._each(
            request,
            queryset.filter(status=ClosingStatus.PENDING),
            lambda closing: services.closing_cancel(
                closing=closing,
                by=request.user,
                reason=gettext("Cancelled in the back office."),
                ip=client_ip(request),
            ),
            lambda n: (
                ngettext("%(n)d closing cancelled.", "%(n)d closings cancelled.", n) % {"n": n}
            ),
        )


@admin.register(ClosingEvent)
class ClosingEventAdmin(ReadOnlyAdmin):
    list_display = ("when", "closing", "action", "from_status", "to_status", "actor_name",
                    "actor_role", "ip")  # fmt: skip
    list_select_related = (f"closing__doctor__{PERSON}", f"actor__{PERSON}")
    list_filter = ("action", "actor_role")
    search_fields = ("closing__doctor__first_name", "closing__doctor__last_name", "note")
    date_hierarchy = "at"
    fields = ("when", "closing", "action", "from_status", "to_status", "actor_name",
              "actor_role", "note", "ip")  # fmt: skip
    readonly_fields = fields

    @admin.display(description=_("when"), ordering="at")
    def when(self, obj):
        return short_local_datetime(obj.at)

    @admin.display(description=_("by"))
    def actor_name(self, obj):
        return obj.actor.display_name if obj.actor else gettext("the system")

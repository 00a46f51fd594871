"""Billing in the Django admin: everything shown, nothing added, changed or deleted here.

Rates change on the product's Rates pages (services.billing_settings_update,
doctor_rate_update), which log every change; records change only by being
voided or restored there, with a reason. Here the back office reads them:
money as R$ 1.234,56, times in the clinic's zone, people by name.
"""

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import DoctorFilter, ReadOnlyAdmin, ReadOnlyInline
from accounts.models import short_local_datetime
from rooms.models import Room

from .models import (
    BillingRecord,
    BillingRecordEvent,
    BillingSettings,
    DoctorRate,
    RateChange,
    RateField,
)
from .money import format_brl, format_percentage

# A user's name reads their doctor profile (the title): load both in one join.
PERSON = "doctor_profile"


def _brl_or_default(value):
    return gettext("clinic default") if value is None else format_brl(value)


def _percentage_or_default(value):
    return gettext("clinic default") if value is None else format_percentage(value)


def _product_page(url, text):
    return format_html('<a href="{}">{}</a>', url, text)


class RecordDoctorFilter(DoctorFilter):
    related_name = "billing_records"


class RateChangeDoctorFilter(DoctorFilter):
    related_name = "rate_changes"


class CountedFilter(admin.SimpleListFilter):
    title = _("situation")
    parameter_name = "situation"

    def lookups(self, request, model_admin):
        return [("counted", _("Counted")), ("voided", _("Voided"))]

    def queryset(self, request, queryset):
        if self.value() == "counted":
            return queryset.filter(voided_at__isnull=True)
        if self.value() == "voided":
            return queryset.filter(~Q(voided_at=None))
        return queryset


@admin.register(BillingSettings)
class BillingSettingsAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "fee", "share", "minimum", "updated")
    fields = ("fee", "share", "minimum", "updated", "where_to_change")
    readonly_fields = fields

    @admin.display(description=_("consultation fee"))
    def fee(self, obj):
        return format_brl(obj.consultation_fee)

    @admin.display(description=_("clinic share (%)"))
    def share(self, obj):
        return format_percentage(obj.platform_percentage)

    @admin.display(description=_("minimum billable time (seconds)"))
    def minimum(self, obj):
        return obj.min_billable_seconds

    @admin.display(description=_("updated at"))
    def updated(self, obj):
        return short_local_datetime(obj.updated_at)

    @admin.display(description=_("where to change it"))
    def where_to_change(self, obj):
        return _product_page(
            reverse("billing:rates_defaults"), gettext("Change them on the clinic's defaults page")
        )


@admin.register(DoctorRate)
class DoctorRateAdmin(ReadOnlyAdmin):
    list_display = ("doctor", "fee", "share", "updated")
    list_select_related = (f"doctor__{PERSON}",)
    search_fields = ("doctor__first_name", "doctor__last_name", "doctor__email")
    ordering = ("doctor__first_name", "doctor__last_name")
    fields = ("doctor", "fee", "share", "updated", "where_to_change")
    readonly_fields = fields

    @admin.display(description=_("consultation fee"), ordering="consultation_fee")
    def fee(self, obj):
        return _brl_or_default(obj.consultation_fee)

    @admin.display(description=_("clinic share (%)"), ordering="platform_percentage")
    def share(self, obj):
        return _percentage_or_default(obj.platform_percentage)

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated(self, obj):
        return short_local_datetime(obj.updated_at)

    @admin.display(description=_("where to change it"))
    def where_to_change(self, obj):
        return _product_page(
            reverse("billing:doctor_rate", args=[obj.doctor_id]),
            gettext("Change it on this doctor's rate page"),
        )


@admin.register(RateChange)
class RateChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed", "whose", "field", "old", "new", "changed_by")
    list_select_related = (f"doctor__{PERSON}", f"changed_by__{PERSON}")
    list_filter = (RateChangeDoctorFilter, "field")
    date_hierarchy = "changed_at"
    search_fields = ("doctor__first_name", "doctor__last_name", "doctor__email")
    fields = ("changed", "whose", "field", "old", "new", "changed_by")
    readonly_fields = fields

    @admin.display(description=_("changed at"), ordering="changed_at")
    def changed(self, obj):
        return short_local_datetime(obj.changed_at)

    @admin.display(description=_("rate of"), ordering="doctor__first_name")
    def whose(self, obj):
        return obj.doctor.display_name if obj.doctor else gettext("Clinic billing settings")

    def _value(self, obj, value):
        if obj.field == RateField.MIN_SECONDS:
            return "-" if value is None else int(value)
        if obj.field == RateField.PERCENTAGE:
            return _percentage_or_default(value)
        return _brl_or_default(value)

    @admin.display(description=_("from"))
    def old(self, obj):
        return self._value(obj, obj.old_value)

    @admin.display(description=_("to"))
    def new(self, obj):
        return self._value(obj, obj.new_value)


class BillingRecordEventInline(ReadOnlyInline):
    """The record's voids and restores, oldest first: the record shows only the latest."""

    model = BillingRecordEvent
    fields = ("when", "action", "reason", "actor")
    ordering = ("at", "pk")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(f"actor__{PERSON}")

    @admin.display(description=_("when"))
    def when(self, obj):
        return short_local_datetime(obj.at)


@admin.register(BillingRecord)
class BillingRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "ended", "doctor", "patient", "gross_brl", "platform_brl", "doctor_brl", "counted",
    )  # fmt: skip
    list_select_related = (f"doctor__{PERSON}", "patient")
    list_filter = (RecordDoctorFilter, CountedFilter)
    date_hierarchy = "ended_at"
    search_fields = (
        "doctor__first_name", "doctor__last_name", "patient__first_name", "patient__last_name",
    )  # fmt: skip
    fields = (
        "room", "doctor", "patient", "ended", "together", "fee", "share", "gross_brl",
        "platform_brl", "doctor_brl", "registered", "voided", "voided_by", "void_reason",
    )  # fmt: skip
    readonly_fields = fields
    inlines = [BillingRecordEventInline]

    def get_queryset(self, request):
        # The change page names the consultation, the people and who voided it.
        return (
            super()
            .get_queryset(request)
            .select_related(
                f"doctor__{PERSON}",
                "patient",
                f"room__doctor__{PERSON}",
                "room__patient",
                f"voided_by__{PERSON}",
            )
        )

    @admin.display(description=_("consultation ended at"), ordering="ended_at")
    def ended(self, obj):
        return short_local_datetime(obj.ended_at)

    @admin.display(description=_("time together"), ordering="seconds_together")
    def together(self, obj):
        # Said the way the room says it ("12 min"): one rule for how a duration reads.
        return Room(both_present_seconds=obj.seconds_together).duration_display

    @admin.display(description=_("fee used"))
    def fee(self, obj):
        return format_brl(obj.consultation_fee)

    @admin.display(description=_("clinic share used (%)"))
    def share(self, obj):
        return format_percentage(obj.platform_percentage)

    @admin.display(description=_("gross"), ordering="gross")
    def gross_brl(self, obj):
        return format_brl(obj.gross)

    @admin.display(description=_("clinic share"), ordering="platform_amount")
    def platform_brl(self, obj):
        return format_brl(obj.platform_amount)

    @admin.display(description=_("doctor's share"), ordering="doctor_amount")
    def doctor_brl(self, obj):
        return format_brl(obj.doctor_amount)

    @admin.display(description=_("registered at"))
    def registered(self, obj):
        return short_local_datetime(obj.created_at)

    @admin.display(description=_("voided at"))
    def voided(self, obj):
        return short_local_datetime(obj.voided_at) if obj.voided_at else "-"

    @admin.display(description=_("counted"), boolean=True, ordering="voided_at")
    def counted(self, obj):
        return not obj.is_voided


@admin.register(BillingRecordEvent)
class BillingRecordEventAdmin(ReadOnlyAdmin):
    list_display = ("when", "record", "action", "reason", "actor")
    list_select_related = (
        f"record__doctor__{PERSON}",
        "record__patient",
        f"actor__{PERSON}",
    )
    list_filter = ("action",)
    date_hierarchy = "at"
    search_fields = (
        "record__doctor__first_name", "record__doctor__last_name",
        "record__patient__first_name", "record__patient__last_name",
    )  # fmt: skip
    fields = ("when", "record", "action", "reason", "actor")
    readonly_fields = fields

    @admin.display(description=_("when"), ordering="at")
    def when(self, obj):
        return short_local_datetime(obj.at)

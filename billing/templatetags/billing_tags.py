"""Billing's template tags: what billing made of a consultation (for the room summary:
rooms never imports billing, so its templates ask billing through `room_billing`),
and how a call's length and a month read."""

from django import template

from billing import tables
from billing.charts import month_label
from billing.models import BillingRecord, BillingSettings
from rooms.models import duration_text

register = template.Library()


@register.simple_tag
def room_billing(room) -> dict:
    """The room's billing outcome: status is one of open, registered, voided,
    no_show (never in the call together) or too_short (under the clinic's minimum)."""
    if room.is_open:
        return {"status": "open"}
    record = BillingRecord.objects.filter(room=room).first()
    if record is not None:
        return {"status": "voided" if record.is_voided else "registered", "record": record}
    if room.call_started_at is None:
        return {"status": "no_show"}
    return {"status": "too_short", "minimum": BillingSettings.load().min_billable_seconds}


@register.simple_tag(takes_context=True)
def records_table(context, records, voided=False, actions=False, query=""):
    """billing.tables.records_table, with the page's CSRF token for the Restore forms."""
    return tables.records_table(
        records,
        voided=bool(voided),
        actions=bool(actions),
        query=query,
        csrf_token=context.get("csrf_token", ""),
    )


@register.simple_tag
def no_show_items(rooms):
    return tables.no_show_items(rooms)


@register.simple_tag
def chart_rows(chart):
    return tables.chart_rows(chart)


@register.simple_tag
def month_options(choices):
    return tables.month_options(choices)


@register.filter
def minutes(seconds) -> str:
    """Seconds as people say a call's length: "32 min", "1 h 05 min"."""
    if seconds in (None, ""):
        return ""
    return duration_text(int(seconds))


@register.filter
def month(value) -> str:
    """A local month as people write it: "outubro de 2026"."""
    return month_label(value) if value else ""

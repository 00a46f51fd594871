"""What billing made of a consultation, for pages outside billing (the room summary).

rooms never imports billing, so the room's templates ask billing through this tag.
"""

from django import template

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


@register.filter
def duration_seconds(seconds) -> str:
    """Seconds as people say a call's length: "12 min", "1 h 05 min"."""
    return duration_text(int(seconds or 0))

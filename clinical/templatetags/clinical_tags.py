from django import template

from accounts.backends import client_ip
from clinical import selectors, services
from clinical.forms import EvolutionForm
from clinical.models import RecordSection

register = template.Library()

RECENT_IN_CALL = 3


@register.inclusion_tag("clinical/_call_evolution.html", takes_context=True)
def call_evolution_form(context, room):
    """The clinical part of the call's side panel: the latest evolutions, and the form."""
    form = EvolutionForm(auto_id="call-evolution-%s")
    for field in form.fields.values():
        field.widget.attrs["class"] = "form-control form-control-sm"
        if "rows" in field.widget.attrs:
            field.widget.attrs["rows"] = 3
    earlier = list(selectors.timeline(patient=room.patient).exclude(room=room)[:RECENT_IN_CALL])
    if earlier:
        # The call page belongs to rooms; this is the part of it that shows the
        # record, so opening it is a logged read like the chart.
        request = context["request"]
        services.record_access_log(
            viewer=request.user,
            patient=room.patient,
            section=RecordSection.CHART,
            ip_address=client_ip(request),
        )
    return {
        "room": room,
        "form": form,
        "earlier": earlier,
        "written": selectors.timeline(patient=room.patient).filter(room=room),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("clinical/_record_counts.html", takes_context=True)
def record_counts(context, patient):
    """What an admin's patient page shows of the record: counts and dates, never content."""
    return {
        "user": context["request"].user,
        "patient": patient,
        "counts": selectors.record_counts(patient=patient),
    }

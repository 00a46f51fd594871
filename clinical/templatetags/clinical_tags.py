from django import template

from clinical import selectors
from clinical.forms import EvolutionForm

register = template.Library()


@register.inclusion_tag("clinical/_call_evolution.html", takes_context=True)
def call_evolution_form(context, room):
    """The evolution form of the call's side panel, with what was already written in this call."""
    form = EvolutionForm(auto_id="call-evolution-%s")
    for field in form.fields.values():
        field.widget.attrs["class"] = "form-control form-control-sm"
        if "rows" in field.widget.attrs:
            field.widget.attrs["rows"] = 3
    return {
        "room": room,
        "form": form,
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

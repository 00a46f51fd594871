from django import template

from rooms import services
from rooms.permissions import can_open_room_for
from rooms.selectors import rooms_of_patient

register = template.Library()


@register.inclusion_tag("rooms/_patient_rooms.html", takes_context=True)
def patient_consultations(context, patient):
    """The consultations block of a patient's page: rooms, consent, "open a room"."""
    user = context["request"].user
    return {
        "request": context["request"],
        "user": user,
        "patient": patient,
        "rooms": rooms_of_patient(user=user, patient=patient)[:20],
        "consent": services.consent_current(patient=patient),
        "can_open": can_open_room_for(user, patient),
        "csrf_token": context.get("csrf_token"),
    }

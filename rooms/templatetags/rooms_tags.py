from urllib.parse import quote

from django import template
from django.utils.translation import gettext as _

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


def _wa_me(phone: str, text: str) -> str:
    # The message is built here, in Python, because a {% blocktranslate %} in
    # the template HTML-escapes the name before |urlencode sees it, and the
    # patient reads "Olá, Maria D&#x27;Ajuda!" in WhatsApp.
    return f"https://wa.me/{phone.removeprefix('+')}?text={quote(text, safe='/')}"


@register.simple_tag
def whatsapp_consultation_url(patient, join_url: str) -> str:
    """A wa.me link that opens a chat with the patient, the consultation link typed in."""
    text = _("Hello, %(name)s! Your online consultation is ready. Join here: %(join_url)s") % {
        "name": patient.first_name,
        "join_url": join_url,
    }
    return _wa_me(patient.phone, text)


@register.simple_tag
def whatsapp_invitation_url(person, link: str) -> str:
    """A wa.me link that opens a chat with the person, their invitation link typed in."""
    text = _("Hello, %(name)s! Here is your link to access MedConnect: %(link)s") % {
        "name": person.first_name,
        "link": link,
    }
    return _wa_me(person.phone, text)

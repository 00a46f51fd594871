from django.db.models import Exists, OuterRef, QuerySet

from .models import Presence, Room, RoomStatus
from .permissions import rooms_visible_to


def open_rooms_for(*, user) -> QuerySet[Room]:
    """Open rooms on a dashboard, with who is in each (one query for all presences)."""
    return (
        rooms_visible_to(user)
        .filter(status=RoomStatus.OPEN)
        .select_related("doctor__doctor_profile", "patient")
        .annotate(
            patient_present=Exists(
                Presence.objects.filter(room=OuterRef("pk"), user=OuterRef("patient"))
            ),
            doctor_present=Exists(
                Presence.objects.filter(room=OuterRef("pk"), user=OuterRef("doctor"))
            ),
        )
        .order_by("-created_at")
    )


def rooms_of_patient(*, user, patient) -> QuerySet[Room]:
    return (
        rooms_visible_to(user)
        .filter(patient=patient)
        .select_related("ended_by", "billing_record")
        .order_by("-created_at")
    )


def past_consultations(*, room: Room) -> QuerySet[Room]:
    """The same doctor's earlier, finished consultations with this room's patient."""
    return (
        Room.objects.filter(doctor=room.doctor_id, patient=room.patient_id, status=RoomStatus.ENDED)
        .exclude(pk=room.pk)
        .order_by("-ended_at")
    )

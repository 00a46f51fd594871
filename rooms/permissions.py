"""Who may see, join, open and finish consultation rooms. Written once, here."""

from django.db.models import QuerySet

from accounts.models import Role, User
from accounts.permissions import has_role, patients_editable_by

from .models import Room


def rooms_visible_to(user) -> QuerySet[Room]:
    """Rooms a user may see: their own as doctor or patient; every room for admins."""
    rooms = Room.objects.all()
    if has_role(user, Role.ADMIN):
        return rooms
    if has_role(user, Role.DOCTOR):
        return rooms.filter(doctor=user)
    if has_role(user, Role.PATIENT):
        return rooms.filter(patient=user)
    return rooms.none()


def rooms_joinable_by(user) -> QuerySet[Room]:
    """Rooms whose call this user may enter: only its doctor and its patient, never admins."""
    if has_role(user, Role.DOCTOR):
        return Room.objects.filter(doctor=user)
    if has_role(user, Role.PATIENT):
        return Room.objects.filter(patient=user)
    return Room.objects.none()


def patients_for_new_room(user) -> QuerySet[User]:
    """Active patients a doctor may open a room for: those they are responsible for.

    A doctor who once had a room with a patient still sees that patient's
    history after a reassignment, but new consultations go to the new doctor.
    """
    if not has_role(user, Role.DOCTOR):
        return User.objects.none()
    return patients_editable_by(user).filter(is_active=True)


def can_join_room(user, room: Room) -> bool:
    return rooms_joinable_by(user).filter(pk=room.pk).exists()


def can_open_room_for(user, patient: User) -> bool:
    return patients_for_new_room(user).filter(pk=patient.pk).exists()


def can_finish_room(user, room: Room) -> bool:
    """Only the room's doctor finishes the consultation."""
    return has_role(user, Role.DOCTOR) and room.doctor_id == user.pk

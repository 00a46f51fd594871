"""Who may read and write clinical content. Written once, here.

Clinical text is for the patient and the doctors allowed to see that patient
(responsible for them, or had a room with them). Admins manage people and
money: they see counts and dates, and read content only through an active
emergency access (break-glass) they asked for, with a written reason.
"""

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Role, User
from accounts.permissions import has_role, patients_editable_by, patients_visible_to

from .models import EmergencyAccess, Evolution


def emergency_accesses_active(admin) -> QuerySet[EmergencyAccess]:
    if not has_role(admin, Role.ADMIN):
        return EmergencyAccess.objects.none()
    return EmergencyAccess.objects.filter(admin=admin, expires_at__gt=timezone.now())


def emergency_access_to(user, patient_id: int) -> EmergencyAccess | None:
    """The user's emergency access to this patient's record in force now, if any."""
    return emergency_accesses_active(user).filter(patient=patient_id).first()


def records_readable_by(user) -> QuerySet[User]:
    """Patients whose clinical content this user may read."""
    if has_role(user, Role.PATIENT, Role.DOCTOR):
        return patients_visible_to(user)
    if has_role(user, Role.ADMIN):
        granted = emergency_accesses_active(user).values("patient")
        return User.objects.filter(role=Role.PATIENT, pk__in=granted)
    return User.objects.none()


def evolutions_visible_to(user) -> QuerySet[Evolution]:
    return Evolution.objects.filter(patient__in=records_readable_by(user).values("pk"))


def patients_writable_by(user) -> QuerySet[User]:
    """Patients a doctor may write evolutions for: those whose record they may read."""
    if not has_role(user, Role.DOCTOR):
        return User.objects.none()
    return patients_visible_to(user)


def evolutions_amendable_by(user) -> QuerySet[Evolution]:
    """Only the author corrects an evolution, while they may still read the record."""
    if not has_role(user, Role.DOCTOR):
        return Evolution.objects.none()
    return evolutions_visible_to(user).filter(doctor=user)


def patients_with_log_visible_to(user) -> QuerySet[User]:
    """Whose access log this user may read: admins every patient's, a doctor their own patients'."""
    if has_role(user, Role.ADMIN):
        return User.objects.filter(role=Role.PATIENT)
    return patients_editable_by(user) if has_role(user, Role.DOCTOR) else User.objects.none()


def can_write_evolution(user, patient: User) -> bool:
    return patients_writable_by(user).filter(pk=patient.pk).exists()


def can_amend_evolution(user, evolution: Evolution) -> bool:
    return evolutions_amendable_by(user).filter(pk=evolution.pk).exists()


def can_see_access_log(user, patient: User) -> bool:
    return patients_with_log_visible_to(user).filter(pk=patient.pk).exists()

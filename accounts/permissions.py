"""Who may see and change people. The one place these rules are written.

Each rule comes as a scoped queryset (`*_visible_to`) and a `can_*` check
built on it, so a view's 404 and a template's button can never disagree.
"""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from .models import Role, User


class RoleRequiredMixin(AccessMixin):
    """Let in only users whose role is in `allowed_roles` (403 for the rest)."""

    allowed_roles: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if request.user.role not in self.allowed_roles or not has_role_profile(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def has_role_profile(user) -> bool:
    """Whether the profile the user's role needs is there (doctors' CRM, patients' doctor).

    Role changes create it (services.user_change_role); an account left
    without one by an older admin gets a 403 on its role's pages, not a 500.
    """
    if user.role == Role.DOCTOR:
        return hasattr(user, "doctor_profile")
    if user.role == Role.PATIENT:
        return hasattr(user, "patient_profile")
    return True


def has_role(user, *roles: str) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role in roles)


def patients_visible_to(user) -> QuerySet[User]:
    """Patients whose details this user may see."""
    patients = User.objects.filter(role=Role.PATIENT)
    if has_role(user, Role.ADMIN):
        return patients
    if has_role(user, Role.DOCTOR):
        # Responsible for them, or had a consultation room with them (the
        # reverse relation from rooms, so accounts need not import rooms).
        had_room = User.objects.filter(patient_rooms__doctor=user).values("pk")
        return patients.filter(Q(patient_profile__doctor=user) | Q(pk__in=had_room))
    if has_role(user, Role.PATIENT):
        return patients.filter(pk=user.pk)
    return patients.none()


def patients_editable_by(user) -> QuerySet[User]:
    """Admins edit every patient; a doctor edits the patients they are responsible for."""
    patients = User.objects.filter(role=Role.PATIENT)
    if has_role(user, Role.ADMIN):
        return patients
    if has_role(user, Role.DOCTOR):
        return patients.filter(patient_profile__doctor=user)
    return patients.none()


def doctors_visible_to(user) -> QuerySet[User]:
    """Doctors whose details this user may see: admins all, a patient their own."""
    doctors = User.objects.filter(role=Role.DOCTOR)
    if has_role(user, Role.ADMIN):
        return doctors
    if has_role(user, Role.DOCTOR):
        return doctors.filter(pk=user.pk)
    if has_role(user, Role.PATIENT):
        return doctors.filter(patients__user=user)
    return doctors.none()


def users_visible_to(user) -> QuerySet[User]:
    """Everyone whose name and photo this user may see."""
    if has_role(user, Role.ADMIN):
        return User.objects.all()
    if not has_role(user, Role.DOCTOR, Role.PATIENT):
        return User.objects.none()
    return User.objects.filter(
        Q(pk=user.pk)
        | Q(pk__in=patients_visible_to(user).values("pk"))
        | Q(pk__in=doctors_visible_to(user).values("pk"))
    )


def users_manageable_by(user) -> QuerySet[User]:
    """Accounts this user may deactivate and reactivate: admins, every non-admin."""
    if has_role(user, Role.ADMIN):
        return User.objects.exclude(role=Role.ADMIN)
    return User.objects.none()


def can_view_patient(user, patient: User) -> bool:
    return patients_visible_to(user).filter(pk=patient.pk).exists()


def can_edit_patient(user, patient: User) -> bool:
    return patients_editable_by(user).filter(pk=patient.pk).exists()


def can_view_user(user, other: User) -> bool:
    return users_visible_to(user).filter(pk=other.pk).exists()


def can_manage_user(user, other: User) -> bool:
    return users_manageable_by(user).filter(pk=other.pk).exists()


def can_manage_doctors(user) -> bool:
    return has_role(user, Role.ADMIN)


def can_register_patients(user) -> bool:
    return has_role(user, Role.ADMIN, Role.DOCTOR)


def can_reassign_patients(user) -> bool:
    return has_role(user, Role.ADMIN)


def people_invitable_by(user) -> QuerySet[User]:
    """People whose invitation link this user may see: whoever may edit them."""
    if has_role(user, Role.ADMIN):
        return User.objects.exclude(role=Role.ADMIN)
    return patients_editable_by(user)

"""Read queries behind the people pages. They own the joins, so lists stay flat."""

import re

from django.db.models import Count, Q, QuerySet

from .models import Role, User
from .permissions import doctors_visible_to, patients_visible_to


def _search(users: QuerySet[User], query: str, *extra_fields: str) -> QuerySet[User]:
    condition = Q()
    for term in query.split():
        term_q = Q(first_name__icontains=term) | Q(last_name__icontains=term)
        term_q |= Q(email__icontains=term)
        for field in extra_fields:
            term_q |= Q(**{f"{field}__icontains": term})
        condition &= term_q
    return users.filter(condition)


def _status(users: QuerySet[User], status: str) -> QuerySet[User]:
    if status == "active":
        return users.filter(is_active=True)
    if status == "inactive":
        return users.filter(is_active=False)
    return users


def doctor_list_for(
    *, user: User, query: str = "", status: str = "", specialty: str = ""
) -> QuerySet[User]:
    doctors = doctors_visible_to(user).select_related("doctor_profile")
    doctors = _search(doctors, query, "doctor_profile__crm", "doctor_profile__specialty")
    if specialty:
        doctors = doctors.filter(doctor_profile__specialty__iexact=specialty)
    doctors = doctors.annotate(
        patient_count=Count("patients", filter=Q(patients__user__is_active=True))
    )
    return _status(doctors, status).order_by("first_name", "last_name", "pk")


def patient_list_for(
    *, user: User, query: str = "", status: str = "", doctor_id: int | None = None
) -> QuerySet[User]:
    patients = patients_visible_to(user).select_related("patient_profile__doctor__doctor_profile")
    # A CPF may be typed with its dots and dash; it is stored as digits.
    query = " ".join(
        re.sub(r"[.\-]", "", term) if re.fullmatch(r"[\d.\-]+", term) else term
        for term in query.split()
    )
    patients = _search(patients, query, "patient_profile__cpf")
    if doctor_id:
        patients = patients.filter(patient_profile__doctor_id=doctor_id)
    return _status(patients, status).order_by("first_name", "last_name", "pk")


def specialties() -> list[str]:
    return list(
        User.objects.filter(role=Role.DOCTOR)
        .exclude(doctor_profile__specialty="")
        .values_list("doctor_profile__specialty", flat=True)
        .distinct()
        .order_by("doctor_profile__specialty")
    )


def doctor_choices() -> QuerySet[User]:
    """Active doctors, for the responsible-doctor pickers."""
    return (
        User.objects.filter(role=Role.DOCTOR, is_active=True)
        .select_related("doctor_profile")
        .order_by("first_name", "last_name")
    )


def people_counts() -> dict[str, int]:
    """Active and total doctors and patients, in one query (admin dashboard)."""
    return User.objects.aggregate(
        doctors_total=Count("pk", filter=Q(role=Role.DOCTOR)),
        doctors_active=Count("pk", filter=Q(role=Role.DOCTOR, is_active=True)),
        patients_total=Count("pk", filter=Q(role=Role.PATIENT)),
        patients_active=Count("pk", filter=Q(role=Role.PATIENT, is_active=True)),
    )

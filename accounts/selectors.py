"""Read queries behind the people pages. They own the joins, so lists stay flat."""

import re

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from .models import PatientProfile, Role, User
from .permissions import doctors_visible_to, patients_visible_to

# A number is typed with any of the punctuation of phones and documents:
# "(11) 98765-4321", "+55 11 98765 4321", "529.982.247-25".
_NUMBER_TOKEN = re.compile(r"[0-9().+\-/]+")
_NON_DIGITS = re.compile(r"[^0-9]")


def _search_terms(query: str) -> list[tuple[str, str]]:
    """Split a search into (text, digits) terms, every one of which must match.

    Neighbouring tokens made only of digits and punctuation are one number, so
    "(11) 98765-4321" is searched as 11987654321, as it is stored, not as 11
    and 987654321 separately.
    """
    terms, number = [], []
    for token in [*query.split(), ""]:
        if token and _NUMBER_TOKEN.fullmatch(token):
            number.append(token)
            continue
        if number:
            digits = _NON_DIGITS.sub("", "".join(number))
            if digits:
                terms.append(("", digits))
            number = []
        if token:
            terms.append((token, ""))
    return terms


def _search(
    users: QuerySet[User],
    query: str,
    *,
    text_fields: tuple[str, ...] = (),
    number_fields: tuple[str, ...] = (),
) -> QuerySet[User]:
    condition = Q()
    for text, digits in _search_terms(query):
        if digits:
            term_q = Q(email__icontains=digits) | Q(phone__contains=digits)
            if digits.startswith("0") and digits.strip("0"):  # trunk prefix: "011 9876…"
                term_q |= Q(phone__contains=digits.lstrip("0"))
            for field in number_fields:
                term_q |= Q(**{f"{field}__contains": digits})
        else:
            term_q = Q(first_name__icontains=text) | Q(last_name__icontains=text)
            term_q |= Q(email__icontains=text)
            for field in text_fields:
                term_q |= Q(**{f"{field}__icontains": text})
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
    doctors = _search(
        doctors,
        query,
        text_fields=("doctor_profile__specialty",),
        number_fields=("doctor_profile__crm",),
    )
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
    patients = _search(patients, query, number_fields=("patient_profile__cpf",))
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


def doctor_filter_choices() -> QuerySet[User]:
    """Doctors to filter the patient list by: the active ones, and the inactive
    ones who are still responsible for someone, so those patients can be found."""
    has_patients = Exists(PatientProfile.objects.filter(doctor=OuterRef("pk")))
    return (
        User.objects.filter(Q(is_active=True) | has_patients, role=Role.DOCTOR)
        .select_related("doctor_profile")
        .order_by("-is_active", "first_name", "last_name")
    )


def active_patients_of(*, doctor: User) -> QuerySet[User]:
    """The active patients a doctor is responsible for."""
    return User.objects.filter(patient_profile__doctor=doctor, is_active=True).order_by(
        "first_name", "last_name", "pk"
    )


def people_counts() -> dict[str, int]:
    """Active and total doctors and patients, in one query (admin dashboard)."""
    return User.objects.aggregate(
        doctors_total=Count("pk", filter=Q(role=Role.DOCTOR)),
        doctors_active=Count("pk", filter=Q(role=Role.DOCTOR, is_active=True)),
        patients_total=Count("pk", filter=Q(role=Role.PATIENT)),
        patients_active=Count("pk", filter=Q(role=Role.PATIENT, is_active=True)),
    )

import datetime as dt

from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from accounts.models import User
from rooms.models import Room, TelemedicineConsent

from .models import ClinicalText, EmergencyAccess, Evolution, EvolutionRevision, RecordAccess


def timeline(*, patient: User) -> QuerySet[Evolution]:
    """A patient's evolutions, newest first, with everything a row shows in the same query."""
    return (
        Evolution.objects.filter(patient=patient)
        .select_related("doctor__doctor_profile", "room")
        .order_by("-created_at", "-pk")
    )


def consultations(*, patient: User) -> QuerySet[Room]:
    """Every consultation of the patient, with any doctor: the record is the patient's."""
    return (
        Room.objects.filter(patient=patient)
        .select_related("doctor__doctor_profile", "ended_by__doctor_profile", "billing_record")
        .annotate(evolution_count=Count("evolutions"))
        .order_by("-created_at")
    )


def revisions_of(*, evolution: Evolution) -> list[EvolutionRevision]:
    return list(evolution.revisions.select_related("author__doctor_profile").order_by("-number"))


def revision_history(*, evolution: Evolution) -> list[tuple[EvolutionRevision, list]]:
    """Each revision (newest first) with the names of the fields it changed from the one before."""
    ordered = sorted(revisions_of(evolution=evolution), key=lambda r: r.number)
    history = []
    for before, after in zip([None, *ordered], ordered, strict=False):
        changed = [
            ClinicalText._meta.get_field(name).verbose_name
            for name in ClinicalText.TEXT_FIELDS
            if before is not None and getattr(before, name) != getattr(after, name)
        ]
        history.append((after, changed))
    return list(reversed(history))


def record_counts(*, patient: User) -> dict:
    """What an admin sees of a record without emergency access: counts and dates."""
    return Evolution.objects.filter(patient=patient).aggregate(
        evolutions=Count("pk"), last_written=Max("created_at")
    )


def access_log(
    *,
    patient: User,
    since: dt.date | None = None,
    until: dt.date | None = None,
    with_refused: bool = False,
) -> QuerySet[RecordAccess]:
    """A patient's access log, newest first; `since` and `until` are days in the clinic's zone.

    Refused attempts (staff answered "not found") are for the staff's page
    (`with_refused`): they opened nothing, and what the patient reads is who
    opened their record.
    """
    entries = RecordAccess.objects.filter(patient=patient)
    if not with_refused:
        entries = entries.filter(refused=False)
    zone = timezone.get_current_timezone()
    if since:
        start = dt.datetime.combine(since, dt.time.min, tzinfo=zone)
        entries = entries.filter(created_at__gte=start)
    if until:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        entries = entries.filter(created_at__lt=end)
    return entries.select_related("viewer__doctor_profile", "emergency").order_by(
        "-created_at", "-pk"
    )


def emergency_accesses_seen_by(*, doctor: User, days: int = 14) -> QuerySet[EmergencyAccess]:
    """Recent break-glass accesses to the patients this doctor is responsible for."""
    since = timezone.now() - dt.timedelta(days=days)
    return (
        EmergencyAccess.objects.filter(
            patient__patient_profile__doctor=doctor, created_at__gte=since
        )
        .select_related("admin", "patient")
        .order_by("-created_at")
    )


def emergency_accesses_of(*, patient: User, days: int = 30) -> QuerySet[EmergencyAccess]:
    since = timezone.now() - dt.timedelta(days=days)
    return (
        EmergencyAccess.objects.filter(patient=patient, created_at__gte=since)
        .select_related("admin")
        .order_by("-created_at")
    )


def _iso(value):
    return value.isoformat() if value else None


def patient_export(*, patient: User) -> dict:
    """Everything the clinic holds about a patient (LGPD art. 18, right of access)."""
    profile = patient.patient_profile
    doctor = profile.doctor
    rooms = Room.objects.filter(patient=patient).select_related(
        "doctor__doctor_profile", "ended_by__doctor_profile"
    )
    evolutions = timeline(patient=patient).prefetch_related("revisions__author__doctor_profile")
    consents = TelemedicineConsent.objects.filter(patient=patient).order_by("accepted_at")
    accesses = access_log(patient=patient)
    return {
        "exported_at": timezone.now().isoformat(),
        "person": {
            "name": patient.get_full_name(),
            "email": patient.email,
            "phone": patient.phone,
            "birth_date": _iso(profile.birth_date),
            "cpf": profile.cpf,
            "registered_at": _iso(patient.date_joined),
            "responsible_doctor": doctor.display_name if doctor else None,
        },
        "telemedicine_consents": [
            {
                "version": c.version,
                "term_sha256": c.text_hash,
                "accepted_at": _iso(c.accepted_at),
                "ip_address": c.ip_address,
                "user_agent": c.user_agent,
            }
            for c in consents
        ],
        "consultations": [
            {
                "doctor": r.doctor.display_name,
                "opened_at": _iso(r.created_at),
                "call_started_at": _iso(r.call_started_at),
                "ended_at": _iso(r.ended_at),
                "seconds_together": r.both_present_seconds,
                "ended_by": r.ended_by.display_name if r.ended_by else None,
            }
            for r in rooms
        ],
        "evolutions": [
            {
                "doctor": e.doctor.display_name,
                "written_at": _iso(e.created_at),
                "consultation_opened_at": _iso(e.room.created_at) if e.room else None,
                **e.text(),
                "revisions": [
                    {
                        "number": r.number,
                        "author": r.author.display_name,
                        "written_at": _iso(r.created_at),
                        "reason": r.reason,
                        **r.text(),
                    }
                    for r in sorted(e.revisions.all(), key=lambda r: r.number)
                ],
            }
            for e in evolutions
        ],
        "record_accesses": [
            {
                "opened_by": a.viewer.display_name,
                "role": str(a.get_viewer_role_display()),
                "what": str(a.get_section_display()),
                "at": _iso(a.created_at),
                "emergency_reason": a.emergency.reason if a.emergency else None,
            }
            for a in accesses
        ],
    }

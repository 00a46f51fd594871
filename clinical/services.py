"""Writing and correcting evolutions, emergency access and the access log."""

import datetime as dt
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from rooms.models import Room

from .models import EmergencyAccess, Evolution, EvolutionRevision, RecordAccess
from .permissions import emergency_access_to
from .validators import normalize_icd10, validate_icd10

EMERGENCY_REASON_MIN_LENGTH = 20
# An evolution identical to one the same doctor wrote for the same patient and
# consultation this recently is the same evolution sent again (a second tab,
# a browser that refilled the form): it is shown, not written twice. Later, the
# same words are a new entry ("No complaints." at next month's visit).
IDENTICAL_RESEND_WINDOW = dt.timedelta(minutes=30)


def _plain(value: str) -> str:
    # Browsers send line breaks as \r\n; stored text uses \n, so an amendment
    # that changes nothing compares equal.
    return (value or "").replace("\r\n", "\n").strip()


def _clean_text(*, notes: str, diagnosis: str, diagnosis_code: str, prescription: str) -> dict:
    text = {
        "notes": _plain(notes),
        "diagnosis": _plain(diagnosis),
        "diagnosis_code": normalize_icd10(diagnosis_code),
        "prescription": _plain(prescription),
    }
    try:
        validate_icd10(text["diagnosis_code"])
    except ValidationError as error:
        raise ValidationError({"diagnosis_code": error.error_list}) from None
    if not any(text.values()):
        raise ValidationError(
            _("Write at least the notes, a diagnosis or a prescription."), code="empty"
        )
    return text


@transaction.atomic
def evolution_write(
    *,
    doctor: User,
    patient: User,
    room: Room | None = None,
    notes: str = "",
    diagnosis: str = "",
    diagnosis_code: str = "",
    prescription: str = "",
    token: uuid.UUID | None = None,
    at: dt.datetime | None = None,
) -> Evolution:
    """A new evolution with its first revision. Access is the caller's check (permissions).

    An evolution is never written twice, since it can never be deleted: the
    one already written is returned when `token` was used before (a resend
    after a lost reply, a double click, Back) or when the same doctor wrote
    the same text for the same patient and consultation within
    IDENTICAL_RESEND_WINDOW (another tab). `at` is when it was written: now,
    unless history is being loaded (seed_demo).
    """
    if token is not None:
        sent = Evolution.objects.filter(client_token=token).first()
        if sent is not None:
            if (sent.doctor_id, sent.patient_id) != (doctor.pk, patient.pk):
                raise PermissionDenied
            return sent
    if doctor.role != Role.DOCTOR or patient.role != Role.PATIENT:
        raise PermissionDenied
    if room is not None and (room.doctor_id != doctor.pk or room.patient_id != patient.pk):
        raise ValidationError(
            {"room": _("That consultation is not between you and this patient.")}, code="room"
        )
    text = _clean_text(
        notes=notes, diagnosis=diagnosis, diagnosis_code=diagnosis_code, prescription=prescription
    )
    at = at or timezone.now()
    # Two tabs sending the same text at once: the patient's row is the lock, so
    # the second looks for the first only after it committed (PostgreSQL;
    # SQLite's IMMEDIATE transactions already run one writer at a time). NO KEY:
    # rows that merely point at the patient (the access log) are not held up.
    User.objects.select_for_update(no_key=True).only("pk").get(pk=patient.pk)
    same = _identical_evolution(doctor=doctor, patient=patient, room=room, text=text, at=at)
    if same is not None:
        return same
    try:
        with transaction.atomic():
            evolution = Evolution.objects.create(
                patient=patient, doctor=doctor, room=room, created_at=at, client_token=token, **text
            )
    except IntegrityError:
        if token is None:
            raise
        # The same resend, a moment earlier, on another request: that one wrote it.
        return Evolution.objects.get(client_token=token, doctor=doctor, patient=patient)
    EvolutionRevision.objects.create(
        evolution=evolution, number=1, author=doctor, created_at=at, **text
    )
    return evolution


def _identical_evolution(
    *, doctor: User, patient: User, room: Room | None, text: dict, at: dt.datetime
) -> Evolution | None:
    """The evolution this one repeats, if any: compared with what was first written
    (revision 1), so a correction made since does not hide the repeat."""
    original = {f"revisions__{name}": value for name, value in text.items()}
    return (
        Evolution.objects.filter(
            doctor=doctor,
            patient=patient,
            room=room,
            created_at__range=(at - IDENTICAL_RESEND_WINDOW, at + IDENTICAL_RESEND_WINDOW),
            revisions__number=1,
            **original,
        )
        .order_by("created_at", "pk")
        .first()
    )


@transaction.atomic
def evolution_amend(
    *,
    evolution: Evolution,
    author: User,
    reason: str,
    notes: str = "",
    diagnosis: str = "",
    diagnosis_code: str = "",
    prescription: str = "",
    based_on: int | None = None,
    at: dt.datetime | None = None,
) -> Evolution:
    """A correction: a new revision with the new text; every earlier revision stays.

    `based_on` is the revision the author was looking at: if someone corrected
    it since (another tab), this correction is refused instead of silently
    undoing theirs.
    """
    if author.pk != evolution.doctor_id:
        raise PermissionDenied
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": _("Say briefly why you are correcting this evolution.")}, code="reason"
        )
    text = _clean_text(
        notes=notes, diagnosis=diagnosis, diagnosis_code=diagnosis_code, prescription=prescription
    )
    current = Evolution.objects.select_for_update().get(pk=evolution.pk)
    if based_on is not None and based_on != current.revision:
        raise ValidationError(
            _(
                "This evolution was corrected while you were editing it. "
                "Read the current text and correct it again."
            ),
            code="stale",
        )
    if current.text() == text:
        raise ValidationError(_("Nothing was changed."), code="unchanged")
    number = current.revision + 1
    revision = EvolutionRevision.objects.create(
        evolution=current,
        number=number,
        author=author,
        reason=reason,
        created_at=at or timezone.now(),
        **text,
    )
    Evolution.objects.filter(pk=current.pk).update(
        revision=number, amended_at=revision.created_at, **text
    )
    current.refresh_from_db()
    return current


def emergency_access_grant(
    *, admin: User, patient: User, reason: str, ip_address: str | None
) -> EmergencyAccess:
    if admin.role != Role.ADMIN or patient.role != Role.PATIENT:
        raise PermissionDenied
    reason = " ".join((reason or "").split())
    if len(reason) < EMERGENCY_REASON_MIN_LENGTH:
        raise ValidationError(
            {
                "reason": _(
                    "Explain the reason in at least %(count)d characters: it is shown to "
                    "the patient's doctor and kept in the access log."
                )
                % {"count": EMERGENCY_REASON_MIN_LENGTH}
            },
            code="reason",
        )
    minutes = settings.EMERGENCY_ACCESS_MINUTES
    return EmergencyAccess.objects.create(
        admin=admin,
        patient=patient,
        reason=reason,
        ip_address=ip_address or None,
        expires_at=timezone.now() + dt.timedelta(minutes=minutes),
    )


def record_access_log(
    *,
    viewer: User,
    patient: User,
    section: str,
    ip_address: str | None,
    evolution: Evolution | None = None,
    refused: bool = False,
) -> RecordAccess | None:
    """Log a view of a patient's record by anyone but the patient themself, or
    (`refused`) an attempt that was answered "not found"."""
    if viewer.pk == patient.pk:
        return None
    emergency = None if refused else emergency_access_to(viewer, patient.pk)
    return RecordAccess.objects.create(
        viewer=viewer,
        viewer_role=viewer.role,
        patient=patient,
        section=section,
        evolution=evolution,
        emergency=emergency,
        ip_address=ip_address or None,
        refused=refused,
    )

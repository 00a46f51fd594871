"""Every change to people and their profiles goes through here."""

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import DoctorProfile, PatientProfile, Role, User, normalize_email
from .photos import process_photo
from .signals import access_revoked
from .validators import clean_birth_date, clean_cpf, clean_crm, clean_pix_key

logger = logging.getLogger(__name__)


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """Single-use, expiring invitation tokens.

    Like a password-reset token, it is bound to the password hash and last
    login, so it stops working the moment the invited person sets a password.
    It has its own salt (a reset link is not an invitation) and its own
    lifetime, INVITATION_TIMEOUT, which is why check_token is redone here:
    Django's reads PASSWORD_RESET_TIMEOUT.
    """

    key_salt = "medconnect.accounts.InvitationTokenGenerator"

    def check_token(self, user, token):
        # A deactivated person's outstanding invitation must not let them in.
        if not (user and token and user.is_active):
            return False
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        if self._num_seconds(self._now()) - ts > settings.INVITATION_TIMEOUT:
            return False
        return any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        )


invitation_token_generator = InvitationTokenGenerator()


def invitation_path(*, user: User) -> str:
    """The path of a fresh invitation link for a user who has not chosen a password yet."""
    return reverse(
        "accounts:invitation_accept",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invitation_token_generator.make_token(user),
        },
    )


def invitation_pending(*, user: User) -> bool:
    return user.is_active and not user.has_usable_password()


def invitation_send(*, user: User, link: str) -> bool:
    """E-mail the invitation after the transaction commits. Returns whether it was sent."""
    if not settings.EMAIL_CONFIGURED:
        return False
    context = {"user": user, "link": link, "clinic": settings.CLINIC_NAME}
    subject = _("Your access to %(clinic)s") % {"clinic": settings.CLINIC_NAME}
    body = render_to_string("accounts/email/invitation.txt", context)

    def send():
        try:
            send_mail(subject, body, None, [user.email])
        except OSError:
            # The link is on screen for whoever registered the person; a mail
            # outage must not undo the registration.
            logger.exception("Could not e-mail the invitation to user %s", user.pk)

    transaction.on_commit(send)
    return True


def _field_error(field: str, message: str, code: str) -> ValidationError:
    """A ValidationError on one form field that keeps its code for callers and tests."""
    return ValidationError({field: ValidationError(message, code=code)})


def _email_taken(email: str, *, exclude: User | None = None) -> bool:
    users = User.objects.filter(email__iexact=email)
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return users.exists()


def _check_email(email: str, *, exclude: User | None = None) -> str:
    email = normalize_email(email)
    if _email_taken(email, exclude=exclude):
        raise _field_error(
            "email", _("Someone is already registered with this e-mail."), "email-taken"
        )
    return email


def _check_crm(crm: str, crm_state: str, *, exclude: User | None = None) -> str:
    try:
        crm = clean_crm(crm)
    except ValidationError as error:
        raise ValidationError({"crm": error}) from None
    others = DoctorProfile.objects.filter(crm=crm, crm_state=crm_state)
    if exclude is not None:
        others = others.exclude(user=exclude)
    if others.exists():
        raise _field_error(
            "crm",
            _("Another doctor is already registered with this CRM in this state."),
            "crm-taken",
        )
    return crm


@transaction.atomic
def doctor_create(
    *,
    email: str,
    first_name: str,
    last_name: str,
    crm: str,
    crm_state: str,
    phone: str = "",
    title: str = "",
    specialty: str = "",
) -> User:
    crm = _check_crm(crm, crm_state)
    user = User.objects.create_user(
        email=_check_email(email),
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        role=Role.DOCTOR,
    )
    DoctorProfile.objects.create(
        user=user, title=title, crm=crm, crm_state=crm_state, specialty=specialty
    )
    return user


@transaction.atomic
def doctor_update(
    *,
    doctor: User,
    email: str,
    first_name: str,
    last_name: str,
    crm: str,
    crm_state: str,
    phone: str = "",
    title: str = "",
    specialty: str = "",
) -> User:
    crm = _check_crm(crm, crm_state, exclude=doctor)
    doctor.email = _check_email(email, exclude=doctor)
    doctor.first_name, doctor.last_name, doctor.phone = first_name, last_name, phone
    doctor.save(update_fields=["email", "first_name", "last_name", "phone"])
    profile = doctor.doctor_profile
    profile.title, profile.crm, profile.crm_state, profile.specialty = (
        title,
        crm,
        crm_state,
        specialty,
    )
    profile.save(update_fields=["title", "crm", "crm_state", "specialty"])
    return doctor


def _check_doctor(doctor: User) -> None:
    if doctor.role != Role.DOCTOR or not doctor.is_active:
        raise _field_error("doctor", _("Choose an active doctor."), "invalid-doctor")


def _check_birth_date(born: dt.date | None) -> dt.date | None:
    if born is None:
        return None
    try:
        return clean_birth_date(born)
    except ValidationError as error:
        raise ValidationError({"birth_date": error}) from None


def _check_cpf(cpf: str, *, exclude: User | None = None) -> str:
    if not cpf:
        return ""
    try:
        cpf = clean_cpf(cpf)
    except ValidationError as error:
        raise ValidationError({"cpf": error}) from None
    others = PatientProfile.objects.filter(cpf=cpf)
    if exclude is not None:
        others = others.exclude(user=exclude)
    if others.exists():
        raise _field_error(
            "cpf", _("Another patient is already registered with this CPF."), "cpf-taken"
        )
    return cpf


@transaction.atomic
def patient_create(
    *,
    created_by: User,
    doctor: User,
    email: str,
    first_name: str,
    last_name: str,
    phone: str = "",
    birth_date: dt.date | None = None,
    cpf: str = "",
) -> User:
    _check_doctor(doctor)
    birth_date = _check_birth_date(birth_date)
    cpf = _check_cpf(cpf)
    user = User.objects.create_user(
        email=_check_email(email),
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        role=Role.PATIENT,
    )
    PatientProfile.objects.create(
        user=user, doctor=doctor, birth_date=birth_date, cpf=cpf, created_by=created_by
    )
    return user


@transaction.atomic
def patient_update(
    *,
    patient: User,
    email: str,
    first_name: str,
    last_name: str,
    phone: str = "",
    birth_date: dt.date | None = None,
    cpf: str = "",
) -> User:
    birth_date = _check_birth_date(birth_date)
    patient.email = _check_email(email, exclude=patient)
    patient.first_name, patient.last_name, patient.phone = first_name, last_name, phone
    patient.save(update_fields=["email", "first_name", "last_name", "phone"])
    profile = patient.patient_profile
    profile.birth_date, profile.cpf = birth_date, _check_cpf(cpf, exclude=patient)
    profile.save(update_fields=["birth_date", "cpf"])
    return patient


@transaction.atomic
def patient_reassign(*, patient: User, doctor: User) -> User:
    """Make another doctor responsible for the patient."""
    _check_doctor(doctor)
    profile = patient.patient_profile
    profile.doctor = doctor
    profile.save(update_fields=["doctor"])
    return patient


def user_set_active(*, user: User, active: bool) -> User:
    """Deactivate or reactivate an account. Nobody is ever deleted: records stay."""
    if user.is_admin:
        raise ValidationError(
            _("Administrator accounts are managed in the Django admin."), code="admin-account"
        )
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        transaction.on_commit(lambda: access_revoked.send(sender=User, user=user))
    return user


def _role_error(message: str, code: str) -> ValidationError:
    return _field_error("role", message, code)


def user_change_role_check(
    *,
    user: User,
    role: str,
    by: User,
    crm: str = "",
    crm_state: str = "",
    doctor: User | None = None,
) -> None:
    """Refuse, with the reason, a role change that would leave data inconsistent.

    The rule: a role change never orphans what hangs on the old role, and the
    new role arrives with what it needs.
    - A doctor responsible for patients, or with an open consultation, keeps
      the role until the patients are reassigned and the rooms finished. Past
      consultations and evolutions stay theirs (with the CRM they were written
      under, kept in the doctor profile).
    - A patient with a record here (consultations, evolutions, a consent term,
      an emergency access) stays a patient: that record must stay a patient's
      record, reachable by their doctor and by them (LGPD's right of access).
    - A new doctor needs a CRM and its state; a new patient, a responsible doctor.
    - Nobody changes their own role (an admin could lock the clinic out).
    """
    if role not in Role.values:
        raise _role_error(_("Choose a valid role."), "invalid-role")
    if role == user.role:
        return
    if user.pk == by.pk:
        raise _role_error(
            _("You cannot change your own role; ask another administrator."), "own-role"
        )
    if user.role == Role.DOCTOR:
        patients = user.patients.count()
        if patients:
            raise _role_error(
                ngettext(
                    "%(name)s is responsible for %(count)d patient. Reassign them to "
                    "another doctor on the patient's page first.",
                    "%(name)s is responsible for %(count)d patients. Reassign them to "
                    "another doctor on each patient's page first.",
                    patients,
                )
                % {"name": user.display_name, "count": patients},
                "doctor-has-patients",
            )
        # "open" is rooms.RoomStatus.OPEN: accounts does not import rooms.
        if user.doctor_rooms.filter(status="open").exists():
            raise _role_error(
                _("%(name)s has an open consultation. Finish it first.")
                % {"name": user.display_name},
                "doctor-has-open-rooms",
            )
    if user.role == Role.PATIENT and (
        user.patient_rooms.exists()
        or user.evolutions.exists()
        or user.telemedicine_consents.exists()
        or user.emergency_accesses.exists()
    ):
        raise _role_error(
            _(
                "%(name)s already has a medical record here (consultations, evolutions "
                "or a consent term), which must stay a patient's record. To give this "
                "person another role, register them again with another e-mail."
            )
            % {"name": user.display_name},
            "patient-has-records",
        )
    if role == Role.DOCTOR and not hasattr(user, "doctor_profile"):
        if not (crm and crm_state):
            raise _field_error(
                "crm", _("A doctor needs a CRM and its state: fill them in."), "crm-required"
            )
        _check_crm(crm, crm_state, exclude=user)
    if role == Role.PATIENT:
        if doctor is None:
            raise _field_error(
                "doctor", _("A patient needs a responsible doctor: choose one."), "doctor-required"
            )
        _check_doctor(doctor)
        if doctor.pk == user.pk:
            raise _field_error("doctor", _("Choose an active doctor."), "invalid-doctor")


@transaction.atomic
def user_change_role(
    *,
    user: User,
    role: str,
    by: User,
    crm: str = "",
    crm_state: str = "",
    title: str = "",
    doctor: User | None = None,
) -> User:
    """Give a person another role, with the profile it needs; see user_change_role_check."""
    # Locked, so a patient assigned or a room opened meanwhile is seen by the check.
    user = User.objects.select_for_update().get(pk=user.pk)
    user_change_role_check(user=user, role=role, by=by, crm=crm, crm_state=crm_state, doctor=doctor)
    if role == user.role:
        return user
    if user.role == Role.PATIENT:
        # The check allowed it: nothing refers to this profile, and a stale one
        # would keep the person in their old doctor's list and counts.
        PatientProfile.objects.filter(user=user).delete()
    if role == Role.DOCTOR and not DoctorProfile.objects.filter(user=user).exists():
        DoctorProfile.objects.create(user=user, title=title, crm=crm, crm_state=crm_state)
    if role == Role.PATIENT:
        PatientProfile.objects.update_or_create(
            user=user,
            defaults={"doctor": doctor},
            create_defaults={"doctor": doctor, "created_by": by},
        )
    user.role = role
    user.save(update_fields=["role"])
    # Their call sockets were admitted under the old role.
    transaction.on_commit(lambda: access_revoked.send(sender=User, user=user))
    return user


def profile_update(*, user: User, first_name: str, last_name: str, phone: str = "") -> User:
    user.first_name, user.last_name, user.phone = first_name, last_name, phone
    user.save(update_fields=["first_name", "last_name", "phone"])
    return user


def pix_key_set(*, doctor: User, key_type: str, key: str) -> DoctorProfile:
    """Store a doctor's PIX key in canonical form, or clear it when both are empty."""
    profile = doctor.doctor_profile
    if not key and not key_type:
        profile.pix_key, profile.pix_key_type = "", ""
    else:
        try:
            profile.pix_key = clean_pix_key(key_type, key)
        except ValidationError as error:
            raise ValidationError({"pix_key": error}) from None
        profile.pix_key_type = key_type
    profile.save(update_fields=["pix_key", "pix_key_type"])
    return profile


def user_photo_set(*, user: User, upload) -> User:
    """Validate, re-encode and store a new photo; the old file is removed afterwards."""
    content = process_photo(upload)
    old_name = user.photo.name if user.photo else ""
    storage = user.photo.storage
    user.photo.save(content.name, content, save=False)
    user.save(update_fields=["photo"])
    if old_name:
        transaction.on_commit(lambda: storage.delete(old_name))
    return user


def user_photo_remove(*, user: User) -> User:
    if user.photo:
        old_name, storage = user.photo.name, user.photo.storage
        user.photo = ""
        user.save(update_fields=["photo"])
        transaction.on_commit(lambda: storage.delete(old_name))
    return user

import functools
import zlib

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.formats import date_format, get_format
from django.utils.translation import gettext_lazy as _

AVATAR_COLOURS = 8

BRAZILIAN_STATES = [
    (uf, uf)
    for uf in [
        "AC",
        "AL",
        "AP",
        "AM",
        "BA",
        "CE",
        "DF",
        "ES",
        "GO",
        "MA",
        "MT",
        "MS",
        "MG",
        "PA",
        "PB",
        "PR",
        "PE",
        "PI",
        "RJ",
        "RN",
        "RS",
        "RO",
        "RR",
        "SC",
        "SP",
        "SE",
        "TO",
    ]
]


def short_local_datetime(value) -> str:
    """A moment as people read it in titles: the clinic's local time, "02/12/2026 11:33"."""
    return short_datetime_writer()(timezone.localtime(value))  # None: now, as before


# Django's format letters that strftime writes the same way, digits only.
_STRFTIME = {"d": "%d", "m": "%m", "Y": "%Y", "y": "%y", "H": "%H", "i": "%M", "s": "%S"}


def short_datetime_writer():
    """What `{{ value|date:"SHORT_DATETIME_FORMAT" }}` prints ("31/10/2026 23:30"), for
    many values: the current zone and the language's format read once, and through
    strftime when the format allows (Django's formatter: 22 µs a value; this, 5)."""
    zone = timezone.get_current_timezone()
    pattern = _strftime_pattern(get_format("SHORT_DATETIME_FORMAT"))
    if pattern is None:
        return lambda value: date_format(value.astimezone(zone), "SHORT_DATETIME_FORMAT")
    return lambda value: value.astimezone(zone).strftime(pattern)


@functools.lru_cache(maxsize=32)
def _strftime_pattern(django_format: str) -> str | None:
    """A Django date format as strftime's, or None if a letter (a month's name, an
    escape) needs Django's own formatter."""
    pattern = []
    for char in django_format:
        if char.isalpha() or char == "\\":
            if char not in _STRFTIME:
                return None
            pattern.append(_STRFTIME[char])
        else:
            pattern.append("%%" if char == "%" else char)
    return "".join(pattern)


def normalize_email(email: str) -> str:
    """E-mail addresses are matched case-insensitively, so store them lowercase."""
    return (email or "").strip().lower()


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    DOCTOR = "doctor", _("Doctor")
    PATIENT = "patient", _("Patient")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(email__iexact=normalize_email(username))

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=normalize_email(email), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        # `createsuperuser` makes a clinic administrator: the admin role is
        # what grants the Django admin, there is no separate superuser flag.
        fields["role"] = Role.ADMIN
        fields.pop("is_staff", None)
        fields.pop("is_superuser", None)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser):
    email = models.EmailField(_("e-mail"), unique=True)
    first_name = models.CharField(_("first name"), max_length=150)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    photo = models.FileField(_("photo"), upload_to="photos/", blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["first_name", "last_name"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self):
        return self.display_name

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self):
        return self.first_name

    @property
    def display_name(self) -> str:
        """The name the interface shows: doctors with their title."""
        name = self.get_full_name() or self.email
        if self.role == Role.DOCTOR:
            profile = getattr(self, "doctor_profile", None)
            if profile and profile.title:
                return f"{profile.get_title_display()} {name}"
        return name

    @property
    def initials(self) -> str:
        parts = [p for p in self.get_full_name().split() if p[:1].isalpha()]
        if not parts:
            return (self.email[:1] or "?").upper()
        if len(parts) == 1:
            return parts[0][:1].upper()
        return (parts[0][:1] + parts[-1][:1]).upper()

    @property
    def avatar_colour(self) -> int:
        """A stable colour index derived from the name (crc32, not hash(): hash is salted)."""
        return zlib.crc32(self.get_full_name().encode()) % AVATAR_COLOURS

    # Role checks. The admin role owns the Django admin and every permission in it.
    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_doctor(self) -> bool:
        return self.role == Role.DOCTOR

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT

    @property
    def is_staff(self) -> bool:
        return self.is_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_admin

    def has_perm(self, perm, obj=None):
        return self.is_active and self.is_admin

    def has_perms(self, perm_list, obj=None):
        return all(self.has_perm(p, obj) for p in perm_list)

    def has_module_perms(self, app_label):
        return self.is_active and self.is_admin


class DoctorTitle(models.TextChoices):
    DR = "dr", _("Dr.")
    DRA = "dra", _("Dra.")


class PixKeyType(models.TextChoices):
    CPF = "cpf", _("CPF")
    CNPJ = "cnpj", _("CNPJ")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    RANDOM = "random", _("Random key")


class DoctorProfile(models.Model):
    user = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="doctor_profile", verbose_name=_("user")
    )
    title = models.CharField(_("title"), max_length=3, choices=DoctorTitle.choices, blank=True)
    crm = models.CharField(_("CRM"), max_length=10)
    crm_state = models.CharField(_("CRM state"), max_length=2, choices=BRAZILIAN_STATES)
    specialty = models.CharField(_("specialty"), max_length=100, blank=True)
    pix_key = models.CharField(_("PIX key"), max_length=77, blank=True)
    pix_key_type = models.CharField(
        _("PIX key type"), max_length=10, choices=PixKeyType.choices, blank=True
    )

    class Meta:
        verbose_name = _("doctor profile")
        verbose_name_plural = _("doctor profiles")
        constraints = [
            models.UniqueConstraint(fields=["crm", "crm_state"], name="accounts_unique_crm"),
            models.CheckConstraint(
                condition=models.Q(pix_key="", pix_key_type="")
                | (~models.Q(pix_key="") & ~models.Q(pix_key_type="")),
                name="accounts_pix_key_has_type",
            ),
        ]

    def __str__(self):
        return f"{self.user.display_name} ({self.crm_display})"

    @property
    def crm_display(self) -> str:
        return f"CRM {self.crm}/{self.crm_state}"


class PatientProfile(models.Model):
    user = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="patient_profile", verbose_name=_("user")
    )
    doctor = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="patients",
        limit_choices_to={"role": Role.DOCTOR},
        verbose_name=_("responsible doctor"),
    )
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    cpf = models.CharField(_("CPF"), max_length=11, blank=True)
    created_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("registered by"),
    )

    class Meta:
        verbose_name = _("patient profile")
        verbose_name_plural = _("patient profiles")
        constraints = [
            models.UniqueConstraint(
                fields=["cpf"], condition=~models.Q(cpf=""), name="accounts_unique_patient_cpf"
            ),
        ]

    def __str__(self):
        return str(self.user)

    @property
    def age(self) -> int | None:
        if not self.birth_date:
            return None
        today = timezone.localdate()
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

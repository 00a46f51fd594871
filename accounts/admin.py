from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import services
from .forms import DoctorChoiceField, apply_service_errors
from .models import (
    DoctorProfile,
    PatientProfile,
    Role,
    User,
    normalize_email,
    short_local_datetime,
)
from .signals import access_revoked
from .validators import clean_pix_key, mask_pix_key


class DoctorProfileAdminForm(forms.ModelForm):
    """The PIX key goes through the same validation as the profile page."""

    class Meta:
        model = DoctorProfile
        fields = ["user", "title", "crm", "crm_state", "specialty", "pix_key_type", "pix_key"]

    def clean(self):
        data = super().clean()
        key, key_type = data.get("pix_key", ""), data.get("pix_key_type", "")
        if key or key_type:
            try:
                data["pix_key"] = clean_pix_key(key_type, key)
            except ValidationError as error:
                self.add_error("pix_key", error)
        return data


class DoctorProfileInline(admin.StackedInline):
    model = DoctorProfile
    form = DoctorProfileAdminForm
    fk_name = "user"
    can_delete = False
    extra = 0


class PatientProfileInline(admin.StackedInline):
    model = PatientProfile
    fk_name = "user"
    can_delete = False
    extra = 0
    autocomplete_fields = ["doctor"]
    readonly_fields = ["created_by"]


class EmailCleaningMixin:
    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        others = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError(_("Someone is already registered with this e-mail."))
        return email


class UserCreationAdminForm(EmailCleaningMixin, AdminUserCreationForm):
    """Adds administrators only: doctors and patients are registered on their own
    pages, which create the profile each role needs (CRM, responsible doctor)."""

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.role = Role.ADMIN


def role_change_fields(user: User) -> tuple[str, ...]:
    """The extra fields a role change from this user's role may need."""
    fields = ()
    if user.role != Role.DOCTOR and not hasattr(user, "doctor_profile"):
        fields += ("crm", "crm_state", "title")
    if user.role != Role.PATIENT:
        fields += ("doctor",)
    return fields


class UserChangeAdminForm(EmailCleaningMixin, UserChangeForm):
    """The role goes through services.user_change_role, which checks nothing is left
    inconsistent; the extra fields give the new role what it needs."""

    # The doctor profile's own fields (labels, choices), optional until the role changes.
    crm, crm_state, title = (
        forms.fields_for_model(DoctorProfile, fields=[name])[name]
        for name in ("crm", "crm_state", "title")
    )
    doctor = DoctorChoiceField(
        label=_("Responsible doctor"),
        queryset=User.objects.filter(role=Role.DOCTOR, is_active=True, doctor_profile__isnull=False)
        .select_related("doctor_profile")
        .order_by("first_name", "last_name"),
        required=False,
    )
    # Set by UserAdmin.get_form: the admin making the change.
    changed_by = None

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "phone", "role", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("crm", "crm_state"):
            self.fields[name].required = False
        wanted = role_change_fields(self.instance)
        for name in ("crm", "crm_state", "title", "doctor"):
            if name not in wanted:
                self.fields.pop(name, None)
        if "doctor" in self.fields:
            self.fields["doctor"].queryset = self.fields["doctor"].queryset.exclude(
                pk=self.instance.pk
            )

    def role_change_data(self) -> dict:
        return {
            name: self.cleaned_data.get(name) or ("" if name != "doctor" else None)
            for name in ("crm", "crm_state", "title", "doctor")
        }

    def clean(self):
        data = super().clean()
        if "role" in self.changed_data and data.get("role"):
            extra = self.role_change_data()
            extra.pop("title")
            try:
                services.user_change_role_check(
                    user=self.instance, role=data["role"], by=self.changed_by, **extra
                )
            except ValidationError as error:
                apply_service_errors(self, error)
        return data


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    list_display = ("email", "first_name", "last_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("email", "first_name", "last_name", "doctor_profile__crm")
    # Each row's title (the checkbox's label) is the name, with a doctor's title.
    list_select_related = ("doctor_profile",)
    ordering = ("first_name", "last_name")
    readonly_fields = ("last_login", "date_joined", "photo")
    actions = ["deactivate", "reactivate"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("first_name", "last_name", "phone", "photo")}),
        (_("Access"), {"fields": ("role", "is_active")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "description": _(
                    "Here you add administrators. Register doctors and patients on the "
                    "Doctors and Patients pages, which also ask for what each needs "
                    "(the CRM, the responsible doctor)."
                ),
                "fields": (
                    "email",
                    "first_name",
                    "last_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    filter_horizontal = ()

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not (extra := role_change_fields(obj)):
            return fieldsets
        return (
            *fieldsets,
            (
                _("Changing the role"),
                {
                    "description": _(
                        "Only when you change the role: a new doctor needs a CRM and its "
                        "state, a new patient a responsible doctor."
                    ),
                    "fields": extra,
                },
            ),
        )

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        # A class made for this request only (modelform_factory), so this is not shared.
        form.changed_by = request.user
        return form

    def get_inlines(self, request, obj):
        if obj is None:
            return []
        if request.method == "POST" and request.POST.get("role", obj.role) != obj.role:
            # The inline on the page is the old role's profile, which the change
            # may remove; the new role's profile is edited once the role is saved.
            return []
        if obj.is_doctor:
            return [DoctorProfileInline]
        if obj.is_patient:
            return [PatientProfileInline]
        return []

    def has_delete_permission(self, request, obj=None):
        # People are deactivated, never deleted: their records must survive.
        return False

    def save_model(self, request, obj, form, change):
        if not (change and "role" in form.changed_data):
            super().save_model(request, obj, form, change)
            if change and "is_active" in form.changed_data:
                # Whoever lost access must not keep a call socket open.
                access_revoked.send(sender=User, user=obj)
            return
        role, obj.role = obj.role, form.initial["role"]
        super().save_model(request, obj, form, change)
        services.user_change_role(user=obj, role=role, by=request.user, **form.role_change_data())
        obj.refresh_from_db()
        self.message_user(
            request,
            gettext("%(name)s is now: %(role)s.")
            % {"name": obj.display_name, "role": obj.get_role_display()},
            messages.SUCCESS,
        )

    @admin.action(description=_("Deactivate the selected people"))
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, active=False)

    @admin.action(description=_("Reactivate the selected people"))
    def reactivate(self, request, queryset):
        self._set_active(request, queryset, active=True)

    def _set_active(self, request, queryset, *, active):
        changed = 0
        for user in queryset.exclude(role="admin"):
            services.user_set_active(user=user, active=active)
            changed += 1
        self.message_user(
            request,
            ngettext("%(count)d person updated.", "%(count)d people updated.", changed)
            % {"count": changed},
            messages.SUCCESS,
        )


@admin.register(DoctorProfile)
class DoctorProfileAdmin(admin.ModelAdmin):
    form = DoctorProfileAdminForm
    list_display = (
        "doctor_name",
        "crm",
        "crm_state",
        "specialty",
        "pix_key_type",
        "masked_pix_key",
    )
    list_filter = ("crm_state", "specialty", "pix_key_type")
    search_fields = ("user__first_name", "user__last_name", "user__email", "crm")
    list_select_related = ("user",)
    # A profile belongs to its person: moving it would leave one without a CRM
    # and give another a CRM without the doctor role.
    readonly_fields = ["user"]

    @admin.display(description=_("doctor"), ordering="user__first_name")
    def doctor_name(self, obj):
        return obj.user.display_name

    @admin.display(description=_("PIX key"))
    def masked_pix_key(self, obj):
        return mask_pix_key(obj.pix_key_type, obj.pix_key)

    def has_add_permission(self, request):
        # Profiles come with the role: the doctor pages, or a role change.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ResponsibleDoctorFilter(admin.SimpleListFilter):
    """The doctors who have patients, named in one query (Django's related filter
    names each doctor with a query of its own)."""

    title = _("responsible doctor")
    parameter_name = "doctor"

    def lookups(self, request, model_admin):
        doctors = (
            User.objects.filter(patients__isnull=False)
            .distinct()
            .select_related("doctor_profile")
            .order_by("first_name", "last_name")
        )
        return [(doctor.pk, doctor.display_name) for doctor in doctors]

    def queryset(self, request, queryset):
        return queryset.filter(doctor_id=self.value()) if self.value() else queryset


@admin.register(PatientProfile)
class PatientProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "doctor", "birth_date", "created_by")
    list_filter = (ResponsibleDoctorFilter,)
    search_fields = ("user__first_name", "user__last_name", "user__email", "cpf")
    list_select_related = ("user", "doctor__doctor_profile", "created_by")
    autocomplete_fields = ["doctor"]
    readonly_fields = ["user", "created_by"]

    def has_add_permission(self, request):
        # Profiles come with the role: the patient and doctor pages, or a role change.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Login throttling (django-axes) ----------------------------------------
# Axes' own admin is off (AXES_ENABLE_ADMIN): its titles are English, with UTC
# timestamps to the microsecond, and its models' names read like the medical
# record's access log. These say what each one is, in the clinic's time.


def _attempt_str(self):
    return gettext("Failed logins of %(username)s from %(ip)s since %(time)s") % {
        "username": self.username,
        "ip": self.ip_address or "?",
        "time": short_local_datetime(self.attempt_time),
    }


def _failure_str(self):
    return gettext("Failed login of %(username)s from %(ip)s on %(time)s") % {
        "username": self.username,
        "ip": self.ip_address or "?",
        "time": short_local_datetime(self.attempt_time),
    }


def _login_str(self):
    return gettext("Login of %(username)s from %(ip)s on %(time)s") % {
        "username": self.username,
        "ip": self.ip_address or "?",
        "time": short_local_datetime(self.attempt_time),
    }


# Axes' models are not ours to edit; their names are (in the catalog) and so is how
# the admin titles them. Every page that shows these rows is this admin.
AccessAttempt.__str__ = _attempt_str
AccessFailureLog.__str__ = _failure_str
AccessLog.__str__ = _login_str


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services or by a library: shown, never added, changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LoginRecordAdmin(ReadOnlyAdmin):
    """Written by django-axes alone: nobody adds or edits them here."""

    list_filter = ("attempt_time",)
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
    ordering = ("-attempt_time",)

    @admin.display(description=_("E-mail typed"), ordering="username")
    def typed_email(self, obj):
        return obj.username

    @admin.display(description=_("browser"))
    def browser(self, obj):
        return obj.user_agent


@admin.register(AccessAttempt)
class AccessAttemptAdmin(LoginRecordAdmin):
    list_display = ("typed_email", "ip_address", "first_failure", "failures", "status")
    fields = ("typed_email", "ip_address", "first_failure", "failures", "status", "browser")
    readonly_fields = fields
    actions = ["unlock"]

    @admin.display(description=_("first failure at"), ordering="attempt_time")
    def first_failure(self, obj):
        return short_local_datetime(obj.attempt_time)

    @admin.display(description=_("failures"), ordering="failures_since_start")
    def failures(self, obj):
        return obj.failures_since_start

    @admin.display(description=_("situation"))
    def status(self, obj):
        left = settings.AXES_FAILURE_LIMIT - obj.failures_since_start
        if left <= 0:
            return gettext("Locked out")
        return ngettext("%(count)d attempt left", "%(count)d attempts left", left) % {"count": left}

    def has_delete_permission(self, request, obj=None):
        # Removing the count is how axes unlocks someone.
        return True

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(
        description=_("Unlock the selected (forget their failures)"), permissions=["delete"]
    )
    def unlock(self, request, queryset):
        # Django's own confirmation page, then the delete.
        return delete_selected(self, request, queryset)


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(LoginRecordAdmin):
    list_display = ("when", "typed_email", "ip_address", "caused_lockout")
    list_filter = ("attempt_time", "locked_out")
    fields = ("when", "typed_email", "ip_address", "caused_lockout", "browser")
    readonly_fields = fields

    @admin.display(description=_("when"), ordering="attempt_time")
    def when(self, obj):
        return short_local_datetime(obj.attempt_time)

    @admin.display(description=_("locked the login"), boolean=True, ordering="locked_out")
    def caused_lockout(self, obj):
        return obj.locked_out


@admin.register(AccessLog)
class AccessLogAdmin(LoginRecordAdmin):
    list_display = ("logged_in", "logged_out", "typed_email", "ip_address")
    fields = ("logged_in", "logged_out", "typed_email", "ip_address", "browser")
    readonly_fields = fields

    @admin.display(description=_("signed in at"), ordering="attempt_time")
    def logged_in(self, obj):
        return short_local_datetime(obj.attempt_time)

    @admin.display(description=_("signed out at"), ordering="logout_time")
    def logged_out(self, obj):
        return short_local_datetime(obj.logout_time) if obj.logout_time else "-"


# Roles, not groups, grant access here: an empty Groups page would only confuse.
admin.site.unregister(Group)

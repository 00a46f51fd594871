from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext, pgettext_lazy
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


class PersonFilter(admin.SimpleListFilter):
    """The people who appear in this list, named in one query (Django's related
    filter would list every user and name each doctor with a query of its own).

    `field` is the list's foreign key to the person, `related_name` the same
    relation seen from the person; `role`, if set, keeps only that role.
    """

    field = ""
    related_name = ""
    role = None

    def lookups(self, request, model_admin):
        people = User.objects.filter(**{f"{self.related_name}__isnull": False})
        if self.role:
            people = people.filter(role=self.role)
        people = people.distinct().select_related("doctor_profile")
        people = people.order_by("first_name", "last_name")
        return [(person.pk, person.display_name) for person in people]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(**{f"{self.field}_id": value})


class DoctorFilter(PersonFilter):
    """The doctors of this list's rows; subclasses say which relation (`related_name`)."""

    title = _("doctor")
    parameter_name = "doctor"
    field = "doctor"
    role = Role.DOCTOR


class ResponsibleDoctorFilter(DoctorFilter):
    title = _("responsible doctor")
    related_name = "patients"


@admin.register(PatientProfile)
class PatientProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "doctor", "birth_date", "created_by")
    list_filter = (ResponsibleDoctorFilter,)
    search_fields = ("user__first_name", "user__last_name", "user__email", "cpf")
    # Patients are often registered by their doctor, whose name has the title.
    list_select_related = ("user", "doctor__doctor_profile", "created_by__doctor_profile")
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


class ReadOnlyInline(admin.TabularInline):
    """A parent's history rows (versions, events): every field shown, none editable,
    no row added or deleted here."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
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


# Axes' AccessAttemptExpiration is not shown: it is written only with
# AXES_USE_ATTEMPT_EXPIRATION, which is off, so its table stays empty.


# --- The history of back-office changes (Django's LogEntry) -----------------
# Django writes one row for each add, change and delete made on these pages.
# Sessions (django.contrib.sessions) are not shown: a row is an opaque blob whose
# key signs someone in, the login log above already says who signed in when and
# from where, and deleting a row would sign someone out without closing their
# call sockets (rooms.services.access_revoke does that).

ACTIONS = {
    ADDITION: pgettext_lazy("back-office action", "Added"),
    CHANGE: pgettext_lazy("back-office action", "Changed"),
    DELETION: pgettext_lazy("back-office action", "Deleted"),
}


class ChangedByFilter(PersonFilter):
    title = _("changed by")
    parameter_name = "user"
    field = "user"
    related_name = "logentry"


class KindFilter(admin.SimpleListFilter):
    """The kinds of record that were changed, by their names, in one query."""

    title = _("kind of record")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        kinds = ContentType.objects.filter(logentry__isnull=False).distinct()
        named = [(kind.pk, _kind_name(kind)) for kind in kinds if kind.model_class()]
        return sorted(named, key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(content_type_id=value) if value.isdigit() else queryset.none()


class ActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return list(ACTIONS.items())

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(action_flag=value) if value.isdigit() else queryset.none()


def _kind_name(content_type: ContentType | None) -> str:
    model = content_type.model_class() if content_type else None
    return capfirst(model._meta.verbose_name) if model else "-"


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """Who added, changed or deleted what on these pages, and when: never edited here."""

    list_display = ("when", "changed_by", "action", "kind", "record", "message")
    list_select_related = ("user__doctor_profile", "content_type")
    list_filter = (ChangedByFilter, KindFilter, ActionFilter)
    date_hierarchy = "action_time"
    search_fields = ("object_repr", "user__first_name", "user__last_name", "user__email")
    ordering = ("-action_time", "-pk")
    fields = list_display
    readonly_fields = fields

    @admin.display(description=_("when"), ordering="action_time")
    def when(self, obj):
        return short_local_datetime(obj.action_time)

    @admin.display(description=_("changed by"), ordering="user__first_name")
    def changed_by(self, obj):
        return obj.user.display_name

    @admin.display(description=_("action"), ordering="action_flag")
    def action(self, obj):
        return ACTIONS.get(obj.action_flag, "-")

    @admin.display(description=_("kind of record"))
    def kind(self, obj):
        return _kind_name(obj.content_type)

    @admin.display(description=_("record"), ordering="object_repr")
    def record(self, obj):
        url = None if obj.is_deletion() else obj.get_admin_url()
        return format_html('<a href="{}">{}</a>', url, obj.object_repr) if url else obj.object_repr

    @admin.display(description=_("what changed"))
    def message(self, obj):
        # Django stored the fields' labels untranslated; this translates them.
        return obj.get_change_message()


# Roles, not groups, grant access here: an empty Groups page would only confuse.
admin.site.unregister(Group)

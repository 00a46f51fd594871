from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import DoctorProfile, PatientProfile, User, normalize_email
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
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "role")


class UserChangeAdminForm(EmailCleaningMixin, UserChangeForm):
    class Meta:
        model = User
        fields = ["email", "first_name", "last_name", "phone", "role", "is_active"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    list_display = ("email", "first_name", "last_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("email", "first_name", "last_name", "doctor_profile__crm")
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
                "fields": (
                    "email",
                    "first_name",
                    "last_name",
                    "role",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    filter_horizontal = ()

    def get_inlines(self, request, obj):
        if obj is None:
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
        super().save_model(request, obj, form, change)
        if change and ({"is_active", "role"} & set(form.changed_data)):
            # Whoever lost access or changed role must not keep a call socket open.
            access_revoked.send(sender=User, user=obj)

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
    list_display = ("user", "crm", "crm_state", "specialty", "pix_key_type", "masked_pix_key")
    list_filter = ("crm_state", "specialty", "pix_key_type")
    search_fields = ("user__first_name", "user__last_name", "user__email", "crm")
    list_select_related = ("user",)
    autocomplete_fields = ["user"]

    @admin.display(description=_("PIX key"))
    def masked_pix_key(self, obj):
        return mask_pix_key(obj.pix_key_type, obj.pix_key)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PatientProfile)
class PatientProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "doctor", "birth_date", "created_by")
    list_filter = (("doctor", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("user__first_name", "user__last_name", "user__email", "cpf")
    list_select_related = ("user", "doctor", "created_by")
    autocomplete_fields = ["user", "doctor"]
    readonly_fields = ["created_by"]

    def has_delete_permission(self, request, obj=None):
        return False


# Roles, not groups, grant access here: an empty Groups page would only confuse.
admin.site.unregister(Group)

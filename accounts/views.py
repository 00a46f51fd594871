from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import DetailView, FormView, TemplateView

from . import services
from .forms import (
    DoctorForm,
    LoginForm,
    PatientForm,
    PhotoForm,
    PixKeyForm,
    ProfileForm,
    ReassignForm,
    apply_service_errors,
)
from .middleware import session_expires_in, session_touch
from .models import Role
from .permissions import (
    RoleRequiredMixin,
    can_edit_patient,
    can_manage_user,
    can_reassign_patients,
    doctors_visible_to,
    patients_editable_by,
    patients_visible_to,
    people_invitable_by,
    users_manageable_by,
    users_visible_to,
)
from .photos import photo_upload_register
from .selectors import (
    active_patients_of,
    doctor_filter_choices,
    doctor_list_for,
    patient_list_for,
    specialties,
)
from .signals import password_changed

PAGE_SIZE = 20


# --- Authentication ---------------------------------------------------------


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    html_email_template_name = None
    subject_template_name = "registration/password_reset_subject.txt"

    @property
    def extra_email_context(self):
        # Without django.contrib.sites, Django names the site after the host
        # the request came to ("127.0.0.1:8123"); the e-mail names the clinic.
        return {"clinic_name": settings.CLINIC_NAME}


class PasswordChangeView(auth_views.PasswordChangeView):
    def form_valid(self, form):
        # Django gives the session that changed the password a new key.
        kept = self.request.session.session_key or ""
        response = super().form_valid(form)
        password_changed.send(
            sender=type(form.user),
            user=form.user,
            kept_session_key=kept,
            new_session_key=self.request.session.session_key or "",
        )
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed.send(
            sender=type(form.user), user=form.user, kept_session_key="", new_session_key=""
        )
        return response


@method_decorator(login_not_required, name="dispatch")
class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    """A newly registered person chooses a password and lands logged in."""

    template_name = "accounts/invitation_accept.html"
    token_generator = services.invitation_token_generator
    reset_url_token = "choose-password"  # noqa: S105 - a URL segment, not a secret
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("dashboard")

    def dispatch(self, *args, **kwargs):
        # An invitation sent with a consultation link lands the patient in the
        # call once the password is set (?next= survives the token redirect).
        next_url = self.request.GET.get("next", "")
        if next_url and url_has_allowed_host_and_scheme(
            next_url,
            allowed_hosts={self.request.get_host()},
            require_https=self.request.is_secure(),
        ):
            self.request.session[self.NEXT_SESSION_KEY] = next_url
        return super().dispatch(*args, **kwargs)

    NEXT_SESSION_KEY = "invitation_next"

    def form_valid(self, form):
        next_url = self.request.session.pop(self.NEXT_SESSION_KEY, "")
        response = super().form_valid(form)
        messages.success(self.request, _("Welcome! Your password is set."))
        return redirect(next_url) if next_url else response


# --- People -----------------------------------------------------------------


class PaginatedListMixin:
    def paginate(self, queryset):
        return Paginator(queryset, PAGE_SIZE).get_page(self.request.GET.get("page"))


class DoctorListView(RoleRequiredMixin, PaginatedListMixin, TemplateView):
    allowed_roles = (Role.ADMIN,)
    template_name = "accounts/doctor_list.html"

    def get_context_data(self, **kwargs):
        params = self.request.GET
        doctors = doctor_list_for(
            user=self.request.user,
            query=params.get("q", "").strip(),
            status=params.get("status", ""),
            specialty=params.get("specialty", ""),
        )
        return super().get_context_data(
            page_obj=self.paginate(doctors),
            specialties=specialties(),
            filters={k: params.get(k, "") for k in ("q", "status", "specialty")},
            **kwargs,
        )


class PatientListView(RoleRequiredMixin, PaginatedListMixin, TemplateView):
    allowed_roles = (Role.ADMIN, Role.DOCTOR)
    template_name = "accounts/patient_list.html"

    def get_context_data(self, **kwargs):
        params = self.request.GET
        doctor_id = params.get("doctor", "")
        patients = patient_list_for(
            user=self.request.user,
            query=params.get("q", "").strip(),
            status=params.get("status", ""),
            doctor_id=int(doctor_id) if doctor_id.isdigit() else None,
        )
        return super().get_context_data(
            page_obj=self.paginate(patients),
            doctors=doctor_filter_choices() if self.request.user.is_admin else None,
            filters={k: params.get(k, "") for k in ("q", "status", "doctor")},
            **kwargs,
        )


class PersonFormView(RoleRequiredMixin, FormView):
    """Create or edit a person through a service; shows errors next to fields."""

    success_message = ""

    def form_valid(self, form):
        try:
            person = self.save(form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message % {"name": person.get_full_name()})
        return redirect(self.next_url(person))


class InviteOnCreateMixin:
    """After registering someone, show whoever did it the invitation link."""

    success_message = gettext_lazy("%(name)s was registered. Send them the invitation link.")

    def next_url(self, person):
        link = self.request.build_absolute_uri(services.invitation_path(user=person))
        if services.invitation_send(user=person, link=link):
            messages.info(self.request, _("The invitation was also sent by e-mail."))
        return reverse("accounts:invitation", args=[person.pk])


class DoctorCreateView(InviteOnCreateMixin, PersonFormView):
    allowed_roles = (Role.ADMIN,)
    form_class = DoctorForm
    template_name = "accounts/doctor_form.html"

    def save(self, data):
        return services.doctor_create(**data)


class DoctorUpdateView(PersonFormView):
    allowed_roles = (Role.ADMIN,)
    form_class = DoctorForm
    template_name = "accounts/doctor_form.html"
    success_message = gettext_lazy("%(name)s was updated.")

    @cached_property
    def doctor(self):
        return get_object_or_404(
            doctors_visible_to(self.request.user).select_related("doctor_profile"),
            pk=self.kwargs["pk"],
        )

    def get_initial(self):
        d, p = self.doctor, self.doctor.doctor_profile
        return {
            "title": p.title, "first_name": d.first_name, "last_name": d.last_name,
            "email": d.email, "phone": d.phone, "crm": p.crm, "crm_state": p.crm_state,
            "specialty": p.specialty,
        }  # fmt: skip

    def get_context_data(self, **kwargs):
        return super().get_context_data(person=self.doctor, **kwargs)

    def save(self, data):
        return services.doctor_update(doctor=self.doctor, **data)

    def next_url(self, person):
        return reverse("accounts:doctor_detail", args=[person.pk])


class PatientCreateView(InviteOnCreateMixin, PersonFormView):
    allowed_roles = (Role.ADMIN, Role.DOCTOR)
    form_class = PatientForm
    template_name = "accounts/patient_form.html"

    def get_form_kwargs(self):
        # Admins pick the responsible doctor; a doctor registers their own patients.
        return {**super().get_form_kwargs(), "with_doctor": self.request.user.is_admin}

    def get_initial(self):
        doctor = self.request.GET.get("doctor", "")
        return {"doctor": doctor} if doctor.isdigit() else {}

    def save(self, data):
        data.setdefault("doctor", self.request.user)
        return services.patient_create(created_by=self.request.user, **data)


class PatientUpdateView(PersonFormView):
    allowed_roles = (Role.ADMIN, Role.DOCTOR)
    form_class = PatientForm
    template_name = "accounts/patient_form.html"
    success_message = gettext_lazy("%(name)s was updated.")

    @cached_property
    def patient(self):
        return get_object_or_404(
            patients_editable_by(self.request.user).select_related("patient_profile"),
            pk=self.kwargs["pk"],
        )

    def get_initial(self):
        p, profile = self.patient, self.patient.patient_profile
        return {
            "first_name": p.first_name, "last_name": p.last_name, "email": p.email,
            "phone": p.phone, "birth_date": profile.birth_date, "cpf": profile.cpf,
        }  # fmt: skip

    def get_context_data(self, **kwargs):
        return super().get_context_data(person=self.patient, **kwargs)

    def save(self, data):
        return services.patient_update(patient=self.patient, **data)

    def next_url(self, person):
        return reverse("accounts:patient_detail", args=[person.pk])


class PatientReassignView(PersonFormView):
    allowed_roles = (Role.ADMIN,)
    form_class = ReassignForm
    template_name = "accounts/patient_reassign.html"
    success_message = gettext_lazy("%(name)s has a new responsible doctor.")

    @cached_property
    def patient(self):
        return get_object_or_404(
            patients_editable_by(self.request.user).select_related("patient_profile__doctor"),
            pk=self.kwargs["pk"],
        )

    def get_initial(self):
        return {"doctor": self.patient.patient_profile.doctor_id}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            person=self.patient, cancel_url=self.next_url(self.patient), **kwargs
        )

    def form_valid(self, form):
        doctor = form.cleaned_data["doctor"]
        if doctor.pk == self.patient.patient_profile.doctor_id:
            messages.info(
                self.request,
                _("%(name)s stays with %(doctor)s: the responsible doctor did not change.")
                % {"name": self.patient.get_full_name(), "doctor": doctor.display_name},
            )
            return redirect(self.next_url(self.patient))
        return super().form_valid(form)

    def save(self, data):
        return services.patient_reassign(patient=self.patient, doctor=data["doctor"])

    def next_url(self, person):
        # From a deactivated doctor's page, the admin goes back there for the next patient.
        next_url = self.request.GET.get("next", "")
        if url_has_allowed_host_and_scheme(
            next_url,
            allowed_hosts={self.request.get_host()},
            require_https=self.request.is_secure(),
        ):
            return next_url
        return reverse("accounts:patient_detail", args=[person.pk])


class PersonDetailMixin(RoleRequiredMixin, DetailView):
    context_object_name = "person"

    def get_context_data(self, **kwargs):
        user, person = self.request.user, self.object
        return super().get_context_data(
            can_manage=can_manage_user(user, person),
            invitation_pending=services.invitation_pending(user=person),
            can_invite=people_invitable_by(user).filter(pk=person.pk).exists(),
            **kwargs,
        )


class DoctorDetailView(PersonDetailMixin):
    allowed_roles = (Role.ADMIN,)
    template_name = "accounts/doctor_detail.html"

    def get_queryset(self):
        return doctors_visible_to(self.request.user).select_related("doctor_profile")

    def get_context_data(self, **kwargs):
        doctor = self.object
        patients = doctor.patients.select_related("user").order_by("user__first_name")
        waiting = active_patients_of(doctor=doctor)
        return super().get_context_data(
            patients=[p.user for p in patients[:50]],
            active_patient_count=waiting.count(),
            # An inactive doctor's active patients need someone else.
            waiting_patients=[] if doctor.is_active else list(waiting[:50]),
            **kwargs,
        )


class PatientDetailView(PersonDetailMixin):
    allowed_roles = (Role.ADMIN, Role.DOCTOR)
    template_name = "accounts/patient_detail.html"

    def get_queryset(self):
        return patients_visible_to(self.request.user).select_related(
            "patient_profile__doctor__doctor_profile", "patient_profile__created_by"
        )

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            can_edit=can_edit_patient(user, self.object),
            can_reassign=can_reassign_patients(user),
            **kwargs,
        )


class UserActiveView(RoleRequiredMixin, View):
    """Deactivate or reactivate an account (POST). Records are always kept."""

    allowed_roles = (Role.ADMIN,)
    http_method_names = ["post"]
    active = False

    def post(self, request, pk):
        person = get_object_or_404(users_manageable_by(request.user), pk=pk)
        services.user_set_active(user=person, active=self.active)
        waiting = (
            0 if self.active or not person.is_doctor else active_patients_of(doctor=person).count()
        )
        if self.active:
            messages.success(request, _("%(name)s can sign in again.") % {"name": person})
        elif waiting:
            messages.warning(
                request,
                ngettext(
                    "%(name)s was deactivated, but %(count)d active patient still has them "
                    "as responsible doctor. Choose a new doctor below.",
                    "%(name)s was deactivated, but %(count)d active patients still have them "
                    "as responsible doctor. Choose a new doctor for each below.",
                    waiting,
                )
                % {"name": person, "count": waiting},
            )
        else:
            messages.success(
                request,
                _("%(name)s was deactivated. Their records are kept.") % {"name": person},
            )
        detail = "accounts:doctor_detail" if person.is_doctor else "accounts:patient_detail"
        return redirect(detail, pk=person.pk)


@method_decorator(never_cache, name="dispatch")
class InvitationView(RoleRequiredMixin, DetailView):
    """The invitation link of someone who has not chosen a password yet.

    GET shows a fresh link with a copy button; POST e-mails it again.
    """

    allowed_roles = (Role.ADMIN, Role.DOCTOR)
    template_name = "accounts/invitation_detail.html"
    context_object_name = "person"

    def get_queryset(self):
        return people_invitable_by(self.request.user)

    def get_context_data(self, **kwargs):
        person = self.object
        pending = services.invitation_pending(user=person)
        link = (
            self.request.build_absolute_uri(services.invitation_path(user=person))
            if pending
            else ""
        )
        return super().get_context_data(
            link=link,
            pending=pending,
            email_configured=settings.EMAIL_CONFIGURED,
            valid_days=settings.INVITATION_TIMEOUT // 86400,
            **kwargs,
        )

    def post(self, request, pk):
        person = get_object_or_404(self.get_queryset(), pk=pk)
        if not services.invitation_pending(user=person):
            messages.info(request, _("%(name)s has already chosen a password.") % {"name": person})
        else:
            link = request.build_absolute_uri(services.invitation_path(user=person))
            if services.invitation_send(user=person, link=link):
                messages.success(
                    request, _("Invitation sent to %(email)s.") % {"email": person.email}
                )
            else:
                messages.warning(request, _("E-mail is not set up. Copy the link instead."))
        return redirect("accounts:invitation", pk=pk)


class UserPhotoView(View):
    """Streams a profile photo to someone allowed to see that person."""

    def get(self, request, pk):
        person = get_object_or_404(users_visible_to(request.user), pk=pk)
        if not person.photo:
            raise Http404
        try:
            photo = person.photo.open("rb")
        except FileNotFoundError:
            raise Http404 from None
        response = FileResponse(photo, content_type="image/webp")
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = "inline"
        return response


# --- Own profile ------------------------------------------------------------


class ProfileView(TemplateView):
    """Every role's profile: details, photo, and for doctors the PIX key.

    One page with several small forms; the `form` field of a POST says which.
    """

    template_name = "accounts/profile.html"

    def get_forms(self, bound_name=None, data=None, files=None):
        user = self.request.user
        forms = {
            "details": ProfileForm(
                data if bound_name == "details" else None,
                initial={
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "phone": user.phone,
                },
                prefix="details",
            ),
            "photo": PhotoForm(
                data if bound_name == "photo" else None,
                files if bound_name == "photo" else None,
                prefix="photo",
            ),
        }
        if user.is_doctor:
            profile = user.doctor_profile
            forms["pix"] = PixKeyForm(
                data if bound_name == "pix" else None,
                initial={"pix_key_type": profile.pix_key_type, "pix_key": profile.pix_key},
                prefix="pix",
            )
        return forms

    def get_context_data(self, **kwargs):
        kwargs.setdefault("forms", self.get_forms())
        return super().get_context_data(**kwargs)

    def post(self, request):
        name = request.POST.get("form", "")
        user = request.user
        # Counted before any image is decoded (the file itself waits on disk).
        if name == "photo" and not photo_upload_register(user=user):
            return self.too_many_uploads()
        if name == "remove_photo":
            services.user_photo_remove(user=user)
            messages.success(request, _("Your photo was removed."))
            return redirect("accounts:profile")
        forms = self.get_forms(name, request.POST, request.FILES)
        form = forms.get(name)
        if form is None:
            messages.error(request, _("Something was missing from the form. Please try again."))
            return redirect("accounts:profile")
        if form.is_valid():
            data = form.cleaned_data
            try:
                if name == "details":
                    services.profile_update(user=user, **data)
                    messages.success(request, _("Your details were saved."))
                elif name == "photo":
                    services.user_photo_set(user=user, upload=data["photo"])
                    messages.success(request, _("Your new photo is saved."))
                else:
                    profile = services.pix_key_set(
                        doctor=user, key_type=data["pix_key_type"], key=data["pix_key"]
                    )
                    if profile.pix_key:
                        messages.success(request, _("Your PIX key was saved."))
                    else:
                        messages.success(request, _("Your PIX key was removed."))
                return redirect("accounts:profile")
            except ValidationError as error:
                if name == "photo":
                    form.add_error("photo", error)
                else:
                    apply_service_errors(form, error)
        messages.error(request, _("Please correct the errors below."))
        return self.render_to_response(self.get_context_data(forms=forms))

    def too_many_uploads(self):
        minutes = settings.PHOTO_UPLOAD_WINDOW_MINUTES
        response = render(
            self.request,
            "accounts/photo_upload_limit.html",
            {"limit": settings.PHOTO_UPLOAD_LIMIT, "minutes": minutes},
            status=429,
        )
        response["Retry-After"] = str(minutes * 60)
        return response


# --- Session clock ----------------------------------------------------------


@method_decorator(login_not_required, name="dispatch")
class SessionView(View):
    """The idle warning's view of the session: GET reads the seconds left, POST keeps it alive.

    Reading does not count as activity (the warning asks before showing
    itself); an expired session answers 401 so the page can go to the login.
    """

    session_activity = False

    def get(self, request):
        return self.state(request)

    def post(self, request):
        if request.user.is_authenticated:
            session_touch(request.session, force=True)
        return self.state(request)

    def state(self, request):
        if not request.user.is_authenticated:
            return JsonResponse({"expired": True}, status=401)
        return JsonResponse({"expires_in": session_expires_in(request.session)})

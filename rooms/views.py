from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import DetailView, FormView

from accounts.backends import client_ip
from accounts.models import Role
from accounts.permissions import RoleRequiredMixin
from accounts.services import invitation_path, invitation_pending

from . import consent, ice, services
from .forms import ConsentForm
from .models import RoomStatus
from .permissions import (
    can_open_room_for,
    patients_for_new_room,
    rooms_joinable_by,
    rooms_visible_to,
)
from .selectors import past_consultations
from .strings import call_strings


class RoomCreateView(RoleRequiredMixin, View):
    """A doctor opens a room for one of their patients (POST)."""

    allowed_roles = (Role.DOCTOR,)
    http_method_names = ["post"]

    def post(self, request, patient_pk):
        patient = get_object_or_404(patients_for_new_room(request.user), pk=patient_pk)
        asked_at = timezone.now()
        try:
            room = services.room_create(doctor=request.user, patient=patient)
        except ValidationError as error:
            messages.error(request, error.messages[0])
            return redirect("accounts:patient_detail", pk=patient.pk)
        if room.created_at < asked_at:  # the room already open with this patient
            messages.info(
                request,
                _("A room with %(name)s was already open: this is it, with the same link.")
                % {"name": patient.first_name},
            )
        else:
            messages.success(
                request,
                _("Room open. Send the link to %(name)s and join when you are ready.")
                % {"name": patient.first_name},
            )
        return redirect("rooms:join", code=room.code)


class RoomMixin:
    @cached_property
    def room(self):
        return get_object_or_404(
            rooms_joinable_by(self.request.user).select_related(
                "doctor__doctor_profile", "patient__patient_profile"
            ),
            code=self.kwargs["code"],
        )


@method_decorator(never_cache, name="dispatch")
class RoomJoinView(RoomMixin, View):
    """The join link /r/<code>/: the call page for the room's doctor and patient.

    Never cached: the doctor's panel shows the patient's details.
    """

    def get(self, request, code):
        room, user = self.room, request.user
        if room.status == RoomStatus.ENDED:
            return render(request, "rooms/room_ended.html", {"room": room}, status=410)
        if user.is_patient and services.consent_current(patient=user) is None:
            return redirect("rooms:consent", code=room.code)
        peer = room.patient if user.is_doctor else room.doctor
        context = {
            "room": room,
            "peer": peer,
            "is_doctor": user.is_doctor,
            "call_strings": call_strings(is_doctor=user.is_doctor),
            "join_url": request.build_absolute_uri(reverse("rooms:join", args=[room.code])),
            "call_config": {
                "code": room.code,
                "ws_path": f"/ws/rooms/{room.code}/",
                "role": user.role,
                "self_id": user.pk,
                "peer_name": peer.display_name,
                "finish_url": reverse("rooms:finish", args=[room.code]) if user.is_doctor else "",
                "ended_url": reverse("rooms:join", args=[room.code]),
                "ice_servers": ice.ice_servers_for(user),
            },
        }
        if user.is_doctor:
            context["recent_rooms"] = past_consultations(room=room)[:3]
            if invitation_pending(user=room.patient):
                # The patient has no password yet: the invitation doubles as the join link.
                query = urlencode({"next": reverse("rooms:join", args=[room.code])})
                path = f"{invitation_path(user=room.patient)}?{query}"
                context["join_url"] = request.build_absolute_uri(path)
                context["join_is_invitation"] = True
        return render(request, "rooms/call.html", context)


class ConsentView(RoomMixin, RoleRequiredMixin, FormView):
    """The telemedicine consent term, accepted once per term version before the first call."""

    allowed_roles = (Role.PATIENT,)
    form_class = ConsentForm
    template_name = "rooms/consent.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            room=self.room, term=consent.term_text(), version=consent.TERM_VERSION, **kwargs
        )

    def form_valid(self, form):
        room = self.room  # a room that is not theirs is a 404 before anything is stored
        services.consent_accept(
            patient=self.request.user,
            ip_address=client_ip(self.request),
            user_agent=self.request.META.get("HTTP_USER_AGENT", ""),
        )
        messages.success(self.request, _("Thank you. You can join the call now."))
        return redirect("rooms:join", code=room.code)


class RoomFinishView(RoomMixin, RoleRequiredMixin, View):
    """The doctor's "Finish consultation" button (POST)."""

    allowed_roles = (Role.DOCTOR,)
    http_method_names = ["post"]

    def post(self, request, code):
        if services.room_finalize(room=self.room, by=request.user):
            messages.success(request, _("Consultation finished."))
        return redirect("rooms:summary", code=self.room.code)


class RoomSummaryView(RoleRequiredMixin, DetailView):
    """A consultation's summary, with the next steps at hand."""

    allowed_roles = (Role.DOCTOR, Role.ADMIN)
    template_name = "rooms/room_summary.html"
    context_object_name = "room"
    slug_field = slug_url_kwarg = "code"

    def get_queryset(self):
        return rooms_visible_to(self.request.user).select_related(
            "doctor__doctor_profile", "patient__patient_profile", "ended_by"
        )

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_open=can_open_room_for(self.request.user, self.object.patient), **kwargs
        )

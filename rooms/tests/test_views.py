"""The rooms pages through HTTP: opening, the join link, consent, finishing, the summary,
and the rooms blocks of the dashboards and of the patient's page."""

import datetime as dt
import json
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone, translation

from accounts import services as accounts_services
from accounts.tests.factories import PASSWORD, PatientFactory
from rooms import consent
from rooms.models import Presence, Room, RoomStatus, ServerInstance, TelemedicineConsent
from rooms.signals import consultation_finished
from rooms.tests.factories import ConsentFactory, RoomFactory

NEW_PASSWORD = "Uma-senha-nova-e-longa-7"
ROLES = ["anonymous", "patient", "other_patient", "doctor", "other_doctor", "admin"]


@pytest.fixture
def client(client):
    # The English source strings, whatever the state of the pt-BR catalog.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def login(client, user):
    # django-axes needs a request to authenticate, so client.login() cannot be used.
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def people(admin_user, doctor, other_doctor, consented_patient, other_patient):
    return {
        "anonymous": None,
        "patient": consented_patient,
        "other_patient": other_patient,
        "doctor": doctor,
        "other_doctor": other_doctor,
        "admin": admin_user,
    }


@pytest.fixture
def finished():
    received = []

    def receiver(sender, room, **kwargs):
        received.append(room.pk)

    consultation_finished.connect(receiver, weak=False)
    yield received
    consultation_finished.disconnect(receiver)


def join_path(room) -> str:
    return reverse("rooms:join", args=[room.code])


def login_url_for(path: str) -> str:
    return f"{reverse('login')}?next={path}"


def presence(room, user, channel="c"):
    server, _ = ServerInstance.objects.get_or_create(
        id="s1", defaults={"started_at": timezone.now(), "last_beat_at": timezone.now()}
    )
    return Presence.objects.create(
        room=room,
        user=user,
        channel_name=f"{channel}.{user.pk}",
        server=server,
        connected_at=timezone.now(),
    )


def end(room, by=None):
    Room.objects.filter(pk=room.pk).update(
        status=RoomStatus.ENDED, ended_at=timezone.now(), ended_by=by
    )
    room.refresh_from_db()
    return room


def finished_room(doctor, patient):
    """A finished consultation of a pair: created ended, since the pair may have a room open."""
    return RoomFactory(
        doctor=doctor, patient=patient, status=RoomStatus.ENDED, ended_at=timezone.now(),
        ended_by=doctor,
    )  # fmt: skip


def shown(value) -> str:
    """A date and time as the English pages print it, in the clinic's time zone."""
    with translation.override("en"):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


class Element(HTMLParser):
    """One element of a page (the whole page without an id): its tags and its text."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}

    def __init__(self, html: str, element_id: str | None = None):
        super().__init__()
        self.element_id = element_id
        self.depth = 0 if element_id else 1
        self.tags: list[tuple[str, dict]] = []
        self._text: list[str] = []
        self.feed(html)
        self.close()
        self.found = bool(self.tags)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if not self.depth and attrs.get("id") != self.element_id:
            return
        self.tags.append((tag, attrs))
        if tag not in self.VOID:
            self.depth += 1

    def handle_endtag(self, tag):
        if self.element_id and self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self._text.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self._text).split())

    def find(self, tag: str, **attrs) -> list[dict]:
        """The attributes of each `tag` with these attributes (data_x means data-x)."""
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


def page(response, element_id=None) -> Element:
    return Element(response.content.decode(), element_id)


def call_config(response) -> dict:
    match = re.search(
        r'<script id="call-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "no call-config on the page"
    return json.loads(match.group(1))


def item_html(response, code: str) -> str:
    """The dashboard's list item of one room."""
    html = response.content.decode()
    start = html.rindex("<li", 0, html.index(f'data-room-code="{code}"'))
    return html[start : html.index("</li>", start)]


# --- Opening a room -------------------------------------------------------------------


def test_a_doctor_opens_a_room_for_their_patient(client, doctor, patient):
    response = login(client, doctor).post(reverse("rooms:create", args=[patient.pk]))

    room = Room.objects.get()
    assert (room.doctor, room.patient, room.status) == (doctor, patient, RoomStatus.OPEN)
    assert response.status_code == 302
    assert response.url == f"/r/{room.code}/"


def test_opening_a_room_is_a_post(client, doctor, patient):
    response = login(client, doctor).get(reverse("rooms:create", args=[patient.pk]))

    assert response.status_code == 405
    assert not Room.objects.exists()


def test_a_doctor_cannot_open_a_room_for_another_doctors_patient(client, doctor, other_patient):
    response = login(client, doctor).post(reverse("rooms:create", args=[other_patient.pk]))

    assert response.status_code == 404
    assert not Room.objects.exists()


def test_a_doctor_cannot_open_a_room_for_an_inactive_patient(client, doctor):
    inactive = PatientFactory(doctor=doctor, is_active=False)

    response = login(client, doctor).post(reverse("rooms:create", args=[inactive.pk]))

    assert response.status_code == 404
    assert not Room.objects.exists()


@pytest.mark.parametrize("opener", ["patient", "admin"])
def test_only_doctors_open_rooms(client, request, opener, patient):
    user = request.getfixturevalue("admin_user" if opener == "admin" else opener)

    response = login(client, user).post(reverse("rooms:create", args=[patient.pk]))

    assert response.status_code == 403
    assert not Room.objects.exists()


# --- The join link --------------------------------------------------------------------


def test_the_rooms_doctor_gets_the_call_page_with_the_link_to_send(client, room):
    room.patient.phone = "+5511987654321"
    room.patient.save(update_fields=["phone"])

    response = login(client, room.doctor).get(join_path(room))

    assert response.status_code == 200
    assert "rooms/call.html" in [t.name for t in response.templates]
    link = f"http://testserver/r/{room.code}/"
    body = page(response)
    assert body.find("input", id="join-link", value=link)
    assert body.find("button", data_copy_target="#join-link")
    whatsapp = [a["href"] for a in body.find("a") if a.get("href", "").startswith("https://wa.me/")]
    assert len(whatsapp) == 1
    assert whatsapp[0].startswith("https://wa.me/5511987654321?text=")
    assert quote(link, safe="/") in whatsapp[0]
    config = call_config(response)
    assert config["ws_path"] == f"/ws/rooms/{room.code}/"
    assert config["code"] == room.code
    assert config["role"] == "doctor"
    assert config["self_id"] == room.doctor.pk
    assert config["finish_url"] == reverse("rooms:finish", args=[room.code])
    assert config["ice_servers"]


def test_the_rooms_patient_with_consent_gets_the_call_page(client, room):
    response = login(client, room.patient).get(join_path(room))

    assert response.status_code == 200
    assert "rooms/call.html" in [t.name for t in response.templates]
    config = call_config(response)
    assert config["ws_path"] == f"/ws/rooms/{room.code}/"
    assert config["role"] == "patient"
    assert config["self_id"] == room.patient.pk
    assert config["finish_url"] == ""
    assert config["peer_name"] == room.doctor.display_name
    body = page(response)
    # Only the doctor shares the link and finishes the consultation.
    assert not body.find("input", id="join-link")
    assert not body.find("button", id="finish-button")


def test_a_patient_without_consent_is_sent_to_the_consent_term(client, doctor, patient):
    room = RoomFactory(doctor=doctor, patient=patient)

    response = login(client, patient).get(join_path(room))

    assert response.status_code == 302
    assert response.url == reverse("rooms:consent", args=[room.code])


def test_the_consent_page_shows_the_term(client, doctor, patient):
    room = RoomFactory(doctor=doctor, patient=patient)

    response = login(client, patient).get(reverse("rooms:consent", args=[room.code]))

    assert response.status_code == 200
    assert "Termo de consentimento para teleconsulta" in response.content.decode()
    assert page(response).find("input", name="accept", type="checkbox")
    assert response.context["version"] == consent.TERM_VERSION


def test_consent_without_ticking_the_box_shows_an_error_and_stores_nothing(client, doctor, patient):
    room = RoomFactory(doctor=doctor, patient=patient)

    response = login(client, patient).post(reverse("rooms:consent", args=[room.code]), {})

    assert response.status_code == 200
    assert response.context["form"].errors["accept"]
    assert "tick the box to accept the term" in response.content.decode()
    assert not TelemedicineConsent.objects.exists()


def test_ticking_the_box_records_the_consent_and_goes_back_to_the_call(client, doctor, patient):
    room = RoomFactory(doctor=doctor, patient=patient)
    login(client, patient)

    response = client.post(
        reverse("rooms:consent", args=[room.code]),
        {"accept": "on"},
        REMOTE_ADDR="203.0.113.5",
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Safari",
    )

    assert response.status_code == 302
    assert response.url == join_path(room)
    accepted = TelemedicineConsent.objects.get()
    assert accepted.patient == patient
    assert accepted.version == consent.TERM_VERSION
    assert accepted.text_hash == consent.term_hash()
    assert accepted.ip_address == "203.0.113.5"
    assert accepted.user_agent == "Mozilla/5.0 (iPhone) Safari"
    assert client.get(join_path(room)).status_code == 200


def test_a_consent_post_to_someone_elses_room_changes_nothing(client, other_doctor):
    stranger = PatientFactory(doctor=other_doctor)
    room = RoomFactory()

    response = login(client, stranger).post(
        reverse("rooms:consent", args=[room.code]), {"accept": "on"}
    )

    assert response.status_code == 404
    assert not TelemedicineConsent.objects.exists()


@pytest.mark.parametrize("outsider", ["other_doctor", "other_patient", "admin"])
def test_people_outside_the_room_get_a_404_from_its_link(client, people, room, outsider):
    response = login(client, people[outsider]).get(join_path(room))

    assert response.status_code == 404


def test_an_unknown_code_is_a_404(client, doctor):
    response = login(client, doctor).get("/r/nosuchroom23/")

    assert response.status_code == 404


def test_an_anonymous_visitor_signs_in_and_lands_in_the_call(client, room):
    path = join_path(room)

    response = client.get(path)

    assert response.status_code == 302
    assert response.url == login_url_for(path)
    assert room.patient.has_usable_password()
    signed_in = client.post(
        reverse("login"), {"username": room.patient.email, "password": PASSWORD, "next": path}
    )
    assert signed_in.status_code == 302
    assert signed_in.url == path
    assert client.session["_auth_user_id"] == str(room.patient.pk)
    call = client.get(signed_in.url)
    assert call.status_code == 200
    assert call_config(call)["ws_path"] == f"/ws/rooms/{room.code}/"


@pytest.mark.parametrize("viewer", ["doctor", "patient"])
def test_an_ended_rooms_link_says_the_consultation_has_ended(client, people, room, viewer):
    end(room, by=room.doctor)

    response = login(client, people[viewer]).get(join_path(room))

    assert response.status_code == 410
    assert "rooms/room_ended.html" in [t.name for t in response.templates]
    text = page(response).text
    assert "This consultation has ended" in text
    assert "This link no longer opens a call." in text
    assert 'id="call-config"' not in response.content.decode()


def test_an_ended_room_says_so_even_before_consent(client, doctor, patient):
    room = end(RoomFactory(doctor=doctor, patient=patient), by=doctor)

    response = login(client, patient).get(join_path(room))

    assert response.status_code == 410


# --- The invitation as the join link --------------------------------------------------


@pytest.fixture
def invited(doctor):
    return accounts_services.patient_create(
        created_by=doctor,
        doctor=doctor,
        email="convidado@example.com",
        first_name="Igor",
        last_name="Lopes",
    )


def test_for_a_patient_without_a_password_the_link_is_the_invitation(client, doctor, invited):
    room = RoomFactory(doctor=doctor, patient=invited)

    response = login(client, doctor).get(join_path(room))

    assert response.context["join_is_invitation"] is True
    link = response.context["join_url"]
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc) == ("http", "testserver")
    assert parts.path.startswith("/accounts/invite/")
    assert parse_qs(parts.query) == {"next": [join_path(room)]}
    assert page(response).find("input", id="join-link", value=link)


def test_following_the_invitation_link_lands_the_patient_in_the_call(client, doctor, invited):
    room = RoomFactory(doctor=doctor, patient=invited)
    link = login(client, doctor).get(join_path(room)).context["join_url"]
    parts = urlsplit(link)
    visitor = Client(HTTP_ACCEPT_LANGUAGE="en")

    landing = visitor.get(f"{parts.path}?{parts.query}")
    assert landing.status_code == 302
    assert landing.url.endswith("/choose-password/")
    done = visitor.post(landing.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done.status_code == 302
    assert done.url == join_path(room)
    assert visitor.session["_auth_user_id"] == str(invited.pk)
    # Signed in as the patient: the link now asks for the consent term, then opens the call.
    first_visit = visitor.get(done.url)
    assert first_visit.status_code == 302
    assert first_visit.url == reverse("rooms:consent", args=[room.code])
    visitor.post(first_visit.url, {"accept": "on"})
    assert visitor.get(done.url).status_code == 200


def test_a_patient_with_a_password_gets_the_plain_link(client, room):
    response = login(client, room.doctor).get(join_path(room))

    assert not response.context.get("join_is_invitation")
    assert response.context["join_url"] == f"http://testserver/r/{room.code}/"


# --- Finishing -------------------------------------------------------------------------


def test_the_doctor_finishes_the_consultation_and_sees_the_summary(client, room, finished):
    # Far enough apart that each time prints differently (the format stops at minutes).
    opened = timezone.now() - dt.timedelta(hours=2)
    started = timezone.now() - dt.timedelta(hours=1)
    Room.objects.filter(pk=room.pk).update(
        created_at=opened, call_started_at=started, both_present_seconds=12 * 60
    )
    presence(room, room.doctor)

    response = login(client, room.doctor).post(reverse("rooms:finish", args=[room.code]))

    assert response.status_code == 302
    assert response.url == reverse("rooms:summary", args=[room.code])
    assert finished == [room.pk]
    room.refresh_from_db()
    assert room.status == RoomStatus.ENDED
    assert room.ended_by == room.doctor
    assert not Presence.objects.filter(room=room).exists()

    summary = client.get(response.url)
    assert summary.status_code == 200
    text = page(summary).text
    assert "Consultation finished." in text
    assert room.patient.get_full_name() in text
    assert len({shown(opened), shown(started), shown(room.ended_at)}) == 3
    assert shown(opened) in text
    assert shown(started) in text
    assert shown(room.ended_at) in text
    assert "12 min" in text
    assert "Write the evolution" in text
    body = page(summary)
    # "Write the evolution" opens the form with this consultation already linked.
    evolution = reverse("clinical:evolution_create", args=[room.patient.pk])
    assert body.find("a", href=f"{evolution}?room={room.code}")
    assert body.find("form", method="post", action=reverse("rooms:create", args=[room.patient.pk]))
    assert "Open a new room for this patient" in text


def test_finishing_twice_is_harmless(client, room, finished):
    login(client, room.doctor)
    client.post(reverse("rooms:finish", args=[room.code]))
    room.refresh_from_db()
    ended_at = room.ended_at

    again = client.post(reverse("rooms:finish", args=[room.code]))

    assert again.status_code == 302
    assert again.url == reverse("rooms:summary", args=[room.code])
    assert finished == [room.pk]
    room.refresh_from_db()
    assert room.ended_at == ended_at


def test_the_patient_cannot_finish_the_consultation(client, room, finished):
    response = login(client, room.patient).post(reverse("rooms:finish", args=[room.code]))

    assert response.status_code == 403
    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN
    assert finished == []


def test_finishing_is_a_post(client, room, finished):
    response = login(client, room.doctor).get(reverse("rooms:finish", args=[room.code]))

    assert response.status_code == 405
    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN
    assert finished == []


def test_another_doctor_cannot_finish_the_consultation(client, other_doctor, room, finished):
    response = login(client, other_doctor).post(reverse("rooms:finish", args=[room.code]))

    assert response.status_code == 404
    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN
    assert finished == []


# --- Summary ---------------------------------------------------------------------------


def test_admins_see_the_summary_without_the_doctors_next_steps(client, admin_user, room):
    end(room, by=room.doctor)

    response = login(client, admin_user).get(reverse("rooms:summary", args=[room.code]))

    assert response.status_code == 200
    text = page(response).text
    assert room.patient.get_full_name() in text
    assert "Write the evolution" not in text


def test_a_summary_without_a_call_says_it_was_not_billable(client, room):
    end(room, by=None)

    response = login(client, room.doctor).get(reverse("rooms:summary", args=[room.code]))

    text = page(response).text
    assert "The patient did not join" in text
    assert "closed automatically" in text
    assert "Not held" in text
    assert "never in the call together, so nothing was billed" in text


def test_the_summary_offers_no_new_room_for_a_patient_the_doctor_can_no_longer_open_for(
    client, room
):
    end(room, by=room.doctor)
    room.patient.is_active = False
    room.patient.save(update_fields=["is_active"])
    create = reverse("rooms:create", args=[room.patient.pk])
    login(client, room.doctor)
    assert client.post(create).status_code == 404

    response = client.get(reverse("rooms:summary", args=[room.code]))

    assert not page(response).find("form", action=create)


@pytest.mark.parametrize(("viewer", "status"), [("other_doctor", 404), ("patient", 403)])
def test_the_summary_is_the_doctors_and_the_admins(client, people, room, viewer, status):
    end(room, by=room.doctor)

    response = login(client, people[viewer]).get(reverse("rooms:summary", args=[room.code]))

    assert response.status_code == status


# --- Every role against every page ---------------------------------------------------

# (name, method, url name) -> status for each of ROLES
ACCESS = {
    ("join", "get", "rooms:join"): [302, 200, 404, 200, 404, 404],
    ("consent", "get", "rooms:consent"): [302, 200, 404, 403, 403, 403],
    ("finish", "post", "rooms:finish"): [302, 403, 403, 302, 404, 403],
    ("summary", "get", "rooms:summary"): [302, 403, 403, 200, 404, 200],
    ("create", "post", "rooms:create"): [302, 403, 403, 302, 404, 403],
}
CASES = [
    pytest.param(method, url_name, role, statuses[i], id=f"{name}-{role}")
    for (name, method, url_name), statuses in ACCESS.items()
    for i, role in enumerate(ROLES)
]


@pytest.mark.parametrize(("method", "url_name", "role", "status"), CASES)
def test_access_by_role(client, people, room, method, url_name, role, status):
    arg = room.patient.pk if url_name == "rooms:create" else room.code
    url = reverse(url_name, args=[arg])

    response = getattr(login(client, people[role]), method)(url)

    assert response.status_code == status
    if role == "anonymous":
        assert response.url == login_url_for(url)


# --- Dashboards ------------------------------------------------------------------------


def test_the_doctors_dashboard_lists_open_rooms_and_who_is_in(client, doctor, room):
    other = RoomFactory(doctor=doctor, patient=PatientFactory(doctor=doctor, first_name="Zélia"))
    ended = finished_room(doctor, room.patient)
    someone_elses = RoomFactory()
    presence(room, room.patient)

    response = login(client, doctor).get(reverse("dashboard"))

    listed = response.context["open_rooms"]
    assert {r.pk for r in listed} == {room.pk, other.pk}
    by_pk = {r.pk: r for r in listed}
    assert (by_pk[room.pk].patient_present, by_pk[room.pk].doctor_present) == (True, False)
    assert (by_pk[other.pk].patient_present, by_pk[other.pk].doctor_present) == (False, False)
    block = page(response, "open-rooms")
    assert block.found
    codes = {a["data-room-code"] for a in block.find("li") if "data-room-code" in a}
    assert codes == {room.code, other.code}
    assert ended.code not in codes and someone_elses.code not in codes
    assert block.find("a", href=join_path(room))
    waiting = Element(item_html(response, room.code))
    badge = waiting.find("span", **{"class": "badge bg-success waiting-badge ms-1"})
    assert badge and "hidden" not in badge[0]
    assert "Waiting for you" in waiting.text
    assert room.patient.get_full_name() in waiting.text
    nobody = Element(item_html(response, other.code))
    assert "hidden" in nobody.find("span", **{"class": "badge bg-success waiting-badge ms-1"})[0]


def test_the_doctors_dashboard_says_when_both_are_in_the_call(client, doctor, room):
    presence(room, room.patient)
    presence(room, room.doctor)

    response = login(client, doctor).get(reverse("dashboard"))

    item = Element(item_html(response, room.code))
    assert "In the call" in item.text
    assert "you are in" in item.text


def test_the_patients_dashboard_has_a_big_join_button_with_the_doctors_name(
    client, doctor, room, other_doctor
):
    ended = finished_room(doctor, room.patient)
    someone_elses = RoomFactory(doctor=other_doctor)

    response = login(client, room.patient).get(reverse("dashboard"))

    assert [r.pk for r in response.context["open_rooms"]] == [room.pk]
    block = page(response, "open-rooms")
    button = block.find("a", href=join_path(room))
    assert len(button) == 1
    assert "btn-lg" in button[0]["class"].split()
    assert "Join the consultation" in block.text
    assert doctor.display_name in block.text
    html = response.content.decode()
    assert join_path(ended) not in html
    assert join_path(someone_elses) not in html


def test_the_patients_dashboard_without_open_rooms_says_so(client, room):
    end(room, by=room.doctor)

    response = login(client, room.patient).get(reverse("dashboard"))

    block = page(response, "open-rooms")
    assert not block.find("li")
    assert "No consultation is open for you right now" in block.text


def test_the_doctors_dashboard_queries_do_not_grow_with_open_rooms(
    client, doctor, room, django_assert_max_num_queries
):
    login(client, doctor)
    presence(room, room.patient)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("dashboard"))
    for _ in range(5):
        other = RoomFactory(doctor=doctor, patient=PatientFactory(doctor=doctor))
        presence(other, other.patient)

    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(reverse("dashboard"))

    assert len(response.context["open_rooms"]) == 6


# --- The patient's page ----------------------------------------------------------------


def test_the_patient_page_shows_consent_consultations_and_the_open_a_room_button(
    client, doctor, room
):
    ended = finished_room(doctor, room.patient)

    response = login(client, doctor).get(reverse("accounts:patient_detail", args=[room.patient.pk]))

    assert response.status_code == 200
    block = page(response, "consultations")
    assert block.found
    assert "Telemedicine consent accepted on" in block.text
    assert consent.TERM_VERSION in block.text
    assert block.find("form", method="post", action=reverse("rooms:create", args=[room.patient.pk]))
    assert "Open a consultation room" in block.text
    assert block.find("a", href=join_path(room))
    assert block.find("a", href=reverse("rooms:summary", args=[ended.code]))
    assert len(block.find("tr")) == 3  # the header and two consultations


def test_the_patient_page_says_when_consent_is_missing(client, doctor, patient):
    response = login(client, doctor).get(reverse("accounts:patient_detail", args=[patient.pk]))

    block = page(response, "consultations")
    assert "Telemedicine consent not accepted yet" in block.text
    assert "No video consultations yet." in block.text
    assert block.find("form", action=reverse("rooms:create", args=[patient.pk]))


def test_admins_see_a_patients_consultations_but_open_no_room(client, admin_user, room):
    response = login(client, admin_user).get(
        reverse("accounts:patient_detail", args=[room.patient.pk])
    )

    block = page(response, "consultations")
    assert block.find("a", href=reverse("rooms:summary", args=[room.code]))
    assert not block.find("form", action=reverse("rooms:create", args=[room.patient.pk]))


def test_a_newer_consent_term_shows_as_not_accepted(client, doctor, patient):
    ConsentFactory(patient=patient, version="2000-01")

    response = login(client, doctor).get(reverse("accounts:patient_detail", args=[patient.pk]))

    assert "Telemedicine consent not accepted yet" in page(response, "consultations").text


# --- One open room per doctor and patient -------------------------------------------


def test_opening_a_room_twice_sends_both_clicks_to_the_same_room(client, doctor, patient):
    client = login(client, doctor)
    url = reverse("rooms:create", args=[patient.pk])

    first = client.post(url)
    second = client.post(url)  # a double click, a second tab, the chart and the dashboard

    room = Room.objects.get()
    assert first.url == second.url == reverse("rooms:join", args=[room.code])
    said = [str(m) for m in client.get(second.url).context["messages"]]
    assert said == [
        "Room open. Send the link to Carlos and join when you are ready.",
        "A room with Carlos was already open: this is it, with the same link.",
    ]

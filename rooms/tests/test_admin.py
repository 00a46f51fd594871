"""The call servers and the consultations in the Django admin (read-only: see
accounts/tests/test_admin_site.py for what every page may and may not do)."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import short_local_datetime
from accounts.tests.factories import PatientFactory
from rooms import services
from rooms.models import CallSample, Presence, ServerInstance
from rooms.tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "pt-br"
    return client


def rows(response) -> dict[str, str]:
    """The list's rows as a person reads them (a yes/no icon as its alt text), by process."""
    body = response.content.decode().split('id="result_list"', 1)[1].split("</tbody>", 1)[0]
    found = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S):
        row = re.sub(r'<img [^>]*alt="(\w+)"[^>]*>', r"\1", row)
        cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.split(r"</t[hd]>", row)]
        cells = [cell for cell in cells if cell]
        found[cells[0]] = " | ".join(cells)
    return found


def test_the_server_processes_say_which_run_and_how_many_people_each_holds(
    client, admin_user, doctor, patient, other_patient
):
    services.server_beat(server_id="web-alive")
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    ServerInstance.objects.create(id="web-dead", started_at=long_ago, last_beat_at=long_ago)
    for person, server in (
        (doctor, "web-alive"),
        (patient, "web-alive"),
        (other_patient, "web-dead"),
    ):
        Presence.objects.create(
            room=RoomFactory(doctor=doctor, patient=PatientFactory(doctor=doctor)), user=person,
            channel_name=f"c-{person.pk}", server_id=server, connected_at=timezone.now(),
        )  # fmt: skip
    alive = ServerInstance.objects.get(pk="web-alive")
    client.force_login(admin_user)

    found = rows(client.get(reverse("admin:rooms_serverinstance_changelist")))

    assert found["web-alive"] == (
        f"web-alive | {short_local_datetime(alive.started_at)} | "
        f"{short_local_datetime(alive.last_beat_at)} | True | 2"
    )
    assert found["web-dead"].endswith("| False | 1")
    assert short_local_datetime(long_ago) in found["web-dead"]


def test_the_server_processes_page_is_named_in_portuguese(client, admin_user):
    services.server_beat(server_id="web-1")
    client.force_login(admin_user)

    html = client.get(reverse("admin:rooms_serverinstance_changelist")).content.decode()

    assert "Processos do servidor" in html
    assert "último sinal de vida em" in html.lower() and "pessoas conectadas" in html.lower()


def test_consultations_are_filtered_by_doctor_by_name(
    client, admin_user, doctor, other_doctor, patient, other_patient
):
    mine = RoomFactory(doctor=doctor, patient=patient)
    RoomFactory(doctor=other_doctor, patient=other_patient)
    client.force_login(admin_user)
    path = reverse("admin:rooms_room_changelist")

    filtered = client.get(path, {"doctor": doctor.pk})
    searched = client.get(path, {"q": other_doctor.last_name})

    assert list(filtered.context["cl"].result_list) == [mine]
    assert [room.doctor for room in searched.context["cl"].result_list] == [other_doctor]
    filters = filtered.content.decode().split('id="changelist-filter"', 1)[1]
    assert doctor.display_name in filters and other_doctor.display_name in filters


def test_call_samples_are_found_by_the_persons_name(client, admin_user, room, patient, doctor):
    CallSample.objects.create(room=room, user=patient, rtt_ms=40)
    CallSample.objects.create(room=room, user=doctor, rtt_ms=90)
    client.force_login(admin_user)

    response = client.get(reverse("admin:rooms_callsample_changelist"), {"q": patient.first_name})

    assert [sample.user for sample in response.context["cl"].result_list] == [patient]

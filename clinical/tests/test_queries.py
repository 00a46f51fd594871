"""The record's pages issue the same number of queries for 5 evolutions as for 500
(and for 5 access-log rows as for 500)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinical.models import Evolution, EvolutionRevision, RecordAccess
from rooms.models import Room, RoomStatus
from rooms.services import room_code

pytestmark = pytest.mark.django_db

FEW, MANY = 5, 500


def queries_for(client, url: str) -> int:
    client.get(url)  # warm up: the session and anything cached once per process
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(context)


@pytest.fixture
def add_rows(doctor, room_doctor, grant_admin, grant, patient):
    """`add_rows(n)`: n more evolutions (every other one amended, by two doctors, most of
    them in rooms, one room in ten per doctor, all finished, half of them by their doctor)
    with their revisions, and n more access-log rows by three people."""
    authors = [doctor, room_doctor]

    def add(count: int) -> None:
        now = timezone.now()
        rooms = Room.objects.bulk_create(
            Room(
                code=room_code(),
                doctor=authors[i % 2],
                patient=patient,
                # All finished (a pair has one open room at most): half by their
                # doctor, half by the stale-room sweep.
                status=RoomStatus.ENDED,
                ended_at=now,
                ended_by=authors[i % 2] if i % 4 < 2 else None,
            )
            for i in range(2 * max(1, count // 10))
        )
        evolutions = Evolution.objects.bulk_create(
            Evolution(
                patient=patient,
                doctor=authors[i % 2],
                room=rooms[i % len(rooms)] if i % 3 else None,
                notes=f"Nota {i}",
                prescription=f"Receita {i}",
                revision=1 + i % 2,
                amended_at=now if i % 2 else None,
            )
            for i in range(count)
        )
        EvolutionRevision.objects.bulk_create(
            EvolutionRevision(
                evolution=evolution,
                number=number,
                author=evolution.doctor,
                reason="Correção" if number > 1 else "",
                **evolution.text(),
            )
            for evolution in evolutions
            for number in range(1, evolution.revision + 1)
        )
        viewers = [(doctor, None), (room_doctor, None), (grant_admin, grant)]
        RecordAccess.objects.bulk_create(
            RecordAccess(
                viewer=viewers[i % 3][0],
                viewer_role=viewers[i % 3][0].role,
                patient=patient,
                section="chart",
                emergency=viewers[i % 3][1],
                ip_address="192.0.2.1",
            )
            for i in range(count)
        )

    return add


@pytest.mark.parametrize(
    ("viewer", "url_name", "with_pk"),
    [
        ("doctor", "clinical:chart", True),
        ("doctor", "clinical:chart_print", True),
        ("doctor", "clinical:access_log", True),
        ("grant_admin", "clinical:chart", True),
        ("grant_admin", "clinical:access_log", True),
        ("patient", "clinical:my_record", False),
        ("patient", "clinical:my_record_print", False),
        ("patient", "clinical:my_record_export", False),
        ("patient", "clinical:my_access_log", False),
    ],
)
def test_record_pages_keep_a_flat_query_count(
    request, client, patient, add_rows, viewer, url_name, with_pk
):
    client.force_login(request.getfixturevalue(viewer))
    url = reverse(url_name, args=[patient.pk] if with_pk else [])

    add_rows(FEW)
    few = queries_for(client, url)
    add_rows(MANY - FEW)
    many = queries_for(client, url)

    assert Evolution.objects.count() == MANY
    assert many == few


def test_the_history_of_an_evolution_keeps_a_flat_query_count(client, doctor, evolution):
    from clinical import services

    client.force_login(doctor)
    url = reverse("clinical:evolution", args=[evolution.pk])

    def amend(times):
        for _ in range(times):
            n = evolution.revisions.count()
            services.evolution_amend(
                evolution=evolution, author=doctor, reason=f"Correção {n}", notes=f"Texto {n}"
            )

    amend(1)
    few = queries_for(client, url)
    amend(20)
    many = queries_for(client, url)

    assert evolution.revisions.count() == 22
    assert many == few

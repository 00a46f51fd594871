"""Every clinical URL × every kind of person, with the status each gets and the
access-log row (RecordAccess) the request writes.

One explicit table: a clinical URL added without a row here fails
`test_every_clinical_url_is_in_the_table`.
"""

from urllib.parse import urlencode

import pytest
from django.urls import URLResolver, get_resolver, reverse

from clinical.models import Evolution, RecordAccess

ROLES = (
    "anonymous",
    "patient",  # the record's patient
    "other_patient",
    "doctor",  # responsible for the patient
    "room_doctor",  # had a room with the patient, not responsible
    "other_doctor",  # unrelated
    "admin",  # no emergency access
    "grant_admin",  # an active emergency access to the patient
)

LOGIN = "302 login"  # sent to the login page
GRANT = "302 emergency"  # sent to the emergency-access form, with ?next= this URL
LOGGED = "200 logged"  # 200 and one RecordAccess row: the viewer, their role, no emergency
LOGGED_E = "200 logged+emergency"  # 200 and one row carrying the admin's active grant
REFUSED = "404 refused"  # 404, and one row marked refused: staff out of their scope
# "302 clinical:<name>": sent to that page (a patient opening the staff page of their
# own record lands on their own version of it).
# A bare status (200, 201, 403, 404) writes no RecordAccess row. Patients get 404, not
# 403, on staff pages about someone: they never learn whether an id exists.

# name: (method, object in the URL, section logged, cells for ROLES in order)
TABLE = {
    "clinical:chart": (
        "get", "patient", "chart",
        (LOGIN, "302 clinical:my_record", 404, LOGGED, LOGGED, REFUSED, GRANT, LOGGED_E),
    ),
    "clinical:chart_print": (
        "get", "patient", "chart_print",
        (LOGIN, "302 clinical:my_record_print", 404, LOGGED, LOGGED, REFUSED, GRANT, LOGGED_E),
    ),
    "clinical:evolution_create": (
        "get", "patient", None,
        (LOGIN, 404, 404, 200, 200, 404, 403, 403),
    ),
    "clinical:emergency_access": (
        "get", "patient", None,
        (LOGIN, 404, 404, 403, 403, 403, 200, 200),
    ),
    "clinical:access_log": (
        "get", "patient", None,
        (LOGIN, "302 clinical:my_access_log", 404, 200, 404, 404, 200, 200),
    ),
    "clinical:evolution": (
        "get", "evolution", "evolution",
        (LOGIN, 200, 404, LOGGED, LOGGED, REFUSED, GRANT, LOGGED_E),
    ),
    "clinical:evolution_amend": (
        "get", "evolution", "evolution",
        (LOGIN, 404, 404, LOGGED, 404, 404, 403, 403),
    ),
    "clinical:prescription_print": (
        "get", "evolution", "prescription_print",
        (LOGIN, 200, 404, LOGGED, LOGGED, REFUSED, GRANT, LOGGED_E),
    ),
    "clinical:call_evolution": (
        "post", "room", None,
        (LOGIN, 404, 404, 201, 404, 404, 403, 403),
    ),
    "clinical:my_record": (
        "get", None, None,
        (LOGIN, 200, 200, 403, 403, 403, 403, 403),
    ),
    "clinical:my_record_print": (
        "get", None, None,
        (LOGIN, 200, 200, 403, 403, 403, 403, 403),
    ),
    "clinical:my_record_export": (
        "get", None, None,
        (LOGIN, 200, 200, 403, 403, 403, 403, 403),
    ),
    "clinical:my_access_log": (
        "get", None, None,
        (LOGIN, 200, 200, 403, 403, 403, 403, 403),
    ),
}  # fmt: skip

CALL_NOTE = {"notes": "Escrito durante a chamada."}


def _clinical_url_names():
    names = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "clinical":
            names |= {f"clinical:{p.name}" for p in entry.url_patterns if p.name}
    return names


def test_every_clinical_url_is_in_the_table():
    names = _clinical_url_names()
    assert names, "no clinical URLs found"
    missing = names - set(TABLE)
    assert not missing, f"Add these clinical URLs to the access table: {sorted(missing)}"
    stale = set(TABLE) - names
    assert not stale, f"These clinical URLs no longer exist: {sorted(stale)}"


def test_the_table_has_a_cell_for_every_role():
    for name, (_method, _obj, section, cells) in TABLE.items():
        assert len(cells) == len(ROLES), name
        logged = {LOGGED, LOGGED_E} & set(cells)
        assert bool(logged) == bool(section), f"{name}: a logged cell needs a section"


@pytest.fixture
def people(
    admin_user, grant_admin, grant, doctor, room_doctor, other_doctor, patient, other_patient,
    room, evolution,
):  # fmt: skip
    return {
        "anonymous": None,
        "patient": patient,
        "other_patient": other_patient,
        "doctor": doctor,
        "room_doctor": room_doctor,
        "other_doctor": other_doctor,
        "admin": admin_user,
        "grant_admin": grant_admin,
        "room": room,
        "evolution": evolution,
        "grant": grant,
    }


def _url(name, obj):
    if obj is None:
        return reverse(name)
    return reverse(name, args=[obj.code if name == "clinical:call_evolution" else obj.pk])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(TABLE))
def test_access(client, people, name, role):
    method, obj_name, section, cells = TABLE[name]
    expected = dict(zip(ROLES, cells, strict=True))[role]
    obj = people[obj_name] if obj_name else None
    url = _url(name, obj)
    user = people[role]
    patient = people["patient"]
    evolutions_before = Evolution.objects.count()
    if user is not None:
        client.force_login(user)

    response = client.post(url, CALL_NOTE) if method == "post" else client.get(url)

    where = f"{role} {method.upper()} {url}"
    status = int(str(expected).split()[0])
    assert response.status_code == status, where
    if expected == LOGIN:
        assert response["Location"].startswith(f"{reverse('login')}?next="), where
    if str(expected).startswith("302 clinical:"):
        assert response["Location"] == reverse(expected.split()[1]), where
    if expected == GRANT:
        form = reverse("clinical:emergency_access", args=[patient.pk])
        assert response["Location"] == f"{form}?{urlencode({'next': url})}", where

    rows = list(RecordAccess.objects.all())
    if expected in (LOGGED, LOGGED_E, REFUSED):
        assert len(rows) == 1, where
        row = rows[0]
        assert row.refused == (expected == REFUSED), where
        assert (row.viewer, row.viewer_role, row.patient, row.section) == (
            user,
            user.role,
            patient,
            section,
        ), where
        assert row.evolution == (people["evolution"] if obj_name == "evolution" else None)
        assert row.emergency == (people["grant"] if expected == LOGGED_E else None), where
        assert row.ip_address == "127.0.0.1"
    else:
        assert rows == [], where

    # Only the call endpoint writes, and only for the room's own doctor.
    written = Evolution.objects.count() - evolutions_before
    assert written == (1 if status == 201 else 0), where

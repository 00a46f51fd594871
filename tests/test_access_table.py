"""Every URL of the project × every role, with the status each must get.

The table is the access policy in one place. A URL added to the project but
not to this table fails `test_every_url_is_in_the_table`, so nobody ships a
page without deciding who may open it.
"""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from PIL import Image

from accounts import services
from billing.tests.factories import BillingRecordFactory
from clinical import services as clinical_services
from closings.tests.factories import closing_of

ROLES = ("anonymous", "patient", "doctor", "other_doctor", "admin")

# name: (method, kwargs naming the objects, statuses for ROLES in order)
# Statuses: anonymous, patient, doctor (responsible), other_doctor, admin.
_L = 302  # anonymous users are sent to the login page
_BAD = {"uidb64": "MQ", "token": "bad-token"}
TABLE = {
    "dashboard": ("get", {}, (_L, 200, 200, 200, 200)),
    "healthz": ("get", {}, (200, 200, 200, 200, 200)),
    "login": ("get", {}, (200, 302, 302, 302, 302)),
    "logout": ("post", {}, (302, 302, 302, 302, 302)),
    "password_change": ("get", {}, (_L, 200, 200, 200, 200)),
    "password_change_done": ("get", {}, (_L, 200, 200, 200, 200)),
    "password_reset": ("get", {}, (200, 200, 200, 200, 200)),
    "password_reset_done": ("get", {}, (200, 200, 200, 200, 200)),
    "password_reset_confirm": ("get", _BAD, (200, 200, 200, 200, 200)),
    "password_reset_complete": ("get", {}, (200, 200, 200, 200, 200)),
    "accounts:invitation_accept": ("get", _BAD, (200, 200, 200, 200, 200)),
    "accounts:profile": ("get", {}, (_L, 200, 200, 200, 200)),
    # The idle warning's JSON: 401 (not a redirect to the login page) for no session.
    "accounts:session": ("get", {}, (401, 200, 200, 200, 200)),
    "accounts:doctor_list": ("get", {}, (_L, 403, 403, 403, 200)),
    "accounts:doctor_create": ("get", {}, (_L, 403, 403, 403, 200)),
    "accounts:doctor_detail": ("get", {"pk": "doctor"}, (_L, 403, 403, 403, 200)),
    "accounts:doctor_update": ("get", {"pk": "doctor"}, (_L, 403, 403, 403, 200)),
    "accounts:patient_list": ("get", {}, (_L, 403, 200, 200, 200)),
    "accounts:patient_create": ("get", {}, (_L, 403, 200, 200, 200)),
    "accounts:patient_detail": ("get", {"pk": "patient"}, (_L, 403, 200, 404, 200)),
    "accounts:patient_update": ("get", {"pk": "patient"}, (_L, 403, 200, 404, 200)),
    "accounts:patient_reassign": ("get", {"pk": "patient"}, (_L, 403, 403, 403, 200)),
    "accounts:user_deactivate": ("post", {"pk": "patient"}, (_L, 403, 403, 403, 302)),
    "accounts:user_reactivate": ("post", {"pk": "patient"}, (_L, 403, 403, 403, 302)),
    "accounts:invitation": ("get", {"pk": "patient"}, (_L, 403, 200, 404, 200)),
    "accounts:photo": ("get", {"pk": "patient"}, (_L, 200, 200, 404, 200)),
    "rooms:create": ("post", {"patient_pk": "patient"}, (_L, 403, 302, 404, 403)),
    "rooms:join": ("get", {"code": "room"}, (_L, 200, 200, 404, 404)),
    "rooms:consent": ("get", {"code": "room"}, (_L, 200, 403, 403, 403)),
    "rooms:finish": ("post", {"code": "room"}, (_L, 403, 302, 404, 403)),
    "rooms:summary": ("get", {"code": "room"}, (_L, 403, 200, 404, 200)),
    # Clinical records: the admin is sent to the emergency-access form (302) before
    # reading content. A patient gets 404 on staff pages (never 403: no hint that an
    # id exists), except the staff page of their own record: 302 to their own version.
    "clinical:chart": ("get", {"pk": "patient"}, (_L, 302, 200, 404, 302)),
    "clinical:chart_print": ("get", {"pk": "patient"}, (_L, 302, 200, 404, 302)),
    "clinical:evolution_create": ("get", {"pk": "patient"}, (_L, 404, 200, 404, 403)),
    "clinical:emergency_access": ("get", {"pk": "patient"}, (_L, 404, 403, 403, 200)),
    "clinical:access_log": ("get", {"pk": "patient"}, (_L, 302, 200, 404, 200)),
    "clinical:evolution": ("get", {"pk": "evolution"}, (_L, 200, 200, 404, 302)),
    "clinical:evolution_amend": ("get", {"pk": "evolution"}, (_L, 404, 200, 404, 403)),
    "clinical:prescription_print": ("get", {"pk": "evolution"}, (_L, 200, 200, 404, 302)),
    # An empty POST from the room's doctor: 400 with the form's errors, as JSON.
    "clinical:call_evolution": ("post", {"code": "room"}, (_L, 404, 400, 404, 403)),
    "clinical:my_record": ("get", {}, (_L, 200, 403, 403, 403)),
    "clinical:my_record_print": ("get", {}, (_L, 200, 403, 403, 403)),
    "clinical:my_record_export": ("get", {}, (_L, 200, 403, 403, 403)),
    "clinical:my_access_log": ("get", {}, (_L, 200, 403, 403, 403)),
    # Billing: patients get nothing (403); a doctor sees only their own records (another
    # doctor's record is a 404, as one that does not exist); rates, revenue and voiding
    # are the admin's. The admin opening the doctor's page is sent to the revenue (302).
    "billing:doctor_billing": ("get", {}, (_L, 403, 200, 200, 302)),
    "billing:revenue": ("get", {}, (_L, 403, 403, 403, 200)),
    "billing:revenue_export": ("get", {}, (_L, 403, 403, 403, 200)),
    "billing:revenue_doctor": ("get", {"pk": "doctor"}, (_L, 403, 403, 403, 200)),
    "billing:record_void": ("get", {"pk": "billing_record"}, (_L, 403, 403, 403, 200)),
    "billing:record_restore": ("post", {"pk": "billing_record"}, (_L, 403, 403, 403, 302)),
    "billing:rates": ("get", {}, (_L, 403, 403, 403, 200)),
    "billing:rates_defaults": ("get", {}, (_L, 403, 403, 403, 200)),
    "billing:doctor_rate": ("get", {"pk": "doctor"}, (_L, 403, 403, 403, 200)),
    "billing:rate_history": ("get", {}, (_L, 403, 403, 403, 200)),
    # Closings: the clinic's side (close, pay, cancel, the month's sheet) is the admin's;
    # a doctor sees and answers their own closings (another doctor's is a 404). Empty
    # POSTs: a form with errors (200), or a step that cannot be taken yet (302 + message).
    "closings:list": ("get", {}, (_L, 403, 403, 403, 200)),
    "closings:close": ("post", {}, (_L, 403, 403, 403, 302)),
    "closings:bulk_pay": ("post", {}, (_L, 403, 403, 403, 302)),
    "closings:export": ("get", {}, (_L, 403, 403, 403, 200)),
    "closings:detail": ("get", {"pk": "closing"}, (_L, 403, 200, 404, 200)),
    "closings:pay": ("post", {"pk": "closing"}, (_L, 403, 403, 404, 200)),
    "closings:cancel": ("post", {"pk": "closing"}, (_L, 403, 403, 404, 200)),
    "closings:receive": ("post", {"pk": "closing"}, (_L, 403, 302, 404, 403)),
    "closings:problem": ("post", {"pk": "closing"}, (_L, 403, 302, 404, 403)),
    "closings:statement": ("get", {"pk": "closing"}, (_L, 403, 200, 404, 200)),
    "closings:mine": ("get", {}, (_L, 403, 200, 200, 302)),
    # The Django admin sends everyone but admins to its own login page.
    "admin:index": ("get", {}, (302, 302, 302, 302, 200)),
    # Starting the clinic over (ALLOW_DATABASE_RESET, on by default): admins only.
    "database_reset": ("get", {}, (_L, 403, 403, 403, 200)),
}


def _project_url_names(patterns=None, namespace=""):
    """Names of every URL the project serves (the Django admin counted once, by its index)."""
    names = set()
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns == "admin":
                names.add("admin:index")
                continue
            prefix = f"{namespace}{ns}:" if ns else namespace
            names |= _project_url_names(entry.url_patterns, prefix)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}{entry.name}")
    return names


def test_every_url_is_in_the_table():
    missing = _project_url_names() - set(TABLE)
    assert not missing, f"Add these URLs to the access table: {sorted(missing)}"
    stale = set(TABLE) - _project_url_names()
    assert not stale, f"These URLs no longer exist: {sorted(stale)}"


def _png():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(buffer, "PNG")
    return SimpleUploadedFile("p.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def people(admin_user, doctor, other_doctor, patient, room):
    services.user_photo_set(user=patient, upload=_png())
    evolution = clinical_services.evolution_write(
        doctor=doctor, patient=patient, notes="Nota.", prescription="Dipirona 500 mg."
    )
    billing_record = BillingRecordFactory(room=room, ended_at=timezone.now(), seconds_together=600)
    return {
        "closing": closing_of(doctor),
        "billing_record": billing_record,
        "evolution": evolution,
        "admin": admin_user,
        "doctor": doctor,
        "other_doctor": other_doctor,
        "patient": patient,
        "room": room,
    }


def _key(people, name, value):
    if value not in people:
        return value
    return people[value].code if name == "code" else people[value].pk


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(TABLE))
def test_access(client, people, name, role):
    method, kwargs, statuses = TABLE[name]
    expected = dict(zip(ROLES, statuses, strict=True))
    url = reverse(name, kwargs={k: _key(people, k, v) for k, v in kwargs.items()})
    if role != "anonymous":
        client.force_login(people[role])
    response = getattr(client, method)(url)
    assert response.status_code == expected[role], f"{role} {method.upper()} {url}"
    if role == "anonymous" and expected[role] == _L and name not in ("logout", "admin:index"):
        assert response["Location"].startswith(reverse("login"))

"""The clinical models in the Django admin: read-only, nothing deleted, and an
evolution's text only under emergency access (and then logged)."""

import datetime as dt

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import short_local_datetime
from clinical import services
from clinical.models import EmergencyAccess, Evolution, EvolutionRevision, RecordAccess

from .conftest import GRANT_REASON

pytestmark = pytest.mark.django_db

TEXT = "Tosse seca há 3 dias."
AMENDED = "Tosse seca há 5 dias."
REASON = "Corrigida a duração da tosse"
MODELS = [Evolution, EvolutionRevision, RecordAccess, EmergencyAccess]


def admin_url(model, view, *args):
    return reverse(f"admin:clinical_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def objects(doctor, patient, evolution, grant):
    access = RecordAccess.objects.create(
        viewer=doctor, viewer_role=doctor.role, patient=patient, section="chart"
    )
    revision = evolution.revisions.get()
    return {
        Evolution: evolution, EvolutionRevision: revision, RecordAccess: access,
        EmergencyAccess: grant,
    }  # fmt: skip


def amend(evolution, notes, reason=REASON):
    return services.evolution_amend(
        evolution=evolution, author=evolution.doctor, reason=reason, notes=notes,
        diagnosis=evolution.diagnosis, diagnosis_code=evolution.diagnosis_code,
        prescription=evolution.prescription,
    )  # fmt: skip


@pytest.fixture
def amended(evolution):
    """The evolution, corrected once: version 1 holds TEXT, version 2 AMENDED."""
    return amend(evolution, AMENDED)


@pytest.mark.parametrize("model", MODELS)
def test_clinical_models_are_read_only(admin_user, model):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = admin_user

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)


@pytest.mark.parametrize("model", MODELS)
def test_the_admin_pages_offer_no_add_change_or_delete(client, admin_user, objects, model):
    client.force_login(admin_user)
    obj = objects[model]

    changelist = client.get(admin_url(model, "changelist"))
    change = client.get(admin_url(model, "change", obj.pk))

    assert changelist.status_code == change.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    assert admin_url(model, "add") not in changelist.content.decode()
    assert admin_url(model, "delete", obj.pk) not in change.content.decode()
    assert client.get(admin_url(model, "add")).status_code == 403


@pytest.mark.parametrize("model", MODELS)
def test_deleting_through_the_admin_is_refused(client, admin_user, objects, model):
    client.force_login(admin_user)
    obj = objects[model]

    assert client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    client.post(
        admin_url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )

    assert model.objects.filter(pk=obj.pk).exists()


def test_changing_through_the_admin_is_refused(client, admin_user, objects):
    client.force_login(admin_user)
    evolution = objects[Evolution]

    response = client.post(admin_url(Evolution, "change", evolution.pk), {"notes": "Reescrito"})

    assert response.status_code == 403
    evolution.refresh_from_db()
    assert evolution.notes == TEXT


def test_without_a_grant_the_evolution_page_shows_no_text(client, admin_user, evolution):
    client.force_login(admin_user)

    response = client.get(admin_url(Evolution, "change", evolution.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert TEXT not in html
    assert "Salbutamol" not in html
    assert "J45.9" not in html
    assert "The text is shown only with emergency access to this patient." in html
    assert not RecordAccess.objects.exists()


def test_an_expired_grant_shows_no_text(client, admin_user, patient, evolution):
    EmergencyAccess.objects.create(
        admin=admin_user,
        patient=patient,
        reason=GRANT_REASON,
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    client.force_login(admin_user)

    html = client.get(admin_url(Evolution, "change", evolution.pk)).content.decode()

    assert TEXT not in html
    assert not RecordAccess.objects.exists()


def test_with_a_grant_the_text_shows_and_the_view_is_logged(
    client, grant_admin, grant, patient, evolution
):
    client.force_login(grant_admin)

    response = client.get(admin_url(Evolution, "change", evolution.pk), REMOTE_ADDR="192.0.2.50")

    html = response.content.decode()
    assert TEXT in html
    assert "Salbutamol" in html
    row = RecordAccess.objects.get()
    assert (row.viewer, row.viewer_role, row.patient) == (grant_admin, "admin", patient)
    assert (row.section, row.evolution, row.emergency) == ("admin", evolution, grant)
    assert row.ip_address == "192.0.2.50"


def test_the_admin_list_shows_no_text(client, grant_admin, grant, evolution):
    client.force_login(grant_admin)

    html = client.get(admin_url(Evolution, "changelist")).content.decode()

    assert TEXT not in html
    assert not RecordAccess.objects.exists()


# --- The changelist is not an oracle on hidden fields --------------------------------


def changelist(client, model, **query):
    return client.get(admin_url(model, "changelist"), query)


@pytest.mark.parametrize(
    "lookup",
    [
        {"notes__icontains": "tosse"},
        {"notes__startswith": "T"},
        {"diagnosis": "Asma"},
        {"diagnosis_code__startswith": "J"},
        {"prescription__contains": "Salbutamol"},
        {"revisions__notes__startswith": "T"},  # the same text, through the revisions
        {"client_token__isnull": "False"},  # a hidden field, not clinical, still refused
    ],
)
def test_without_a_grant_the_list_refuses_lookups_on_the_text(
    client, admin_user, patient, evolution, lookup
):
    client.force_login(admin_user)

    for query in (lookup, {"patient": patient.pk, **lookup}):
        response = changelist(client, Evolution, **query)
        assert response.status_code == 400, query
        assert TEXT not in response.content.decode()


def test_a_refused_text_search_on_a_patient_is_logged_as_refused(
    client, admin_user, patient, evolution
):
    client.force_login(admin_user)

    changelist(client, Evolution, patient=patient.pk, notes__startswith="T")

    row = RecordAccess.objects.get()
    assert (row.viewer, row.patient, row.section, row.refused) == (
        admin_user, patient, "admin", True
    )  # fmt: skip
    assert row.emergency is None


def test_with_a_grant_the_text_can_be_searched_for_that_patient_and_it_is_logged(
    client, grant_admin, grant, patient, evolution, other_patient
):
    client.force_login(grant_admin)

    found = changelist(client, Evolution, patient=patient.pk, notes__icontains="tosse")
    missed = changelist(client, Evolution, patient=patient.pk, notes__icontains="febre")

    assert found.status_code == missed.status_code == 200
    assert found.context["cl"].result_count == 1
    assert missed.context["cl"].result_count == 0
    rows = RecordAccess.objects.order_by("pk")
    assert [(r.patient, r.section, r.refused, r.emergency) for r in rows] == [
        (patient, "admin", False, grant)
    ] * 2
    # The grant is for one patient: not for everyone, nor for someone else.
    assert changelist(client, Evolution, notes__icontains="tosse").status_code == 400
    both = {"patient": [patient.pk, other_patient.pk], "notes__icontains": "tosse"}
    assert client.get(admin_url(Evolution, "changelist"), both).status_code == 400
    other = changelist(client, Evolution, patient=other_patient.pk, notes__icontains="x")
    assert other.status_code == 400


def test_the_list_filters_that_it_shows_still_work(client, admin_user, patient, evolution):
    client.force_login(admin_user)
    year = evolution.created_at.year

    for query in (
        {"patient": patient.pk},
        {"patient__id__exact": patient.pk},
        {"created_at__year": year},  # the date hierarchy
        {"q": patient.email},
        {"o": "-4"},  # ordering by a column it shows
    ):
        response = changelist(client, Evolution, **query)
        assert response.status_code == 200, query
        assert response.context["cl"].result_count == 1, query


def test_ordering_reaches_only_the_columns_shown(client, admin_user, doctor, patient, evolution):
    newer = services.evolution_write(doctor=doctor, patient=patient, notes="Zumbido no ouvido")
    client.force_login(admin_user)

    # An index past the last column is ignored: the notes have no column to sort by.
    response = changelist(client, Evolution, o="99")

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [newer, evolution]  # newest first


def test_a_popup_cannot_show_the_text_as_its_value(client, admin_user, evolution):
    client.force_login(admin_user)

    response = changelist(client, Evolution, _popup="1", _to_field="notes")

    assert response.status_code == 400
    assert TEXT not in response.content.decode()


@pytest.mark.parametrize(
    ("model", "lookup"),
    [
        (RecordAccess, {"evolution__notes__startswith": "T"}),
        (RecordAccess, {"evolution": "1"}),  # hidden column
        (EmergencyAccess, {"ip_address__startswith": "10."}),  # hidden column
    ],
)
def test_the_log_lists_refuse_lookups_on_columns_they_hide(
    client, admin_user, objects, model, lookup
):
    client.force_login(admin_user)

    assert changelist(client, model, **lookup).status_code == 400


def test_the_log_list_shows_refused_attempts(client, admin_user, doctor, other_patient):
    RecordAccess.objects.create(
        viewer=doctor, viewer_role=doctor.role, patient=other_patient, section="chart", refused=True
    )
    client.force_login(admin_user)

    refused = changelist(client, RecordAccess, refused__exact="1")

    assert refused.status_code == 200
    assert refused.context["cl"].result_count == 1


# --- The versions of an evolution --------------------------------------------------


def test_the_versions_list_and_page_show_no_text_nor_reason(client, grant_admin, grant, amended):
    # Not even with emergency access: the text is read on the evolution's page, logged.
    client.force_login(grant_admin)
    version = amended.revisions.get(number=2)

    pages = [
        changelist(client, EvolutionRevision),
        client.get(admin_url(EvolutionRevision, "change", version.pk)),
    ]

    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        for text in (TEXT, AMENDED, REASON, "Salbutamol", "J45.9"):
            assert text not in html
        assert amended.doctor.display_name in html
    assert admin_url(Evolution, "change", amended.pk) in pages[1].content.decode()
    assert not RecordAccess.objects.exists()


@pytest.mark.parametrize(
    "lookup",
    [
        {"notes__startswith": "T"},
        {"prescription__contains": "Salbutamol"},
        {"reason__icontains": "duração"},
        {"evolution__notes__startswith": "T"},
        {"author__email__startswith": "m"},  # not a column
    ],
)
def test_the_versions_list_refuses_lookups_on_the_text(
    client, grant_admin, grant, patient, amended, lookup
):
    client.force_login(grant_admin)

    for query in (lookup, {"patient": patient.pk, **lookup}):
        assert changelist(client, EvolutionRevision, **query).status_code == 400, query


def test_the_evolution_page_lists_its_versions_without_their_text(client, admin_user, amended):
    client.force_login(admin_user)

    response = client.get(admin_url(Evolution, "change", amended.pk))

    html = response.content.decode()
    versions = html.split('id="revisions-group"', 1)[1]
    for version in amended.revisions.all():
        assert short_local_datetime(version.created_at) in versions
    assert versions.count(amended.doctor.display_name) == 2
    for text in (TEXT, AMENDED, REASON):
        assert text not in html
    assert not RecordAccess.objects.exists()


def test_with_a_grant_the_evolution_page_shows_every_version_and_why(
    client, grant_admin, grant, amended
):
    client.force_login(grant_admin)

    html = client.get(admin_url(Evolution, "change", amended.pk)).content.decode()

    versions = html.split('id="revisions-group"', 1)[1]
    assert TEXT in versions and AMENDED in versions and REASON in versions
    assert RecordAccess.objects.get().evolution == amended  # the one view, logged once


def test_the_evolution_page_takes_as_many_queries_for_ten_versions_as_for_two(
    client, grant_admin, grant, amended
):
    client.force_login(grant_admin)
    path = admin_url(Evolution, "change", amended.pk)

    def queries():
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    two = queries()
    for day in range(6, 14):
        amend(amended, f"Tosse seca há {day} dias.", reason=f"Correção {day}")

    assert amended.revisions.count() == 10
    assert queries() == two


def test_evolutions_are_filtered_by_doctor_by_name(
    client, admin_user, evolution, other_doctor, other_patient
):
    services.evolution_write(doctor=other_doctor, patient=other_patient, notes="Febre.")
    client.force_login(admin_user)

    response = changelist(client, Evolution, doctor=evolution.doctor_id)

    assert list(response.context["cl"].result_list) == [evolution]
    filters = response.content.decode().split('id="changelist-filter"', 1)[1]
    assert evolution.doctor.display_name in filters and other_doctor.display_name in filters

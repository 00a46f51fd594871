"""What the admin covers, and what it lets anyone do there.

Every model of every app has a page, or a reason below not to; the audit and
history tables are read-only; nothing is deleted but a login counter; every
name a page shows went through gettext; and a list's queries do not grow with
its rows. test_admin_pages reads each page in Portuguese.
"""

import datetime as dt
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.admin.utils import label_for_field
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise

from accounts.models import DoctorProfile, PatientProfile, User, short_local_datetime
from accounts.tests.factories import AdminFactory, DoctorFactory, PatientFactory
from billing import services as billing_services
from billing.models import BillingRecordEvent, RateChange
from billing.tests.factories import BillingRecordFactory, EndedRoomFactory
from clinical import services as clinical_services
from clinical.models import EmergencyAccess, EvolutionRevision, RecordAccess
from closings.models import ClosingEvent
from closings.tests.factories import closing_of
from rooms import services as room_services
from rooms.models import CallSample, Presence, ServerInstance, TelemedicineConsent
from rooms.tests.factories import ConsentFactory, RoomFactory

pytestmark = pytest.mark.django_db

# Models deliberately left out of the admin, and why. Any other model, of any app
# (closings included, once it has models), must have a page.
NOT_IN_THE_ADMIN = {
    # Roles grant access (User.has_perm), not permissions or groups; accounts/admin.py
    # unregisters Django's Groups page.
    "auth.Permission": "roles, not permissions",
    "auth.Group": "roles, not groups",
    # Django's bookkeeping: the history of changes names each kind of record.
    "contenttypes.ContentType": "bookkeeping",
    # Opaque rows whose key signs someone in; the login log says who signed in
    # when; deleting one would not close that person's call sockets.
    "sessions.Session": "opaque, and the login log covers it",
    # Written only with AXES_USE_ATTEMPT_EXPIRATION, which is off: always empty.
    "axes.AccessAttemptExpiration": "always empty",
}
# History and audit tables: rows written by the product, never by a person here.
AUDIT = [
    LogEntry, ServerInstance, EvolutionRevision, RecordAccess, EmergencyAccess, RateChange,
    BillingRecordEvent, TelemedicineConsent, CallSample, AccessLog, AccessFailureLog,
    ClosingEvent,
]  # fmt: skip
REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def as_admin(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def one_of_everything(admin_user, n: int) -> None:
    """A doctor and a patient with a row of every kind each, every foreign key set."""
    doctor = DoctorFactory(profile__title="dra")
    patient = PatientFactory(doctor=doctor)
    PatientProfile.objects.filter(user=patient).update(created_by=doctor)
    ConsentFactory(patient=patient)
    room = EndedRoomFactory(doctor=doctor, patient=patient, ended_by=doctor)
    server = f"web-{n}"
    room_services.server_beat(server_id=server)
    open_room = RoomFactory(doctor=doctor, patient=patient)
    Presence.objects.create(
        room=open_room, user=doctor, channel_name=f"c{n}", server_id=server,
        connected_at=timezone.now(),
    )  # fmt: skip
    CallSample.objects.create(room=room, user=doctor, rtt_ms=40, loss_pct=0.1, kbps_in=900)
    evolution = clinical_services.evolution_write(
        doctor=doctor, patient=patient, room=room, notes="Tosse seca."
    )
    clinical_services.evolution_amend(
        evolution=evolution, author=doctor, reason="Faltou a duração", notes="Tosse há 3 dias."
    )
    grant = clinical_services.emergency_access_grant(
        admin=admin_user, patient=patient, reason="Auditoria pedida pela diretoria clínica",
        ip_address="10.0.0.9",
    )  # fmt: skip
    RecordAccess.objects.create(
        viewer=doctor, viewer_role=doctor.role, patient=patient, section="evolution",
        evolution=evolution, emergency=grant,
    )  # fmt: skip
    record = BillingRecordFactory(room=room)
    billing_services.record_void(record=record, by=admin_user, reason="Falha técnica")
    billing_services.record_restore(record=record, by=admin_user)
    billing_services.doctor_rate_update(
        by=admin_user, doctor=doctor, consultation_fee=Decimal("180.00"), platform_percentage=None
    )
    LogEntry.objects.log_actions(
        user_id=AdminFactory().pk, queryset=User.objects.filter(pk=doctor.pk),
        action_flag=CHANGE, change_message=[{"changed": {"fields": ["Phone"]}}],
    )  # fmt: skip
    axes = {"ip_address": "10.0.0.7", "user_agent": "Firefox", "http_accept": "*/*",
            "path_info": "/accounts/login/", "username": patient.email}  # fmt: skip
    AccessAttempt.objects.create(**axes, get_data="", post_data="", failures_since_start=1)
    AccessFailureLog.objects.create(**axes)
    AccessLog.objects.create(**axes, logout_time=timezone.now())


@pytest.fixture
def rows(admin_user):
    one_of_everything(admin_user, 0)
    closing_of(DoctorFactory())  # a closing and its first event
    billing_services.billing_settings_update(
        by=admin_user, consultation_fee=Decimal("150.00"), platform_percentage=Decimal("30.00"),
        min_billable_seconds=60,
    )  # fmt: skip
    return {model: model._default_manager.order_by("pk").first() for model in REGISTERED}


# --- What is in the admin ---------------------------------------------------------


def test_every_model_is_in_the_admin_or_says_why_not():
    missing = [
        model._meta.label
        for model in apps.get_models()
        if model not in admin.site._registry and model._meta.label not in NOT_IN_THE_ADMIN
    ]

    assert not missing, f"no admin page (register one, or say why in NOT_IN_THE_ADMIN): {missing}"
    for label in NOT_IN_THE_ADMIN:
        assert apps.get_model(label) not in admin.site._registry, f"{label} has a page now"


def _shown(model_admin, request, obj):
    """What a list and a change page name, and where each name comes from: the
    model's columns and fields, then each inline's fields."""
    names = [*model_admin.get_list_display(request), *model_admin.get_fields(request, obj)]
    yield model_admin.model, model_admin, model_admin.get_form(request, obj)(instance=obj), names
    for inline in model_admin.get_inline_instances(request, obj):
        form = inline.get_formset(request, obj).form()
        yield inline.model, inline, form, inline.get_fields(request, obj)


def _label(name, model, owner, form=None):
    if name == "__str__":
        return model._meta.verbose_name  # label_for_field makes it a str
    if form is not None and name in form.fields:
        return form.fields[name].label  # what the page shows, as the admin does
    return label_for_field(name, model, owner)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_every_name_the_admin_shows_goes_through_gettext(admin_user, rows, model):
    """A name never marked for translation reads in English whatever the catalog says:
    a model without Meta names, a field without verbose_name, a column without one."""
    model_admin = admin.site._registry[model]
    request = as_admin(admin_user)
    labels = {}
    for shown, owner, form, names in _shown(model_admin, request, rows[model]):
        labels[shown._meta.label] = shown._meta.verbose_name
        labels[f"{shown._meta.label} (plural)"] = shown._meta.verbose_name_plural
        for name in names:
            labels[f"{shown._meta.label}.{name}"] = _label(name, shown, owner, form)
    for list_filter in model_admin.get_list_filter(request):
        if isinstance(list_filter, str):
            labels[f"filter {list_filter}"] = _label(list_filter, model, model_admin)
        else:
            labels[f"filter {list_filter.__name__}"] = list_filter.title
    for _function, name, description in model_admin.get_actions(request).values():
        labels[f"action {name}"] = description

    untranslated = {key: label for key, label in labels.items() if not isinstance(label, Promise)}
    assert not untranslated, untranslated


# --- What anyone can do there ----------------------------------------------------------


def test_nothing_is_deleted_in_the_admin_but_a_login_counter(admin_user):
    request = as_admin(admin_user)

    deletable = [m for m in REGISTERED if admin.site._registry[m].has_delete_permission(request)]

    # Deleting a login counter is how axes unlocks a login; everything else is
    # deactivated, voided or kept.
    assert deletable == [AccessAttempt]


def test_only_administrators_are_added_in_the_admin(admin_user):
    request = as_admin(admin_user)

    addable = [m for m in REGISTERED if admin.site._registry[m].has_add_permission(request)]

    # Doctors and patients are registered on the product's pages, with their profile.
    assert addable == [User]


@pytest.mark.parametrize("model", AUDIT, ids=lambda m: m._meta.label)
def test_history_and_audit_rows_are_read_only(client, admin_user, rows, model):
    model_admin = admin.site._registry[model]
    request = as_admin(admin_user)
    obj = rows[model]
    client.force_login(admin_user)  # a row of the login log, before counting them
    before = list(model._default_manager.order_by("pk").values())

    changelist = client.get(url(model, "changelist")).content.decode()
    change = client.get(url(model, "change", obj.pk)).content.decode()

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)
    assert not model_admin.has_delete_permission(request, obj)
    assert url(model, "add") not in changelist  # no add button
    assert "delete_selected" not in changelist
    assert url(model, "delete", obj.pk) not in change
    assert 'type="submit"' not in change.split('id="content"', 1)[1]
    assert client.get(url(model, "add")).status_code == 403
    assert client.post(url(model, "add"), {}).status_code == 403
    assert client.post(url(model, "change", obj.pk), {"reason": "x"}).status_code == 403
    assert client.get(url(model, "delete", obj.pk)).status_code == 403
    assert client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    client.post(
        url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert list(model._default_manager.order_by("pk").values()) == before


# --- Queries -----------------------------------------------------------------------------


def _changelist_queries(client) -> dict[str, int]:
    counts = {}
    for model in REGISTERED:
        path = url(model, "changelist")
        client.get(path)  # the session and the content types, cached
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200, path
        counts[model._meta.label] = len(captured)
    return counts


def test_every_list_takes_as_many_queries_for_50_rows_as_for_10(client, admin_user):
    for n in range(10):
        one_of_everything(admin_user, n)
    client.force_login(admin_user)
    ten = _changelist_queries(client)

    for n in range(10, 50):
        one_of_everything(admin_user, n)
    fifty = _changelist_queries(client)

    assert Presence.objects.count() == 50 and LogEntry.objects.count() == 50
    grew = {label: (ten[label], fifty[label]) for label in ten if fifty[label] != ten[label]}
    assert not grew, f"queries for 10 rows, then 50: {grew}"


# --- The history of changes ------------------------------------------------------------


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "pt-br"
    return client


@pytest.fixture
def colleague(db):
    return AdminFactory(first_name="Renata", last_name="Lima", phone="")


def test_a_change_made_in_the_admin_is_in_its_history_with_names_and_local_time(
    client, admin_user, colleague
):
    client.force_login(admin_user)
    data = {
        "email": colleague.email, "first_name": "Renata", "last_name": "Lima",
        "phone": "(11) 99999-0000", "role": "admin", "is_active": "on",
    }  # fmt: skip

    saved = client.post(url(User, "change", colleague.pk), data)

    assert saved.status_code == 302
    entry = LogEntry.objects.get()
    history = client.get(url(LogEntry, "changelist"))
    html = history.content.decode()
    assert history.status_code == 200
    row = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    assert short_local_datetime(entry.action_time) in row
    assert admin_user.display_name in row
    assert "Alteração" in row and "Usuário" in row
    assert f'<a href="{url(User, "change", colleague.pk)}">Renata Lima</a>' in row
    assert "Alterado Telefone." in row  # Django stored the label as "Phone"


def test_a_deletion_is_named_in_the_history_without_a_link(client, admin_user):
    attempt = AccessAttempt.objects.create(
        username="ana@example.com", ip_address="10.0.0.7", user_agent="Firefox",
        http_accept="*/*", path_info="/accounts/login/", get_data="", post_data="",
        failures_since_start=5,
    )  # fmt: skip
    client.force_login(admin_user)
    data = {"action": "unlock", "_selected_action": [attempt.pk], "post": "yes"}
    client.post(url(AccessAttempt, "changelist"), data)

    row = client.get(url(LogEntry, "changelist")).content.decode().split('id="result_list"')[1]

    entry = LogEntry.objects.get()
    assert entry.action_flag == DELETION
    assert "Exclusão" in row and "ana@example.com" in row
    assert url(AccessAttempt, "change", attempt.pk) not in row


def test_the_history_is_filtered_by_person_kind_and_action_and_searched(
    client, admin_user, colleague, doctor
):
    for who, changed, flag in (
        (admin_user, User.objects.filter(pk=doctor.pk), CHANGE),
        (colleague, User.objects.filter(pk=colleague.pk), DELETION),
        (colleague, DoctorProfile.objects.filter(user=doctor), CHANGE),
    ):
        LogEntry.objects.log_actions(user_id=who.pk, queryset=changed, action_flag=flag)
    client.force_login(admin_user)
    users = ContentType.objects.get_for_model(User).pk

    def found(**query):
        response = client.get(url(LogEntry, "changelist"), query)
        assert response.status_code == 200, query
        return [
            (entry.user, entry.content_type.model) for entry in response.context["cl"].result_list
        ]

    assert found(user=admin_user.pk) == [(admin_user, "user")]
    assert found(kind=users) == [(colleague, "user"), (admin_user, "user")]
    assert found(action=DELETION) == [(colleague, "user")]
    assert found(q="Renata") == [(colleague, "doctorprofile"), (colleague, "user")]
    assert found(user="x") == found(kind="x") == found(action="x") == []
    page = client.get(url(LogEntry, "changelist")).content.decode()
    filters = page.split('id="changelist-filter"', 1)[1]
    assert colleague.display_name in filters and admin_user.display_name in filters
    assert "Usuário" in filters and "Perfil de médico" in filters
    assert "Inclusão" in filters and "Alteração" in filters and "Exclusão" in filters


def test_the_history_is_searched_by_date_in_local_time(client, admin_user, doctor):
    # 01:30 UTC on the 2nd is still the 1st in São Paulo.
    LogEntry.objects.log_actions(
        user_id=admin_user.pk, queryset=User.objects.filter(pk=doctor.pk), action_flag=CHANGE
    )
    LogEntry.objects.update(action_time=dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC))
    client.force_login(admin_user)

    first = client.get(url(LogEntry, "changelist"), {"action_time__day": 1,
                       "action_time__month": 3, "action_time__year": 2026})  # fmt: skip

    assert first.context["cl"].result_count == 1
    assert "01/03/2026 22:30" in first.content.decode()

"""Every page of the Django admin reads in Portuguese, in local time, with names.

Walks each registered model's list and change page as an admin, with the
browser asking for pt-BR, and looks at what a person reads there.
"""

import re
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import DoctorProfile, PatientProfile, User, short_local_datetime
from accounts.tests.factories import DoctorFactory, PatientFactory
from billing import services as billing_services
from billing.models import BillingSettings
from clinical import services as clinical_services
from clinical.models import RecordAccess
from closings.tests.factories import closing_of
from medconnect.models import DatabaseReset, ResetSource
from rooms import services as room_services
from rooms.models import CallSample, Presence, RoomStatus
from rooms.tests.factories import RoomFactory

pytestmark = pytest.mark.django_db

MODELS = sorted(admin.site._registry, key=lambda m: m._meta.label)

# English words that showed up in the admin before, and others like them. Matched
# as whole words in what the page shows (not its markup); not "to", which is
# Tocantins in the list of states.
ENGLISH = {
    "access", "accesses", "attempt", "attempts", "attempted", "axes", "by", "call", "consent",
    "consultation", "evolution", "failed", "failure", "failures", "for", "from", "in", "left",
    "locked", "log", "logs", "measured", "of", "on", "opened", "person", "pk", "presence",
    "quality", "received", "record", "remaining", "sample", "samples", "sent", "signed",
    "since", "situation", "status", "the", "time", "together", "typed", "user", "when",
    "with",
}  # fmt: skip
# How a timestamp looks when a page prints a raw UTC datetime.
RAW_TIME = re.compile(r"\+00:00|\d{2}:\d{2}:\d{2}\.\d+|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}|UTC")
RAW_ID = re.compile(r"#\d+|\b\d+ → \d+\b")
OUR_APPS = ("accounts", "rooms", "clinical", "billing", "closings")


def _english_names() -> set[str]:
    """Our models' names and their fields' names in English, where pt-BR says otherwise.

    A page in pt-BR showing one of these printed a name untranslated: stored in
    English (as Django's change messages store field labels) or rendered outside
    the reader's language. Names that never went through gettext read the same in
    both: test_admin_site checks those.
    """
    names = set()
    for config in apps.get_app_configs():
        if config.name not in OUR_APPS:
            continue
        for model in config.get_models():
            opts = model._meta
            labels = [opts.verbose_name, opts.verbose_name_plural]
            labels += [f.verbose_name for f in opts.get_fields() if hasattr(f, "verbose_name")]
            for label in labels:
                with translation.override("en"):
                    english = str(label)
                with translation.override("pt-br"):
                    portuguese = str(label)
                if english.lower() != portuguese.lower() and len(english) > 3:
                    names.add(english.lower())
    return names


ENGLISH_NAMES = _english_names()


def page_text(response) -> str:
    """The words a person reads: the title and the content, without markup."""
    html = response.content.decode()
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    content = html.split('id="content"', 1)[1].split('id="footer"', 1)[0]
    content = re.sub(r"<(script|style)\b.*?</\1>", " ", content, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", f"{title} {content}")
    return re.sub(r"\s+", " ", text).replace("&nbsp;", " ")


def english_in(text: str) -> set[str]:
    # E-mail addresses are data, not interface.
    text = re.sub(r"\S+@\S+", " ", text.lower())
    words = re.findall(r"[^\W\d_]+", text)
    phrases = {
        name for name in ENGLISH_NAMES if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text)
    }
    return (ENGLISH & set(words)) | phrases


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "pt-br"
    return client


@pytest.fixture
def clinic(admin_user, doctor, patient, consented_patient):
    """One row of every model the admin shows."""
    room = RoomFactory(
        doctor=doctor,
        patient=patient,
        status=RoomStatus.ENDED,
        ended_at=timezone.now(),
        call_started_at=timezone.now(),
        both_present_seconds=754,
    )
    room_services.server_beat(server_id="web-1")
    open_room = RoomFactory(doctor=doctor, patient=patient)
    Presence.objects.create(
        room=open_room, user=patient, channel_name="c1", server_id="web-1",
        connected_at=timezone.now(),
    )  # fmt: skip
    CallSample.objects.create(room=room, user=patient, rtt_ms=41.3, loss_pct=0.2, kbps_in=800)
    evolution = clinical_services.evolution_write(
        doctor=doctor, patient=patient, room=room, notes="Tosse seca."
    )
    grant = clinical_services.emergency_access_grant(
        admin=admin_user,
        patient=patient,
        reason="Auditoria pedida pela diretoria clínica",
        ip_address="10.0.0.9",
    )
    RecordAccess.objects.create(
        viewer=admin_user, viewer_role=admin_user.role, patient=patient, section="admin",
        evolution=evolution, emergency=grant, ip_address="10.0.0.9",
    )  # fmt: skip
    axes = {"ip_address": "10.0.0.7", "user_agent": "Firefox", "http_accept": "*/*",
            "path_info": "/accounts/login/", "username": patient.email}  # fmt: skip
    AccessAttempt.objects.create(**axes, get_data="", post_data="", failures_since_start=1)
    AccessFailureLog.objects.create(**axes)
    AccessLog.objects.create(**axes, logout_time=timezone.now())
    billing_services.doctor_rate_update(
        by=admin_user, doctor=doctor, consultation_fee=Decimal("180.00"), platform_percentage=None
    )
    record = billing_services.consultation_register(room=room)
    billing_services.record_void(record=record, by=admin_user, reason="Falha técnica na chamada.")
    billing_services.record_restore(record=record, by=admin_user)
    BillingSettings.load()
    closing_of(doctor)  # a closing of October, with its event
    DatabaseReset.objects.create(
        by=admin_user, by_email=admin_user.email, source=ResetSource.PAGE,
        backup_path="/srv/medconnect/data/backups/2026-12-01_09-30-00", rows_deleted=812,
    )  # fmt: skip
    # As UserAdmin's change form stores it: the fields' labels, untranslated.
    LogEntry.objects.log_actions(
        user_id=admin_user.pk, queryset=User.objects.filter(pk=doctor.pk), action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["Phone", "Active"]}}], single_object=True,
    )  # fmt: skip
    return {"room": room, "evolution": evolution}


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_the_admin_index_names_every_section_in_portuguese(client, admin_user, clinic):
    client.force_login(admin_user)

    text = page_text(client.get(reverse("admin:index")))

    assert not english_in(text), text
    for label in ["Contas", "Tentativas de login", "Área clínica", "Salas de consulta"]:
        assert label in text
    assert "Acessos ao prontuário" in text
    assert "Entradas no sistema" in text


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_every_admin_list_and_page_reads_in_portuguese(client, admin_user, clinic, model):
    client.force_login(admin_user)
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the fixture has no {model._meta.label}"

    request = RequestFactory().get("/")
    request.user = admin_user

    changelist = client.get(url(model, "changelist"))
    change = client.get(url(model, "change", obj.pk))
    pages = [changelist, change]
    if admin.site._registry[model].has_add_permission(request):
        pages.append(client.get(url(model, "add")))

    assert [page.status_code for page in pages] == [200] * len(pages)
    for response in pages:
        text = page_text(response)
        assert not english_in(text), f"{model._meta.label}: {english_in(text)} in {text}"
        assert not RAW_TIME.search(text), f"{model._meta.label}: {RAW_TIME.search(text)}"
        assert not RAW_ID.search(text), f"{model._meta.label}: {RAW_ID.search(text)}"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_every_admin_list_counts_with_the_right_plural(client, admin_user, clinic, model):
    client.force_login(admin_user)
    count = model._default_manager.count()
    with translation.override("pt-br"):
        name, plural = str(model._meta.verbose_name), str(model._meta.verbose_name_plural)

    text = page_text(client.get(url(model, "changelist")))

    # Portuguese nouns take an s in the plural: "2 acessos ao prontuário", never
    # "2 registro de acessos".
    assert plural.split()[0].endswith("s") and not name.split()[0].endswith("s"), (name, plural)
    expected = f"{count} {name}" if count == 1 else f"{count} {plural}"
    assert re.search(rf"\b{re.escape(expected)}\b", text), f"{expected!r} not in {text}"


def test_the_object_titles_use_local_time_and_names(clinic, patient, doctor):
    room = clinic["room"]
    local = short_local_datetime(room.created_at)

    with translation.override("pt-br"):
        title = str(room)

    assert title == f"Consulta de {patient.display_name} com {doctor.display_name}, {local}"
    assert timezone.localtime(room.created_at).strftime("%d/%m/%Y %H:%M") == local


@pytest.mark.parametrize(("failures", "expected"), [
    (4, "1 tentativa restante"), (2, "3 tentativas restantes"), (5, "Bloqueado"),
])  # fmt: skip
def test_the_login_lock_counts_attempts_left_in_portuguese(
    client, admin_user, settings, failures, expected
):
    settings.AXES_FAILURE_LIMIT = 5
    AccessAttempt.objects.create(
        username="ana@example.com", ip_address="10.0.0.7", user_agent="Firefox",
        http_accept="*/*", path_info="/accounts/login/", get_data="", post_data="",
        failures_since_start=failures,
    )  # fmt: skip
    client.force_login(admin_user)

    text = page_text(client.get(url(AccessAttempt, "changelist")))

    assert expected in text


def test_unlocking_a_login_removes_its_failures(client, admin_user):
    attempt = AccessAttempt.objects.create(
        username="ana@example.com", ip_address="10.0.0.7", user_agent="Firefox",
        http_accept="*/*", path_info="/accounts/login/", get_data="", post_data="",
        failures_since_start=5,
    )  # fmt: skip
    client.force_login(admin_user)
    data = {"action": "unlock", "_selected_action": [attempt.pk]}

    confirm = client.post(url(AccessAttempt, "changelist"), data)
    assert confirm.status_code == 200 and AccessAttempt.objects.exists()
    done = client.post(url(AccessAttempt, "changelist"), {**data, "post": "yes"})

    assert done.status_code == 302
    assert not AccessAttempt.objects.exists()


def test_the_login_logs_are_read_only(client, admin_user):
    client.force_login(admin_user)
    for model in (AccessLog, AccessFailureLog):
        assert client.get(url(model, "add")).status_code == 403


@pytest.mark.parametrize("model", [DoctorProfile, PatientProfile], ids=lambda m: m.__name__)
def test_profiles_come_with_the_role_not_from_the_admin(client, admin_user, patient, model):
    profile = model._default_manager.first()
    owner = profile.user
    client.force_login(admin_user)

    assert client.get(url(model, "add")).status_code == 403
    client.post(url(model, "change", profile.pk), {"user": admin_user.pk})

    profile.refresh_from_db()
    assert profile.user == owner


def more_rows(doctor, patient):
    """Three more consultations, each with its own doctor and patient and their rows."""
    for _ in range(3):
        other_doctor = DoctorFactory(profile__title="dr")
        other_patient = PatientFactory(doctor=other_doctor)
        room = RoomFactory(doctor=other_doctor, patient=other_patient)
        CallSample.objects.create(room=room, user=other_patient, rtt_ms=50)
        clinical_services.evolution_write(
            doctor=other_doctor, patient=other_patient, room=room, notes="Dor de cabeça."
        )
        RecordAccess.objects.create(
            viewer=other_doctor, viewer_role=other_doctor.role, patient=other_patient,
            section="chart",
        )  # fmt: skip


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_admin_lists_do_not_query_per_row(
    client, admin_user, clinic, doctor, patient, model, django_assert_max_num_queries
):
    client.force_login(admin_user)
    with django_assert_max_num_queries(100) as few:
        client.get(url(model, "changelist"))
    more_rows(doctor, patient)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url(model, "changelist"))

    assert response.status_code == 200

"""The Django admin in a real browser, at phone and desktop widths.

Screenshots of the index, lists and change pages go to screenshots/admin-*;
each page is scanned with axe-core and checked for console and CSP errors.
"""

import datetime as dt
from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import PASSWORD, AdminFactory, DoctorFactory, PatientFactory
from billing import services as billing_services
from billing.models import BillingSettings
from billing.tests.factories import BillingRecordFactory
from clinical import services as clinical_services
from clinical.models import RecordAccess
from rooms import services as room_services
from rooms.models import Presence, RoomStatus, ServerInstance
from rooms.tests.factories import ConsentFactory, RoomFactory

from . import helpers
from .helpers import AXE_SOURCE, WIDTHS, Visit, check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ALIVE = "c0ffee00c0ffee00c0ffee00c0ffee00"  # a server process that keeps beating


def axe_without_preload(page) -> list[dict]:
    """helpers.axe_violations without axe's stylesheet preload.

    The admin's forms.css @imports widgets.css; axe re-creates imported sheets
    as <style> elements to read them, which the CSP (rightly) blocks, and that
    lands in the console as the page's error. Only css-orientation-lock needs it.
    """
    page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {
              runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
              resultTypes: ['violations'], preload: false,
            });
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 3).map(
                n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').slice(0, 160))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.fixture(autouse=True)
def _axe_without_preload(monkeypatch):
    monkeypatch.setattr(helpers, "axe_violations", axe_without_preload)


@pytest.fixture
def back_office():
    admin = AdminFactory(first_name="Helena", last_name="Martins", email="admin@clinica.test")
    ana = DoctorFactory(first_name="Ana", last_name="Souza", profile__title="dra")
    carlos = PatientFactory(first_name="Carlos", last_name="Pereira", doctor=ana)
    ConsentFactory(patient=carlos)
    room = RoomFactory(
        doctor=ana, patient=carlos, status=RoomStatus.ENDED, ended_at=timezone.now(),
        call_started_at=timezone.now(), both_present_seconds=1260,
    )  # fmt: skip
    evolution = clinical_services.evolution_write(
        doctor=ana, patient=carlos, room=room, notes="Tosse seca."
    )
    clinical_services.evolution_amend(
        evolution=evolution, author=ana, reason="Faltou a duração", notes="Tosse seca há 3 dias."
    )
    for section in ("chart", "evolution"):
        RecordAccess.objects.create(
            viewer=ana, viewer_role=ana.role, patient=carlos, section=section
        )
    record = BillingRecordFactory(room=room)
    billing_services.record_void(record=record, by=admin, reason="Falha técnica na chamada")
    billing_services.doctor_rate_update(
        by=admin, doctor=ana, consultation_fee=Decimal("180.00"), platform_percentage=None
    )
    AccessAttempt.objects.create(
        username="bruno@clinica.test", ip_address="10.0.0.7", user_agent="Firefox",
        http_accept="*/*", path_info="/accounts/login/", get_data="", post_data="",
        failures_since_start=3,
    )  # fmt: skip
    # A call in progress, held by one server process; another stopped beating.
    room_services.server_beat(server_id=ALIVE)
    Presence.objects.create(
        room=RoomFactory(doctor=ana, patient=carlos), user=carlos, channel_name="c1",
        server_id=ALIVE, connected_at=timezone.now(),
    )  # fmt: skip
    ServerInstance.objects.create(
        id="dead00beefdead00beefdead00beef00", started_at=timezone.now() - dt.timedelta(hours=3),
        last_beat_at=timezone.now() - dt.timedelta(minutes=2),
    )  # fmt: skip
    # The admin changed Ana's phone and access, stored as UserAdmin stores it.
    LogEntry.objects.log_actions(
        user_id=admin.pk, queryset=User.objects.filter(pk=ana.pk), action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["Phone", "Active"]}}], single_object=True,
    )  # fmt: skip
    return {
        "admin": admin, "carlos": carlos, "room": room, "record": record, "evolution": evolution,
    }  # fmt: skip


def test_the_admin_pages(browser, daphne_server, back_office):
    clinic = BillingSettings.load()  # a transactional test before may have flushed it
    pages = [
        ("admin-index", reverse("admin:index")),
        ("admin-record-accesses", reverse("admin:clinical_recordaccess_changelist")),
        ("admin-login-counters", reverse("admin:axes_accessattempt_changelist")),
        ("admin-rooms", reverse("admin:rooms_room_changelist")),
        ("admin-room", reverse("admin:rooms_room_change", args=[back_office["room"].pk])),
        ("admin-user", reverse("admin:accounts_user_change", args=[back_office["carlos"].pk])),
        ("admin-billing-records", reverse("admin:billing_billingrecord_changelist")),
        (
            "admin-billing-record",
            reverse("admin:billing_billingrecord_change", args=[back_office["record"].pk]),
        ),
        ("admin-rate-history", reverse("admin:billing_ratechange_changelist")),
        ("admin-history", reverse("admin:admin_logentry_changelist")),
        ("admin-server-processes", reverse("admin:rooms_serverinstance_changelist")),
        ("admin-evolution-versions", reverse("admin:clinical_evolutionrevision_changelist")),
        (
            "admin-evolution",
            reverse("admin:clinical_evolution_change", args=[back_office["evolution"].pk]),
        ),
        (
            "admin-billing-settings",
            reverse("admin:billing_billingsettings_change", args=[clinic.pk]),
        ),
    ]
    for width, viewport in WIDTHS.items():
        visit = Visit(browser, daphne_server, viewport)
        try:
            visit.login("admin@clinica.test", PASSWORD)
            for name, path in pages:
                # The fixture's beat is long gone by now; no real process keeps it fresh.
                ServerInstance.objects.filter(pk=ALIVE).update(last_beat_at=timezone.now())
                response = visit.goto(path)
                assert response.status == 200, f"{name}: {response.status}"
                check_page(visit, name, width)
        finally:
            visit.close()
    assert not daphne_server.errors(), daphne_server.errors()

"""The clinical pages through HTTP: writing and correcting, ICD-10 messages, escaping,
break-glass, the access logs, the patient's export and the call's side panel."""

import datetime as dt
import json
import re
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import DoctorFactory
from clinical import services
from clinical.models import EmergencyAccess, Evolution, EvolutionRevision, RecordAccess
from rooms.tests.factories import ConsentFactory, RoomFactory

from .conftest import GRANT_REASON

pytestmark = pytest.mark.django_db

NASTY = "<script>alert(1)</script>\nsegunda linha"
NASTY_SHOWN = "&lt;script&gt;alert(1)&lt;/script&gt;<br>segunda linha"
ICD10_MESSAGE = "is not an ICD-10 code. Use a letter and two digits"
EMPTY_MESSAGE = "Write at least the notes, a diagnosis or a prescription."


def login(client, user):
    client.force_login(user)
    return client


def text_of(response) -> str:
    return response.content.decode()


def form_data(**text):
    return {"notes": "", "diagnosis": "", "diagnosis_code": "", "prescription": "", **text}


# --- Writing on the full-page form ---------------------------------------------------------


def test_a_doctor_writes_an_evolution_on_the_page(client, doctor, patient):
    url = reverse("clinical:evolution_create", args=[patient.pk])

    response = login(client, doctor).post(url, form_data(notes="Febre.", diagnosis_code=" j459 "))

    evolution = Evolution.objects.get()
    assert response.status_code == 302
    chart = reverse("clinical:chart", args=[patient.pk])
    assert response["Location"] == f"{chart}#evolution-{evolution.pk}"
    assert (evolution.doctor, evolution.patient, evolution.room) == (doctor, patient, None)
    assert (evolution.notes, evolution.diagnosis_code) == ("Febre.", "J45.9")


def test_the_page_form_links_the_consultation_it_came_from(client, room):
    url = reverse("clinical:evolution_create", args=[room.patient.pk])
    client = login(client, room.doctor)

    response = client.get(f"{url}?room={room.code}")
    assert response.context["form"].initial["room"] == room

    client.post(url, form_data(room=room.pk, notes="Após a chamada."))
    assert Evolution.objects.get().room == room


@pytest.mark.parametrize("code", ["XX", "J4", "J45.99"])
def test_the_page_form_explains_a_bad_icd10_code(client, doctor, patient, code):
    url = reverse("clinical:evolution_create", args=[patient.pk])

    response = login(client, doctor).post(url, form_data(notes="Nota.", diagnosis_code=code))

    assert response.status_code == 200
    assert f"“{code}” {ICD10_MESSAGE}" in text_of(response)
    assert not Evolution.objects.exists()


@pytest.mark.parametrize(("typed", "stored"), [(" j459 ", "J45.9"), ("J45", "J45")])
def test_the_page_form_accepts_good_icd10_codes(client, doctor, patient, typed, stored):
    url = reverse("clinical:evolution_create", args=[patient.pk])

    response = login(client, doctor).post(url, form_data(notes="Nota.", diagnosis_code=typed))

    assert response.status_code == 302
    assert Evolution.objects.get().diagnosis_code == stored


def test_the_page_form_refuses_an_empty_evolution(client, doctor, patient):
    url = reverse("clinical:evolution_create", args=[patient.pk])

    response = login(client, doctor).post(url, form_data(notes="   ", prescription="\n"))

    assert response.status_code == 200
    assert EMPTY_MESSAGE in text_of(response)
    assert not Evolution.objects.exists()
    assert not EvolutionRevision.objects.exists()


# --- Correcting ----------------------------------------------------------------------------


def amend_url(evolution):
    return reverse("clinical:evolution_amend", args=[evolution.pk])


def test_the_amend_page_starts_from_the_current_text(client, doctor, evolution):
    response = login(client, doctor).get(amend_url(evolution))

    assert response.context["form"].initial == {**evolution.text(), "based_on": 1}


def test_a_correction_made_meanwhile_is_not_undone(client, doctor, evolution):
    # Two tabs open the amend form at revision 1; the first saves, the second must not
    # silently put its older text back.
    client = login(client, doctor)
    first = form_data(**{**evolution.text(), "notes": "Aba 1"}, reason="Aba 1", based_on=1)
    assert client.post(amend_url(evolution), first).status_code == 302
    second = form_data(**{**evolution.text(), "notes": "Aba 2"}, reason="Aba 2", based_on=1)

    response = client.post(amend_url(evolution), second)

    assert response.status_code == 200
    assert "was corrected while you were editing it" in text_of(response)
    evolution.refresh_from_db()
    assert (evolution.revision, evolution.notes) == (2, "Aba 1")


def test_amending_without_a_reason_is_refused(client, doctor, evolution):
    data = form_data(**{**evolution.text(), "notes": "Outro texto"})

    response = login(client, doctor).post(amend_url(evolution), data)

    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    assert EvolutionRevision.objects.count() == 1


def test_amending_without_a_change_is_refused(client, doctor, evolution):
    data = form_data(**evolution.text(), reason="Revisão")

    response = login(client, doctor).post(amend_url(evolution), data)

    assert response.status_code == 200
    assert "Nothing was changed." in text_of(response)
    assert EvolutionRevision.objects.count() == 1


def test_amending_keeps_the_old_text_on_the_detail_page(client, doctor, patient, evolution):
    client = login(client, doctor)
    data = form_data(**{**evolution.text(), "notes": "Tosse produtiva."}, reason="Troquei a tosse")

    response = client.post(amend_url(evolution), data)

    assert response.status_code == 302
    assert response["Location"] == reverse("clinical:evolution", args=[evolution.pk])
    detail = text_of(client.get(response["Location"]))
    assert "Tosse produtiva." in detail
    assert "Tosse seca há 3 dias." in detail  # the original, in the history
    assert "Troquei a tosse" in detail  # the reason
    assert "Changed: notes" in detail
    assert "History: 2 versions, newest first" in detail
    # The chart shows only the current text.
    chart = text_of(client.get(reverse("clinical:chart", args=[patient.pk])))
    assert "Tosse produtiva." in chart
    assert "Tosse seca há 3 dias." not in chart


# --- Escaping ------------------------------------------------------------------------------

# Each field's text, and how a page must show it: escaped, then line breaks as <br>.
NASTY_FIELDS = {
    "notes": ("<script>alert(1)</script>\nnota", "&lt;script&gt;alert(1)&lt;/script&gt;<br>nota"),
    "diagnosis": ("<b>asma</b>\nleve", "&lt;b&gt;asma&lt;/b&gt;<br>leve"),
    "prescription": (
        "<img src=x onerror=alert(2)>\nreceita",
        "&lt;img src=x onerror=alert(2)&gt;<br>receita",
    ),
}
ALL_FIELDS = ("notes", "diagnosis", "prescription")


@pytest.mark.parametrize(
    ("viewer", "url_name", "obj", "fields"),
    [
        ("doctor", "clinical:chart", "patient", ALL_FIELDS),
        ("doctor", "clinical:chart_print", "patient", ALL_FIELDS),
        ("doctor", "clinical:evolution", "evolution", ALL_FIELDS),
        ("doctor", "clinical:prescription_print", "evolution", ("prescription",)),
        ("patient", "clinical:my_record", None, ALL_FIELDS),
        ("patient", "clinical:my_record_print", None, ALL_FIELDS),
        ("patient", "clinical:evolution", "evolution", ALL_FIELDS),
        ("patient", "clinical:prescription_print", "evolution", ("prescription",)),
    ],
)
def test_clinical_text_is_escaped_with_line_breaks_kept(
    request, client, doctor, patient, viewer, url_name, obj, fields
):
    evolution = services.evolution_write(
        doctor=doctor, patient=patient, **{name: raw for name, (raw, _) in NASTY_FIELDS.items()}
    )
    objects = {"patient": patient, "evolution": evolution}
    url = reverse(url_name, args=[objects[obj].pk] if obj else [])

    response = login(client, request.getfixturevalue(viewer)).get(url)

    assert response.status_code == 200
    html = text_of(response)
    for name in fields:
        raw, shown = NASTY_FIELDS[name]
        assert raw.split("\n")[0] not in html, name
        assert shown in html, name


def test_the_old_text_in_the_history_is_escaped_too(client, doctor, evolution):
    services.evolution_amend(
        evolution=evolution, author=doctor, reason="<i>motivo</i>", notes=NASTY, diagnosis="Asma"
    )
    services.evolution_amend(evolution=evolution, author=doctor, reason="De novo", notes="Limpo")

    html = text_of(login(client, doctor).get(reverse("clinical:evolution", args=[evolution.pk])))

    assert "<script>alert(1)" not in html
    assert NASTY_SHOWN in html
    assert "&lt;i&gt;motivo&lt;/i&gt;" in html


# --- The call's side panel (JSON) ----------------------------------------------------------


def call_url(room):
    return reverse("clinical:call_evolution", args=[room.code])


def test_the_call_panel_writes_an_evolution_linked_to_the_room(client, room):
    response = login(client, room.doctor).post(
        call_url(room), form_data(diagnosis="Asma", diagnosis_code=" j459 ")
    )

    assert response.status_code == 201
    evolution = Evolution.objects.get()
    assert (evolution.room, evolution.patient, evolution.doctor) == (
        room,
        room.patient,
        room.doctor,
    )
    assert evolution.diagnosis_code == "J45.9"
    body = response.json()
    assert body["id"] == evolution.pk
    assert body["summary"] == "Asma"
    assert body["url"] == reverse("clinical:evolution", args=[evolution.pk])
    assert body["message"] == "Evolution saved in the record."


@pytest.mark.parametrize("code", ["XX", "J4", "J45.99"])
def test_the_call_panel_explains_a_bad_icd10_code(client, room, code):
    response = login(client, room.doctor).post(
        call_url(room), form_data(notes="Nota.", diagnosis_code=code)
    )

    assert response.status_code == 400
    body = response.json()
    (message,) = body["errors"]["diagnosis_code"]
    assert f"“{code}” {ICD10_MESSAGE}" in message
    assert body["message"] == message
    assert not Evolution.objects.exists()


def test_the_call_panel_refuses_an_empty_evolution(client, room):
    response = login(client, room.doctor).post(call_url(room), form_data(notes="  "))

    assert response.status_code == 400
    assert response.json()["message"] == EMPTY_MESSAGE
    assert not Evolution.objects.exists()


def test_a_doctor_cannot_write_into_another_doctors_room(client, room, other_doctor, room_doctor):
    for someone in (other_doctor, room_doctor):
        response = login(client, someone).post(call_url(room), form_data(notes="Intruso."))
        assert response.status_code == 404
    assert not Evolution.objects.exists()


def test_the_patient_cannot_write_into_their_room(client, room):
    response = login(client, room.patient).post(call_url(room), form_data(notes="Eu mesmo."))

    assert response.status_code == 404  # patients get 404 on staff URLs (see the table)
    assert not Evolution.objects.exists()


def test_the_call_panel_only_takes_posts(client, room):
    response = login(client, room.doctor).get(call_url(room))

    assert response.status_code == 405


# --- Break-glass ---------------------------------------------------------------------------


def emergency_url(patient, next_url=None):
    url = reverse("clinical:emergency_access", args=[patient.pk])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def test_an_admin_asks_for_access_and_is_sent_back_to_the_page(client, admin_user, patient):
    client = login(client, admin_user)
    detail_url = reverse("clinical:chart_print", args=[patient.pk])

    response = client.get(detail_url)
    assert response["Location"] == emergency_url(patient, detail_url)
    assert not RecordAccess.objects.exists()

    response = client.post(
        response["Location"], {"reason": GRANT_REASON}, REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 302
    assert response["Location"] == detail_url
    grant = EmergencyAccess.objects.get()
    assert (grant.admin, grant.patient, grant.reason) == (admin_user, patient, GRANT_REASON)
    assert grant.ip_address == "198.51.100.4"

    response = client.get(detail_url)
    assert response.status_code == 200
    assert RecordAccess.objects.get().emergency == grant


def test_the_grant_message_and_banner(client, admin_user, patient):
    client = login(client, admin_user)

    response = client.post(emergency_url(patient), {"reason": GRANT_REASON}, follow=True)

    html = text_of(response)
    assert response.redirect_chain[-1][0] == reverse("clinical:chart", args=[patient.pk])
    # The chart's own banner says it; a flash message would say it twice.
    assert "Emergency access granted until" not in html
    assert "Every page you open here is logged" in html


def test_the_grant_message_shows_where_no_banner_does(client, admin_user, patient, evolution):
    client = login(client, admin_user)
    detail = reverse("clinical:evolution", args=[evolution.pk])
    url = f"{emergency_url(patient)}?{urlencode({'next': detail})}"

    response = client.post(url, {"reason": GRANT_REASON}, follow=True)

    assert response.redirect_chain[-1][0] == detail
    assert "Emergency access granted until" in text_of(response)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("Preciso ver", "Write a fuller reason (at least 20 characters)"),
        # Long enough for the form, too short once its spaces are collapsed.
        ("a" + " " * 30 + "b", "Explain the reason in at least 20 characters"),
    ],
)
def test_a_short_reason_is_refused_and_nothing_written(
    client, admin_user, patient, reason, message
):
    response = login(client, admin_user).post(emergency_url(patient), {"reason": reason})

    assert response.status_code == 200
    assert message in text_of(response)
    assert not EmergencyAccess.objects.exists()
    assert not RecordAccess.objects.exists()


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example.com/", "//evil.example.com/records/", "http://evil.example.com"],
)
def test_next_cannot_send_the_admin_to_another_host(client, admin_user, patient, next_url):
    response = login(client, admin_user).post(
        emergency_url(patient, next_url), {"reason": GRANT_REASON}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("clinical:chart", args=[patient.pk])


def test_an_expired_grant_no_longer_opens_the_record(client, admin_user, patient, evolution):
    EmergencyAccess.objects.create(
        admin=admin_user,
        patient=patient,
        reason=GRANT_REASON,
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    client = login(client, admin_user)

    for url in (
        reverse("clinical:chart", args=[patient.pk]),
        reverse("clinical:evolution", args=[evolution.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == emergency_url(patient, url)
    assert "You already have emergency access" not in text_of(client.get(emergency_url(patient)))
    assert not RecordAccess.objects.exists()


def test_an_active_grant_is_shown_on_the_form(client, grant_admin, grant, patient):
    html = text_of(login(client, grant_admin).get(emergency_url(patient)))

    assert "You already have emergency access to this record until" in html


def test_the_responsible_doctor_sees_the_grant_on_the_chart_and_dashboard(
    client, doctor, grant_admin, grant, patient
):
    client = login(client, doctor)

    chart = text_of(client.get(reverse("clinical:chart", args=[patient.pk])))
    dashboard = text_of(client.get("/"))

    for html in (chart, dashboard):
        assert GRANT_REASON in html
        assert grant_admin.display_name in html
    assert "Emergency access to this record" in chart
    assert "Emergency access to your patients' records" in dashboard
    assert reverse("clinical:access_log", args=[patient.pk]) in dashboard


def test_a_doctor_who_only_had_a_room_does_not_see_break_glass_reasons(
    client, room_doctor, grant, patient
):
    # The reason may be a complaint about that very doctor: it goes to the responsible one.
    chart = text_of(login(client, room_doctor).get(reverse("clinical:chart", args=[patient.pk])))

    assert "Emergency access to this record" not in chart
    assert GRANT_REASON not in chart


def test_the_call_page_is_never_cached(client, doctor, room):
    # The doctor's panel shows the patient's details and this call's evolutions.
    response = login(client, doctor).get(reverse("rooms:join", args=[room.code]))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        ({"diagnosis": "Asma", "notes": "Tosse"}, "Asma"),
        ({"diagnosis_code": "J45.9", "notes": "Tosse"}, "J45.9"),
        ({"notes": "Primeira linha\nSegunda"}, "Primeira linha"),
        ({"prescription": "x" * 100}, "x" * 79 + "…"),
    ],
)
def test_an_evolution_is_named_by_one_short_line(doctor, patient, text, summary):
    evolution = services.evolution_write(doctor=doctor, patient=patient, **text)

    assert evolution.summary == summary


def test_a_grant_reason_is_escaped_where_the_doctor_reads_it(client, doctor, admin_user, patient):
    services.emergency_access_grant(
        admin=admin_user, patient=patient, reason=f"Auditoria {NASTY}", ip_address=None
    )
    client = login(client, doctor)

    for url in ("/", reverse("clinical:chart", args=[patient.pk])):
        html = text_of(client.get(url))
        assert "<script>alert(1)" not in html
        assert "Auditoria &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_unrelated_doctor_does_not_see_the_grant_on_the_dashboard(client, other_doctor, grant):
    assert GRANT_REASON not in text_of(login(client, other_doctor).get("/"))


# --- The access logs -----------------------------------------------------------------------


def test_the_patient_sees_who_opened_their_record_but_no_addresses(
    client, doctor, grant_admin, grant, patient
):
    login(client, doctor).get(
        reverse("clinical:chart", args=[patient.pk]), REMOTE_ADDR="203.0.113.7"
    )
    login(client, grant_admin).get(
        reverse("clinical:chart", args=[patient.pk]), REMOTE_ADDR="203.0.113.8"
    )
    assert RecordAccess.objects.count() == 2

    html = text_of(login(client, patient).get(reverse("clinical:my_access_log")))

    for shown in (doctor.display_name, "Doctor", grant_admin.display_name, "Administrator"):
        assert shown in html
    assert GRANT_REASON in html
    assert "203.0.113." not in html
    assert "IP address" not in html


def test_admins_see_addresses_in_the_log_and_doctors_do_not(client, doctor, admin_user, patient):
    # Staff IP addresses are personal data too: only the back office needs them.
    login(client, doctor).get(
        reverse("clinical:chart", args=[patient.pk]), REMOTE_ADDR="203.0.113.7"
    )
    url = reverse("clinical:access_log", args=[patient.pk])

    doctors_view = text_of(client.get(url))
    admins_view = text_of(login(client, admin_user).get(url))

    assert "203.0.113.7" in admins_view
    assert "IP address" in admins_view
    assert doctor.display_name in doctors_view
    assert "203.0.113.7" not in doctors_view
    assert "IP address" not in doctors_view


def test_future_dates_in_the_log_filter_get_a_message(client, admin_user, patient):
    url = reverse("clinical:access_log", args=[patient.pk])

    response = login(client, admin_user).get(url, {"until": "9999-12-31"})

    assert response.status_code == 200
    assert "Choose a date up to today." in text_of(response)


@pytest.fixture
def dated_log(monkeypatch, doctor, patient):
    """Three log rows on 1, 10 and 20 March at noon, and one on 15 March late at night."""
    zone = timezone.get_current_timezone()
    rows = {}
    for name, day, hour in [
        ("first", 1, 12),
        ("second", 10, 12),
        ("late", 15, 23),
        ("third", 20, 12),
    ]:
        moment = dt.datetime(2026, 3, day, hour, 30, tzinfo=zone)
        with monkeypatch.context() as patch:
            patch.setattr(timezone, "now", lambda moment=moment: moment)
            rows[name] = services.record_access_log(
                viewer=doctor, patient=patient, section="chart", ip_address=None
            )
        assert rows[name].created_at == moment
    return rows


def log_rows(client, patient, **query):
    url = reverse("clinical:access_log", args=[patient.pk])
    response = client.get(f"{url}?{urlencode(query)}")
    assert response.status_code == 200
    return response, [row.pk for row in response.context["page_obj"].object_list]


def test_the_staff_log_filters_by_dates(client, doctor, patient, dated_log):
    client = login(client, doctor)
    pk = {name: row.pk for name, row in dated_log.items()}

    _, rows = log_rows(client, patient, since="2026-03-05", until="2026-03-15")
    assert rows == [pk["late"], pk["second"]]  # the whole of the last day counts
    _, rows = log_rows(client, patient, since="2026-03-11")
    assert rows == [pk["third"], pk["late"]]
    _, rows = log_rows(client, patient, until="2026-03-01")
    assert rows == [pk["first"]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "not-a-date"}, "Enter a valid date."),
        ({"since": "2026-02-30", "until": "2026-03-10"}, "Enter a valid date."),
        (
            {"since": "2026-03-20", "until": "2026-03-01"},
            "The start date comes after the end date.",
        ),
    ],
)
def test_bad_dates_get_a_message_not_an_error(client, doctor, patient, dated_log, query, message):
    response, rows = log_rows(login(client, doctor), patient, **query)

    assert message in text_of(response)
    assert len(rows) == len(dated_log)  # unfiltered


# --- The patient's export ------------------------------------------------------------------


def test_the_export_holds_the_patients_data_and_nobody_elses(
    client, doctor, other_doctor, consented_patient, other_patient, room, evolution, grant
):
    patient = consented_patient
    services.evolution_amend(
        evolution=evolution,
        author=doctor,
        reason="Dose corrigida",
        **{**evolution.text(), "prescription": "Nova dose"},
    )
    services.evolution_write(doctor=doctor, patient=patient, room=room, notes="Na chamada.")
    login(client, doctor).get(reverse("clinical:chart", args=[patient.pk]))
    # Someone else's record, which must not leak into the file.
    ConsentFactory(patient=other_patient, user_agent="NAVEGADOR-DA-DANIELA")
    other_room = RoomFactory(doctor=other_doctor, patient=other_patient)
    services.evolution_write(
        doctor=other_doctor, patient=other_patient, room=other_room, notes="SEGREDO-DA-DANIELA"
    )
    login(client, other_doctor).get(reverse("clinical:chart", args=[other_patient.pk]))

    response = login(client, patient).get(reverse("clinical:my_record_export"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="medconnect-my-data-')
    body = response.content.decode()
    data = json.loads(body)
    assert data["person"]["name"] == "Carlos Pereira"
    assert data["person"]["responsible_doctor"] == doctor.display_name
    assert [e["notes"] for e in data["evolutions"]] == ["Na chamada.", "Tosse seca há 3 dias."]
    amended = data["evolutions"][1]
    assert amended["prescription"] == "Nova dose"
    assert [(r["number"], r["reason"], r["prescription"]) for r in amended["revisions"]] == [
        (1, "", "Salbutamol 100 mcg, 2 jatos se falta de ar."),
        (2, "Dose corrigida", "Nova dose"),
    ]
    assert data["evolutions"][0]["consultation_opened_at"] is not None
    assert [c["doctor"] for c in data["consultations"]] == [doctor.display_name]
    assert len(data["telemedicine_consents"]) == 1
    assert [(a["opened_by"], a["role"], a["what"]) for a in data["record_accesses"]] == [
        (doctor.display_name, "Doctor", "Chart")
    ]
    for foreign in (
        "SEGREDO-DA-DANIELA",
        "NAVEGADOR-DA-DANIELA",
        "Daniela",
        other_doctor.display_name,
    ):
        assert foreign not in body


def test_the_patient_sees_only_their_own_record(client, other_patient, evolution):
    client = login(client, other_patient)

    for name in ("clinical:my_record", "clinical:my_record_print"):
        assert "Tosse seca" not in text_of(client.get(reverse(name)))
    assert client.get(reverse("clinical:evolution", args=[evolution.pk])).status_code == 404


def test_the_room_doctor_reads_but_does_not_correct(client, room_doctor, patient, evolution):
    client = login(client, room_doctor)

    chart = text_of(client.get(reverse("clinical:chart", args=[patient.pk])))

    assert "Tosse seca há 3 dias." in chart
    assert amend_url(evolution) not in chart
    assert client.get(amend_url(evolution)).status_code == 404


def test_a_doctor_who_only_had_a_room_does_not_see_the_log(client, room_doctor, patient):
    # The access log is for the responsible doctor (and admins), not every doctor who read it.
    response = login(client, room_doctor).get(reverse("clinical:access_log", args=[patient.pk]))

    assert response.status_code == 404


def test_a_new_doctor_in_the_clinic_sees_nothing(client, patient, evolution):
    newcomer = DoctorFactory()
    client = login(client, newcomer)

    assert client.get(reverse("clinical:chart", args=[patient.pk])).status_code == 404
    assert client.get(reverse("clinical:evolution", args=[evolution.pk])).status_code == 404
    assert not RecordAccess.objects.filter(refused=False).exists()  # tried, and logged as such
    assert RecordAccess.objects.filter(viewer=newcomer, refused=True).count() == 2


@pytest.mark.parametrize("name", ["clinical:chart", "clinical:my_record", "clinical:evolution"])
def test_clinical_pages_are_never_cached(client, doctor, patient, evolution, name):
    # A shared computer's back button must not show a record after logout.
    viewer, kwargs = (patient, {}) if name == "clinical:my_record" else (doctor, {"pk": patient.pk})
    if name == "clinical:evolution":
        kwargs = {"pk": evolution.pk}
    client.force_login(viewer)
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_timeline_anchors_keep_plain_ids_past_a_thousand(client, doctor, patient):
    # pt-BR groups thousands ("12.345"): an id in an anchor must not be grouped.
    Evolution.objects.create(pk=12345, patient=patient, doctor=doctor, notes="Nota")
    client.force_login(doctor)
    html = client.get(reverse("clinical:chart", args=[patient.pk])).content.decode()
    assert 'id="evolution-12345"' in html


def test_a_double_submitted_page_form_writes_one_evolution(client, doctor, patient):
    client = login(client, doctor)
    url = reverse("clinical:evolution_create", args=[patient.pk])
    token = client.get(url).context["form"].initial["token"]
    data = form_data(notes="Uma só", token=str(token))

    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # the back button, or a second click
    assert Evolution.objects.filter(patient=patient).count() == 1


def test_a_resent_call_evolution_answers_with_the_one_already_saved(client, doctor, room):
    import uuid

    client = login(client, doctor)
    url = reverse("clinical:call_evolution", args=[room.code])
    data = form_data(notes="Perdi a resposta", token=str(uuid.uuid4()))

    first = client.post(url, data).json()
    again = client.post(url, data).json()

    assert first["id"] == again["id"]
    assert Evolution.objects.filter(room=room).count() == 1


def test_only_the_author_is_offered_the_correction(client, doctor, room_doctor, patient, evolution):
    chart = reverse("clinical:chart", args=[patient.pk])
    amend = f'href="{reverse("clinical:evolution_amend", args=[evolution.pk])}"'

    assert amend in login(client, doctor).get(chart).content.decode()
    assert amend not in login(client, room_doctor).get(chart).content.decode()


def test_the_chart_shows_what_a_doctor_needs_before_a_consultation(
    client, settings, doctor, consented_patient
):
    from django.utils.formats import date_format

    from accounts.templatetags.people import cpf_masked, phone

    patient = consented_patient
    profile = patient.patient_profile
    profile.birth_date = dt.date(1985, 3, 14)
    profile.cpf = "52998224725"
    profile.save()
    patient.phone = "+5511987654321"
    patient.save()
    finished = RoomFactory(doctor=doctor, patient=patient)
    services.evolution_write(doctor=doctor, patient=patient, room=finished, notes="Nota")
    from rooms import services as rooms_services

    rooms_services.room_finalize(room=finished, by=doctor)

    html = text_of(login(client, doctor).get(reverse("clinical:chart", args=[patient.pk])))

    for shown in (
        patient.get_full_name(),
        date_format(profile.birth_date, "SHORT_DATE_FORMAT"),
        f"{profile.age} years old",
        cpf_masked("52998224725"),
        phone("+5511987654321"),
        patient.email,
        doctor.display_name,  # the responsible doctor
        doctor.doctor_profile.crm_display,
        "Accepted on",  # the telemedicine consent
        f"Finished by {doctor.display_name}",
        "Not billable",  # they never were in the call together
        "1 evolution",
        reverse("rooms:create", args=[patient.pk]),  # open a room
    ):
        assert shown in html, shown
    assert "52998224725" not in html and "529.982.247-25" not in html  # never the whole CPF


def test_the_printed_chart_names_the_clinic_the_doctor_the_patient_and_the_time(
    client, settings, doctor, patient, evolution
):
    from django.utils.formats import date_format

    settings.CLINIC_NAME = "Clínica Boa Saúde"
    before = timezone.localtime()
    html = text_of(login(client, doctor).get(reverse("clinical:chart_print", args=[patient.pk])))

    for shown in ("Clínica Boa Saúde", doctor.display_name, "CRM", patient.get_full_name()):
        assert shown in html, shown
    assert date_format(before, "SHORT_DATETIME_FORMAT")[:10] in html  # printed today


def test_an_admin_sees_counts_not_content_and_no_zero_plural(client, admin_user, patient):
    url = reverse("accounts:patient_detail", args=[patient.pk])

    empty = text_of(login(client, admin_user).get(url))
    services.evolution_write(doctor=patient.patient_profile.doctor, patient=patient, notes="Sigilo")
    one = text_of(client.get(url))

    assert "No evolution yet" in empty and "0 evolution" not in empty
    assert "1 evolution" in one
    assert "Sigilo" not in one  # counts and dates, never content


def test_the_call_panel_shows_the_latest_evolutions_and_logs_that_read(
    client, doctor, patient, room
):
    services.evolution_write(
        doctor=doctor, patient=patient, diagnosis="Rinite", diagnosis_code="J30.4"
    )
    services.evolution_write(doctor=doctor, patient=patient, room=room, notes="Nesta chamada")
    url = reverse("rooms:join", args=[room.code])

    html = text_of(login(client, doctor).get(url, REMOTE_ADDR="203.0.113.9"))

    assert "Latest evolutions" in html
    assert "Rinite" in html and "J30.4" in html
    row = RecordAccess.objects.get()
    assert (row.viewer, row.patient, row.section, str(row.ip_address)) == (
        doctor,
        patient,
        "chart",
        "203.0.113.9",
    )
    latest = html[html.index('id="call-earlier-title"') : html.index('id="call-evolution-title"')]
    assert "Rinite" in latest
    assert "Nesta chamada" not in latest  # this call's evolution is listed apart


def test_a_first_call_shows_no_history_and_logs_nothing(client, doctor, room):
    html = text_of(login(client, doctor).get(reverse("rooms:join", args=[room.code])))

    assert "Latest evolutions" not in html
    assert not RecordAccess.objects.exists()


# --- Refused reads are logged too ----------------------------------------------------


@pytest.mark.parametrize(
    ("url_name", "section", "by_evolution"),
    [
        ("clinical:chart", "chart", False),
        ("clinical:chart_print", "chart_print", False),
        ("clinical:evolution", "evolution", True),
        ("clinical:prescription_print", "prescription_print", True),
    ],
)
def test_a_doctor_s_try_at_a_record_out_of_scope_is_a_404_and_is_logged_as_refused(
    client, other_doctor, patient, evolution, url_name, section, by_evolution
):
    url = reverse(url_name, args=[evolution.pk if by_evolution else patient.pk])

    response = login(client, other_doctor).get(url, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 404
    row = RecordAccess.objects.get()
    assert (row.viewer, row.viewer_role, row.patient, row.section) == (
        other_doctor, "doctor", patient, section
    )  # fmt: skip
    assert row.refused is True
    assert row.evolution == (evolution if by_evolution else None)
    assert str(row.ip_address) == "198.51.100.4"


def test_a_try_at_nothing_is_a_404_and_logs_nothing(client, other_doctor, doctor, evolution):
    client = login(client, other_doctor)

    assert client.get(reverse("clinical:chart", args=[doctor.pk])).status_code == 404  # no patient
    assert client.get(reverse("clinical:evolution", args=[evolution.pk + 99])).status_code == 404
    assert not RecordAccess.objects.exists()


def test_a_patient_s_try_at_another_record_is_not_put_in_that_patient_s_log(
    client, other_patient, evolution
):
    # The log names who tried; it must not tell one patient about another.
    response = login(client, other_patient).get(reverse("clinical:evolution", args=[evolution.pk]))

    assert response.status_code == 404
    assert not RecordAccess.objects.exists()


def test_reads_that_succeed_are_not_marked_refused(client, doctor, patient):
    login(client, doctor).get(reverse("clinical:chart", args=[patient.pk]))

    assert RecordAccess.objects.get().refused is False


def test_the_staff_log_shows_refused_tries_apart_and_the_patient_s_page_does_not(
    client, doctor, other_doctor, patient, admin_user
):
    login(client, other_doctor).get(reverse("clinical:chart", args=[patient.pk]))
    login(client, doctor).get(reverse("clinical:chart", args=[patient.pk]))
    log_url = reverse("clinical:access_log", args=[patient.pk])

    for viewer in (doctor, admin_user):
        html = login(client, viewer).get(log_url).content.decode()
        assert html.count("access-refused") == 1, viewer
        assert "Refused: not opened" in html
        assert other_doctor.display_name in html

    own = text_of(login(client, patient).get(reverse("clinical:my_access_log")))
    assert other_doctor.display_name not in own
    assert doctor.display_name in own
    export = login(client, patient).get(reverse("clinical:my_record_export")).json()
    assert [a["opened_by"] for a in export["record_accesses"]] == [doctor.display_name]


# --- An evolution is written once ------------------------------------------------------


def test_two_tabs_of_the_form_sending_the_same_text_write_one_evolution(client, doctor, patient):
    client = login(client, doctor)
    url = reverse("clinical:evolution_create", args=[patient.pk])
    first_tab = client.get(url).context["form"].initial["token"]
    second_tab = client.get(url).context["form"].initial["token"]
    assert first_tab != second_tab

    client.post(url, form_data(notes="Uma só vez", token=str(first_tab)))
    again = client.post(url, form_data(notes="Uma só vez", token=str(second_tab)), follow=True)

    evolution = Evolution.objects.get(patient=patient)
    assert again.redirect_chain[-1][0].endswith(f"#evolution-{evolution.pk}")
    assert "it was not written twice" in text_of(again)
    different = client.post(url, form_data(notes="Outro texto", token=str(second_tab)))
    assert different.status_code == 302
    assert Evolution.objects.filter(patient=patient).count() == 2


def test_the_call_panel_answers_200_for_an_evolution_already_saved(client, doctor, room):
    import uuid

    client = login(client, doctor)
    url = reverse("clinical:call_evolution", args=[room.code])

    first = client.post(url, form_data(notes="Na chamada", token=str(uuid.uuid4())))
    again = client.post(url, form_data(notes="Na chamada", token=str(uuid.uuid4())))

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert "not written twice" in again.json()["message"]
    assert Evolution.objects.filter(room=room).count() == 1


def test_billable_means_registered_for_billing_not_merely_started(
    client, doctor, consented_patient, admin_user
):
    """A call shorter than the clinic's minimum starts but is not billed; a voided
    record no longer counts. The badges must say what billing did."""
    from billing.tests.factories import BillingRecordFactory, EndedRoomFactory

    patient = consented_patient
    EndedRoomFactory(doctor=doctor, patient=patient, both_present_seconds=20)  # too short
    BillingRecordFactory(room__doctor=doctor, room__patient=patient)
    voided = BillingRecordFactory(room__doctor=doctor, room__patient=patient)
    type(voided).objects.filter(pk=voided.pk).update(
        voided_at=timezone.now(), voided_by=admin_user, void_reason="Falha técnica."
    )

    chart = text_of(login(client, doctor).get(reverse("clinical:chart", args=[patient.pk])))
    assert chart.count('badge-soft-success">Billable<') == 1
    assert chart.count('badge-soft-secondary">Not billable<') == 2
    detail = text_of(client.get(reverse("accounts:patient_detail", args=[patient.pk])))
    cells = re.findall(r'data-label="Billable">([^<]*)<', detail)
    assert sorted(cells) == ["No", "No", "Yes"], cells

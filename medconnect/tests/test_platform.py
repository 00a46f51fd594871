"""The project itself: health probe, error pages, formats, commands, settings."""

import ast
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.models import DoctorProfile, PatientProfile, Role, User
from medconnect.management.commands import seed_demo
from medconnect.templatetags.money import brl
from medconnect.views import error_500

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def database_down():
    """Every query fails, as if the database server had gone away.

    Undone before the test ends, so pytest-django can still roll back.
    """

    def cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(connection, "cursor", cursor)
        yield


# --- /healthz -----------------------------------------------------------------------


def test_health_answers_ok_without_login_and_asks_the_database(
    client, db, django_assert_num_queries
):
    with django_assert_num_queries(1):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_health_answers_503_when_the_database_fails(client, db):
    with database_down():
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}


# --- Error pages ----------------------------------------------------------------------


def _friendly(response, status, portuguese, english):
    html = response.content.decode()
    assert response.status_code == status
    assert 'lang="pt-br"' in html
    assert portuguese in html
    assert english not in html
    assert 'class="mc-footer' in html


def test_a_missing_page_gets_the_friendly_404(client, db):
    response = client.get("/no-such-page/")
    _friendly(response, 404, "Não encontramos esta página", "We could not find this page")


def test_a_missing_page_gets_the_friendly_404_when_signed_in(client, doctor):
    client.force_login(doctor)
    response = client.get("/no-such-page/")
    _friendly(response, 404, "Não encontramos esta página", "We could not find this page")


def test_a_patient_on_a_staff_page_gets_the_friendly_403(client, patient):
    client.force_login(patient)
    response = client.get("/people/doctors/")
    _friendly(response, 403, "Esta página não é para a sua conta", "This page is not for your")


def test_the_500_page_renders_without_the_database(db, django_assert_num_queries):
    request = RequestFactory().get("/")

    with django_assert_num_queries(0):
        response = error_500(request)

    _friendly(response, 500, "Algo deu errado do nosso lado", "Something went wrong")


def test_a_crash_gets_the_friendly_500_page(doctor):
    browser = Client(raise_request_exception=False)
    browser.force_login(doctor)

    with database_down():
        response = browser.get("/")

    _friendly(response, 500, "Algo deu errado do nosso lado", "Something went wrong")


# --- Money and dates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("1234.56"), "R$\xa01.234,56"),
        (Decimal("0"), "R$\xa00,00"),
        (0, "R$\xa00,00"),
        (Decimal("150.00"), "R$\xa0150,00"),
        (Decimal("999.99"), "R$\xa0999,99"),
        (Decimal("1000"), "R$\xa01.000,00"),
        (Decimal("-1234.5"), "-R$\xa01.234,50"),
        (Decimal("-0.01"), "-R$\xa00,01"),
        (Decimal("0.005"), "R$\xa00,01"),
        (Decimal("0.004"), "R$\xa00,00"),
        (Decimal("2.675"), "R$\xa02,68"),
        (Decimal("-2.675"), "-R$\xa02,68"),
        (Decimal("999.995"), "R$\xa01.000,00"),
        (Decimal("-0.004"), "R$\xa00,00"),
        (Decimal("1000000"), "R$\xa01.000.000,00"),
        (Decimal("1234567.891"), "R$\xa01.234.567,89"),
        (None, ""),
    ],
)
def test_brl_formats_brazilian_reais(amount, expected):
    assert brl(amount) == expected


def test_brl_is_a_template_filter():
    html = Template("{% load money %}{{ fee|brl }}").render(Context({"fee": Decimal("1234.56")}))
    assert html == "R$\xa01.234,56"


def test_dates_render_in_portuguese_and_in_the_clinic_time_zone():
    # 02:30 UTC on 1 November is still 31 October in São Paulo (UTC-3).
    moment = dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC)
    template = Template(
        '{{ moment|date:"SHORT_DATETIME_FORMAT" }}|{{ moment|date:"DATETIME_FORMAT" }}'
    )

    short, long = template.render(Context({"moment": moment})).split("|")

    assert short == "31/10/2026 23:30"
    assert long == "31 de Outubro de 2026 às 23:30"  # Django's pt_BR capitalises months


def test_numbers_render_with_brazilian_separators():
    html = Template("{{ n }}").render(Context({"n": Decimal("1234567.5")}))
    assert html == "1.234.567,5"


# --- Management commands -------------------------------------------------------------------


def _snapshot():
    return (
        sorted(User.objects.values_list("email", "role", "password")),
        sorted(DoctorProfile.objects.values_list("user__email", "pix_key", "pix_key_type")),
        sorted(PatientProfile.objects.values_list("user__email", "doctor__email")),
    )


def _seed(*args):
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_demo_clinic_and_prints_the_logins(db):
    output = _seed()

    assert User.objects.filter(role=Role.ADMIN).count() == 1
    doctors = User.objects.filter(role=Role.DOCTOR)
    assert doctors.count() == 3
    for doctor in doctors.select_related("doctor_profile"):
        assert doctor.doctor_profile.pix_key
        assert doctor.doctor_profile.pix_key_type
        assert doctor.check_password(seed_demo.DEMO_PASSWORD)
    assert User.objects.filter(role=Role.PATIENT).count() == 12
    assert PatientProfile.objects.filter(doctor__in=doctors).count() == 12
    assert seed_demo.DEMO_PASSWORD in output
    assert seed_demo.ADMIN["email"] in output
    for data in seed_demo.DOCTORS:
        assert data["email"] in output
    admin = User.objects.get(role=Role.ADMIN)
    assert admin.is_staff
    assert admin.check_password(seed_demo.DEMO_PASSWORD)


def test_seed_demo_refuses_to_run_twice(db):
    _seed()
    before = _snapshot()

    with pytest.raises(CommandError) as refused:
        _seed()

    assert _snapshot() == before
    # It says what works today, not a command that does not exist.
    message = str(refused.value)
    assert "--force" in message
    assert "reset_database" not in message
    assert "run `make run` again" in message


def test_seed_demo_if_empty_leaves_a_used_database_alone(db):
    _seed()
    before = _snapshot()

    _seed("--if-empty")

    assert _snapshot() == before


def test_seed_demo_if_empty_does_not_seed_over_other_users(admin_user):
    before = _snapshot()

    _seed("--if-empty")

    assert _snapshot() == before


def test_seed_demo_if_empty_seeds_an_empty_database(db):
    _seed("--if-empty")
    assert User.objects.count() == 16


def test_seed_demo_force_adds_the_clinic_beside_other_users(admin_user):
    with pytest.raises(CommandError):
        _seed()

    _seed("--force")

    assert User.objects.count() == 1 + 16
    assert User.objects.filter(role=Role.DOCTOR).count() == 3
    assert User.objects.filter(pk=admin_user.pk).exists()


def test_createsuperuser_makes_a_clinic_administrator(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Uma-senha-bem-longa-7")

    call_command(
        "createsuperuser",
        interactive=False,
        email="Chefe@Clinica.example.com",
        first_name="Helena",
        last_name="Martins",
        stdout=StringIO(),
    )

    user = User.objects.get()
    assert user.email == "chefe@clinica.example.com"
    assert user.role == Role.ADMIN
    assert user.is_staff
    assert user.is_active
    assert user.check_password("Uma-senha-bem-longa-7")


# --- Settings --------------------------------------------------------------------------------


def test_sqlite_is_tuned_for_concurrent_use(db):
    options = connection.settings_dict["OPTIONS"]
    if connection.vendor != "sqlite":
        pytest.skip("SQLite settings: the tests run on another database")
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] >= 5
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == options["timeout"] * 1000


def test_postgresql_connections_are_health_checked(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL settings: the tests run on SQLite")
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


@pytest.fixture
def settings_only(tmp_path):
    """The settings module alone, copied, so that a developer's own `.env` is not read."""
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "management", "templatetags")
    shutil.copytree(ROOT / "medconnect", copy / "medconnect", ignore=ignore)
    return copy


def _print_settings(project, expression, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DEBUG", "DATABASE_URL")}
    clean.update(DJANGO_SETTINGS_MODULE="medconnect.settings", **env)
    code = f"import json; from django.conf import settings as s; print(json.dumps({expression}))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _channel_backend(project, **env):
    return _print_settings(
        project,
        "s.CHANNEL_LAYERS['default']",
        DATA_DIR=str(project / "data"),
        SECRET_KEY="x" * 50,
        **env,
    )


def test_channel_layer_uses_redis_when_redis_url_is_set(settings_only):
    layer = _channel_backend(settings_only, REDIS_URL="redis://127.0.0.1:6379/0")
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert layer["CONFIG"]["hosts"] == ["redis://127.0.0.1:6379/0"]


def test_channel_layer_is_in_memory_without_redis(settings_only):
    layer = _channel_backend(settings_only)
    assert layer["BACKEND"] == "channels.layers.InMemoryChannelLayer"


def _env_names_read_by_settings() -> set[str]:
    """Every NAME in env("NAME"), env.<type>("NAME"), os.environ.get / os.getenv("NAME")."""
    tree = ast.parse((ROOT / "medconnect" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        func = ast.unparse(node.func)
        if (
            func == "env"
            or (func.startswith("env.") and not func.endswith("_config"))
            or func in ("os.environ.get", "os.getenv")
        ):
            names.add(first.value)
    return names


def test_env_example_documents_every_variable_the_settings_read():
    names = _env_names_read_by_settings()
    # The parser must see the settings' variables, or this test would pass on nothing.
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AXES_COOLOFF_HOURS"} <= names

    example = (ROOT / ".env.example").read_text()
    missing = sorted(
        name for name in names if not re.search(rf"^(# ?)?{name}=", example, re.MULTILINE)
    )
    assert not missing, f".env.example does not document: {missing}"


def test_env_example_copied_to_dot_env_gives_working_settings(settings_only):
    # .env.example says "Copy to `.env`"; doing just that must give the defaults.
    shutil.copy2(ROOT / ".env.example", settings_only / ".env")
    # Only what the .env says counts: the test process's own variables are dropped.
    names = _env_names_read_by_settings()
    clean = {k: v for k, v in os.environ.items() if k not in names}
    code = (
        "import json; from django.conf import settings as s; print(json.dumps(["
        "s.DATABASES['default']['ENGINE'], str(s.DATABASES['default']['NAME']),"
        "str(s.PRIVATE_MEDIA_ROOT), str(s.DATA_DIR)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings_only,
        env={**clean, "DJANGO_SETTINGS_MODULE": "medconnect.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    engine, name, private, data = json.loads(result.stdout)
    assert engine == "django.db.backends.sqlite3"
    assert name == str(Path(data) / "medconnect.sqlite3")
    assert private == str(Path(data) / "private")


@pytest.mark.django_db
def test_seed_demo_opens_a_room_ready_for_a_call():
    from io import StringIO

    from rooms.models import Room, TelemedicineConsent

    out = StringIO()
    call_command("seed_demo", stdout=out)
    room = Room.objects.get(status="open")
    assert (room.doctor.email, room.patient.email) == (
        "ana.souza@medconnect.local",
        "carlos.pereira@example.com",
    )
    assert TelemedicineConsent.objects.filter(patient=room.patient).exists()
    assert f"/r/{room.code}/" in out.getvalue()


@pytest.mark.django_db
def test_seed_demo_gives_the_charts_some_history():
    from clinical.models import Evolution
    from rooms.models import Room

    call_command("seed_demo", stdout=StringIO())
    finished = Room.objects.filter(status="ended")
    assert all(room.ended_at < timezone.now() for room in finished)
    carlos = Evolution.objects.filter(patient__email="carlos.pereira@example.com")
    assert carlos.count() == 2
    assert all(e.room.status == "ended" and e.created_at == e.room.ended_at for e in carlos)
    amended = carlos.get(revision=2)
    assert [r.number for r in amended.revisions.order_by("number")] == [1, 2]
    assert "4 vezes" in amended.revisions.get(number=1).prescription
    assert "3 vezes" in amended.prescription


@pytest.mark.django_db
def test_seed_demo_bills_six_months_with_a_no_show_a_voided_record_and_an_own_fee():
    from billing.models import BillingRecord
    from billing.selectors import totals_by_month
    from rooms.models import Room

    call_command("seed_demo", stdout=StringIO())
    records = BillingRecord.objects.select_related("room", "doctor")
    months = [row["month"] for row in totals_by_month(records)]
    assert len(months) >= 6
    held = Room.objects.filter(status="ended", call_started_at__isnull=False)
    # Every consultation held was registered by the real receiver, dated with its room.
    assert records.count() == held.count()
    assert all(r.ended_at == r.room.ended_at and r.seconds_together > 0 for r in records)
    assert records.exclude(voided_at=None).count() == 1
    assert records.exclude(voided_at=None).get().void_reason
    no_shows = Room.objects.filter(status="ended", call_started_at=None)
    assert no_shows.count() == 1 and not records.filter(room__in=no_shows).exists()
    ricardo = records.filter(doctor__email="ricardo.alves@medconnect.local")
    assert ricardo.exists() and {r.gross for r in ricardo} == {Decimal("220.00")}
    others = records.exclude(doctor__email="ricardo.alves@medconnect.local")
    assert {r.gross for r in others} == {Decimal("150.00")}
    assert all(r.platform_amount + r.doctor_amount == r.gross for r in records)


def test_the_repository_stands_alone_its_docs_link_only_to_its_own_files():
    root = Path(__file__).resolve().parents[2]
    documents = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    assert {"ARCHITECTURE.md", "signaling-protocol.md"} <= {doc.name for doc in documents}
    for document in documents:
        text = document.read_text()
        assert "../shared" not in text and "shared/docs" not in text, document.name
        for target in re.findall(r"\]\(([^)#\s]+)\)", text):
            if "://" not in target:
                assert (document.parent / target).exists(), f"{document.name} links {target}"

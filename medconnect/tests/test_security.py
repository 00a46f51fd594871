"""Security settings and behaviour: hashing, login throttling, CSRF, headers, deployment."""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.tests.factories import PASSWORD, DoctorFactory
from medconnect import settings as project_settings

ROOT = Path(__file__).resolve().parents[2]
LOGIN_URL = "/accounts/login/"
IP_A = "198.51.100.7"
IP_B = "203.0.113.9"
SOURCES = ["accounts", "rooms", "clinical", "billing", "closings", "medconnect", "templates"]

# Variables the settings read; subprocesses start without any of them so that
# only what a test passes counts (pytest-env sets some for the test process).
SETTINGS_ENV = (
    "DEBUG",
    "HTTPS",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "BEHIND_PROXY",
    "REDIS_URL",
    "DATABASE_URL",
    "DATA_DIR",
    "STATIC_MANIFEST",
    "EMAIL_URL",
)


# --- Passwords ------------------------------------------------------------------


def test_argon2_is_the_first_password_hasher():
    assert project_settings.PASSWORD_HASHERS[0] == (
        "django.contrib.auth.hashers.Argon2PasswordHasher"
    )


def test_a_new_password_is_hashed_with_argon2(db, settings):
    # The autouse fixture swaps in MD5 for speed; put the project's list back.
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    user = DoctorFactory(password="Uma-senha-bem-longa-7")
    user.refresh_from_db()
    assert user.password.startswith("argon2$")
    assert user.check_password("Uma-senha-bem-longa-7")


def test_django_password_validators_are_all_configured():
    names = {v["NAME"].rsplit(".", 1)[1] for v in project_settings.AUTH_PASSWORD_VALIDATORS}
    assert names >= {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }


@pytest.mark.parametrize(
    ("weak", "code"),
    [
        ("12345678", "password_entirely_numeric"),
        ("senha", "password_too_short"),
        ("password123", "password_too_common"),
        ("souza.ana", "password_too_similar"),
    ],
)
def test_the_password_change_page_refuses_a_weak_password(client, db, weak, code):
    doctor = DoctorFactory(first_name="Ana", last_name="Souza", email="souza.ana@example.com")
    client.force_login(doctor)
    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()["new_password2"]
    assert code in {error.code for error in errors}
    doctor.refresh_from_db()
    assert doctor.check_password(PASSWORD)


# --- Login throttling (django-axes) ------------------------------------------------


def _login(username, password, ip):
    """A login attempt from a fresh browser; returns (response, signed-in user id)."""
    browser = Client()
    response = browser.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=ip)
    return response, browser.session.get("_auth_user_id")


def _fail_until_locked(username, ip):
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        _login(username, "wrong-password", ip)


def test_a_successful_login_redirects_and_signs_in(doctor):
    response, user_id = _login(doctor.email, PASSWORD, IP_A)
    assert response.status_code == 302
    assert user_id == str(doctor.pk)


def test_failures_below_the_limit_do_not_lock(doctor):
    for _ in range(django_settings.AXES_FAILURE_LIMIT - 1):
        response, _user_id = _login(doctor.email, "wrong-password", IP_A)
        assert response.status_code == 200
    response, user_id = _login(doctor.email, PASSWORD, IP_A)
    assert response.status_code == 302
    assert user_id == str(doctor.pk)


def test_the_locked_pair_gets_the_lockout_page_even_with_the_right_password(doctor):
    _fail_until_locked(doctor.email, IP_A)

    response, user_id = _login(doctor.email, PASSWORD, IP_A)

    assert response.status_code == 429
    assert user_id is None
    assert "registration/lockout.html" in [t.name for t in response.templates]


def test_the_lockout_page_is_in_portuguese(doctor):
    _fail_until_locked(doctor.email, IP_A)

    response, _user_id = _login(doctor.email, PASSWORD, IP_A)

    html = response.content.decode()
    assert 'lang="pt-br"' in html
    assert "Muitas tentativas" in html
    assert "Too many attempts" not in html


def test_the_lock_counts_the_email_whatever_its_case(doctor):
    for attempt in range(django_settings.AXES_FAILURE_LIMIT):
        email = doctor.email.upper() if attempt % 2 else doctor.email
        _login(email, "wrong-password", IP_A)

    response, _user_id = _login(doctor.email, PASSWORD, IP_A)
    assert response.status_code == 429


def test_a_lock_from_one_address_does_not_lock_the_user_elsewhere(doctor):
    _fail_until_locked(doctor.email, IP_A)

    response, user_id = _login(doctor.email, PASSWORD, IP_B)

    assert response.status_code == 302
    assert user_id == str(doctor.pk)


def test_a_lock_on_one_user_does_not_lock_the_address_for_others(doctor, other_doctor):
    _fail_until_locked(doctor.email, IP_A)

    response, user_id = _login(other_doctor.email, PASSWORD, IP_A)

    assert response.status_code == 302
    assert user_id == str(other_doctor.pk)
    # Those successes reset nothing of the locked pair.
    response, _user_id = _login(doctor.email, PASSWORD, IP_A)
    assert response.status_code == 429


def test_the_email_is_matched_case_insensitively_at_login(db):
    ana = DoctorFactory(email="ana@example.com")

    response, user_id = _login("ANA@Example.com", PASSWORD, IP_A)

    assert response.status_code == 302
    assert user_id == str(ana.pk)


def test_a_wrong_password_does_not_sign_in(doctor):
    response, user_id = _login(doctor.email, "wrong-password", IP_A)
    assert response.status_code == 200
    assert user_id is None


# --- Logout ----------------------------------------------------------------------


def test_logout_refuses_get(client, doctor):
    client.force_login(doctor)

    response = client.get("/accounts/logout/")

    assert response.status_code == 405
    assert client.session.get("_auth_user_id") == str(doctor.pk)


def test_logout_by_post_signs_out(client, doctor):
    client.force_login(doctor)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/"
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


# --- CSRF ------------------------------------------------------------------------


def _csrf_page_in_portuguese(response):
    return response.status_code == 403 and "Esta página expirou" in response.content.decode()


def test_login_without_a_csrf_token_is_refused(doctor):
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(LOGIN_URL, {"username": doctor.email, "password": PASSWORD})

    assert _csrf_page_in_portuguese(response)
    assert "_auth_user_id" not in browser.session


def test_profile_change_without_a_csrf_token_is_refused(doctor):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(doctor)
    data = {"form": "details", "details-first_name": "Mudado", "details-last_name": "Souza"}

    response = browser.post("/profile/", data)

    assert _csrf_page_in_portuguese(response)
    doctor.refresh_from_db()
    assert doctor.first_name == "Ana"


def test_profile_change_with_csrf_checks_off_goes_through(client, doctor):
    # The control for the test above: the same request is otherwise accepted.
    client.force_login(doctor)
    data = {"form": "details", "details-first_name": "Mudado", "details-last_name": "Souza"}

    response = client.post("/profile/", data)

    assert response.status_code == 302
    doctor.refresh_from_db()
    assert doctor.first_name == "Mudado"


def test_deactivation_without_a_csrf_token_is_refused(admin_user, doctor):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)

    response = browser.post(f"/people/{doctor.pk}/deactivate/")

    assert _csrf_page_in_portuguese(response)
    doctor.refresh_from_db()
    assert doctor.is_active


def test_deactivation_with_csrf_checks_off_goes_through(client, admin_user, doctor):
    client.force_login(admin_user)

    response = client.post(f"/people/{doctor.pk}/deactivate/")

    assert response.status_code == 302
    doctor.refresh_from_db()
    assert not doctor.is_active


# --- Response headers and templates ------------------------------------------------------


def _csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        if words := part.split():
            directives[words[0].lower()] = words[1:]
    return directives


def test_pages_send_a_strict_content_security_policy(client, db):
    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    header = response.headers["Content-Security-Policy"]
    directives = _csp_directives(header)
    assert "'unsafe-inline'" not in header
    assert "'unsafe-eval'" not in header
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_pages_send_the_security_headers(client, doctor):
    client.force_login(doctor)

    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


TEMPLATE_FILES = sorted((ROOT / "templates").rglob("*.html"))
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)


def test_the_template_scan_sees_the_templates():
    names = {path.relative_to(ROOT / "templates").as_posix() for path in TEMPLATE_FILES}
    assert {"base.html", "admin/base_site.html", "registration/login.html"} <= names


@pytest.mark.parametrize(
    "path", TEMPLATE_FILES, ids=[str(p.relative_to(ROOT / "templates")) for p in TEMPLATE_FILES]
)
def test_templates_have_nothing_inline_that_the_csp_blocks(path):
    source = path.read_text()
    inline_scripts = [
        match.group(0) for match in SCRIPT_TAG.finditer(source) if "src=" not in match.group(1)
    ]
    assert not inline_scripts, f"inline <script> in {path.name}: {inline_scripts}"
    assert not STYLE_ATTRIBUTE.search(source), f"style= attribute in {path.name}"
    assert not STYLE_ELEMENT.search(source), f"<style> element in {path.name}"
    assert not EVENT_HANDLER.search(source), f"inline event handler (on...=) in {path.name}"


# --- Deployment settings (in a fresh process, from the environment) -------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project's code, so that a developer's own `.env` cannot decide the outcome."""
    copy = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")
    for name in SOURCES:
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    shutil.copy2(ROOT / "manage.py", copy / "manage.py")
    (copy / "static").mkdir()  # STATICFILES_DIRS must exist, or the check warns
    return copy


def _run(project, args, tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    clean.update({"DJANGO_SETTINGS_MODULE": "medconnect.settings", "DATA_DIR": str(tmp_path)})
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=project, env=clean, capture_output=True, text=True, timeout=60
    )


def _production_env(https: str) -> dict[str, str]:
    return {
        "DEBUG": "false",
        "HTTPS": https,
        "SECRET_KEY": secrets.token_urlsafe(50)[:50],
        "ALLOWED_HOSTS": "clinic.example.com",
    }


DEPLOY_CHECK = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]


def test_the_deploy_check_passes_with_production_values(project, tmp_path):
    result = _run(project, DEPLOY_CHECK, tmp_path, **_production_env("true"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deploy_check_fails_without_https(project, tmp_path):
    result = _run(project, DEPLOY_CHECK, tmp_path, **_production_env("false"))
    assert result.returncode != 0
    assert "security.W012" in result.stderr  # SESSION_COOKIE_SECURE


PRINT_SETTINGS = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'DEBUG': s.DEBUG, 'SESSION_COOKIE_SECURE': s.SESSION_COOKIE_SECURE,"
    "'CSRF_COOKIE_SECURE': s.CSRF_COOKIE_SECURE, 'HSTS': s.SECURE_HSTS_SECONDS,"
    "'SSL_REDIRECT': s.SECURE_SSL_REDIRECT}))"
)


def _settings_with(project, tmp_path, **env) -> dict:
    result = _run(project, ["-c", PRINT_SETTINGS], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_https_turns_on_secure_cookies_and_hsts(project, tmp_path):
    values = _settings_with(project, tmp_path, **_production_env("true"))

    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["HSTS"] > 0
    assert values["SSL_REDIRECT"] is True


def test_debug_is_off_when_the_environment_does_not_set_it(project, tmp_path):
    values = _settings_with(project, tmp_path, SECRET_KEY="x" * 50)

    assert values["DEBUG"] is False
    # ... and with DEBUG off, HTTPS and its protections are on by default.
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["HSTS"] > 0


# --- Password spraying -------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["MedConnect2026", "medconnect!", "2026@MedConnect", "Med.Connect#26", "M3dC0nn3ct2026"],
)
def test_a_password_built_on_the_product_name_is_refused(client, doctor, password):
    client.force_login(doctor)

    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": password, "new_password2": password},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()["new_password2"]
    assert "password_contains_site_name" in {error.code for error in errors}
    assert "não pode conter o nome da clínica" in response.content.decode()
    doctor.refresh_from_db()
    assert doctor.check_password(PASSWORD)


@pytest.mark.parametrize("password", ["SaoLucas2026", "clinica-sao-lucas!", "5a0Luca5#1"])
def test_a_password_built_on_the_clinic_name_is_refused(settings, password):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    settings.CLINIC_NAME = "Clínica São Lucas"

    with pytest.raises(ValidationError) as refused:
        validate_password(password)

    assert "password_contains_site_name" in {e.code for e in refused.value.error_list}


@pytest.mark.parametrize(
    "password", ["Lucas.Ferreira.1987", "Clinica-do-bairro-77", "Conectado#2026"]
)
def test_passwords_that_only_share_a_word_with_the_clinic_are_accepted(settings, password):
    from django.contrib.auth.password_validation import validate_password

    settings.CLINIC_NAME = "Clínica São Lucas"

    validate_password(password)  # no ValidationError


def test_the_password_rules_shown_mention_the_clinic_name(client, doctor):
    client.force_login(doctor)

    html = client.get("/accounts/password/change/").content.decode()

    assert "Sua senha não pode conter o nome da clínica nem do MedConnect." in html


SPRAYED = "Clinica2026"  # one guess, tried on every account


def _spray(accounts, ip):
    return [_login(account.email, SPRAYED, ip)[0].status_code for account in accounts]


def test_one_address_trying_one_password_on_30_accounts_is_locked(db):
    accounts = DoctorFactory.create_batch(30)
    limit = django_settings.AXES_IP_FAILURE_LIMIT

    statuses = _spray(accounts, IP_A)

    # A plain "wrong password" until the limit-th failure, which locks the address.
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert statuses[limit - 1 :] == [429] * (30 - limit + 1)
    # ... and now even the right password of a fresh account is refused from there,
    response, user_id = _login(accounts[-1].email, PASSWORD, IP_A)
    assert response.status_code == 429
    assert user_id is None
    assert "Muitas tentativas" in response.content.decode()


def test_a_spray_from_one_address_does_not_lock_the_accounts_elsewhere(db):
    accounts = DoctorFactory.create_batch(django_settings.AXES_IP_FAILURE_LIMIT)
    _spray(accounts, IP_A)

    response, user_id = _login(accounts[0].email, PASSWORD, IP_B)

    assert response.status_code == 302
    assert user_id == str(accounts[0].pk)


def test_failures_below_the_address_limit_leave_other_accounts_free(db):
    accounts = DoctorFactory.create_batch(django_settings.AXES_IP_FAILURE_LIMIT)
    _spray(accounts[:-1], IP_A)  # one short of the limit

    response, user_id = _login(accounts[-1].email, PASSWORD, IP_A)

    assert response.status_code == 302
    assert user_id == str(accounts[-1].pk)


def test_the_address_limit_is_well_above_the_per_account_limit():
    assert project_settings.AXES_IP_FAILURE_LIMIT == 20
    assert project_settings.AXES_IP_FAILURE_LIMIT > 2 * project_settings.AXES_FAILURE_LIMIT


# --- Photo uploads: how many, and how much memory ------------------------------------------


def _photo_post(client, data: bytes, name="foto.jpg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, data, content_type="image/jpeg")
    return client.post("/profile/", {"form": "photo", "photo-photo": upload})


def _small_jpeg(color=(200, 30, 30)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buffer, "JPEG")
    return buffer.getvalue()


def test_the_eleventh_photo_in_ten_minutes_gets_a_429_page_in_portuguese(client, doctor):
    client.force_login(doctor)
    limit = django_settings.PHOTO_UPLOAD_LIMIT
    for _ in range(limit):
        assert _photo_post(client, _small_jpeg()).status_code == 302
    doctor.refresh_from_db()
    kept = doctor.photo.name

    response = _photo_post(client, _small_jpeg((30, 30, 200)))

    assert response.status_code == 429
    assert response["Retry-After"] == str(django_settings.PHOTO_UPLOAD_WINDOW_MINUTES * 60)
    html = response.content.decode()
    assert "Muitas fotos" in html
    assert f"Você enviou {limit} fotos em pouco tempo" in html
    doctor.refresh_from_db()
    assert doctor.photo.name == kept


def test_the_upload_limit_counts_each_person_apart(client, doctor, other_doctor):
    client.force_login(doctor)
    for _ in range(django_settings.PHOTO_UPLOAD_LIMIT + 1):
        _photo_post(client, _small_jpeg())

    client.force_login(other_doctor)
    assert _photo_post(client, _small_jpeg()).status_code == 302


def test_other_profile_forms_are_not_counted_as_uploads(client, doctor):
    client.force_login(doctor)
    for _ in range(django_settings.PHOTO_UPLOAD_LIMIT + 1):
        _photo_post(client, _small_jpeg())

    data = {"form": "details", "details-first_name": "Ana", "details-last_name": "Lima"}
    assert client.post("/profile/", data).status_code == 302


def test_an_upload_past_one_megabyte_waits_on_disk_not_in_memory(rf):
    from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

    request = rf.post(
        "/profile/",
        {"photo-photo": SimpleUploadedFile("big.jpg", b"\xff" * (2 * 1024 * 1024))},
    )

    assert isinstance(request.FILES["photo-photo"], TemporaryUploadedFile)


MEASURE_PHOTO = """
import resource, sys
import django; django.setup()
from django.core.files.uploadedfile import TemporaryUploadedFile
from accounts.photos import process_photo
data = open(sys.argv[1], "rb").read()
upload = TemporaryUploadedFile("p.jpg", "image/jpeg", len(data), None)
upload.write(data)
del data
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
process_photo(upload)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_checking_a_near_limit_photo_keeps_memory_small(tmp_path):
    from PIL import Image

    # 39 megapixels, just under PHOTO_MAX_PIXELS and within 5 MB: decoded whole
    # it would take about 600 MB of the server's memory (measured).
    path = tmp_path / "big.jpg"
    Image.new("RGB", (7200, 5400), (200, 120, 40)).save(path, "JPEG", quality=90)
    assert path.stat().st_size <= django_settings.PHOTO_MAX_BYTES

    result = subprocess.run(
        [sys.executable, "-c", MEASURE_PHOTO, str(path)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "medconnect.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    grown_mb = int(result.stdout.split()[-1])
    assert grown_mb < 50, f"peak memory grew {grown_mb} MB"

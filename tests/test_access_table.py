"""Every URL of the project × every role, with the status each must get.

The table is the access policy in one place. A URL added to the project but
not to this table fails `test_every_url_is_in_the_table`, so nobody ships a
page without deciding who may open it.
"""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from PIL import Image

from accounts import services

ROLES = ("anonymous", "patient", "doctor", "other_doctor", "admin")

# name: (method, kwargs (names of objects), {role: status})
_LOGIN = 302  # anonymous users are sent to the login page
TABLE = {
    "dashboard": ("get", {}, dict(anonymous=_LOGIN, patient=200, doctor=200, other_doctor=200, admin=200)),
    "healthz": ("get", {}, dict(anonymous=200, patient=200, doctor=200, other_doctor=200, admin=200)),
    "login": ("get", {}, dict(anonymous=200, patient=302, doctor=302, other_doctor=302, admin=302)),
    "logout": ("post", {}, dict(anonymous=302, patient=302, doctor=302, other_doctor=302, admin=302)),
    "password_change": ("get", {}, dict(anonymous=_LOGIN, patient=200, doctor=200, other_doctor=200, admin=200)),
    "password_change_done": ("get", {}, dict(anonymous=_LOGIN, patient=200, doctor=200, other_doctor=200, admin=200)),
    "password_reset": ("get", {}, dict(anonymous=200, patient=200, doctor=200, other_doctor=200, admin=200)),
    "password_reset_done": ("get", {}, dict(anonymous=200, patient=200, doctor=200, other_doctor=200, admin=200)),
    "password_reset_confirm": ("get", {"uidb64": "MQ", "token": "bad-token"}, dict(anonymous=200, patient=200, doctor=200, other_doctor=200, admin=200)),
    "password_reset_complete": ("get", {}, dict(anonymous=200, patient=200, doctor=200, other_doctor=200, admin=200)),
    "accounts:invitation_accept": ("get", {"uidb64": "MQ", "token": "bad-token"}, dict(anonymous=200, patient=200, doctor=200, other_doctor=200, admin=200)),
    "accounts:profile": ("get", {}, dict(anonymous=_LOGIN, patient=200, doctor=200, other_doctor=200, admin=200)),
    "accounts:doctor_list": ("get", {}, dict(anonymous=_LOGIN, patient=403, doctor=403, other_doctor=403, admin=200)),
    "accounts:doctor_create": ("get", {}, dict(anonymous=_LOGIN, patient=403, doctor=403, other_doctor=403, admin=200)),
    "accounts:doctor_detail": ("get", {"pk": "doctor"}, dict(anonymous=_LOGIN, patient=403, doctor=403, other_doctor=403, admin=200)),
    "accounts:doctor_update": ("get", {"pk": "doctor"}, dict(anonymous=_LOGIN, patient=403, doctor=403, other_doctor=403, admin=200)),
    "accounts:patient_list": ("get", {}, dict(anonymous=_LOGIN, patient=403, doctor=200, other_doctor=200, admin=200)),
    "accounts:patient_create": ("get", {}, dict(anonymous=_LOGIN, patient=403, doctor=200, other_doctor=200, admin=200)),
    "accounts:patient_detail": ("get", {"pk": "patient"}, dict(anonymous=_LOGIN, patient=403, doctor=200, other_doctor=404, admin=200)),
    "accounts:patient_update": ("get", {"pk": "patient"}, dict(anonymous=_LOGIN, patient=403, doctor=200, other_doctor=404, admin=200)),
    "accounts:patient_reassign": ("get", {"pk": "patient"}, dict(anonymous=_LOGIN, patient=403, doctor=403, other_doctor=403, admin=200)),
    "accounts:user_deactivate": ("post", {"pk": "patient"}, dict(anonymous=_LOGIN, patient=403, doctor=403, other_doctor=403, admin=302)),
    "accounts:user_reactivate": ("post", {"pk": "patient"}, dict(anonymous=_LOGIN, patient=403, doctor=403, other_doctor=403, admin=302)),
    "accounts:invitation": ("get", {"pk": "patient"}, dict(anonymous=_LOGIN, patient=403, doctor=200, other_doctor=404, admin=200)),
    "accounts:photo": ("get", {"pk": "patient"}, dict(anonymous=_LOGIN, patient=200, doctor=200, other_doctor=404, admin=200)),
    # The Django admin sends everyone but admins to its own login page.
    "admin:index": ("get", {}, dict(anonymous=302, patient=302, doctor=302, other_doctor=302, admin=200)),
}  # fmt: skip


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
def people(admin_user, doctor, other_doctor, patient):
    services.user_photo_set(user=patient, upload=_png())
    return {
        "admin": admin_user,
        "doctor": doctor,
        "other_doctor": other_doctor,
        "patient": patient,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(TABLE))
def test_access(client, people, name, role):
    method, kwargs, expected = TABLE[name]
    url = reverse(name, kwargs={k: people[v].pk if v in people else v for k, v in kwargs.items()})
    if role != "anonymous":
        client.force_login(people[role])
    response = getattr(client, method)(url)
    assert response.status_code == expected[role], f"{role} {method.upper()} {url}"
    if expected[role] == _LOGIN and role == "anonymous" and not name.startswith("admin:"):
        if name != "logout":
            assert response["Location"].startswith(reverse("login"))

"""The admins' reset page: the phrase and the password again, then the reset; and its link."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import PASSWORD
from medconnect.models import DatabaseReset

pytestmark = pytest.mark.django_db

URL = reverse("database_reset")
RIGHT = {"phrase": "APAGAR TUDO", "password": PASSWORD}


@pytest.fixture(autouse=True)
def folders(settings, tmp_path):
    settings.RESET_BACKUP_DIR = tmp_path / "backups"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings


@pytest.fixture
def admin(client, admin_user, patient):
    client.force_login(admin_user)
    return client


def test_the_page_says_what_goes_what_stays_and_what_to_type(admin, admin_user, folders):
    response = admin.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Zerar o banco de dados" in html
    assert "Digite APAGAR TUDO para confirmar" in html
    assert "1 médico" in html and "1 paciente" in html
    assert admin_user.display_name in html
    assert str(folders.RESET_BACKUP_DIR) in html
    assert 'autocomplete="current-password"' in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**RIGHT, "phrase": "APAGAR"}, "phrase", "O que você digitou não é APAGAR TUDO."),
        ({**RIGHT, "phrase": ""}, "phrase", "Este campo é obrigatório."),
        ({**RIGHT, "password": "errada"}, "password", "Essa não é a sua senha."),
    ],
    ids=["wrong-phrase", "no-phrase", "wrong-password"],
)
def test_a_wrong_phrase_or_password_is_told_on_its_field_and_nothing_goes(
    admin, folders, data, field, message
):
    response = admin.post(URL, data)

    assert response.status_code == 200
    assert response.context["form"].errors == {field: [message]}
    assert message in response.content.decode()
    assert User.objects.count() == 3 and not DatabaseReset.objects.exists()
    assert not folders.RESET_BACKUP_DIR.exists()


def test_the_phrase_and_password_reset_and_the_admin_stays_signed_in(admin, admin_user):
    response = admin.post(URL, RIGHT, follow=True)

    assert response.redirect_chain == [(reverse("dashboard"), 302)]
    log = DatabaseReset.objects.get()
    assert (log.by, log.source) == (admin_user, "page")
    assert "O banco de dados foi zerado" in response.content.decode()
    assert log.backup_path in response.content.decode()
    assert list(User.objects.all()) == [admin_user]
    assert admin.get(URL).status_code == 200


def test_a_failed_backup_is_shown_on_the_page_and_nothing_goes(admin, folders, tmp_path):
    folders.RESET_BACKUP_DIR = tmp_path / "a-file"
    folders.RESET_BACKUP_DIR.write_text("")

    response = admin.post(URL, RIGHT)

    assert response.status_code == 200
    assert "Não foi possível gravar o backup" in str(response.context["form"].non_field_errors())
    assert User.objects.count() == 3


def test_earlier_resets_are_listed(admin, admin_user):
    admin.post(URL, RIGHT)

    html = admin.get(URL).content.decode()

    done = DatabaseReset.objects.get()
    assert "Zeragens anteriores" in html and done.backup_path in html
    assert "Página para zerar o banco" in html


def test_the_form_needs_the_csrf_token(admin_user, patient):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)

    response = browser.post(URL, RIGHT)

    assert response.status_code == 403
    assert User.objects.count() == 3


@pytest.mark.parametrize("role", ["doctor", "patient"])
def test_nobody_else_can_post_it(client, role, admin_user, doctor, patient):
    person = {"doctor": doctor, "patient": patient}[role]
    client.force_login(person)

    response = client.post(URL, {**RIGHT})

    assert response.status_code == 403
    assert User.objects.count() == 3


def test_the_admin_dashboard_links_to_it_in_a_danger_zone(admin):
    html = admin.get(reverse("dashboard")).content.decode()

    assert "Zona de perigo" in html and f'href="{URL}"' in html


def test_turned_off_the_page_is_gone_and_the_dashboard_does_not_link_it(admin, folders):
    folders.ALLOW_DATABASE_RESET = False

    assert admin.get(URL).status_code == 404
    assert admin.post(URL, RIGHT).status_code == 404
    html = admin.get(reverse("dashboard")).content.decode()
    assert "Zona de perigo" not in html and URL not in html
    assert User.objects.count() == 3

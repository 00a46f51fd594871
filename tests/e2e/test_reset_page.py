"""The reset page in a real browser: from the dashboard's danger zone, a refusal, then the
reset itself, at phone and desktop widths, axe-clean, in Portuguese."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import PASSWORD
from medconnect.models import DatabaseReset
from medconnect.tests.reset_fixtures import clinic_with_everything

from ..conftest import DaphneServer
from .helpers import DESKTOP, Visit, check_page, shoot_both_widths

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Words of the English source that would show an untranslated string (none is Portuguese).
ENGLISH = {
    "after", "and", "before", "by", "danger", "database", "delete", "deleted", "every",
    "everything", "files", "is", "of", "only", "password", "reset", "stays", "the", "to",
    "type", "what", "with", "you", "your",
}  # fmt: skip


@pytest.fixture
def server(django_db_setup, django_db_blocker, tmp_path):
    """A server of its own: the reset writes its backup into this test's folder. Its
    private files are tmp_path/private, where the test process's storage writes too."""
    daphne = DaphneServer(tmp_path, extra_env={"RESET_BACKUP_DIR": str(tmp_path / "backups")})
    yield daphne.start()
    daphne.stop()


def portuguese_only(visit):
    text = visit.page.inner_text("main")
    # Folder paths, e-mail addresses and setting names are data, not interface.
    words = set(re.findall(r"[^\W\d_]+", re.sub(r"\S*[/@_=]\S*", " ", text).lower()))
    assert not words & ENGLISH, words & ENGLISH
    return text


def test_an_admin_resets_the_database_from_the_danger_zone(browser, server, tmp_path):
    clinic = clinic_with_everything()
    photo = tmp_path / "private" / clinic["carlos"].photo.name
    assert photo.exists()
    visit = Visit(browser, server, DESKTOP)
    try:
        visit.login("helena@clinica.test", PASSWORD)
        assert visit.page.locator("#danger-zone-title").inner_text().strip() == "Zona de perigo"
        visit.page.click(f"a[href='{reverse('database_reset')}']")
        visit.settle()
        text = portuguese_only(visit)
        assert "Zerar o banco de dados" in text and "Digite APAGAR TUDO para confirmar" in text
        shoot_both_widths(visit, "reset-database")

        visit.page.set_viewport_size(DESKTOP)
        visit.page.fill("#id_phrase", "APAGAR")
        visit.page.fill("#id_password", PASSWORD)
        visit.page.click("main button[type=submit]")
        visit.settle()
        assert "O que você digitou não é APAGAR TUDO." in portuguese_only(visit)
        shoot_both_widths(visit, "reset-database-refused")
        assert User.objects.count() == 7

        visit.page.set_viewport_size(DESKTOP)
        visit.page.fill("#id_phrase", "APAGAR TUDO")
        visit.page.fill("#id_password", PASSWORD)
        visit.page.click("main button[type=submit]")
        visit.settle()
        assert visit.page.url == server.url + reverse("dashboard")
        assert "O banco de dados foi zerado" in portuguese_only(visit)
        check_page(visit, "reset-database-done", "1440")

        visit.goto(reverse("database_reset"))
        text = portuguese_only(visit)
        assert "Zeragens anteriores" in text and "Helena Martins" in text
        shoot_both_widths(visit, "reset-database-earlier")
    finally:
        visit.close()
    assert not server.errors(), server.errors()
    assert set(User.objects.values_list("email", flat=True)) == {
        "helena@clinica.test",
        "rui@clinica.test",
    }
    log = DatabaseReset.objects.get()
    assert log.by.email == "helena@clinica.test"
    assert Path(log.backup_path).parent == tmp_path / "backups"
    assert (Path(log.backup_path) / "private" / clinic["carlos"].photo.name).exists()
    assert not photo.exists()

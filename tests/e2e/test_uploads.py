"""The photo upload limit as a person meets it: the 11th photo in ten minutes gets a
page in Portuguese with the way back to the profile."""

import io

import pytest
from django.conf import settings
from PIL import Image

from accounts.tests.factories import PASSWORD, DoctorFactory

from .helpers import WIDTHS, Visit, check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _jpeg(tmp_path):
    path = tmp_path / "foto.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def _send_photo(visit, path):
    visit.goto("/profile/")
    visit.page.set_input_files("#id_photo-photo", str(path))
    with visit.page.expect_navigation():
        visit.page.click("form[enctype] button[type=submit]")
    visit.settle()


def test_the_eleventh_photo_gets_the_limit_page(browser, daphne_server, tmp_path):
    doctor = DoctorFactory(first_name="Ana", last_name="Souza", email="ana.fotos@clinica.test")
    photo = _jpeg(tmp_path)
    visit = Visit(browser, daphne_server, WIDTHS["1440"])
    try:
        visit.login(doctor.email, PASSWORD)
        for _ in range(settings.PHOTO_UPLOAD_LIMIT):
            _send_photo(visit, photo)
            assert "Sua nova foto foi salva" in visit.page.inner_text("main")

        _send_photo(visit, photo)

        assert "Muitas fotos" in visit.page.inner_text("main")
        for width, viewport in WIDTHS.items():
            visit.page.set_viewport_size(viewport)
            check_page(visit, "photo-upload-limit", width, status=429)
        visit.page.click("text=Voltar ao meu perfil")
        assert visit.page.url.endswith("/profile/")
    finally:
        visit.close()
    assert not daphne_server.errors(), daphne_server.errors()

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_password_reset_by_email_matches_the_address_case_insensitively(client, doctor, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": doctor.email.upper()})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [doctor.email]
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/\S+/)", mailoutbox[0].body)
    assert link, mailoutbox[0].body
    form_url = client.get(link.group(1)).url  # Django moves the token into the session
    response = client.post(
        form_url,
        {"new_password1": "outra-senha-bem-longa-7", "new_password2": "outra-senha-bem-longa-7"},
    )
    assert response.status_code == 302
    doctor.refresh_from_db()
    assert doctor.check_password("outra-senha-bem-longa-7")


def test_password_reset_for_an_unknown_address_sends_nothing_and_reveals_nothing(
    client, mailoutbox
):
    response = client.post(reverse("password_reset"), {"email": "ninguem@example.com"})
    assert response.status_code == 302
    assert response.url == reverse("password_reset_done")
    assert mailoutbox == []

"""The interface speaks Brazilian Portuguese, and its catalog is complete and compiled."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "locale" / "pt_BR" / "LC_MESSAGES"
# What makemessages should read: the apps, the templates, the catalog. Not the
# virtualenv, data, collected or vendored static files.
SOURCES = ["accounts", "rooms", "clinical", "billing", "closings", "medconnect", "templates"]
IN_CI = os.environ.get("CI") == "true"


def _require_xgettext():
    if shutil.which("xgettext"):
        return
    if IN_CI:
        pytest.fail("xgettext (GNU gettext) is not installed (CI=true: required)", pytrace=False)
    pytest.skip("xgettext (GNU gettext) is not installed")


def _describe(entries) -> str:
    return "\n".join(f"  {entry.msgid!r}" for entry in entries)


def test_the_pt_br_catalog_translates_every_source_string(tmp_path):
    _require_xgettext()
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        shutil.copytree(ROOT / name, project / name, ignore=ignore)
    shutil.copytree(ROOT / "locale", project / "locale")
    shutil.copy2(ROOT / "manage.py", project / "manage.py")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "medconnect.settings",
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "x" * 50,
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "pt_BR", "--no-location"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    po = polib.pofile(str(project / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"))
    live = [entry for entry in po if not entry.obsolete]
    # makemessages must have read the sources, or an empty catalog would pass.
    assert any(entry.msgid == "Sign in" for entry in live)
    untranslated = [e for e in live if not e.translated() and not e.fuzzy]
    fuzzy = [e for e in live if e.fuzzy]
    assert not untranslated, f"untranslated in pt_BR:\n{_describe(untranslated)}"
    assert not fuzzy, f"fuzzy in pt_BR (check and remove the flag):\n{_describe(fuzzy)}"


def _pairs(catalog) -> dict:
    """(context, msgid, plural) -> translation, for every entry of a .mo file."""
    pairs = {}
    for entry in catalog:
        if entry.msgid == "":  # the header: whichever tool compiled it
            continue
        key = (entry.msgctxt, entry.msgid, entry.msgid_plural or None)
        if entry.msgid_plural:
            pairs[key] = tuple(sorted((int(k), v) for k, v in entry.msgstr_plural.items()))
        else:
            pairs[key] = entry.msgstr
    return pairs


def test_the_committed_mo_matches_the_po(tmp_path):
    compiled = tmp_path / "django.mo"
    polib.pofile(str(CATALOG / "django.po")).save_as_mofile(str(compiled))

    expected = _pairs(polib.mofile(str(compiled)))
    committed = _pairs(polib.mofile(str(CATALOG / "django.mo")))

    assert expected, "the .po has no translations"
    stale = sorted(
        k[1] for k in expected.keys() | committed.keys() if expected.get(k) != committed.get(k)
    )
    assert not stale, f"django.mo is out of date (run `make compilemessages`): {stale}"


def test_the_interface_is_in_portuguese_by_default(client, db):
    response = client.get("/accounts/login/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'lang="pt-br"' in html
    assert "Entrar" in html
    assert "Sign in" not in html


# Numbers a machine reads (HTML ids, query strings, form values, data-*) must
# not get pt-BR's thousand separator: 1234 would become "1.234".
@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        (
            "dashboards/_stat.html",
            {"value": 1234, "label": "x", "icon": "bi-x"},
            'data-count="1234"',
        ),
        ("includes/_pagination.html", {"page": 1001}, "page=1002"),
    ],
)
def test_machine_read_numbers_are_not_localized(template, context, expected):
    from django.core.paginator import Paginator
    from django.template.loader import render_to_string
    from django.utils import translation

    if "page" in context:
        context = {"page_obj": Paginator(range(25_000), 20).page(context["page"]), "filters": {}}
    with translation.override("pt-br"):
        html = render_to_string(template, context)
    assert expected in html

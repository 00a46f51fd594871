"""Static file addresses: worked out once per file, never stale after a new manifest."""

import json

from django.test import override_settings

from medconnect.storage import StaticStorage


def _storage(folder, hashed: str) -> StaticStorage:
    (folder / "staticfiles.json").write_text(
        json.dumps({"paths": {"css/site.css": hashed}, "version": "1.1", "hash": hashed})
    )
    return StaticStorage(location=str(folder), base_url="/static/")


@override_settings(DEBUG=False)
def test_a_files_address_is_its_hashed_name_worked_out_once(tmp_path, monkeypatch):
    storage = _storage(tmp_path, "css/site.1a2b.css")
    worked_out = []
    original = StaticStorage.stored_name
    monkeypatch.setattr(
        StaticStorage,
        "stored_name",
        lambda self, name: worked_out.append(name) or original(self, name),
    )

    assert [storage.url("css/site.css") for _ in range(3)] == ["/static/css/site.1a2b.css"] * 3
    assert worked_out == ["css/site.css"]


@override_settings(DEBUG=False)
def test_a_new_manifest_gives_new_addresses(tmp_path):
    storage = _storage(tmp_path, "css/site.1a2b.css")
    assert storage.url("css/site.css") == "/static/css/site.1a2b.css"

    _storage(tmp_path, "css/site.3c4d.css")
    storage.hashed_files, storage.manifest_hash = storage.load_manifest()

    assert storage.url("css/site.css") == "/static/css/site.3c4d.css"


def test_with_debug_on_the_names_are_the_files_own_and_nothing_is_kept(tmp_path):
    storage = _storage(tmp_path, "css/site.1a2b.css")
    with override_settings(DEBUG=True):
        assert storage.url("css/site.css") == "/static/css/site.css"
    with override_settings(DEBUG=False):
        assert storage.url("css/site.css") == "/static/css/site.1a2b.css"

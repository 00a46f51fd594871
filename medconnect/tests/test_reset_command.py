"""`manage.py reset_database`: the phrase or --yes, --actor, and refusals without a traceback."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from accounts.models import User
from medconnect.models import DatabaseReset

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def folders(settings, tmp_path):
    settings.RESET_BACKUP_DIR = tmp_path / "backups"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings


@pytest.fixture
def people(admin_user, patient):
    return {"admin": admin_user, "patient": patient}


def typing(monkeypatch, answer):
    """The operator at the terminal: `input()` returns what they type (or raises)."""
    prompts = []

    def fake_input(prompt=""):
        prompts.append(prompt)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr("builtins.input", fake_input)
    return prompts


def reset(*args):
    out = StringIO()
    call_command("reset_database", *args, stdout=out)
    return out.getvalue()


def test_yes_resets_without_asking(people, monkeypatch):
    prompts = typing(monkeypatch, "")

    out = reset("--yes")

    assert prompts == []
    assert list(User.objects.all()) == [people["admin"]]
    log = DatabaseReset.objects.get()
    assert (log.by, log.source) == (None, "command")
    assert f"Backup em {log.backup_path}" in out
    assert f"Administradores mantidos: {people['admin'].email}." in out


@pytest.mark.parametrize("typed", ["APAGAR TUDO", "apagar tudo"])
def test_typing_the_phrase_resets(people, monkeypatch, typed):
    prompts = typing(monkeypatch, typed)

    reset()

    assert prompts == ["Digite APAGAR TUDO para confirmar: "]
    assert not User.objects.filter(pk=people["patient"].pk).exists()


def test_the_phrase_is_the_one_of_the_active_language(people, monkeypatch):
    prompts = typing(monkeypatch, "DELETE EVERYTHING")

    with translation.override("en"):
        reset()

    assert prompts == ["Type DELETE EVERYTHING to confirm: "]
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("APAGAR", "Isso não é APAGAR TUDO: nada foi apagado."),
        ("DELETE EVERYTHING", "Isso não é APAGAR TUDO: nada foi apagado."),
        (EOFError(), "Cancelado: nada foi apagado."),
        (KeyboardInterrupt(), "Cancelado: nada foi apagado."),
    ],
    ids=["wrong", "other-language", "end-of-input", "ctrl-c"],
)
def test_anything_but_the_phrase_deletes_nothing(people, monkeypatch, folders, answer, message):
    typing(monkeypatch, answer)

    with pytest.raises(CommandError) as refusal:
        reset()

    assert str(refusal.value) == message
    assert User.objects.count() == 3 and not DatabaseReset.objects.exists()
    assert not Path(folders.RESET_BACKUP_DIR).exists()


def test_the_actor_is_logged(people):
    reset("--yes", "--actor", people["admin"].email.upper())

    log = DatabaseReset.objects.get()
    assert (log.by, log.by_email) == (people["admin"], people["admin"].email)


@pytest.mark.parametrize(
    ("actor", "message"),
    [
        ("ninguem@example.com", "Não há conta com o e-mail ninguem@example.com."),
        ("patient", "Só um administrador pode zerar o banco de dados."),
    ],
)
def test_an_actor_who_is_not_an_admin_is_refused(people, monkeypatch, actor, message):
    prompts = typing(monkeypatch, "APAGAR TUDO")
    email = people[actor].email if actor in people else actor

    with pytest.raises(CommandError) as refusal:
        reset("--actor", email)

    assert str(refusal.value) == message
    assert prompts == [], "refused before asking"
    assert User.objects.count() == 3


def test_turned_off_it_refuses_before_asking(people, monkeypatch, folders):
    folders.ALLOW_DATABASE_RESET = False
    prompts = typing(monkeypatch, "APAGAR TUDO")

    with pytest.raises(CommandError) as refusal:
        reset("--yes")

    assert "ALLOW_DATABASE_RESET=false" in str(refusal.value)
    assert prompts == [] and User.objects.count() == 3


def test_a_failed_backup_is_a_message_and_nothing_is_deleted(people, folders, tmp_path):
    folders.RESET_BACKUP_DIR = tmp_path / "a-file"
    folders.RESET_BACKUP_DIR.write_text("")

    with pytest.raises(CommandError) as refusal:
        reset("--yes")

    assert str(refusal.value).startswith("Não foi possível gravar o backup (")
    assert User.objects.count() == 3


def manage(tmp_path, *args, stdin=""):
    """The command as an operator runs it, on an empty database of its own."""
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "",
        "SECRET_KEY": "x" * 50,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "reset_database", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        ((), "apagar\n", 1, "CommandError: Isso não é APAGAR TUDO: nada foi apagado."),
        ((), "", 1, "CommandError: Cancelado: nada foi apagado."),
        (("--bogus",), "", 2, "error: unrecognized arguments: --bogus"),
        (("--actor",), "", 2, "error: argument --actor: expected one argument"),
    ],
    ids=["wrong-phrase", "no-input", "unknown-option", "actor-without-email"],
)
def test_from_a_terminal_a_refusal_is_one_clear_line_and_no_traceback(
    tmp_path, args, stdin, code, message
):
    result = manage(tmp_path, *args, stdin=stdin)

    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data" / "backups").exists()

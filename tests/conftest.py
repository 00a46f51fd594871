"""Fixtures for tests that need real parts: a Daphne server, the system Chromium.

In CI (CI=true) a missing browser or service fails the test; elsewhere it skips.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI: a missing service there is a broken pipeline, not a pass."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    """The URL of the test database pytest-django created, for another process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


# As `make run` serves: silent sockets are pinged every 10 s, dropped 10 s later.
DAPHNE_FLAGS = ["--ping-interval", "10", "--ping-timeout", "10"]


class DaphneServer:
    """A real Daphne process serving the project against the test database."""

    def __init__(self, tmp: Path, extra_env: dict | None = None, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"daphne-{self.port}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            "DATABASE_URL": database_url(),
            "DEBUG": "false",
            "HTTPS": "false",
            "SECRET_KEY": settings.SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PRIVATE_MEDIA_ROOT": str(tmp / "private"),
            "PYTHONUNBUFFERED": "1",
            # Tests talk to loopback only: no public STUN server.
            "STUN_URLS": "",
            **(extra_env or {}),
        }
        self.process = None

    def start(self):
        self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", *DAPHNE_FLAGS, "-b", "127.0.0.1",
             "-p", str(self.port), "medconnect.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Daphne exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"Daphne did not answer in time:\n{self.log_path.read_text()}")

    def kill(self):
        """Kill the process with no chance to close anything (a crash, a power cut)."""
        self.process.kill()
        self.process.wait(10)
        self.log.close()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if not self.log.closed:
            self.log.close()

    def errors(self) -> str:
        """Tracebacks the server logged: every browser test asserts there are none."""
        text = self.log_path.read_text()
        return text if "Traceback" in text else ""


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, django_db_blocker, tmp_path_factory):
    server = DaphneServer(tmp_path_factory.mktemp("daphne")).start()
    yield server
    server.stop()


CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
DEBIAN_LOCALES = Path("/usr/lib/chromium/locales")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--lang=pt-BR",
    # Real local addresses in ICE candidates: mDNS names cannot resolve here.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@pytest.fixture
def browser():
    """A fresh Chromium per test. Per test, not per session: Playwright's sync API
    keeps an event loop running in this thread while it is started, and Django
    refuses ORM calls from a thread with a running loop."""
    require(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}")
    # Debian ships Chromium's own Portuguese (date fields as dd/mm/aaaa, its
    # messages) in chromium-l10n; without it the screenshots show mm/dd/yyyy.
    require(
        not DEBIAN_LOCALES.is_dir() or (DEBIAN_LOCALES / "pt-BR.pak").exists(),
        "Chromium's pt-BR locale is missing (apt-get install chromium-l10n)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            # On Linux Chromium takes its own language from the environment, not --lang.
            env={**os.environ, "LANGUAGE": "pt_BR"},
        )
        yield browser
        browser.close()

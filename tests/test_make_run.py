"""The first minute: `make run` on a new database serves the product, not Django's debug pages."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .conftest import ROOT, free_port, require

pytestmark = pytest.mark.live


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def make_run(tmp_path):
    """`make run` as a newcomer types it, on a data folder of its own."""
    require(shutil.which("make") is not None, "make is not installed")
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        # What a newcomer's shell has: none of the test runner's settings.
        if key not in {"DEBUG", "HTTPS", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
        and not key.startswith(("PYTEST", "DJANGO_ALLOW"))
    }
    env["DATA_DIR"] = str(tmp_path / "data")
    output = tmp_path / "make-run.log"
    with open(output, "w") as log:
        process = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"make run exited early:\n{output.read_text()}")
            try:
                if _get(f"{url}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"make run did not serve in time:\n{output.read_text()}")
        yield url, output
    finally:
        # make and Daphne share a process group of their own: stop both, if still there.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_make_run_prints_the_logins_and_shows_the_products_own_pages(make_run):
    url, output = make_run
    printed = output.read_text()
    assert "admin@medconnect.local" in printed
    assert "medconnect-demo" in printed
    assert f"{url}/" in printed

    status, body = _get(f"{url}/accounts/login/")
    assert status == 200
    assert "Entrar" in body
    stylesheet = re.search(r'href="(/static/css/medconnect[^"]*\.css)"', body)
    assert stylesheet, "the login page links the product's stylesheet"
    assert _get(url + stylesheet.group(1))[0] == 200

    # A page nobody has: the product's 404 in Portuguese, not Django's debug page.
    status, body = _get(f"{url}/no-such-page/")
    assert status == 404
    assert "Não encontramos esta página" in body
    assert "URLconf" not in body
    assert "DEBUG = True" not in body

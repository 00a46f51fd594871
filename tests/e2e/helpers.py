"""Browser helpers: sign in, take screenshots, scan with axe-core, watch the CSP."""

import json
from pathlib import Path

from accounts.tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
AXE_SOURCE = (ROOT / "tests" / "assets" / "axe.min.js").read_text()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
WIDTHS = {"390": PHONE, "1440": DESKTOP}


class Visit:
    """One browser context at one width, collecting console errors (CSP included)."""

    def __init__(self, browser, server, viewport, **context_options):
        self.server = server
        self.context = browser.new_context(
            viewport=viewport, locale="pt-BR", timezone_id="America/Sao_Paulo",
            **{"reduced_motion": "reduce", **context_options},
        )  # fmt: skip
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.console_errors: list[str] = []
        self.console_log: list[str] = []  # everything, for failure messages
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        track_requests(self.page)

    def _console(self, message):
        self.console_log.append(f"{message.type}: {message.text[:300]}")
        if message.type == "error":
            self.console_errors.append(message.text)

    def goto(self, path: str):
        response = self.page.goto(self.server.url + path)
        settle(self.page)
        return response

    def settle(self):
        settle(self.page)

    def login(self, email: str, password: str):
        self.goto("/accounts/login/")
        self.page.fill("#id_username", email)
        self.page.fill("#id_password", password)
        self.page.click("main button[type=submit]")
        settle(self.page)

    def close(self):
        self.context.close()


def track_requests(page) -> None:
    """Keep the page's requests in flight, for settle()."""
    in_flight = page.mc_in_flight = set()
    page.on("request", lambda request: in_flight.add(request))
    page.on("requestfinished", lambda request: in_flight.discard(request))
    page.on("requestfailed", lambda request: in_flight.discard(request))


def settle(page, quiet_ms: int = 60, timeout_ms: int = 15_000) -> None:
    """Wait for the page to load and its requests to end, then `quiet_ms` with none.

    Playwright's "networkidle" waits 500 ms after the last request, which was
    40 % of the page tours' time; our pages ask for nothing after a delay, so a
    short quiet spell after the last request is as sure and much shorter.
    """
    page.wait_for_load_state("load")
    in_flight, quiet, waited = page.mc_in_flight, 0, 0
    while quiet < quiet_ms:
        page.wait_for_timeout(20)  # lets Playwright deliver the request events
        quiet = 0 if in_flight else quiet + 20
        waited += 20
        if waited > timeout_ms:
            raise AssertionError(f"requests still in flight: {[r.url for r in in_flight]}")


def axe_violations(page) -> list[dict]:
    """Serious and critical WCAG 2.1 A/AA violations on the current page.

    axe is evaluated through the DevTools protocol, which the page's CSP does
    not govern, so the CSP stays on while we scan.
    """
    page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {
              runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
              resultTypes: ['violations'],
            });
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 3).map(
                n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').slice(0, 160))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def check_page(visit: Visit, name: str, width: str, status: int = 200) -> None:
    """Screenshot the page, then assert no axe violation, no console/CSP error."""
    if status >= 400:
        # The browser logs the error status of the page itself; that one is expected.
        visit.console_errors = [e for e in visit.console_errors if f"status of {status}" not in e]
    SCREENSHOTS.mkdir(exist_ok=True)
    page = visit.page
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    violations = axe_violations(page)
    assert not violations, f"{name} @ {width}px: " + json.dumps(violations, indent=1)
    assert not visit.console_errors, f"{name} @ {width}px console: {visit.console_errors}"
    # The brand footer is on every page.
    assert page.locator("footer.mc-footer").count() == 1, f"{name}: no brand footer"
    # The page's layout must not scroll sideways on a phone.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} @ {width}px scrolls sideways by {overflow}px"


def wait_until(page, expression: str, timeout: float = 15_000) -> None:
    """Poll a JS expression until truthy. page.wait_for_function would `eval` it
    inside the page, which our CSP (rightly) forbids; evaluate() does not."""
    import time

    deadline = time.monotonic() + timeout / 1000
    while True:
        if page.evaluate(f"() => Boolean({expression})"):
            return
        if time.monotonic() > deadline:
            state = page.evaluate(
                "() => JSON.stringify({body: {...document.body.dataset},"
                " status: document.getElementById('peer-status')?.textContent,"
                " banner: document.getElementById('call-banner')?.innerText})"
            )
            raise AssertionError(f"timed out waiting for: {expression}; page state: {state}")
        page.wait_for_timeout(100)


# --- A call -------------------------------------------------------------------

MEDIA = {"permissions": ["camera", "microphone"]}


def shoot_both_widths(visit, name):
    """Screenshot and scan the current page at phone and desktop widths."""
    for width, viewport in (("390", PHONE), ("1440", DESKTOP)):
        visit.page.set_viewport_size(viewport)
        visit.page.wait_for_timeout(150)
        check_page(visit, name, width)


def wait_connected(visit, timeout=30_000):
    try:
        wait_until(visit.page, "document.body.dataset.connection === 'connected'", timeout)
        wait_until(visit.page, "document.getElementById('remote-video').videoWidth > 0", timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}\nconsole:\n" + "\n".join(visit.console_log[-30:])) from None


def join(visit):
    wait_until(visit.page, "!document.getElementById('join-button').disabled")
    visit.page.click("#join-button")


def enter_call(path: str, *people) -> None:
    """Each (visit, e-mail) signs in, opens the call and joins; then all are connected."""
    for visit, email in people:
        visit.login(email, PASSWORD)
        visit.goto(path)
        join(visit)
    for visit, _email in people:
        wait_connected(visit)

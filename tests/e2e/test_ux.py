"""What people see, checked in a real browser: the call's camera-off text,
the colour contrast of every button and badge, and long names on a phone."""

import io
import re
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image

from accounts.tests.factories import PASSWORD, DoctorFactory, PatientFactory
from rooms.tests.factories import ConsentFactory, RoomFactory

from .helpers import (
    DESKTOP,
    MEDIA,
    PHONE,
    SCREENSHOTS,
    Visit,
    check_page,
    enter_call,
    join,
    shoot_both_widths,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLACEHOLDER = "document.getElementById('remote-placeholder-text')"


@pytest.fixture
def room():
    ana = DoctorFactory(
        first_name="Ana", last_name="Souza", email="ana@clinica.test", profile__title="dra"
    )
    carlos = PatientFactory(
        first_name="Carlos", last_name="Pereira", email="carlos@clinica.test", doctor=ana
    )
    ConsentFactory(patient=carlos)
    return RoomFactory(doctor=ana, patient=carlos)


def placeholder(visit) -> tuple[bool, str]:
    """Whether the placeholder over the remote video shows, and what it says."""
    shown, text = visit.page.evaluate(
        f"() => [{PLACEHOLDER}.checkVisibility(), {PLACEHOLDER}.textContent.trim()]"
    )
    return shown, text


def test_the_doctor_reads_that_the_patients_camera_is_off_not_that_they_are_awaited(
    browser, daphne_server, room
):
    path = reverse("rooms:join", args=[room.code])
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    try:
        doctor.login("ana@clinica.test", PASSWORD)
        doctor.goto(path)
        join(doctor)
        wait_until(doctor.page, "document.body.dataset.peerStatus === 'waiting'")
        assert placeholder(doctor) == (True, "Aguardando o paciente entrar…")

        enter_call(path, (patient, "carlos@clinica.test"))
        wait_until(doctor.page, "document.getElementById('remote-video').videoWidth > 0")
        assert placeholder(doctor)[0] is False  # the video shows

        patient.page.click("#toggle-cam")
        wait_until(doctor.page, "document.body.dataset.peerVideo === 'off'")
        assert doctor.page.inner_text("#peer-status") == "Conectado"
        assert placeholder(doctor) == (True, "A câmera do paciente está desligada")
        shoot_both_widths(doctor, "call-doctor-patient-camera-off")

        # And the other way round, in the patient's words.
        doctor.page.click("#toggle-cam")
        wait_until(patient.page, "document.body.dataset.peerVideo === 'off'")
        assert placeholder(patient) == (True, "A câmera do médico está desligada")
        shoot_both_widths(patient, "call-patient-doctor-camera-off")

        # The camera back on: the video again, no placeholder.
        patient.page.click("#toggle-cam")
        wait_until(doctor.page, "document.body.dataset.peerVideo === 'on'")
        assert placeholder(doctor)[0] is False

        # Once the patient has left, the doctor is waiting again.
        patient.page.click("#toggle-cam")
        wait_until(doctor.page, "document.body.dataset.peerVideo === 'off'")
        patient.close()
        wait_until(doctor.page, "document.body.dataset.peerStatus !== 'connected'", 40_000)
        assert placeholder(doctor) == (True, "Aguardando o paciente entrar…")
    finally:
        doctor.close()
    assert not daphne_server.errors(), daphne_server.errors()


def test_a_patient_who_joins_without_a_camera_is_shown_as_camera_off(browser, daphne_server, room):
    path = reverse("rooms:join", args=[room.code])
    doctor = Visit(browser, daphne_server, DESKTOP, **MEDIA)
    patient = Visit(browser, daphne_server, PHONE, **MEDIA)
    try:
        doctor.login("ana@clinica.test", PASSWORD)
        doctor.goto(path)
        join(doctor)
        patient.login("carlos@clinica.test", PASSWORD)
        patient.goto(path)
        wait_until(patient.page, "!document.getElementById('join-audio-button').disabled")
        patient.page.click("#join-audio-button")
        wait_until(doctor.page, "document.body.dataset.connection === 'connected'", 30_000)
        wait_until(doctor.page, "document.body.dataset.peerVideo === 'off'")
        assert placeholder(doctor) == (True, "A câmera do paciente está desligada")
    finally:
        doctor.close()
        patient.close()


# --- Colour contrast of every button and badge -------------------------------------------
#
# axe-core never checked colour contrast on this project: the page background
# is a gradient, so axe reports every text as "incomplete" (bgGradient) rather
# than as a violation, and the scan keeps only violations. That is how a yellow
# "Acesso de emergência" at 1.59:1 got through. So contrast is measured here:
# the text colour is the computed one, the background is what the browser
# actually paints behind the text (a screenshot of the element's content box
# with its text made transparent), gradients, glass and all.

ROOT = Path(__file__).resolve().parents[2]
STYLESHEETS = [
    ROOT / "static" / "vendor" / "bootstrap" / "bootstrap.min.css",
    ROOT / "static" / "css" / "medconnect.css",
]
CLASS_ATTR = re.compile(r'class="([^"]*)"')
TEMPLATE_TAG = re.compile(r"{[{%].*?[%}]}")
# The colour variants: btn-primary, btn-outline-warning, badge-soft-info...
VARIANT = re.compile(r"^(btn-(?!sm$|lg$|close$|group|toolbar|check)[a-z-]+|badge-[a-z-]+)$")
COLOUR_UTILITY = re.compile(
    r"^(text|bg)-(primary|secondary|success|danger|warning|info|light|dark|body|white|black)$"
)
JS_VARIANT = re.compile(r"""["'](btn-[a-z-]+|badge-[a-z-]+)["']""")

# The element's text colour and font, and its content box; then its text is
# hidden so a screenshot of that box shows only the background behind it.
HIDE_TEXT_JS = """
(el) => {
  // The text's own box: inside the border, and clear of rounded corners.
  const range = document.createRange();
  range.selectNodeContents(el);
  const box = range.getBoundingClientRect();
  const words = [...el.querySelectorAll("*")].find((n) => n.children.length === 0
    && n.textContent.trim()) || el;
  const s = getComputedStyle(words);
  const result = {
    color: s.color, size: parseFloat(s.fontSize), weight: Number(s.fontWeight),
    clip: {
      x: box.left + window.scrollX, y: box.top + window.scrollY,
      width: Math.max(1, box.width), height: Math.max(1, box.height),
    },
  };
  for (const n of [el, ...el.querySelectorAll("*")]) {
    n.style.setProperty("color", "transparent", "important");
    n.style.setProperty("text-shadow", "none", "important");
  }
  return result;
}
"""
SHOW_TEXT_JS = """
(el) => { for (const n of [el, ...el.querySelectorAll("*")]) {
  n.style.removeProperty("color"); n.style.removeProperty("text-shadow"); } }
"""


def _luminance(rgb) -> float:
    def channel(v):
        v /= 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _ratio(a, b) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rgba(css: str) -> tuple[float, ...]:
    parts = [float(p) for p in re.findall(r"[\d.]+", css)]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def measure_contrast(page, element) -> dict:
    """The worst contrast between the element's text and any pixel behind it."""
    got = element.evaluate(HIDE_TEXT_JS)
    try:
        shot = page.screenshot(clip=got["clip"], full_page=True, animations="disabled")
    finally:
        element.evaluate(SHOW_TEXT_JS)
    *text, alpha = _rgba(got["color"])
    worst, behind = float("inf"), None
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    for pixel in {pixel for _count, pixel in image.getcolors(image.width * image.height)}:
        shown = [t * alpha + p * (1 - alpha) for t, p in zip(text, pixel, strict=True)]
        ratio = _ratio(shown, pixel)
        if ratio < worst:
            worst, behind = ratio, pixel
    large = got["size"] >= 24 or (got["weight"] >= 700 and got["size"] >= 18.66)
    return {
        "ratio": round(worst, 2),
        "needed": 3.0 if large else 4.5,
        "color": got["color"],
        "background": f"rgb{behind}",
    }


def looks_used_by_the_project() -> set[str]:
    """Every colour look of a button or badge: its variant with any colour
    utility beside it in a template ("btn btn-link text-danger"), and the
    variants the scripts add (the copy button turns btn-success)."""
    looks = set()
    for template in (ROOT / "templates").rglob("*.html"):
        for attr in CLASS_ATTR.findall(template.read_text()):
            tokens = TEMPLATE_TAG.sub(" ", attr).split()
            colours = sorted(t for t in tokens if COLOUR_UTILITY.match(t))
            for variant in (t for t in tokens if VARIANT.match(t)):
                base = "btn" if variant.startswith("btn-") else "badge"
                looks.add(" ".join([base, variant, *colours]))
    for script in (ROOT / "static" / "js").glob("*.js"):
        for variant in JS_VARIANT.findall(script.read_text()):
            looks.add(f"{'btn' if variant.startswith('btn-') else 'badge'} {variant}")
    return looks


def sample_page(looks) -> str:
    """Each look on the page's own background (at the top, where its gradient
    is strongest) and inside a glass card, and the call page's status badges
    and controls on its dark stage."""

    def sample(look):
        tag = "button" if look.startswith("btn") else "span"
        return f'<{tag} class="{look} sample" data-look="{look}">Acesso de emergência</{tag}> '

    # A form's error text has the same red problem as the red buttons.
    samples = "".join(sample(look) for look in sorted(looks)) + (
        '<div class="invalid-feedback d-block sample" data-look="invalid-feedback">'
        "Informe um CPF válido (11 dígitos).</div>"
    )
    statuses = "".join(
        f'<span class="peer-status sample" data-status="{s}" data-look="peer-status {s}">'
        f"Conectado</span> "
        for s in ("waiting", "joining", "connected", "reconnecting", "left")
    )
    controls = "".join(
        f'<button class="{c} sample text-nowrap" data-look="{c}">'
        f"<span>Finalizar consulta</span></button> "
        for c in ("ctl", "ctl is-off", "ctl ctl-leave", "ctl ctl-finish")
    )
    return (
        '<!doctype html><html lang="pt-BR"><head><meta charset="utf-8"></head><body>'
        f'<div class="d-flex flex-wrap gap-2 p-2" data-where="page">{samples}</div>'
        f'<main class="container py-4"><div class="glass-card p-3 d-flex flex-wrap gap-2" '
        f'data-where="card">{samples}</div></main>'
        f'<section class="call-layout"><div class="call-stage"><div class="call-topbar" '
        f'data-where="call">{statuses}</div><div class="call-controls" data-where="call">'
        f"{controls}</div></div></section></body></html>"
    )


def contrast_failures(page, selector: str, states=("at rest", "hover")) -> list[str]:
    """Each visible match whose text fails WCAG AA, at rest and under the pointer."""
    failures = []
    for element in page.locator(selector).all():
        if not element.is_visible():
            continue
        label = element.get_attribute("data-look") or element.evaluate(
            "(e) => e.className + ' “' + e.innerText.trim().slice(0, 40) + '”'"
        )
        where = element.evaluate("(e) => e.closest('[data-where]')?.dataset.where || ''")
        for state in states:
            if state == "hover":
                element.hover()
            got = measure_contrast(page, element)
            if got["ratio"] < got["needed"]:
                failures.append(
                    f"{label} ({where} {state}): {got['ratio']}:1 < {got['needed']}:1, "
                    f"{got['color']} on {got['background']}"
                )
        page.mouse.move(0, 0)
    return failures


def test_every_button_and_badge_variant_has_aa_contrast(browser):
    looks = looks_used_by_the_project()
    assert "btn btn-outline-warning" in looks and "badge badge-soft-warning" in looks, looks
    context = browser.new_context(viewport=DESKTOP, reduced_motion="reduce")
    try:
        page = context.new_page()
        page.set_content(sample_page(looks))
        for stylesheet in STYLESHEETS:
            page.add_style_tag(content=stylesheet.read_text())
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "contrast-samples-1440.png"), full_page=True)
        failures = contrast_failures(page, ".sample")
    finally:
        context.close()
    assert not failures, "WCAG AA contrast:\n" + "\n".join(failures)


@pytest.fixture
def back_office():
    """An admin's world: a deactivated doctor with a patient, an invitation."""
    from accounts import services
    from accounts.tests.factories import AdminFactory

    AdminFactory(email="admin@clinica.test")
    ana = DoctorFactory(first_name="Ana", last_name="Souza", profile__title="dra")
    carlos = PatientFactory(
        first_name="Carlos", last_name="Pereira", doctor=ana, phone="+5511987654321"
    )
    invited = services.patient_create(
        created_by=ana, doctor=ana, email="nova@clinica.test", first_name="Larissa",
        last_name="Carvalho", phone="+5511912345678",
    )  # fmt: skip
    services.user_set_active(user=ana, active=False)
    return {"ana": ana, "carlos": carlos, "invited": invited}


# back_office before browser: its signals reach the channel layer, which cannot
# be done from a thread where Playwright's event loop runs.
def test_the_buttons_and_badges_of_the_real_pages_have_aa_contrast(
    back_office, browser, daphne_server
):
    """The same measure on the pages themselves, where each button really sits:
    the admin's patient page has the "Acesso de emergência" button."""
    ana, carlos, invited = back_office["ana"], back_office["carlos"], back_office["invited"]
    pages = [
        ("patient-detail-admin", reverse("accounts:patient_detail", args=[carlos.pk])),
        ("doctor-detail-inactive", reverse("accounts:doctor_detail", args=[ana.pk])),
        ("patient-list-admin", reverse("accounts:patient_list")),
        ("invitation", reverse("accounts:invitation", args=[invited.pk])),
        ("admin-dashboard", "/"),
    ]
    SCREENSHOTS.mkdir(exist_ok=True)
    failures = []
    for width, viewport in (("390", PHONE), ("1440", DESKTOP)):
        visit = Visit(browser, daphne_server, viewport)
        try:
            visit.login("admin@clinica.test", PASSWORD)
            for name, path in pages:
                visit.goto(path)
                visit.page.screenshot(
                    path=str(SCREENSHOTS / f"contrast-{name}-{width}.png"), full_page=True
                )
                # At rest only: the hover colours are the variants', measured above.
                found = contrast_failures(visit.page, "main .btn, main .badge", ["at rest"])
                failures += [f"{path} @ {width}px: {f}" for f in found]
        finally:
            visit.close()
    assert not failures, "WCAG AA contrast:\n" + "\n".join(failures)


# --- Long names on a phone ---------------------------------------------------------------

LONG_FIRST = "Maria Aparecida Conceição"
LONG_LAST = "d'Albuquerque Vasconcelos Cavalcanti-Wanderley"


@pytest.fixture
def long_named():
    from accounts import services

    doctor = DoctorFactory(
        first_name="Ana", last_name="Souza", email="ana@clinica.test", profile__title="dra"
    )
    invited = services.patient_create(
        created_by=doctor, doctor=doctor, first_name=LONG_FIRST, last_name=LONG_LAST,
        email="maria.aparecida.conceicao.albuquerque.vasconcelos@provedor-de-email.com.br",
        phone="+5511987654321",
    )  # fmt: skip
    return invited


def test_a_long_name_stays_inside_the_invitation_page_on_a_phone(
    long_named, browser, daphne_server
):
    for width, viewport in (("390", PHONE), ("1440", DESKTOP)):
        visit = Visit(browser, daphne_server, viewport)
        try:
            visit.login("ana@clinica.test", PASSWORD)
            visit.goto(reverse("accounts:invitation", args=[long_named.pk]))
            # check_page asserts the page does not scroll sideways, besides axe and the CSP.
            check_page(visit, "invitation-long-name", width)
            sticking_out = visit.page.evaluate(
                """() => [...document.querySelectorAll('main *')].filter((e) => {
                    const r = e.getBoundingClientRect();
                    return r.width && (r.right > window.innerWidth + 1 || r.left < -1);
                  }).map((e) => e.tagName + '.' + e.className).slice(0, 5)"""
            )
            assert sticking_out == [], f"@ {width}px: {sticking_out}"
            assert LONG_LAST in visit.page.inner_text("h1")
        finally:
            visit.close()

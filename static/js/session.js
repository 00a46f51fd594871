// The idle warning: a dialog shortly before the session ends, with a button
// that keeps it alive. The decisions are in idle.js; this module wires the page.

import { formatCountdown, nextStep } from "./idle.js";

const root = document.getElementById("session-timeout");

if (root && window.bootstrap) {
  const url = root.dataset.url;
  const loginUrl = root.dataset.loginUrl;
  const warnSeconds = Number(root.dataset.warnSeconds) || 120;
  const csrfToken = root.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
  const countdown = root.querySelector("[data-countdown]");
  const modal = window.bootstrap.Modal.getOrCreateInstance(root);

  let timer = null;
  let ticker = null;
  let interacted = false;

  // Typing or clicking on the page counts: a long note is written without requests.
  for (const type of ["keydown", "pointerdown", "wheel", "touchstart"]) {
    window.addEventListener(type, () => { interacted = true; }, { passive: true, capture: true });
  }

  const schedule = (seconds, fn) => {
    clearTimeout(timer);
    timer = setTimeout(fn, Math.max(1, seconds) * 1000);
  };

  const goToLogin = () => {
    const next = window.location.pathname + window.location.search;
    window.location.assign(`${loginUrl}?next=${encodeURIComponent(next)}`);
  };

  // GET reads the time left without counting as activity; POST keeps the session alive.
  const ask = async (method) => {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: method === "POST" ? { "X-CSRFToken": csrfToken } : {},
    });
    if (response.status === 401) return 0;
    if (!response.ok) throw new Error(`session ${response.status}`);
    return (await response.json()).expires_in;
  };

  const hideWarning = () => {
    clearInterval(ticker);
    modal.hide();
  };

  const showWarning = (seconds) => {
    const deadline = Date.now() + seconds * 1000;
    const tick = () => {
      const left = (deadline - Date.now()) / 1000;
      countdown.textContent = formatCountdown(left);
      if (left <= 0) {
        clearInterval(ticker);
        check();
      }
    };
    tick();
    clearInterval(ticker);
    ticker = setInterval(tick, 1000);
    modal.show();
  };

  const keepAlive = async () => {
    interacted = false;
    hideWarning();
    plan(await ask("POST"), { keptAlive: true });
  };

  const plan = (expiresIn, { keptAlive = false } = {}) => {
    const step = nextStep({
      expiresIn,
      warnSeconds,
      inCall: document.body.classList.contains("in-call"),
      interacted,
      keptAlive,
    });
    if (step.action === "expire") goToLogin();
    else if (step.action === "wait") {
      hideWarning();
      schedule(step.seconds, check);
    } else if (step.action === "keepalive") keepAlive().catch(retryLater);
    else showWarning(step.seconds);
  };

  // The network may be down for a moment: look again shortly, never log out on a guess.
  const retryLater = () => schedule(30, check);

  async function check() {
    try {
      plan(await ask("GET"));
    } catch {
      retryLater();
    }
  }

  root.querySelector("[data-keepalive]").addEventListener("click", () => {
    keepAlive().catch(retryLater);
  });

  const initial = Number(root.dataset.expiresIn);
  if (Number.isFinite(initial) && initial > 0) plan(initial);
  else check();
}

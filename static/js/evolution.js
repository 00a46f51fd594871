// The evolution forms. The call panel's is saved with fetch, so the call is
// never interrupted, and its draft survives a reload of the page. The
// full-page form is a plain POST; Back or a reload must not make it write
// the same evolution twice.
import { createDraftStore, createSentStore, tokenToSend } from "./drafts.js";

const FIELDS = ["notes", "diagnosis", "diagnosis_code", "prescription"];
function wire(form) {
  const status = document.getElementById("call-evolution-status");
  const list = document.getElementById("call-evolution-list");
  const button = form.querySelector("button[type=submit]");
  const buttonLabel = button.querySelector("[data-label]");
  const idleLabel = buttonLabel ? buttonLabel.textContent : "";
  const store = createDraftStore(window.sessionStorage, `mc-evolution-draft:${form.dataset.room}`, FIELDS);
  const field = (name) => form.elements.namedItem(name);
  const errorSlot = (name) => form.querySelector(`[data-error-for="${name}"]`);

  // Help and error texts are read with their field.
  for (const name of FIELDS) {
    const input = field(name);
    const ids = [`${input.id}-help`, `${input.id}-error`].filter((id) => document.getElementById(id));
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
  }

  // kind: success | danger | muted (colours with enough contrast on the panel, see the CSS).
  const say = (text, kind) => {
    status.textContent = text || "";
    status.dataset.kind = kind;
  };
  const values = () => Object.fromEntries(FIELDS.map((name) => [name, field(name).value]));
  const clearErrors = () => {
    for (const name of FIELDS) {
      field(name).classList.remove("is-invalid");
      field(name).removeAttribute("aria-invalid");
      errorSlot(name).textContent = "";
    }
  };
  const busy = (on) => {
    button.disabled = on;
    form.setAttribute("aria-busy", String(on));
    if (buttonLabel) buttonLabel.textContent = on ? form.dataset.textSaving || idleLabel : idleLabel;
  };

  // One token per evolution: a resend after a lost reply (a dropped connection)
  // gets the evolution already saved instead of a duplicate. Kept with the draft.
  const tokenKey = `mc-evolution-token:${form.dataset.room}`;
  const token = field("token");
  const newToken = () => {
    token.value = window.crypto.randomUUID();
    try {
      window.sessionStorage.setItem(tokenKey, token.value);
    } catch {
      // Without storage the token still covers resends from this page.
    }
  };
  let kept = null;
  try {
    kept = window.sessionStorage.getItem(tokenKey);
  } catch {
    // Storage disabled.
  }
  if (kept) token.value = kept;
  else newToken();

  const draft = store.load();
  if (draft) {
    for (const [name, value] of Object.entries(draft)) field(name).value = value;
    say(form.dataset.textRestored, "muted");
  }
  form.addEventListener("input", () => store.save(values()));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return; // already saving: never two evolutions for one click
    clearErrors();
    busy(true);
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const body = await response.json().catch(() => ({}));
      // 201: written now; 200: it had been saved already (a resend, another tab).
      if (response.status === 201 || response.status === 200) {
        store.clear();
        newToken(); // the next evolution is another one
        for (const name of FIELDS) field(name).value = "";
        const id = String(body.id);
        if (![...list.children].some((item) => item.dataset.evolution === id)) {
          const item = document.createElement("li");
          item.dataset.evolution = id;
          const link = document.createElement("a");
          link.href = body.url;
          link.target = "_blank";
          link.rel = "noopener";
          link.textContent = body.written_at;
          item.append(link, ` · ${String(body.summary || "")}`); // the server's Evolution.summary
          list.prepend(item);
        }
        say(body.message || form.dataset.textSaved, "success");
      } else if (response.status === 400 && body.errors) {
        let first = null;
        for (const [name, messages] of Object.entries(body.errors)) {
          const slot = errorSlot(name);
          if (slot) {
            field(name).classList.add("is-invalid");
            field(name).setAttribute("aria-invalid", "true");
            slot.textContent = messages.join(" ");
            first ??= field(name);
          }
        }
        // A field's error is shown under it; the status only says where to look.
        say(first ? form.dataset.textInvalid || body.message : body.message, "danger");
        if (first) first.focus();
      } else {
        say(form.dataset.textFailed, "danger");
      }
    } catch {
      say(form.dataset.textFailed, "danger");
    } finally {
      busy(false);
    }
  });
}

// Back and reload bring the page back with a fresh token (it is never cached)
// while the browser refills what was typed; so the tab remembers the token it
// last sent with that text.
const PAGE_FIELDS = [...FIELDS, "room"];
function wirePage(form) {
  let storage = null;
  try {
    storage = window.sessionStorage;
  } catch {
    // Storage disabled: the server still recognises a recent identical evolution.
  }
  const sent = createSentStore(storage, `mc-evolution-sent:${form.dataset.patient}`, PAGE_FIELDS);
  const token = form.elements.namedItem("token");
  const navigationType = performance.getEntriesByType("navigation")[0]?.type ?? "navigate";
  form.addEventListener("submit", () => {
    const values = Object.fromEntries(
      PAGE_FIELDS.map((name) => [name, form.elements.namedItem(name)?.value ?? ""]),
    );
    token.value = tokenToSend({
      navigationType,
      pageToken: token.value,
      sent: sent.last(),
      values,
      fields: PAGE_FIELDS,
    });
    sent.remember(token.value, values);
  });
}

const form = document.getElementById("call-evolution-form");
if (form) wire(form);
const pageForm = document.getElementById("evolution-page-form");
if (pageForm) wirePage(pageForm);

// The call panel's evolution form: saved with fetch, so the call is never
// interrupted; the draft survives a reload of the page.
import { createDraftStore } from "./drafts.js";

const FIELDS = ["notes", "diagnosis", "diagnosis_code", "prescription"];

function wire(form) {
  const status = document.getElementById("call-evolution-status");
  const list = document.getElementById("call-evolution-list");
  const button = form.querySelector("button[type=submit]");
  const store = createDraftStore(window.sessionStorage, `mc-evolution-draft:${form.dataset.room}`, FIELDS);
  const field = (name) => form.elements.namedItem(name);

  const say = (text, kind) => {
    status.textContent = text;
    status.className = `small mb-2 text-${kind}`;
  };
  const values = () => Object.fromEntries(FIELDS.map((name) => [name, field(name).value]));
  const clearErrors = () => {
    for (const name of FIELDS) {
      field(name).classList.remove("is-invalid");
      form.querySelector(`[data-error-for="${name}"]`).textContent = "";
    }
  };

  const draft = store.load();
  if (draft) {
    for (const [name, value] of Object.entries(draft)) field(name).value = value;
    say(form.dataset.textRestored, "secondary");
  }
  form.addEventListener("input", () => store.save(values()));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 201) {
        store.clear();
        for (const name of FIELDS) field(name).value = "";
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = body.url;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = body.written_at;
        item.append(link, ` · ${String(body.summary || "").slice(0, 60)}`);
        list.prepend(item);
        say(body.message || form.dataset.textSaved, "success");
      } else if (response.status === 400 && body.errors) {
        for (const [name, messages] of Object.entries(body.errors)) {
          const slot = form.querySelector(`[data-error-for="${name}"]`);
          if (slot) {
            field(name).classList.add("is-invalid");
            slot.textContent = messages.join(" ");
          }
        }
        say(body.message, "danger");
      } else {
        say(form.dataset.textFailed, "danger");
      }
    } catch {
      say(form.dataset.textFailed, "danger");
    } finally {
      button.disabled = false;
    }
  });
}

const form = document.getElementById("call-evolution-form");
if (form) wire(form);

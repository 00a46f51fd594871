// Page behaviours shared by every page. Loaded as a module: no inline scripts (CSP).

const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

// Dashboard counters count up from zero, unless the user prefers less motion.
// Money counters (data-count-money) count in reais and end on the server's own text,
// so the last frame is exactly the amount the page was rendered with.
function animateCounters() {
  const counters = document.querySelectorAll("[data-count]");
  const lang = document.documentElement.lang || "pt-BR";
  const whole = new Intl.NumberFormat(lang);
  const money = new Intl.NumberFormat(lang, { style: "currency", currency: "BRL" });
  counters.forEach((el) => {
    const target = Number(el.dataset.count);
    if (!Number.isFinite(target)) return;
    const isMoney = "countMoney" in el.dataset;
    const final = isMoney ? el.textContent : whole.format(target);
    const show = (value) => (isMoney ? money.format(value) : whole.format(Math.round(value)));
    if (reduceMotion || target === 0) {
      el.textContent = final;
      return;
    }
    const duration = 900;
    const start = performance.now();
    const step = (now) => {
      const t = Math.min(1, (now - start) / duration);
      const eased = 1 - Math.pow(1 - t, 3);
      if (t < 1) {
        el.textContent = show(target * eased);
        requestAnimationFrame(step);
      } else {
        el.textContent = final;
      }
    };
    el.textContent = show(0);
    requestAnimationFrame(step);
  });
}

// Copy buttons: <button data-copy-target="#id" data-copied-label="Copiado!">.
function wireCopyButtons() {
  document.querySelectorAll("[data-copy-target]").forEach((button) => {
    button.addEventListener("click", async () => {
      const field = document.querySelector(button.dataset.copyTarget);
      if (!field) return;
      const text = field.value ?? field.textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        // Older browsers or an insecure origin: fall back to selecting the text.
        field.select?.();
        document.execCommand?.("copy");
      }
      const label = button.querySelector("[data-label]") || button;
      const original = label.textContent;
      label.textContent = button.dataset.copiedLabel || original;
      button.classList.add("btn-success");
      setTimeout(() => {
        label.textContent = original;
        button.classList.remove("btn-success");
      }, 2000);
    });
  });
}

// Forms that need a second thought: <form data-confirm="Tem certeza?">.
function wireConfirmations() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
}

// Filters submit on change, so a select is one tap on a phone.
function wireAutoSubmit() {
  document.querySelectorAll("[data-autosubmit]").forEach((el) => {
    el.addEventListener("change", () => el.form?.requestSubmit());
  });
}

// Print views: <button data-print> (inline handlers are blocked by the CSP).
function wirePrintButtons() {
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
}

animateCounters();
wirePrintButtons();
wireCopyButtons();
wireConfirmations();
wireAutoSubmit();

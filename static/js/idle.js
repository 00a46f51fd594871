// The idle warning's decisions, from the clock alone (static/js/session.js does the page).
//
// The server ends a session after a while without requests. Shortly before,
// the page asks how long is left and then either waits (another tab kept the
// session alive), keeps it alive by itself (a call is up, or the person typed
// or clicked here since the last request, e.g. while writing a long note), or
// warns and lets the person choose.

export function nextStep({
  expiresIn, warnSeconds, inCall = false, interacted = false, keptAlive = false,
}) {
  if (!Number.isFinite(expiresIn) || expiresIn <= 0) return { action: "expire" };
  if (expiresIn > warnSeconds) return { action: "wait", seconds: expiresIn - warnSeconds };
  // Still short right after a keep-alive: the absolute lifetime is ending, and
  // nothing can extend it; warning again would only offer a button that fails.
  if (keptAlive) return { action: "wait", seconds: expiresIn };
  if (inCall || interacted) return { action: "keepalive" };
  return { action: "warn", seconds: expiresIn };
}

// "1:05" for 65 seconds: the countdown in the warning.
export function formatCountdown(seconds) {
  const total = Math.max(0, Math.ceil(seconds));
  const minutes = Math.floor(total / 60);
  return `${minutes}:${String(total % 60).padStart(2, "0")}`;
}

// Reconnection policy for the signaling socket: capped exponential backoff with
// jitter, and the close codes after which retrying cannot help.

// Close codes from signaling-protocol.md that end the attempt for good.
export const FATAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4409, 4410]);

export function shouldRetry(code) {
  return !FATAL_CLOSE_CODES.has(code);
}

// Delay before reconnection attempt `attempt` (0-based): base * 2^attempt,
// capped, then "equal jitter" (half fixed, half random) so a server restart is
// not met by every client at the same instant.
export function nextDelay(attempt, { base = 500, cap = 15000, random = Math.random } = {}) {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

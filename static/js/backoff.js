// Reconnection policy for the signaling socket: capped exponential backoff with
// jitter, and the close codes after which retrying cannot help.

// Close codes from signaling-protocol.md that end the attempt for good.
export const FATAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4409, 4410]);

export function shouldRetry(code) {
  return !FATAL_CLOSE_CODES.has(code);
}

// Close codes that mean "not now": too many connection attempts from this
// address (4430). Retrying at once would only be refused again.
export const RETRY_LATER_CLOSE_CODES = new Set([4430]);

// Delay after a retry-later code: 15 to 30 s, spread so that every call behind
// one clinic's NAT does not come back at the same moment.
export function laterDelay({ min = 15000, max = 30000, random = Math.random } = {}) {
  return Math.round(min + random() * (max - min));
}

// Delay before reconnection attempt `attempt` (0-based): base * 2^attempt,
// capped, then "equal jitter" (half fixed, half random) so a server restart is
// not met by every client at the same instant.
export function nextDelay(attempt, { base = 500, cap = 15000, random = Math.random } = {}) {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

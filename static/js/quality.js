// Call quality from RTCPeerConnection.getStats(): a summary every few seconds,
// a plain verdict for the badge, and a bitrate controller for the video sender.

export const MAX_VIDEO_KBPS = 500;
export const MIN_VIDEO_KBPS = 150;

// Turn a stats report (an iterable of stats objects) into one sample, using the
// previous sample's byte counters for the rates.
export function summarize(report, previous = null, now = Date.now()) {
  let rttMs = null;
  let packetsLost = 0;
  let packetsReceived = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  for (const s of report) {
    if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated !== false) {
      if (typeof s.currentRoundTripTime === "number") rttMs = s.currentRoundTripTime * 1000;
    } else if (s.type === "inbound-rtp" && !s.isRemote) {
      packetsLost += s.packetsLost || 0;
      packetsReceived += s.packetsReceived || 0;
      bytesIn += s.bytesReceived || 0;
    } else if (s.type === "outbound-rtp" && !s.isRemote) {
      bytesOut += s.bytesSent || 0;
    }
  }
  const sample = { at: now, rttMs, packetsLost, packetsReceived, bytesIn, bytesOut, lossPct: null, kbpsIn: null, kbpsOut: null };
  if (previous) {
    const seconds = (now - previous.at) / 1000;
    const lost = packetsLost - previous.packetsLost;
    const received = packetsReceived - previous.packetsReceived;
    if (lost + received > 0) sample.lossPct = Math.max(0, (100 * lost) / (lost + received));
    if (seconds > 0) {
      sample.kbpsIn = Math.max(0, ((bytesIn - previous.bytesIn) * 8) / 1000 / seconds);
      sample.kbpsOut = Math.max(0, ((bytesOut - previous.bytesOut) * 8) / 1000 / seconds);
    }
  }
  return sample;
}

// "good" | "fair" | "poor" | "unknown", from round-trip time and loss.
export function classify({ rttMs, lossPct }) {
  if (rttMs == null && lossPct == null) return "unknown";
  if ((lossPct ?? 0) >= 8 || (rttMs ?? 0) >= 600) return "poor";
  if ((lossPct ?? 0) >= 3 || (rttMs ?? 0) >= 300) return "fair";
  return "good";
}

// Steps the video bitrate down on sustained trouble and back up when it clears.
export class BitrateController {
  constructor({ max = MAX_VIDEO_KBPS, min = MIN_VIDEO_KBPS, badToDrop = 2, goodToRaise = 3 } = {}) {
    Object.assign(this, { max, min, badToDrop, goodToRaise });
    this.kbps = max;
    this.bad = 0;
    this.good = 0;
  }

  // Feed one sample; returns the new cap in kbps when it changes, else null.
  update(sample) {
    const verdict = classify(sample);
    if (verdict === "unknown") return null;
    if (verdict === "good") {
      this.good += 1;
      this.bad = 0;
    } else {
      this.bad += 1;
      this.good = 0;
    }
    let next = this.kbps;
    if (this.bad >= this.badToDrop) {
      next = Math.max(this.min, Math.round(this.kbps * 0.7));
      this.bad = 0;
    } else if (this.good >= this.goodToRaise) {
      next = Math.min(this.max, Math.round(this.kbps * 1.25));
      this.good = 0;
    }
    if (next === this.kbps) return null;
    this.kbps = next;
    return next;
  }
}
